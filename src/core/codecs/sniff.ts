/**
 * Format detection from magic bytes. File names and Content-Type headers are never trusted.
 */
import type { SourceFormat } from '../ir.js';

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, end).toString('latin1');
}

/** The format of an encoded image, or null when it is not one Halftone decodes. */
export function sniffFormat(buf: Buffer): SourceFormat | null {
  if (buf.length < 12) {
    if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
    return null;
  }
  if (buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  const six = ascii(buf, 0, 6);
  if (six === 'GIF87a' || six === 'GIF89a') return 'gif';
  if (ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'webp';
  const four = ascii(buf, 0, 4);
  if (four === 'II*\0' || four === 'MM\0*') return 'tiff';
  if (buf[0] === 0x42 && buf[1] === 0x4d && buf.length >= 26) return 'bmp';
  if (ascii(buf, 4, 8) === 'ftyp') return isoBrand(buf);
  return null;
}

/** HEIF family: AVIF (AV1) or HEIC (HEVC) by major and compatible brands. */
function isoBrand(buf: Buffer): SourceFormat | null {
  const boxSize = buf.readUInt32BE(0);
  const end = Math.min(buf.length, Math.max(16, boxSize));
  const brands = [ascii(buf, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(buf, i, i + 4));
  const major = brands[0] as string;
  if (AVIF_BRANDS.has(major)) return 'avif';
  if (HEIC_BRANDS.has(major)) return 'heic';
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'avif';
  if (brands.some((b) => HEIC_BRANDS.has(b))) return 'heic';
  // mif1/msf1 without a codec brand: libheif tells from the item type; assume HEVC (the older use).
  if (major === 'mif1' || major === 'msf1') return 'heic';
  return null;
}
