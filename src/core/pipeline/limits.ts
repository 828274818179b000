/**
 * Limits that protect memory, checked from the header before any pixel is decoded
 * (spec oss-img.md §2). Every number is configurable; the defaults are OSS's.
 */
import type { OutputFormat, Recipe, SourceInfo } from '../ir.js';
import { AppError } from '../errors.js';

export interface Limits {
  /** Largest source object processed, in bytes (OSS: 20 MB). */
  readonly maxSourceBytes: number;
  /** Largest source side in pixels (OSS: 30,000). */
  readonly maxSourceSide: number;
  /** Largest source pixel count, width × height × frames (OSS: 250,000,000). */
  readonly maxSourcePixels: number;
  /** Largest source side for rotate (OSS: 4,096). */
  readonly maxRotateSide: number;
  /** Most frames decoded from an animation. */
  readonly maxFrames: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxSourceBytes: 20 * 1024 * 1024,
  maxSourceSide: 30000,
  maxSourcePixels: 250_000_000,
  maxRotateSide: 4096,
  maxFrames: 1000,
};

/** Throws IMAGE_TOO_LARGE (with the OSS EC) when the source is over a limit. */
export function checkSourceLimits(info: SourceInfo, recipe: Recipe, limits: Limits, frames = info.frames): void {
  if (info.bytes > limits.maxSourceBytes) {
    throw new AppError('IMAGE_TOO_LARGE', `The source is ${info.bytes} bytes; at most ${limits.maxSourceBytes} bytes can be processed.`, { details: { limit: 'bytes' } });
  }
  if (info.width > limits.maxSourceSide || info.height > limits.maxSourceSide) {
    throw new AppError(
      'IMAGE_TOO_LARGE',
      `The source is ${info.width}x${info.height}; each side must be at most ${limits.maxSourceSide} px.`,
      { ec: info.format === 'jpeg' ? '0040-00000019' : '0040-00000009', details: { limit: 'side' } },
    );
  }
  const pixels = info.width * info.height * Math.max(1, frames);
  if (pixels > limits.maxSourcePixels) {
    throw new AppError('IMAGE_TOO_LARGE', `The source has ${pixels} pixels (width x height x frames); at most ${limits.maxSourcePixels} can be processed.`, {
      ec: '0040-00000012',
      details: { limit: 'pixels' },
    });
  }
  if (frames > limits.maxFrames) {
    throw new AppError('IMAGE_TOO_LARGE', `The source has ${frames} frames; at most ${limits.maxFrames} can be processed.`, { details: { limit: 'frames' } });
  }
  if (recipe.ops.some((o) => o.op === 'rotate') && (info.width > limits.maxRotateSide || info.height > limits.maxRotateSide)) {
    throw new AppError('IMAGE_TOO_LARGE', `rotate needs a source of at most ${limits.maxRotateSide}x${limits.maxRotateSide} px; this one is ${info.width}x${info.height}.`, {
      details: { limit: 'rotate' },
    });
  }
}

/** Output limits of the encoders (OSS: WebP ≤ 16,383 per side, HEIC ≤ 4,096, AVIF width ≤ 4,096 and ≤ 9,437,184 px). */
export function checkOutputLimits(format: OutputFormat, width: number, height: number): void {
  const fail = (rule: string): never => {
    throw new AppError('OUTPUT_TOO_LARGE', `A ${format} output of ${width}x${height} is not possible: ${rule}.`, { ec: '0040-00000007' });
  };
  if (format === 'webp' && (width > 16383 || height > 16383)) fail('each side must be at most 16383 px');
  if (format === 'heic' && (width > 4096 || height > 4096)) fail('each side must be at most 4096 px');
  if (format === 'avif' && (width > 4096 || width * height > 9437184)) fail('the width must be at most 4096 px and the total at most 9437184 px');
  if (format === 'gif' && (width > 65535 || height > 65535)) fail('each side must be at most 65535 px');
  if (format === 'jpeg' && (width > 65535 || height > 65535)) fail('each side must be at most 65535 px');
}
