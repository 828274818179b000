/**
 * What the first pass feeds sharp: the encoded bytes for formats prebuilt sharp decodes itself
 * (JPEG, PNG, WebP, GIF, AVIF, TIFF), or raw pixels for those it cannot: BMP (no loader in
 * prebuilt libvips) and HEIC (prebuilt libvips has libheif but no HEVC decoder — decoded here with
 * libheif compiled to WebAssembly, via heic-decode, in a worker thread so that the 1–2 s decode
 * never blocks the event loop).
 */
import { decodeHeicInWorker } from './heic-worker.js';
import { AppError } from '../errors.js';
import type { SourceInfo } from '../ir.js';
import { decodeBmp } from './bmp.js';
import { sharpReadableAvif } from './sniff.js';

/** Raw 8-bit pixels, interleaved, as sharp's `{ raw }` input option wants them. */
export interface RawSharpInput {
  readonly data: Buffer;
  readonly raw: { readonly width: number; readonly height: number; readonly channels: 1 | 2 | 3 | 4 };
}

/**
 * Either encoded bytes (`sharp(input, opts)`) or raw pixels
 * (`sharp(input.data, { ...opts, raw: input.raw })`).
 */
export type SharpInput = Buffer | RawSharpInput;

/**
 * Prepares a probed source for sharp. Call only after the source limits were checked on `info`:
 * BMP and HEIC are fully decoded here (sharp never sees their encoded bytes). Raw results have
 * `info.width × info.height` pixels, 3 channels, or 4 when `info.hasAlpha`. The EXIF orientation
 * of a raw result is not applied (use `info.orientation`).
 *
 * @throws AppError CORRUPT_IMAGE (EC 0040-00000020 for HEIC) when the pixels cannot be decoded.
 */
export async function toSharpInput(buf: Buffer, info: SourceInfo): Promise<SharpInput> {
  switch (info.format) {
    case 'bmp':
      return decodeBmp(buf);
    case 'heic':
      return decodeHeicImage(buf, info);
    case 'avif':
      return sharpReadableAvif(buf);
    default:
      return buf;
  }
}

/**
 * True when every top-level ISO-BMFF box ends inside the buffer. The WebAssembly libheif fills
 * the tiles of a truncated file with grey instead of failing, so a cut file is refused here.
 */
export function bmffComplete(buf: Buffer): boolean {
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    if (size === 1) {
      if (off + 16 > buf.length) return false;
      size = Number(buf.readBigUInt64BE(off + 8));
    } else if (size === 0) return true; // the box extends to the end of the file
    if (size < 8 || off + size > buf.length) return false;
    off += size;
  }
  return off === buf.length;
}

async function decodeHeicImage(buf: Buffer, info: SourceInfo): Promise<RawSharpInput> {
  if (!bmffComplete(buf)) throw corruptHeic(new Error('a box runs past the end of the file (truncated)'));
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = await decodeHeicInWorker(buf);
  } catch (err) {
    throw corruptHeic(err);
  }
  const { width, height } = img;
  const pixels = width * height;
  if (!(width > 0 && height > 0) || img.data.length < pixels * 4) throw corruptHeic(new Error(`decoder returned ${width}x${height}, ${img.data.length} bytes`));
  const rgba = Buffer.from(img.data.buffer, img.data.byteOffset, pixels * 4);
  if (info.hasAlpha) return { data: rgba, raw: { width, height, channels: 4 } };
  // heic-decode always answers RGBA; an opaque image is passed on as RGB (less memory, and no
  // alpha for the "HEIC with alpha cannot become JPEG" rule to trip over).
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgb[j] = rgba[i] as number;
    rgb[j + 1] = rgba[i + 1] as number;
    rgb[j + 2] = rgba[i + 2] as number;
  }
  return { data: rgb, raw: { width, height, channels: 3 } };
}

function corruptHeic(cause: unknown): AppError {
  return new AppError('CORRUPT_IMAGE', 'The HEIC image is corrupt and cannot be decoded.', { ec: '0040-00000020', cause });
}
