/**
 * Reads what the engine needs to know about a source from its headers, without decoding pixels:
 * format (from magic bytes), stored size of one frame, frame count, EXIF orientation, alpha, byte
 * size and the estimated JPEG quality. Source limits are checked on this before anything is
 * decoded, so a 36-byte WebP that claims 16383×16383 costs nothing here.
 */
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors.js';
import type { SourceInfo } from '../ir.js';
import { sharpReadableAvif, sniffFormat } from './sniff.js';
import { estimateJpegQuality } from './jpeg-quality.js';
import { walkJpegHeader } from './jpeg-markers.js';
import { readBmpHeader } from './bmp.js';
import { fastJpegHeader, fastPngHeader } from './fast-header.js';
import { componentsFromSubsampling, jpegCoefficientBytes } from './jpeg-coefficients.js';
import { isStoredFile, readEncoded, readHead, vanishedFile, type EncodedImage } from './source.js';

/**
 * How much of a stored file is read to probe it. JPEG headers (EXIF with its thumbnail, ICC, XMP)
 * nearly always end well before this; a JPEG whose header does not is read whole.
 */
const HEAD_BYTES = 128 * 1024;

/** Formats libvips reads from a file exactly as from memory; the others need their bytes in JS. */
const FILE_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff']);

const SUPPORTED = 'JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF or BMP';

function corrupt(cause: unknown): AppError {
  return new AppError('CORRUPT_IMAGE', 'The source image is corrupt or truncated and cannot be read.', { cause });
}

function unsupported(cause?: unknown): AppError {
  return new AppError(
    'UNSUPPORTED_FORMAT',
    `The source is not an image in a supported format (${SUPPORTED}).`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Probes an encoded image from its headers only.
 *
 * - `format` comes from magic bytes ({@link sniffFormat}), never from a name.
 * - `width`/`height` are the stored size of one frame (EXIF orientation not applied; HEIF
 *   irot/imir/clap applied, as decoders do); for animations the per-frame (page) height.
 * - `frames`: GIF/WebP animation frames, TIFF pages, 1 otherwise (APNG and AVIF sequences are
 *   read as their first/primary image, so 1).
 * - `orientation`: EXIF Orientation 1–8; absent or invalid (0, 9, …) → 1.
 * - `jpegQuality`: ImageMagick-style estimate from the quantisation tables (JPEG only).
 *
 * @throws AppError UNSUPPORTED_FORMAT when the bytes are not a supported image (text, HTML, SVG,
 *   empty input), CORRUPT_IMAGE when they claim a supported format but the header is unreadable.
 */
export async function probe(buf: Buffer): Promise<SourceInfo> {
  const format = sniffFormat(buf);
  if (format === null) throw unsupported();
  return probeHeader(buf, format, buf.length, buf);
}

/**
 * Probes a source that may be a stored file, reading only its first {@link HEAD_BYTES}. Returns
 * the source the engine should go on with: the file itself when libvips can read it as is, else
 * its bytes (AVIF, HEIC and BMP are prepared in JavaScript; a JPEG whose header runs past the
 * head is read whole so that its quantisation tables are all seen).
 */
/** A probed source: what the engine goes on with, and its header facts. */
export interface ProbedImage {
  readonly src: EncodedImage;
  readonly info: SourceInfo;
}

export async function probeImage(src: EncodedImage): Promise<ProbedImage> {
  if (!isStoredFile(src)) return { src, info: await probe(src) };
  const head = await readHead(src, HEAD_BYTES);
  if (head.length >= src.size) return { src: head, info: await probe(head) };
  const format = sniffFormat(head);
  if (format === null) throw unsupported();
  if (!FILE_FORMATS.has(format) || (format === 'jpeg' && !walkJpegHeader(head))) {
    const whole = await readEncoded(src);
    return { src: whole, info: await probe(whole) };
  }
  return { src, info: await probeHeader(head, format, src.size, src.path) };
}

/** `head`: the leading bytes (all of them for a Buffer source); `input`: what libvips reads when the header needs it. */
async function probeHeader(buf: Buffer, format: NonNullable<ReturnType<typeof sniffFormat>>, bytes: number, input: Buffer | string): Promise<SourceInfo> {
  if (format === 'bmp') {
    const h = readBmpHeader(buf);
    return { format, width: h.width, height: h.height, frames: 1, orientation: 1, hasAlpha: h.hasAlpha, bytes };
  }
  // Hot path: JPEG and PNG headers read in JavaScript (see fast-header.ts); null falls through.
  const fast = format === 'jpeg' ? fastJpegHeader(buf) : format === 'png' ? fastPngHeader(buf) : null;
  if (fast) {
    const info: SourceInfo = { format, ...fast, frames: 1, bytes };
    if (format !== 'jpeg') return info;
    const q = estimateJpegQuality(buf);
    return q === undefined ? info : { ...info, jpegQuality: q };
  }
  let meta: Metadata;
  try {
    // metadata() parses container and image headers only; pixel data is not decoded. The pixel
    // limit is off here on purpose: limits are checked (with OSS error codes) by the caller.
    meta = await sharp(format === 'avif' && Buffer.isBuffer(input) ? sharpReadableAvif(input) : input, { limitInputPixels: false }).metadata();
  } catch (err) {
    if (/unsupported image format/i.test(String((err as Error)?.message))) throw unsupported(err);
    throw vanishedFile(err) ?? corrupt(err);
  }
  const width = meta.width;
  let height = meta.height;
  if (!width || !height) throw corrupt(new Error('no dimensions in the header'));
  // GIF/WebP animations and multi-page TIFF: pages of pageHeight rows each (sharp reports the
  // first page's height unless asked to load every page, but be explicit).
  const frames = Math.max(1, meta.pages ?? 1);
  if (frames > 1 && meta.pageHeight) height = meta.pageHeight;
  const orientation = meta.orientation !== undefined && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
  const info: SourceInfo = {
    format,
    width,
    height,
    frames,
    orientation,
    hasAlpha: meta.hasAlpha === true,
    bytes,
  };
  if (format === 'jpeg') {
    const q = estimateJpegQuality(buf);
    const withScan = meta.isProgressive === true
      ? { ...info, progressive: true, coefficientBytes: jpegCoefficientBytes(width, height, componentsFromSubsampling(meta.chromaSubsampling, meta.channels ?? 3)) }
      : info;
    return q === undefined ? withScan : { ...withScan, jpegQuality: q };
  }
  return info;
}
