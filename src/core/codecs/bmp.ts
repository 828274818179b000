/**
 * BMP input: prebuilt sharp has no BMP loader, so the header is read here (for limits, before any
 * decode) and pixels are decoded with bmp-ts into raw RGB/RGBA for sharp.
 */
import { decode } from 'bmp-ts';
import { AppError } from '../errors.js';

export interface BmpHeader {
  readonly width: number;
  readonly height: number;
  readonly bitsPerPixel: number;
  /** Only 32-bit images whose header declares an alpha mask carry real alpha. */
  readonly hasAlpha: boolean;
}

function corrupt(msg: string, cause?: unknown): AppError {
  return new AppError('CORRUPT_IMAGE', `The BMP image cannot be decoded: ${msg}.`, cause === undefined ? {} : { cause });
}

export function readBmpHeader(buf: Buffer): BmpHeader {
  if (buf.length < 30) throw corrupt('the header is truncated');
  const headerSize = buf.readUInt32LE(14);
  if (headerSize < 12) throw corrupt('the info header is too small');
  let width: number;
  let height: number;
  let bitsPerPixel: number;
  if (headerSize === 12) {
    width = buf.readUInt16LE(18);
    height = buf.readInt16LE(20);
    bitsPerPixel = buf.readUInt16LE(24);
  } else {
    width = buf.readInt32LE(18);
    height = buf.readInt32LE(22);
    bitsPerPixel = buf.readUInt16LE(28);
  }
  height = Math.abs(height); // negative height = top-down rows
  if (width <= 0 || height <= 0) throw corrupt(`the header claims ${width}x${height}`);
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw corrupt(`${bitsPerPixel} bits per pixel is not supported`);
  // BITMAPV4HEADER and later (≥ 56 bytes with BI_BITFIELDS, 108/124 for V4/V5) carry an alpha mask at 54.
  const compression = headerSize >= 40 && buf.length >= 34 ? buf.readUInt32LE(30) : 0;
  const hasAlphaMask = bitsPerPixel === 32 && headerSize >= 56 && buf.length >= 14 + 56 && (compression === 3 || compression === 6) && buf.readUInt32LE(14 + 52) !== 0;
  return { width, height, bitsPerPixel, hasAlpha: hasAlphaMask };
}

/** Decodes a BMP into raw pixels for sharp: RGBA when the file has alpha, else RGB. */
export function decodeBmp(buf: Buffer): { data: Buffer; raw: { width: number; height: number; channels: 3 | 4 } } {
  const header = readBmpHeader(buf);
  let img: { width: number; height: number; data: Buffer };
  try {
    img = decode(buf, { toRGBA: true });
  } catch (err) {
    throw corrupt('the pixel data is invalid', err);
  }
  const { width, height } = img;
  const pixels = width * height;
  if (img.data.length < pixels * 4) throw corrupt('the pixel data is truncated');
  if (header.hasAlpha) return { data: Buffer.from(img.data.subarray(0, pixels * 4)), raw: { width, height, channels: 4 } };
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, j = 0; i < pixels; i++, j += 4) {
    rgb[i * 3] = img.data[j] as number;
    rgb[i * 3 + 1] = img.data[j + 1] as number;
    rgb[i * 3 + 2] = img.data[j + 2] as number;
  }
  return { data: rgb, raw: { width, height, channels: 3 } };
}
