/**
 * ResultFiles: short-lived files that Halftone produces for a client and serves back under a
 * signed, expiring URL (compression task results, Abstract API results).
 *
 * Results never live in the object namespace (no user bucket or key is involved) and are removed
 * when they expire, by an explicit `remove` or by the adapter's own sweep.
 */

export interface PublishOptions {
  /** MIME type the file is served with. */
  readonly contentType: string;
  /** File name shown in the URL and in Content-Disposition, e.g. `photo.webp`. */
  readonly fileName: string;
  /** How long the file and its URL stay valid. */
  readonly ttlMs: number;
}

export interface PublishedResult {
  /** Opaque id, to pass to `remove`. */
  readonly id: string;
  /**
   * Absolute path with a signed query, e.g. `/results/<id>/photo.webp?expires=…&signature=…`.
   * The HTTP layer prefixes the public origin (from the request or the configured public URL).
   */
  readonly path: string;
  /** Epoch milliseconds after which the URL answers 404/403 and the file is gone. */
  readonly expiresAt: number;
  readonly size: number;
}

export interface ResultFiles {
  publish(bytes: Buffer, options: PublishOptions): Promise<PublishedResult>;
  /** Removes a published file now; unknown ids are ignored. */
  remove(id: string): Promise<void>;
}
