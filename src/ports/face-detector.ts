/**
 * FaceDetector: finds faces in an image (Cloudflare `gravity=face`). Implementations load their
 * model lazily and must not download anything at run time.
 */

/** One detected face, in pixels of the image that was passed in. */
export interface FaceBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Detector confidence 0–1. */
  readonly score: number;
}

export interface FaceDetector {
  /** Faces in an encoded image (PNG/JPEG/WebP); an empty list when there are none. */
  detect(image: Buffer): Promise<readonly FaceBox[]>;
  /** Releases the model (called on shutdown). */
  close?(): Promise<void>;
}
