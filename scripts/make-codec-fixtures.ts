/**
 * Regenerates the codec test fixtures in test/fixtures/codecs/ (licences: LICENSES.md there).
 * Run: npx tsx scripts/make-codec-fixtures.ts   (needs ../shared/corpus and heif-enc)
 *
 * Synthetic files are built here byte by byte (EXIF with the exact offsets of the OSS docs'
 * f.jpg sample, a JFIF density of 1:1 like the docs' example.jpg); a few small corpus files are
 * copied unchanged.
 */
import sharp, { type Sharp } from 'sharp';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const corpus = new URL('../../shared/corpus/', import.meta.url).pathname;
const out = new URL('../test/fixtures/codecs/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });

/** One little-endian TIFF IFD entry: [tag, type, count, value bytes or 4-byte field]. */
type IfdEntry = { tag: number; type: number; count: number; data: Buffer };

const short = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const long = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
const ascii = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
const rationals = (...pairs: Array<[number, number]>): Buffer => Buffer.concat(pairs.map(([n, d]) => Buffer.concat([long(n), long(d)])));

/** Writes an IFD at `at` in `tiff`, values that do not fit in 4 bytes at `valuesAt` onward. */
function writeIfd(tiff: Buffer, at: number, entries: IfdEntry[], next: number, valuesAt: number): number {
  tiff.writeUInt16LE(entries.length, at);
  let v = valuesAt;
  entries.sort((a, b) => a.tag - b.tag).forEach((e, i) => {
    const p = at + 2 + i * 12;
    tiff.writeUInt16LE(e.tag, p);
    tiff.writeUInt16LE(e.type, p + 2);
    tiff.writeUInt32LE(e.count, p + 4);
    if (e.data.length <= 4) {
      e.data.copy(tiff, p + 8);
    } else {
      tiff.writeUInt32LE(v, p + 8);
      e.data.copy(tiff, v);
      v += e.data.length + (e.data.length % 2);
    }
  });
  tiff.writeUInt32LE(next, at + 2 + entries.length * 12);
  return v;
}

/** The EXIF block of the docs' f.jpg: ExifTag 2212, GPSTag 4292, thumbnail at 4518 (3232 bytes). */
function fJpgExif(): Buffer {
  const tiff = Buffer.alloc(4518 + 3232);
  tiff.write('II*\0', 0, 'latin1');
  tiff.writeUInt32LE(8, 4);
  const ifd1At = 1024;
  writeIfd(tiff, 8, [
    { tag: 0x0112, type: 3, count: 1, data: short(7) },
    { tag: 0x011a, type: 5, count: 1, data: rationals([96, 1]) },
    { tag: 0x011b, type: 5, count: 1, data: rationals([96, 1]) },
    { tag: 0x0128, type: 3, count: 1, data: short(2) },
    { tag: 0x0131, type: 2, count: 47, data: ascii('Microsoft Windows Photo Viewer 6.1.7600.16385') },
    { tag: 0x0132, type: 2, count: 20, data: ascii('2015:02:11 15:38:27') },
    { tag: 0x8769, type: 4, count: 1, data: long(2212) },
    { tag: 0x8825, type: 4, count: 1, data: long(4292) },
  ], ifd1At, 200);
  writeIfd(tiff, ifd1At, [
    { tag: 0x0103, type: 3, count: 1, data: short(6) },
    { tag: 0x0201, type: 4, count: 1, data: long(4518) },
    { tag: 0x0202, type: 4, count: 1, data: long(3232) },
  ], 0, ifd1At + 64);
  // Exif IFD: only Windows' Padding tag (not reported, like in the sample).
  writeIfd(tiff, 2212, [{ tag: 0xea1c, type: 7, count: 1000, data: Buffer.alloc(1000) }], 0, 2240);
  writeIfd(tiff, 4292, [
    { tag: 0x0000, type: 1, count: 4, data: Buffer.from([2, 2, 0, 0]) },
    { tag: 0x0001, type: 2, count: 2, data: ascii('N') },
    { tag: 0x0002, type: 5, count: 3, data: rationals([0, 1], [0, 1], [0, 1]) },
    { tag: 0x0003, type: 2, count: 2, data: ascii('E') },
    { tag: 0x0004, type: 5, count: 3, data: rationals([0, 1], [0, 1], [0, 1]) },
    { tag: 0x0012, type: 2, count: 7, data: ascii('WGS-84') },
  ], 0, 4380);
  return tiff;
}

/** Inserts an APPn segment right after SOI. */
function withSegment(jpeg: Buffer, marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, payload, jpeg.subarray(2)]);
}

const gradient = (w: number, h: number): Sharp => {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = (y * w + x) * 3;
    px[o] = Math.round((x * 255) / (w - 1));
    px[o + 1] = Math.round((y * 255) / (h - 1));
    px[o + 2] = 128;
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } });
};

// f.jpg stand-in: 424×333 with the sample's EXIF (CC0, synthetic).
const f = await gradient(424, 333).jpeg({ quality: 75 }).toBuffer();
writeFileSync(join(out, 'f-exif-424x333.jpg'), withSegment(f, 0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), fJpgExif()])));

// example.jpg stand-in: 400×267, no EXIF, JFIF density 1:1 without unit (CC0, synthetic).
const jfif = Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
const ex = await gradient(400, 267).jpeg({ quality: 90 }).toBuffer();
writeFileSync(join(out, 'example-jfif-400x267.jpg'), withSegment(ex, 0xe0, jfif));

// A real HEVC HEIC, opaque, 64×48 (CC0, synthetic; encoded with heif-enc/x265).
const tmp = join(tmpdir(), 'halftone-fixture-gradient.png');
await gradient(64, 48).png().toFile(tmp);
execFileSync('heif-enc', ['-q', '50', '-o', join(out, 'gradient-64x48.heic'), tmp]);

// Unchanged small corpus files.
for (const [from, to] of [
  ['formats/heic/alpha_dice_300x225.heic', 'alpha-dice-300x225.heic'],
  ['formats/avif/anim_bbb_480x270_36f.avif', 'avis-bbb-480x270.avif'],
  ['formats/bmp/rgb24_topdown_negative_height_64x48.bmp', 'topdown-64x48.bmp'],
  ['broken/broken_exif_gps_ifd.jpg', 'broken-exif-gps-ifd.jpg'],
  ['formats/png/pngsuite/exif2c08.png', 'exif2c08.png'],
  ['orientation/png_exif_orientation-6.png', 'png-exif-orientation-6.png'],
] as const) {
  copyFileSync(join(corpus, from), join(out, to));
}
console.log('codec fixtures written to', out);
