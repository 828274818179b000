/** Output format decisions that do not depend on pixels. */
import type { OutputFormat, SourceFormat } from '../ir.js';

export const MIME_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  heic: 'image/heic',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
};

/** Formats whose encoders keep an alpha channel. */
export function formatHasAlpha(f: OutputFormat): boolean {
  return f === 'png' || f === 'webp' || f === 'avif' || f === 'heic' || f === 'tiff' || f === 'gif' || f === 'bmp';
}

/** Formats that can carry an animation. */
export function formatIsAnimated(f: OutputFormat): boolean {
  return f === 'gif' || f === 'webp';
}

/**
 * The output format of an OSS request: the `format` action if any, else the source format.
 * `format,gif` keeps GIF only for GIF sources; otherwise the source format is kept (spec §3.5).
 */
export function resolveOssOutputFormat(requested: OutputFormat | undefined, source: SourceFormat): OutputFormat {
  if (requested === undefined) return source;
  if (requested === 'gif' && source !== 'gif') return source;
  return requested;
}

/** The OSS `info` spelling of a format. */
export function ossFormatName(f: SourceFormat | OutputFormat): string {
  return f === 'jpeg' ? 'jpg' : f;
}
