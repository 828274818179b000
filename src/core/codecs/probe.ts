/**
 * Reads what the engine needs to know about a source from its header, without decoding pixels:
 * format (from magic bytes), size of one frame, frame count, EXIF orientation, alpha, bytes and
 * the estimated JPEG quality. Limits are checked on this before anything is decoded.
 */
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';
import type { SourceInfo } from '../ir.js';
import { sniffFormat } from './sniff.js';
import { estimateJpegQuality } from './jpeg-quality.js';
import { readBmpHeader } from './bmp.js';

function corrupt(cause: unknown): AppError {
  return new AppError('CORRUPT_IMAGE', 'The source image is corrupt or truncated and cannot be decoded.', { cause });
}

export async function probe(buf: Buffer): Promise<SourceInfo> {
  const format = sniffFormat(buf);
  if (format === null) {
    throw new AppError('UNSUPPORTED_FORMAT', 'The source is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF, BMP).');
  }
  if (format === 'bmp') {
    const h = readBmpHeader(buf);
    return { format, width: h.width, height: h.height, frames: 1, orientation: 1, hasAlpha: h.hasAlpha, bytes: buf.length };
  }
  let meta: Metadata;
  try {
    // Header only: sharp/libvips reads the container and image headers, not the pixel data.
    meta = await sharp(buf, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw corrupt(err);
  }
  if (meta.width === undefined || meta.height === undefined) throw corrupt(new Error('no dimensions in header'));
  const frames = Math.max(1, meta.pages ?? 1);
  const height = frames > 1 && meta.pageHeight ? meta.pageHeight : meta.height;
  const orientation = meta.orientation !== undefined && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  const info: SourceInfo = {
    format,
    width: meta.width,
    height,
    frames,
    orientation,
    hasAlpha: meta.hasAlpha === true,
    bytes: buf.length,
  };
  if (format === 'jpeg') {
    const q = estimateJpegQuality(buf);
    return q === undefined ? info : { ...info, jpegQuality: q };
  }
  return info;
}
