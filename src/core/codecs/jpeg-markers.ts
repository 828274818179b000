/**
 * The one walk over a JPEG's header segments (SOI up to the first scan), shared by the hot-path
 * header reader (fast-header.ts: frame size, sampling, EXIF orientation), the quantisation-table
 * reader (jpeg-quality.ts) and the probe's check that a file's head holds the whole header.
 */

/**
 * Hands `visit` each header segment: its marker, its payload bounds (`end` cut at the end of
 * `buf`) and whether the payload lies wholly inside `buf`. `visit` may return true to stop the
 * walk there. Returns true when the start of scan (SOS) lies inside `buf`, i.e. every header
 * segment was seen; false when the data ends first, the marker structure is broken, or the walk
 * was stopped.
 */
export function walkJpegHeader(buf: Buffer, visit?: (marker: number, start: number, end: number, complete: boolean) => boolean | void): boolean {
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return false;
    const marker = buf[i + 1] as number;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xda) return true;
    if (marker === 0xd9) return false;
    const len = buf.readUInt16BE(i + 2);
    if (len < 2) return false;
    const end = i + 2 + len;
    if (visit?.(marker, i + 4, Math.min(buf.length, end), end <= buf.length) === true) return false;
    i = end;
  }
  return false;
}

/** Start-of-frame markers (SOF0–SOF15 without DHT, JPG and DAC). */
export function isFrameMarker(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}
