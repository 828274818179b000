/**
 * Estimates the quality a JPEG was saved at from its luminance quantisation table, by inverting
 * the IJG (libjpeg) scaling of the standard table. OSS's relative quality (`quality,q_90` on a
 * q80 source → 72) needs this number. Returns undefined when no table is found.
 */

/** The IJG standard luminance table (ITU T.81 Annex K), in natural (row-major) order. */
const STD_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** zigzag index → natural index. */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
];

/** Reads table 0 (luminance) from the DQT segments before the first SOS. */
function lumaTable(buf: Buffer): number[] | undefined {
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return undefined;
    const marker = buf[i + 1] as number;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    const len = buf.readUInt16BE(i + 2);
    if (marker === 0xdb) {
      let p = i + 4;
      const end = i + 2 + len;
      while (p < end && p < buf.length) {
        const pq = (buf[p] as number) >> 4;
        const tq = (buf[p] as number) & 0x0f;
        const size = pq === 0 ? 64 : 128;
        if (p + 1 + size > buf.length) return undefined;
        if (tq === 0) {
          const natural = new Array<number>(64);
          for (let k = 0; k < 64; k++) {
            natural[ZIGZAG[k] as number] = pq === 0 ? (buf[p + 1 + k] as number) : buf.readUInt16BE(p + 1 + 2 * k);
          }
          return natural;
        }
        p += 1 + size;
      }
    }
    i += 2 + len;
  }
  return undefined;
}

export function estimateJpegQuality(buf: Buffer): number | undefined {
  const table = lumaTable(buf);
  if (!table) return undefined;
  // Each entry is about std·scale/100; take the median ratio to resist clamping at 1 and 255.
  const ratios = table.map((q, k) => (q * 100) / (STD_LUMA[k] as number)).sort((a, b) => a - b);
  const scale = ((ratios[31] as number) + (ratios[32] as number)) / 2;
  if (scale <= 0) return 100;
  const q = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
  return Math.max(1, Math.min(100, Math.round(q)));
}
