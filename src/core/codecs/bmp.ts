/**
 * BMP input. Prebuilt sharp has no BMP loader, so the header is read here (for limits, before any
 * decode) and the pixels are decoded with bmp-ts into raw RGB/RGBA for sharp.
 *
 * bmp-ts quirks handled here (v1.0.9): it ignores the pixel-data offset of the file header (so a
 * gap between palette and pixels is spliced out first), its `toRGBA` mode is wrong for 1/4/8-bit
 * images and its RLE4/RLE8 paths write pixels at wrong offsets, so RLE is decoded here and the
 * uncompressed paths are used in their (correct) ABGR mode.
 */
import { decode } from 'bmp-ts';
import { AppError } from '../errors.js';

/** What the BMP header says, validated. */
export interface BmpHeader {
  readonly width: number;
  readonly height: number;
  readonly bitsPerPixel: number;
  /** 0 = BI_RGB, 1 = RLE8, 2 = RLE4, 3 = BITFIELDS, 6 = ALPHABITFIELDS. */
  readonly compression: number;
  /** Rows stored top to bottom (negative height in the header). */
  readonly topDown: boolean;
  /** Only 16/32-bit images whose header declares an alpha mask can carry alpha. */
  readonly hasAlpha: boolean;
  /** Byte offset of the pixel data (file header field). */
  readonly dataOffset: number;
  /** Where bmp-ts expects the pixel data: after info header, masks and palette. */
  readonly paletteEnd: number;
  /** Number of palette entries (for ≤ 8-bit images). */
  readonly paletteSize: number;
  readonly headerSize: number;
}

/** Raw pixels as sharp's `raw` input option wants them. */
export interface RawPixels {
  readonly data: Buffer;
  readonly raw: { readonly width: number; readonly height: number; readonly channels: 3 | 4 };
}

function corrupt(msg: string, cause?: unknown): AppError {
  return new AppError('CORRUPT_IMAGE', `The BMP image cannot be decoded: ${msg}.`, cause === undefined ? {} : { cause });
}

function unsupported(msg: string): AppError {
  return new AppError('UNSUPPORTED_FORMAT', `This BMP variant is not supported: ${msg}.`);
}

/** Header sizes bmp-ts reads (OS/2 and BITMAPCOREHEADER files are rare and not supported). */
const DECODABLE_HEADERS = new Set([40, 52, 56, 108, 124]);

/** Reads and validates the BMP file and info headers without touching the pixel data. */
export function readBmpHeader(buf: Buffer): BmpHeader {
  if (buf.length < 26) throw corrupt('the header is truncated');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  if (headerSize === 12) {
    // BITMAPCOREHEADER (OS/2 1.x): 16-bit sizes.
    const width = buf.readUInt16LE(18);
    const height = buf.readInt16LE(20);
    const bitsPerPixel = buf.readUInt16LE(24);
    throwIfBadSize(width, height);
    throw unsupported(`OS/2 BMP (${bitsPerPixel} bits per pixel)`);
  }
  if (buf.length < 14 + Math.min(headerSize, 40)) throw corrupt('the header is truncated');
  const width = buf.readInt32LE(18);
  const rawHeight = buf.readInt32LE(22);
  const bitsPerPixel = buf.readUInt16LE(28);
  const compression = buf.readUInt32LE(30);
  const colours = buf.readUInt32LE(46);
  throwIfBadSize(width, rawHeight);
  if (!DECODABLE_HEADERS.has(headerSize)) throw unsupported(`info header of ${headerSize} bytes`);
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw corrupt(`${bitsPerPixel} bits per pixel is not valid`);
  if (![0, 1, 2, 3, 6].includes(compression)) throw unsupported(`compression ${compression} (embedded JPEG/PNG)`);
  if ((compression === 1 && bitsPerPixel !== 8) || (compression === 2 && bitsPerPixel !== 4)) {
    throw corrupt('RLE compression does not match the bit depth');
  }
  if (rawHeight < 0 && (compression === 1 || compression === 2)) throw corrupt('top-down RLE bitmaps are not valid');
  // Masks follow a 40-byte header for (ALPHA)BITFIELDS; larger headers contain them.
  let paletteStart = 14 + headerSize;
  if (headerSize === 40 && compression === 3) paletteStart += 12;
  if (headerSize === 40 && compression === 6) paletteStart += 16;
  let paletteSize = 0;
  if (bitsPerPixel <= 8 || colours > 0) {
    paletteSize = colours === 0 ? 1 << bitsPerPixel : colours;
    if (bitsPerPixel <= 8 && paletteSize > 1 << bitsPerPixel) throw corrupt(`the palette claims ${colours} colours`);
    if (paletteSize > 65536) throw corrupt(`the palette claims ${colours} colours`);
  }
  const paletteEnd = paletteStart + paletteSize * 4;
  if (paletteEnd > buf.length) throw corrupt('the palette is truncated');
  if (dataOffset < paletteEnd || dataOffset > buf.length) throw corrupt('the pixel data offset is invalid');
  let alphaMask = 0;
  if (compression === 6 && headerSize === 40) alphaMask = buf.readUInt32LE(14 + 40 + 12);
  else if (headerSize >= 56 && (bitsPerPixel === 16 || bitsPerPixel === 32)) alphaMask = buf.readUInt32LE(14 + 52);
  const hasAlpha = (bitsPerPixel === 16 || bitsPerPixel === 32) && (compression === 3 || compression === 6) && alphaMask !== 0;
  return {
    width,
    height: Math.abs(rawHeight),
    bitsPerPixel,
    compression,
    topDown: rawHeight < 0,
    hasAlpha,
    dataOffset,
    paletteEnd,
    paletteSize,
    headerSize,
  };
}

function throwIfBadSize(width: number, height: number): void {
  if (width <= 0 || height === 0 || height === -2147483648) throw corrupt(`the header claims ${width}x${height} pixels`);
}

/**
 * Decodes a BMP into raw pixels for sharp: RGBA when the file has a real alpha channel, else RGB.
 * Call only after the source limits were checked on {@link readBmpHeader}'s size.
 */
export function decodeBmp(buf: Buffer): RawPixels {
  const h = readBmpHeader(buf);
  const { width, height } = h;
  let abgr: Buffer;
  try {
    if (h.compression === 1 || h.compression === 2) {
      abgr = decodeRle(buf, h);
    } else {
      // bmp-ts reads pixels right after the palette: splice out any gap (ICC data, padding).
      let input = h.dataOffset === h.paletteEnd ? buf : Buffer.concat([buf.subarray(0, h.paletteEnd), buf.subarray(h.dataOffset)]);
      if (h.compression === 0 && h.headerSize > 40 && (h.bitsPerPixel === 16 || h.bitsPerPixel === 32)) {
        // BI_RGB ignores the header's colour masks, bmp-ts does not: write the implied ones.
        if (input === buf) input = Buffer.from(buf);
        const masks = h.bitsPerPixel === 32 ? [0xff0000, 0xff00, 0xff, 0] : [0x7c00, 0x3e0, 0x1f, 0];
        masks.forEach((m, k) => {
          if (14 + 40 + 4 * (k + 1) <= 14 + h.headerSize) input.writeUInt32LE(m, 14 + 40 + 4 * k);
        });
      }
      abgr = decode(input, { toRGBA: false }).data;
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw corrupt('the pixel data is truncated or invalid', err);
  }
  const pixels = width * height;
  if (abgr.length < pixels * 4) throw corrupt('the pixel data is truncated');
  let keepAlpha = h.hasAlpha;
  if (keepAlpha) {
    // Some writers declare an alpha mask but leave it zero everywhere: that image is opaque.
    let anyAlpha = false;
    for (let i = 0; i < pixels * 4; i += 4) {
      if (abgr[i] !== 0) {
        anyAlpha = true;
        break;
      }
    }
    keepAlpha = anyAlpha;
  }
  const channels = keepAlpha ? 4 : 3;
  const out = Buffer.allocUnsafe(pixels * channels);
  for (let i = 0, j = 0, o = 0; i < pixels; i++, j += 4, o += channels) {
    out[o] = abgr[j + 3] as number;
    out[o + 1] = abgr[j + 2] as number;
    out[o + 2] = abgr[j + 1] as number;
    if (keepAlpha) out[o + 3] = abgr[j] as number;
  }
  return { data: out, raw: { width, height, channels } };
}

/** RLE8/RLE4 decoder (bottom-up), writing ABGR like bmp-ts. Pixels not coded stay black. */
function decodeRle(buf: Buffer, h: BmpHeader): Buffer {
  const { width, height } = h;
  const palette: Array<[number, number, number]> = [];
  for (let i = 0; i < h.paletteSize; i++) {
    const p = 14 + h.headerSize + i * 4;
    palette.push([buf[p + 2] as number, buf[p + 1] as number, buf[p] as number]);
  }
  const out = Buffer.alloc(width * height * 4);
  let x = 0;
  let y = height - 1; // bottom-up: the first coded row is the last image row
  let pos = h.dataOffset;
  const put = (index: number): void => {
    if (x < width && y >= 0) {
      const c = palette[index] ?? [0, 0, 0];
      const o = (y * width + x) * 4;
      out[o + 1] = c[2];
      out[o + 2] = c[1];
      out[o + 3] = c[0];
    }
    x++;
  };
  const rle4 = h.compression === 2;
  while (y >= 0) {
    if (pos + 2 > buf.length) throw corrupt('the RLE data is truncated');
    const a = buf[pos] as number;
    const b = buf[pos + 1] as number;
    pos += 2;
    if (a > 0) {
      for (let k = 0; k < a; k++) put(rle4 ? (k % 2 === 0 ? b >> 4 : b & 0x0f) : b);
      continue;
    }
    if (b === 0) {
      x = 0;
      y--;
    } else if (b === 1) {
      break;
    } else if (b === 2) {
      if (pos + 2 > buf.length) throw corrupt('the RLE data is truncated');
      x += buf[pos] as number;
      y -= buf[pos + 1] as number;
      pos += 2;
    } else {
      const bytes = rle4 ? Math.ceil(b / 2) : b;
      if (pos + bytes > buf.length) throw corrupt('the RLE data is truncated');
      for (let k = 0; k < b; k++) {
        const v = rle4 ? buf[pos + (k >> 1)] as number : buf[pos + k] as number;
        put(rle4 ? (k % 2 === 0 ? v >> 4 : v & 0x0f) : v);
      }
      pos += bytes + (bytes % 2); // absolute runs are padded to 16 bits
    }
  }
  return out;
}
