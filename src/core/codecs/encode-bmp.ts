/**
 * BMP output (sharp has no BMP writer): 24-bit when the image is opaque, 32-bit BGRA otherwise.
 */
import { encode } from 'bmp-ts';

/** Encodes raw pixels (1–4 channels, 8 bit) as a bottom-up BMP. */
export function encodeBmp(data: Buffer, width: number, height: number, channels: number): Buffer {
  const pixels = width * height;
  let opaque = true;
  // bmp-ts takes ABGR quads.
  const abgr = Buffer.allocUnsafe(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    const grey = channels <= 2;
    const r = data[s] as number;
    const g = grey ? r : (data[s + 1] as number);
    const b = grey ? r : (data[s + 2] as number);
    const a = channels === 4 ? (data[s + 3] as number) : channels === 2 ? (data[s + 1] as number) : 255;
    if (a !== 255) opaque = false;
    abgr[i * 4] = a;
    abgr[i * 4 + 1] = b;
    abgr[i * 4 + 2] = g;
    abgr[i * 4 + 3] = r;
  }
  return encode({ data: abgr, width, height, bitPP: opaque ? 24 : 32 }).data;
}
