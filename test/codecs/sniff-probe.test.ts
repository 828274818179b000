import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp, { type Sharp } from 'sharp';
import { sniffFormat, sharpReadableAvif } from '../../src/core/codecs/sniff.js';
import { probe } from '../../src/core/codecs/probe.js';
import { estimateJpegQuality } from '../../src/core/codecs/jpeg-quality.js';
import { AppError } from '../../src/core/errors.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/codecs/${name}`, import.meta.url));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof AppError && err.code === code);
}

const solid = (w = 16, h = 12, channels: 3 | 4 = 3): Sharp =>
  sharp({ create: { width: w, height: h, channels, background: { r: 10, g: 200, b: 30, alpha: channels === 4 ? 0.5 : 1 } } });

test('sniff: magic bytes of every supported format', async () => {
  const img = solid();
  assert.equal(sniffFormat(await img.clone().jpeg().toBuffer()), 'jpeg');
  assert.equal(sniffFormat(await img.clone().png().toBuffer()), 'png');
  assert.equal(sniffFormat(await img.clone().webp().toBuffer()), 'webp');
  assert.equal(sniffFormat(await img.clone().gif().toBuffer()), 'gif');
  assert.equal(sniffFormat(await img.clone().tiff().toBuffer()), 'tiff');
  assert.equal(sniffFormat(await img.clone().avif().toBuffer()), 'avif');
  assert.equal(sniffFormat(fixture('gradient-64x48.heic')), 'heic');
  assert.equal(sniffFormat(fixture('alpha-dice-300x225.heic')), 'heic');
  assert.equal(sniffFormat(fixture('avis-bbb-480x270.avif')), 'avif');
  assert.equal(sniffFormat(fixture('topdown-64x48.bmp')), 'bmp');
});

test('sniff: never from names; SVG, text, HTML, empty and near-misses are not images', () => {
  for (const text of ['', 'hello', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', '<!doctype html><script>', 'BMx text that starts like a bitmap', 'GIF88a not really']) {
    assert.equal(sniffFormat(Buffer.from(text)), null, JSON.stringify(text));
  }
  // PNG signature with a mangled byte (PngSuite xs* files) is not PNG.
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0d, 0, 0, 0, 13]);
  assert.equal(sniffFormat(png), null);
});

test('sniff: HEIF flavour comes from the codec box, not only the brand', () => {
  const box = (type: string, body: Buffer): Buffer => {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(8 + body.length);
    b.write(type, 4, 'latin1');
    return Buffer.concat([b, body]);
  };
  const ftyp = (major: string, ...compat: string[]): Buffer => box('ftyp', Buffer.from(major + '\0\0\0\0' + compat.join(''), 'latin1'));
  const meta = (codec: string): Buffer => box('meta', Buffer.concat([Buffer.alloc(4), box('iprp', box(codec, Buffer.alloc(8)))]));
  assert.equal(sniffFormat(Buffer.concat([ftyp('mif1', 'mif1', 'miaf'), meta('hvcC')])), 'heic');
  assert.equal(sniffFormat(Buffer.concat([ftyp('mif1', 'mif1', 'miaf'), meta('av1C')])), 'avif');
  assert.equal(sniffFormat(Buffer.concat([ftyp('mif1', 'mif1'), meta('jpgC')])), null, 'JPEG-coded HEIF is not supported');
  assert.equal(sniffFormat(Buffer.concat([ftyp('heic', 'mif1', 'heic'), Buffer.alloc(16)])), 'heic', 'brand decides without meta');
  assert.equal(sniffFormat(Buffer.concat([ftyp('avis', 'avif', 'msf1'), Buffer.alloc(16)])), 'avif');
  assert.equal(sniffFormat(Buffer.concat([ftyp('isom', 'mp41'), Buffer.alloc(16)])), null, 'MP4 video is not an image');
});

test('probe: dimensions, frames, alpha, bytes per format', async () => {
  const rgba = await solid(20, 10, 4).png().toBuffer();
  assert.deepEqual(await probe(rgba), { format: 'png', width: 20, height: 10, frames: 1, orientation: 1, hasAlpha: true, bytes: rgba.length });
  const frames = await Promise.all([0, 1, 2].map((i) => sharp({ create: { width: 50, height: 40, channels: 3, background: { r: i * 100, g: 0, b: 0 } } }).png().toBuffer()));
  const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
  const g = await probe(gif);
  assert.equal(g.format, 'gif');
  assert.deepEqual([g.width, g.height, g.frames], [50, 40, 3], 'per-frame size, 3 frames');
  const heic = await probe(fixture('alpha-dice-300x225.heic'));
  assert.deepEqual([heic.format, heic.width, heic.height, heic.hasAlpha], ['heic', 300, 225, true]);
  const bmp = await probe(fixture('topdown-64x48.bmp'));
  assert.deepEqual([bmp.format, bmp.width, bmp.height, bmp.hasAlpha], ['bmp', 64, 48, false]);
  const avis = await probe(fixture('avis-bbb-480x270.avif'));
  assert.deepEqual([avis.format, avis.width, avis.height, avis.frames], ['avif', 480, 270, 1], 'avis: primary still image');
});

test('probe: EXIF orientation, invalid values become 1', async () => {
  const base = await solid().jpeg().toBuffer();
  for (let o = 1; o <= 8; o++) {
    const j = await sharp(base).withMetadata({ orientation: o }).jpeg().toBuffer();
    assert.equal((await probe(j)).orientation, o);
  }
  assert.equal((await probe(fixture('f-exif-424x333.jpg'))).orientation, 7);
  assert.equal((await probe(fixture('png-exif-orientation-6.png'))).orientation, 6, 'PNG eXIf orientation');
  // Orientation 0 (invalid): patch the SHORT value in a real EXIF block.
  const j1 = await sharp(base).withMetadata({ orientation: 3 }).jpeg().toBuffer();
  const tagAt = j1.indexOf(Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00]));
  const tagAtBE = j1.indexOf(Buffer.from([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03]));
  assert.ok(tagAt > 0 || tagAtBE > 0, 'orientation tag found');
  const j0 = Buffer.from(j1);
  if (tagAt > 0) j0[tagAt + 8] = 0;
  else j0[tagAtBE + 9] = 0;
  assert.equal((await probe(j0)).orientation, 1);
});

test('probe: JPEG quality estimate matches the IJG quality (ImageMagick algorithm)', async () => {
  const img = solid(64, 48);
  for (const q of [1, 10, 50, 72, 75, 80, 90, 95, 100]) {
    assert.equal((await probe(await img.clone().jpeg({ quality: q }).toBuffer())).jpegQuality, q, `colour q${q}`);
    assert.equal(estimateJpegQuality(await img.clone().greyscale().jpeg({ quality: q }).toBuffer()), q, `grey q${q}`);
  }
  // mozjpeg tables are not IJG-scaled: an estimate is still given, within range.
  const moz = estimateJpegQuality(await img.clone().jpeg({ quality: 60, mozjpeg: true }).toBuffer());
  assert.ok(moz !== undefined && moz >= 1 && moz <= 100);
  assert.equal(estimateJpegQuality(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), undefined);
  assert.equal((await probe(await img.clone().png().toBuffer())).jpegQuality, undefined);
});

test('probe: coded errors for non-images and broken headers, never a crash', async () => {
  await rejectsWith(probe(Buffer.alloc(0)), 'UNSUPPORTED_FORMAT');
  await rejectsWith(probe(Buffer.from('just text, named photo.jpg')), 'UNSUPPORTED_FORMAT');
  await rejectsWith(probe(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), 'UNSUPPORTED_FORMAT');
  const png = await solid().png().toBuffer();
  await rejectsWith(probe(png.subarray(0, 20)), 'CORRUPT_IMAGE');
  await rejectsWith(probe(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a])), 'CORRUPT_IMAGE');
  const webp = await solid().webp().toBuffer();
  await rejectsWith(probe(webp.subarray(0, 14)), 'CORRUPT_IMAGE');
  // BMP headers: zero width, bad bit depth, truncated palette.
  const bmp = fixture('topdown-64x48.bmp');
  const zeroWidth = Buffer.from(bmp);
  zeroWidth.writeInt32LE(0, 18);
  await rejectsWith(probe(zeroWidth), 'CORRUPT_IMAGE');
  const badDepth = Buffer.from(bmp);
  badDepth.writeUInt16LE(7, 28);
  await rejectsWith(probe(badDepth), 'CORRUPT_IMAGE');
  await rejectsWith(probe(bmp.subarray(0, 24)), 'CORRUPT_IMAGE');
  // A HEIC whose boxes are garbage after ftyp.
  const heic = fixture('gradient-64x48.heic');
  const junk = Buffer.concat([heic.subarray(0, 32), Buffer.alloc(64, 0xab)]);
  await rejectsWith(probe(junk), 'CORRUPT_IMAGE');
});

test('sharpReadableAvif rewrites only the avis major brand', () => {
  const avis = fixture('avis-bbb-480x270.avif');
  const patched = sharpReadableAvif(avis);
  assert.equal(patched.toString('latin1', 8, 12), 'avif');
  assert.equal(avis.toString('latin1', 8, 12), 'avis', 'input not mutated');
  const heic = fixture('gradient-64x48.heic');
  assert.equal(sharpReadableAvif(heic), heic);
});
