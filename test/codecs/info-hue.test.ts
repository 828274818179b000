import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { probe } from '../../src/core/codecs/probe.js';
import { ossInfo, exifFields } from '../../src/core/codecs/info.js';
import { averageHue, averageColour } from '../../src/core/codecs/average-hue.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/codecs/${name}`, import.meta.url));

async function info(buf: Buffer): Promise<Record<string, { value: string }>> {
  const body = await ossInfo(buf, await probe(buf));
  const parsed = JSON.parse(body) as Record<string, { value: string }>;
  assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort(), 'keys sorted');
  for (const [k, v] of Object.entries(parsed)) {
    assert.deepEqual(Object.keys(v), ['value'], k);
    assert.equal(typeof v.value, 'string', k);
  }
  return parsed;
}

test('info: the docs example.jpg (no EXIF, JFIF density 1:1) — spec §3.6 first sample', async () => {
  const buf = fixture('example-jfif-400x267.jpg');
  assert.deepEqual(await info(buf), {
    FileSize: { value: String(buf.length) },
    Format: { value: 'jpg' },
    FrameCount: { value: '1' },
    ImageHeight: { value: '267' },
    ImageWidth: { value: '400' },
    ResolutionUnit: { value: '1' },
    XResolution: { value: '1/1' },
    YResolution: { value: '1/1' },
  });
});

test('info: the docs f.jpg EXIF (same offsets) renders exactly as the spec §3.6 second sample', async () => {
  const buf = fixture('f-exif-424x333.jpg');
  const sample = JSON.parse(
    '{"Compression":{"value":"6"},"DateTime":{"value":"2015:02:11 15:38:27"},"ExifTag":{"value":"2212"},' +
      '"FileSize":{"value":"23471"},"Format":{"value":"jpg"},"GPSLatitude":{"value":"0deg "},' +
      '"GPSLatitudeRef":{"value":"North"},"GPSLongitude":{"value":"0deg "},"GPSLongitudeRef":{"value":"East"},' +
      '"GPSMapDatum":{"value":"WGS-84"},"GPSTag":{"value":"4292"},"GPSVersionID":{"value":"2 2 0 0"},' +
      '"ImageHeight":{"value":"333"},"ImageWidth":{"value":"424"},"JPEGInterchangeFormat":{"value":"4518"},' +
      '"JPEGInterchangeFormatLength":{"value":"3232"},"Orientation":{"value":"7"},"ResolutionUnit":{"value":"2"},' +
      '"Software":{"value":"Microsoft Windows Photo Viewer 6.1.7600.16385"},"XResolution":{"value":"96/1"},' +
      '"YResolution":{"value":"96/1"}}',
  ) as Record<string, { value: string }>;
  // Differences: our file's size, and FrameCount (current docs always add it; the 2021 sample predates it).
  const expected: Record<string, { value: string }> = { ...sample, FileSize: { value: String(buf.length) }, FrameCount: { value: '1' } };
  const got = await info(buf);
  assert.deepEqual(got, Object.fromEntries(Object.keys(expected).sort().map((k) => [k, expected[k]])));
  // Byte-exact body shape: compact JSON, sorted keys.
  assert.equal(await ossInfo(buf, await probe(buf)), JSON.stringify(got));
});

test('info: animated GIF reports the per-frame size and FrameCount (spec third sample)', async () => {
  const frames = await Promise.all([0, 1, 2].map((i) => sharp({ create: { width: 50, height: 40, channels: 3, background: { r: i * 100, g: 0, b: 0 } } }).png().toBuffer()));
  const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
  const got = await info(gif);
  assert.deepEqual([got.Format?.value, got.FrameCount?.value, got.ImageWidth?.value, got.ImageHeight?.value], ['gif', '3', '50', '40']);
});

test('info: PNG EXIF is not returned; stored (not oriented) size; format names', async () => {
  const png = await info(fixture('exif2c08.png'));
  assert.deepEqual(Object.keys(png), ['FileSize', 'Format', 'FrameCount', 'ImageHeight', 'ImageWidth']);
  const oriented = await info(fixture('png-exif-orientation-6.png'));
  assert.equal(oriented.Orientation, undefined);
  assert.deepEqual([oriented.ImageWidth?.value, oriented.ImageHeight?.value], ['200', '100']);
  assert.equal((await info(fixture('alpha-dice-300x225.heic'))).Format?.value, 'heic');
  assert.equal((await info(fixture('topdown-64x48.bmp'))).Format?.value, 'bmp');
  assert.equal((await info(fixture('avis-bbb-480x270.avif'))).Format?.value, 'avif');
  const tiff = await sharp({ create: { width: 9, height: 7, channels: 3, background: '#000' } }).tiff({ xres: 10, yres: 10 }).toBuffer();
  const t = await info(tiff);
  assert.equal(t.Format?.value, 'tiff');
  assert.ok(t.XResolution && t.ResolutionUnit, 'TIFF resolution tags reported');
  assert.equal(t.StripOffsets, undefined, 'TIFF layout tags are not metadata');
});

test('info: EXIF from sharp (webp, jpeg) with a malformed GPS IFD yields fields, not errors', async () => {
  const exifJpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } })
    .withExif({ IFD0: { Make: 'Halftone', Model: 'Test', Copyright: 'CC0' } })
    .webp()
    .toBuffer();
  const w = await info(exifJpeg);
  assert.deepEqual([w.Format?.value, w.Make?.value, w.Model?.value, w.Copyright?.value], ['webp', 'Halftone', 'Test', 'CC0']);
  const broken = await info(fixture('broken-exif-gps-ifd.jpg'));
  assert.equal(broken.Make?.value, 'samsung');
  assert.equal(broken.ImageWidth?.value, '1', 'real size, not the EXIF ImageWidth claim');
  assert.equal(broken.ImageLength, undefined);
});

test('exifFields: big-endian structures, GPS seconds, garbage input', () => {
  // MM, IFD0 with GPSTag → GPS IFD with latitude 41/1 24/1 1220/100.
  const t = Buffer.alloc(200);
  t.write('MM\0*', 0, 'latin1');
  t.writeUInt32BE(8, 4);
  t.writeUInt16BE(1, 8);
  t.writeUInt16BE(0x8825, 10);
  t.writeUInt16BE(4, 12);
  t.writeUInt32BE(1, 14);
  t.writeUInt32BE(26, 18);
  t.writeUInt32BE(0, 22);
  t.writeUInt16BE(2, 26);
  t.writeUInt16BE(0x0001, 28);
  t.writeUInt16BE(2, 30);
  t.writeUInt32BE(2, 32);
  t.write('S\0', 36, 'latin1');
  t.writeUInt16BE(0x0002, 40);
  t.writeUInt16BE(5, 42);
  t.writeUInt32BE(3, 44);
  t.writeUInt32BE(100, 48);
  [41, 1, 24, 1, 1220, 100].forEach((v, i) => t.writeUInt32BE(v, 100 + i * 4));
  assert.deepEqual(exifFields(t), { GPSTag: '26', GPSLatitudeRef: 'South', GPSLatitude: `41deg 24' 12.2"` });
  assert.deepEqual(exifFields(Buffer.from('Exif\0\0garbage')), {});
  assert.deepEqual(exifFields(Buffer.alloc(3)), {});
  const loop = Buffer.from(t);
  loop.writeUInt32BE(8, 22); // IFD0 → next IFD = itself
  assert.doesNotThrow(() => exifFields(loop));
});

test('average-hue: spec examples, alpha handling, round half up', () => {
  const red = Buffer.alloc(10 * 10 * 3);
  for (let i = 0; i < 100; i++) red[i * 3] = 255;
  assert.equal(averageHue(red, 3), '{"RGB":"0xff0000"}');
  assert.equal(averageHue(Buffer.from([0, 0, 0, 255, 255, 255]), 3), '{"RGB":"0x808080"}', '127.5 rounds up');
  // Fully transparent pixels do not count; partly transparent ones do.
  assert.equal(averageHue(Buffer.from([255, 0, 0, 0, 0, 0, 255, 255, 0, 0, 254, 1]), 4), '{"RGB":"0x0000ff"}', '(255 + 254) / 2 = 254.5 → 255');
  assert.deepEqual(averageColour(Buffer.from([10, 20, 30, 0, 30, 40, 50, 0]), 4), [20, 30, 40], 'all transparent: mean of all');
  assert.deepEqual(averageColour(Buffer.from([0, 255, 101, 255]), 2), [51, 51, 51], 'grey + alpha');
  assert.deepEqual(averageColour(Buffer.from([1, 2]), 1), [2, 2, 2], '1.5 → 2');
});

test('average-hue on decoded pixels of a real image', async () => {
  const { data, info: i } = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 92, g: 120, b: 59, alpha: 1 } } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.equal(averageHue(data, i.channels), '{"RGB":"0x5c783b"}');
});
