/**
 * A JavaScript reader of JPEG and PNG headers for the hot path. The benchmark showed that
 * sharp's `metadata()` (a separate libvips header read on the thread pool) cost about 0.6 ms per
 * request — 2–3 % of a typical resize. For the two most common formats the few fields the engine
 * needs are read here instead; anything unusual returns null and the caller falls back to
 * `metadata()`, so this reader never has to be complete, only right when it answers.
 */
import { jpegCoefficientBytes, type JpegComponent } from './jpeg-coefficients.js';
import { isFrameMarker, walkJpegHeader } from './jpeg-markers.js';

export interface FastHeader {
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
  /** EXIF orientation 1–8 (absent or invalid → 1). */
  readonly orientation: number;
  /** JPEG: the frame is progressive (SOF2, SOF6, SOF10, SOF14). */
  readonly progressive?: boolean;
  /** JPEG, progressive only: bytes of libjpeg's whole-image coefficient buffer (jpeg-coefficients.ts). */
  readonly coefficientBytes?: number;
}

/** Orientation from a TIFF structure (the payload of an Exif APP1 after `Exif\0\0`). */
function tiffOrientation(tiff: Buffer): number | null {
  if (tiff.length < 8) return null;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const le = order === 'II';
  const u16 = (o: number): number => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number): number => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return null;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > tiff.length) return null;
    if (u16(e) === 0x0112) {
      const type = u16(e + 2);
      const v = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0;
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * Reads the frame (size; sampling factors of a progressive frame) and the EXIF orientation; null
 * when anything is out of the ordinary: a segment cut off before the frame header, an EXIF
 * orientation that cannot be read, no frame header before the scan, a DNL-defined height.
 */
export function fastJpegHeader(buf: Buffer): FastHeader | null {
  let orientation = 1;
  let exifSeen = false;
  let header: FastHeader | null = null;
  walkJpegHeader(buf, (m, start, end, complete) => {
    if (!complete) return true; // declined: the frame header is not wholly in `buf`
    if (m === 0xe1 && !exifSeen && end - start >= 6 && buf.toString('latin1', start, start + 6) === 'Exif\0\0') {
      exifSeen = true;
      const o = tiffOrientation(buf.subarray(start + 6, end));
      if (o === null) return true;
      orientation = o;
    }
    if (!isFrameMarker(m)) return false;
    header = readFrame(buf, m, start, end, orientation);
    return true;
  });
  return header;
}

/** The frame header (SOFn payload from `start`); null when it is short or out of range. */
function readFrame(buf: Buffer, marker: number, start: number, end: number, orientation: number): FastHeader | null {
  if (end - start < 6) return null;
  const height = buf.readUInt16BE(start + 1);
  const width = buf.readUInt16BE(start + 3);
  if (width === 0 || height === 0) return null; // DNL-defined height: let libvips decide
  // SOFn with n & 3 === 2 are the progressive processes (Huffman and arithmetic, with and
  // without the hierarchical flag).
  if ((marker & 3) !== 2) return { width, height, hasAlpha: false, orientation };
  const count = buf[start + 5] as number;
  if (count === 0 || end - start < 6 + 3 * count) return null;
  const components: JpegComponent[] = [];
  for (let k = 0; k < count; k++) {
    const hv = buf[start + 7 + 3 * k] as number;
    const h = hv >> 4;
    const v = hv & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) return null;
    components.push({ h, v });
  }
  return { width, height, hasAlpha: false, orientation, progressive: true, coefficientBytes: jpegCoefficientBytes(width, height, components) };
}

/** Reads IHDR and scans the chunks before IDAT for tRNS; null for eXIf (orientation) or oddities. */
export function fastPngHeader(buf: Buffer): FastHeader | null {
  if (buf.length < 33 || buf.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const colourType = buf[25] as number;
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) return null;
  let hasAlpha = colourType === 4 || colourType === 6;
  let p = 8;
  while (p + 8 <= buf.length) {
    const len = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    if (type === 'IDAT' || type === 'IEND') return { width, height, hasAlpha, orientation: 1 };
    if (type === 'eXIf') return null;
    if (type === 'tRNS') hasAlpha = true;
    if (len > 0x7fffffff) return null;
    p += 12 + len;
  }
  return null;
}
