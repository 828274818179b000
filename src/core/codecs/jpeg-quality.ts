/**
 * Estimates the IJG (libjpeg) quality a JPEG was saved at from its quantisation tables, with the
 * same algorithm as ImageMagick (`coders/jpeg.c`, JPEGSetImageQuality): two probe coefficients
 * plus the sum of all table entries, matched against precomputed tables for qualities 1–100.
 * OSS's relative quality (`quality,q_90` on a q80 source → 72) needs this number, and
 * ImageMagick's `identify -format %Q` is the reference users compare against.
 */
import { walkJpegHeader } from './jpeg-markers.js';

/** zigzag index → natural (row-major) index (ITU T.81 Figure A.6). */
const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
];

// ImageMagick's tables for files with a luminance and a chrominance table …
const HASH2 = [
  1020, 1015, 932, 848, 780, 735, 702, 679, 660, 645, 632, 623, 613, 607, 600, 594, 589, 585, 581, 571, 555, 542, 529,
  514, 494, 474, 457, 439, 424, 410, 397, 386, 373, 364, 351, 341, 334, 324, 317, 309, 299, 294, 287, 279, 274, 267,
  262, 257, 251, 247, 243, 237, 232, 227, 222, 217, 213, 207, 202, 198, 192, 188, 183, 177, 173, 168, 163, 157, 153,
  148, 143, 139, 132, 128, 125, 119, 115, 108, 104, 99, 94, 90, 84, 79, 74, 70, 64, 59, 55, 49, 45, 40, 34, 30, 25,
  20, 15, 11, 6, 4, 0,
];
const SUMS2 = [
  32640, 32635, 32266, 31495, 30665, 29804, 29146, 28599, 28104, 27670, 27225, 26725, 26210, 25716, 25240, 24789,
  24373, 23946, 23572, 22846, 21801, 20842, 19949, 19121, 18386, 17651, 16998, 16349, 15800, 15247, 14783, 14321,
  13859, 13535, 13081, 12702, 12423, 12056, 11779, 11513, 11135, 10955, 10676, 10392, 10208, 9928, 9747, 9564, 9369,
  9193, 9017, 8822, 8639, 8458, 8270, 8084, 7896, 7710, 7527, 7347, 7156, 6977, 6788, 6607, 6422, 6236, 6054, 5867,
  5684, 5495, 5305, 5128, 4945, 4751, 4638, 4442, 4248, 4065, 3888, 3698, 3509, 3326, 3139, 2957, 2775, 2586, 2405,
  2216, 2037, 1846, 1666, 1483, 1297, 1109, 927, 735, 554, 375, 201, 128, 0,
];
// … and for files with a single (greyscale) table.
const HASH1 = [
  510, 505, 422, 380, 355, 338, 326, 318, 311, 305, 300, 297, 293, 291, 288, 286, 284, 283, 281, 280, 279, 278, 277,
  273, 262, 251, 243, 233, 225, 218, 211, 205, 198, 193, 186, 181, 177, 172, 168, 164, 158, 156, 152, 148, 145, 142,
  139, 136, 133, 131, 129, 126, 123, 120, 118, 115, 113, 110, 107, 105, 102, 100, 97, 94, 92, 89, 87, 83, 81, 79, 76,
  74, 70, 68, 66, 63, 61, 57, 55, 52, 50, 48, 44, 42, 39, 37, 34, 31, 29, 26, 24, 21, 18, 16, 13, 11, 8, 6, 3, 2, 0,
];
const SUMS1 = [
  16320, 16315, 15946, 15277, 14655, 14073, 13623, 13230, 12859, 12560, 12240, 11861, 11456, 11081, 10714, 10360,
  10027, 9679, 9368, 9056, 8680, 8331, 7995, 7668, 7376, 7084, 6823, 6562, 6345, 6125, 5939, 5756, 5571, 5421, 5240,
  5086, 4976, 4829, 4719, 4616, 4463, 4393, 4280, 4166, 4092, 3980, 3909, 3835, 3755, 3688, 3621, 3541, 3467, 3396,
  3323, 3247, 3170, 3096, 3021, 2952, 2874, 2804, 2727, 2657, 2583, 2509, 2437, 2362, 2290, 2211, 2136, 2068, 1996,
  1915, 1858, 1773, 1692, 1620, 1552, 1477, 1398, 1326, 1251, 1179, 1109, 1031, 961, 884, 814, 736, 667, 592, 518,
  441, 369, 292, 221, 151, 86, 64, 0,
];

/**
 * The quantisation tables (slots 0–3, natural order) defined before the first scan, as libjpeg
 * holds them after `jpeg_read_header`. A later DQT for the same slot replaces the earlier one.
 * Returns undefined when the marker structure is broken before any table is found.
 */
export function readQuantTables(buf: Buffer): Array<number[] | undefined> | undefined {
  const tables: Array<number[] | undefined> = [undefined, undefined, undefined, undefined];
  walkJpegHeader(buf, (marker, start, end) => {
    if (marker !== 0xdb) return;
    let p = start;
    while (p < end) {
      const pq = (buf[p] as number) >> 4;
      const tq = (buf[p] as number) & 0x0f;
      const size = pq === 0 ? 64 : 128;
      if (tq > 3 || pq > 1 || p + 1 + size > end) break;
      const natural = new Array<number>(64);
      for (let k = 0; k < 64; k++) {
        natural[ZIGZAG[k] as number] = pq === 0 ? (buf[p + 1 + k] as number) : buf.readUInt16BE(p + 1 + 2 * k);
      }
      tables[tq] = natural;
      p += 1 + size;
    }
  });
  return tables.some((t) => t !== undefined) ? tables : undefined;
}

/** The IJG standard luminance table (ITU T.81 Annex K), natural order. */
const STD_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/**
 * The estimated quality (1–100) of a JPEG, or undefined when it has no usable quantisation table.
 *
 * ImageMagick's estimate is exact for IJG-scaled tables (libjpeg, libjpeg-turbo, sharp without
 * mozjpeg) and gives up on tables that match no IJG quality closely (mozjpeg, some cameras). For
 * those, this falls back to inverting IJG's scaling on the luminance table (median ratio to the
 * standard table), so relative quality still has a sensible base.
 */
export function estimateJpegQuality(buf: Buffer): number | undefined {
  const tables = readQuantTables(buf);
  if (!tables) return undefined;
  return imageMagickQuality(tables) ?? scaledLumaQuality(tables[0]);
}

/** Inverts libjpeg's `jpeg_quality_scaling` on table 0 (median of the per-entry ratios). */
function scaledLumaQuality(t0: number[] | undefined): number | undefined {
  if (!t0) return undefined;
  const ratios = t0.map((q, k) => (q * 100) / (STD_LUMA[k] as number)).sort((a, b) => a - b);
  const scale = ((ratios[31] as number) + (ratios[32] as number)) / 2;
  if (scale <= 0) return 100;
  const q = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
  return Math.max(1, Math.min(100, Math.round(q)));
}

/** ImageMagick's JPEGSetImageQuality on the tables; undefined where it leaves quality unset. */
export function imageMagickQuality(tables: ReadonlyArray<number[] | undefined>): number | undefined {
  let sum = 0;
  for (const t of tables) if (t) for (const v of t) sum += v;
  const [t0, t1] = tables;
  if (!t0) return undefined;
  let hash: readonly number[];
  let sums: readonly number[];
  let qvalue: number;
  if (t1) {
    hash = HASH2;
    sums = SUMS2;
    qvalue = (t0[2] as number) + (t0[53] as number) + (t1[0] as number) + (t1[63] as number);
  } else {
    hash = HASH1;
    sums = SUMS1;
    qvalue = (t0[2] as number) + (t0[53] as number);
  }
  for (let i = 0; i < 100; i++) {
    if (qvalue < (hash[i] as number) && sum < (sums[i] as number)) continue;
    if ((qvalue <= (hash[i] as number) && sum <= (sums[i] as number)) || i >= 50) return i + 1;
    return undefined;
  }
  return undefined;
}
