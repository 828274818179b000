/**
 * VideoTools: probing and encoding of videos (ffmpeg/ffprobe in the adapter). Files are paths in a
 * private temporary directory owned by the caller; nothing here knows buckets or keys.
 */
import type { AnimationPlan, VideoInfo } from '../core/video/animation.js';

export interface AnimateRequest {
  readonly input: string;
  /** Written in full or not at all (the caller then stores it). */
  readonly output: string;
  readonly plan: AnimationPlan;
  readonly signal?: AbortSignal | undefined;
  /** Output frames written so far (0…plan.frames). */
  readonly onFrames?: ((frames: number) => void) | undefined;
}

export interface AnimateResult {
  /** Frames actually written. */
  readonly frames: number;
}

export interface VideoTools {
  /** Which binaries are used (for logs and `--help`), or why none are. */
  describe(): string;
  /** False when ffmpeg or ffprobe is missing (submissions are then refused at once). */
  available(): boolean;
  /**
   * Probes a file: NOT_A_VIDEO (no video stream, an image, empty), CORRUPT_VIDEO (unreadable),
   * VIDEO_TOOLS_UNAVAILABLE (no ffprobe).
   */
  probe(input: string, signal?: AbortSignal): Promise<VideoInfo>;
  /** Encodes the planned animation; CORRUPT_VIDEO when the stream breaks off, TIMEOUT on the time limit. */
  animate(req: AnimateRequest): Promise<AnimateResult>;
}
