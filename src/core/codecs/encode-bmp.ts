/**
 * BMP output (sharp has no BMP writer): 24-bit BI_RGB through bmp-ts when the image is opaque,
 * 32-bit BGRA with a BITMAPV4HEADER alpha mask otherwise. bmp-ts only writes the 40-byte
 * BITMAPINFOHEADER, whose 4th byte most readers (browsers, Windows, libvips) ignore, so the
 * transparent case is written here: it is a fixed header plus unpadded rows.
 */
import { encode } from 'bmp-ts';

/**
 * Encodes raw 8-bit pixels (1 = grey, 2 = grey+alpha, 3 = RGB, 4 = RGBA; rows top to bottom,
 * interleaved) as a bottom-up BMP. Alpha is kept only when some pixel is not fully opaque.
 */
export function encodeBmp(data: Buffer, width: number, height: number, channels: number): Buffer {
  if (!(channels >= 1 && channels <= 4) || data.length < width * height * channels) {
    throw new RangeError(`encodeBmp: ${data.length} bytes do not hold ${width}x${height}x${channels}`);
  }
  const pixels = width * height;
  const grey = channels <= 2;
  const alphaAt = channels === 4 ? 3 : channels === 2 ? 1 : -1;
  let opaque = true;
  if (alphaAt >= 0) {
    for (let i = 0; i < pixels; i++) {
      if (data[i * channels + alphaAt] !== 255) {
        opaque = false;
        break;
      }
    }
  }
  if (!opaque) return encodeBgra(data, width, height, channels);
  // bmp-ts takes ABGR quads for its 24-bit writer.
  const abgr = Buffer.allocUnsafe(pixels * 4);
  for (let i = 0, s = 0, d = 0; i < pixels; i++, s += channels, d += 4) {
    const r = data[s] as number;
    abgr[d] = 255;
    abgr[d + 1] = grey ? r : (data[s + 2] as number);
    abgr[d + 2] = grey ? r : (data[s + 1] as number);
    abgr[d + 3] = r;
  }
  const out = encode({ data: abgr, width, height, bitPP: 24 }).data;
  // bmp-ts fills row padding with 0x01 and appends two stray bytes; zero the padding for
  // byte-stable output (its file-size field already counts the trailer, so keep the length).
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  if (rowBytes !== width * 3) {
    for (let y = 0; y < height; y++) out.fill(0, 54 + y * rowBytes + width * 3, 54 + (y + 1) * rowBytes);
  }
  out.fill(0, 54 + height * rowBytes);
  return out;
}

/** 32-bit BI_BITFIELDS BMP with a BITMAPV4HEADER (108 bytes) declaring an alpha mask. */
function encodeBgra(data: Buffer, width: number, height: number, channels: number): Buffer {
  const headerEnd = 14 + 108;
  const size = headerEnd + width * height * 4;
  const out = Buffer.alloc(size);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(size, 2);
  out.writeUInt32LE(headerEnd, 10);
  out.writeUInt32LE(108, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22); // positive: bottom-up rows
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(32, 28);
  out.writeUInt32LE(3, 30); // BI_BITFIELDS
  out.writeUInt32LE(width * height * 4, 34);
  out.writeUInt32LE(2835, 38); // 72 dpi in pixels per metre
  out.writeUInt32LE(2835, 42);
  out.writeUInt32LE(0x00ff0000, 54); // red mask
  out.writeUInt32LE(0x0000ff00, 58); // green
  out.writeUInt32LE(0x000000ff, 62); // blue
  out.writeUInt32LE(0xff000000, 66); // alpha
  out.write('BGRs', 70, 'latin1'); // LCS_sRGB (stored little-endian as 'sRGB')
  const grey = channels <= 2;
  for (let y = 0; y < height; y++) {
    let d = headerEnd + (height - 1 - y) * width * 4;
    for (let x = 0, s = y * width * channels; x < width; x++, s += channels, d += 4) {
      const r = data[s] as number;
      out[d] = grey ? r : (data[s + 2] as number);
      out[d + 1] = grey ? r : (data[s + 1] as number);
      out[d + 2] = r;
      out[d + 3] = channels === 4 ? (data[s + 3] as number) : channels === 2 ? (data[s + 1] as number) : 255;
    }
  }
  return out;
}
