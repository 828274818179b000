/**
 * What the first pass feeds sharp: the encoded bytes for formats prebuilt sharp decodes itself
 * (JPEG, PNG, WebP, GIF, AVIF, TIFF), or raw pixels for those it cannot (BMP; HEIC, whose HEVC
 * decoder prebuilt libvips lacks — decoded with libheif compiled to WebAssembly).
 */
import decodeHeic from 'heic-decode';
import { AppError } from '../errors.js';
import type { SourceInfo } from '../ir.js';
import { decodeBmp } from './bmp.js';

export type SharpInput = Buffer | { readonly data: Buffer; readonly raw: { readonly width: number; readonly height: number; readonly channels: 1 | 2 | 3 | 4 } };

export async function toSharpInput(buf: Buffer, info: SourceInfo): Promise<SharpInput> {
  if (info.format === 'bmp') return decodeBmp(buf);
  if (info.format === 'heic') return decodeHeicImage(buf);
  return buf;
}

async function decodeHeicImage(buf: Buffer): Promise<SharpInput> {
  try {
    const img = await decodeHeic({ buffer: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
    const data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
    return { data, raw: { width: img.width, height: img.height, channels: 4 } };
  } catch (err) {
    throw new AppError('CORRUPT_IMAGE', 'The HEIC image is corrupt and cannot be decoded.', { ec: '0040-00000020', cause: err });
  }
}
