/**
 * Format detection from magic bytes. File names and Content-Type headers are never trusted
 * (a PNG named `.jpg` is a PNG; a text file named `.png` is not an image).
 *
 * SVG (and every other format) is deliberately not detected: Halftone does not rasterise SVG
 * (XXE, entity bombs, giant canvases), so it is "not supported" like any non-image.
 */
import type { SourceFormat } from '../ir.js';

/** ISO-BMFF brands that name HEVC-coded HEIF (ISO/IEC 23008-12 Annex B). */
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
/** AV1-coded HEIF (AVIF still image and image sequence). */
const AVIF_BRANDS = new Set(['avif', 'avis']);
/** Codec-neutral HEIF brands: the codec must be read from the item properties. */
const GENERIC_HEIF_BRANDS = new Set(['mif1', 'msf1', 'miaf', 'mif2']);
/** Valid BMP info-header sizes: CORE(12), INFO(40), V2(52), V3(56), OS/2 v2(16/64), V4(108), V5(124). */
const BMP_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, end).toString('latin1');
}

/**
 * The format of an encoded image from its leading bytes, or null when it is not one Halftone
 * decodes (SVG, PDF, text, HTML, empty input, HEIF with a codec other than HEVC/AV1, …).
 */
export function sniffFormat(buf: Buffer): SourceFormat | null {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length < 12) return null;
  if (buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  const six = ascii(buf, 0, 6);
  if (six === 'GIF87a' || six === 'GIF89a') return 'gif';
  const four = ascii(buf, 0, 4);
  if (four === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'webp';
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (four === 'II*\0' || four === 'MM\0*' || four === 'II+\0' || four === 'MM\0+') return 'tiff';
  if (four.startsWith('BM') && buf.length >= 18 && BMP_HEADER_SIZES.has(buf.readUInt32LE(14))) return 'bmp';
  if (ascii(buf, 4, 8) === 'ftyp') return heifFlavour(buf);
  return null;
}

/** The brands of the leading `ftyp` box (major brand first). */
export function ftypBrands(buf: Buffer): string[] {
  if (buf.length < 12 || ascii(buf, 4, 8) !== 'ftyp') return [];
  const boxSize = buf.readUInt32BE(0);
  const end = Math.min(buf.length, Math.max(16, boxSize));
  const brands = [ascii(buf, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(buf, i, i + 4));
  return brands;
}

/**
 * HEIF family: AVIF (AV1) or HEIC (HEVC). The codec configuration box inside the top-level `meta`
 * box (`hvcC` / `av1C`) is authoritative; brands decide only when `meta` cannot be read.
 */
function heifFlavour(buf: Buffer): SourceFormat | null {
  const brands = ftypBrands(buf);
  const codec = heifCodec(buf);
  if (codec === 'other') return null; // e.g. JPEG- or uncompressed-coded HEIF items
  if (codec !== null) return codec;
  const major = brands[0] as string;
  if (AVIF_BRANDS.has(major)) return 'avif';
  if (HEIC_BRANDS.has(major)) return 'heic';
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'avif';
  if (brands.some((b) => HEIC_BRANDS.has(b))) return 'heic';
  // Generic HEIF (mif1/msf1) whose meta box we could not read: most such files in the wild
  // (Android/Samsung cameras) are HEVC. If it is not, decoding reports CORRUPT_IMAGE.
  if (brands.some((b) => GENERIC_HEIF_BRANDS.has(b))) return 'heic';
  return null;
}

/**
 * Reads the codec of the image items from the `meta` box: `hvcC` → heic, `av1C` → avif, `other`
 * when the meta box has neither, null when there is no readable meta box.
 */
function heifCodec(buf: Buffer): 'heic' | 'avif' | 'other' | null {
  let pos = 0;
  for (let guard = 0; guard < 64 && pos + 8 <= buf.length; guard++) {
    let size = buf.readUInt32BE(pos);
    const type = ascii(buf, pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > buf.length) return null;
      const big = buf.readBigUInt64BE(pos + 8);
      size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
      header = 16;
    } else if (size === 0) {
      size = buf.length - pos;
    }
    if (size < header) return null;
    if (type === 'meta') {
      const meta = buf.subarray(pos + header, Math.min(buf.length, pos + size));
      const hevc = meta.indexOf('hvcC', 0, 'latin1');
      const av1 = meta.indexOf('av1C', 0, 'latin1');
      if (hevc >= 0 && (av1 < 0 || hevc < av1)) return 'heic';
      if (av1 >= 0) return 'avif';
      return 'other';
    }
    pos += size;
  }
  return null;
}

/**
 * libvips does not recognise the `avis` (AVIF image sequence) major brand, although such files
 * carry a primary still item that libheif reads. Returns a copy with the major brand rewritten to
 * `avif` so that sharp opens that still image (the animation is not kept); other input unchanged.
 */
export function sharpReadableAvif(buf: Buffer): Buffer {
  if (buf.length < 12 || ascii(buf, 4, 8) !== 'ftyp' || ascii(buf, 8, 12) !== 'avis') return buf;
  const copy = Buffer.from(buf);
  copy.write('avif', 8, 'latin1');
  return copy;
}
