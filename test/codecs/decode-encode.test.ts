import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { probe } from '../../src/core/codecs/probe.js';
import { toSharpInput, type SharpInput } from '../../src/core/codecs/decode.js';
import { decodeBmp, readBmpHeader } from '../../src/core/codecs/bmp.js';
import { encodeBmp } from '../../src/core/codecs/encode-bmp.js';
import { configureHeicEncoder, encodeHeic, heicEncoderAvailable, listsHevcEncoder } from '../../src/core/codecs/encode-heic.js';
import { AppError } from '../../src/core/errors.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/codecs/${name}`, import.meta.url));

function isRaw(x: SharpInput): x is Exclude<SharpInput, Buffer> {
  return !Buffer.isBuffer(x);
}

/** Random-ish but deterministic RGB(A) pixels. */
function pixels(w: number, h: number, channels: number, alpha?: (i: number) => number): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < channels; c++) b[i * channels + c] = (i * 37 + c * 91 + (i >> 3) * 13) & 0xff;
    if (alpha && channels === 4) b[i * channels + 3] = alpha(i);
  }
  return b;
}

test('toSharpInput: sharp-native formats pass through as bytes', async () => {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } }).png().toBuffer();
  assert.equal(await toSharpInput(png, await probe(png)), png);
});

test('toSharpInput: avis AVIF becomes a brand-patched buffer sharp decodes', async () => {
  const avis = fixture('avis-bbb-480x270.avif');
  const input = await toSharpInput(avis, await probe(avis));
  assert.ok(Buffer.isBuffer(input));
  const { info } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [480, 270]);
});

test('BMP: 24-bit round trip through bmp-ts is exact, odd widths padded', async () => {
  for (const [w, h] of [[5, 3], [8, 8], [1, 1], [7, 2]] as const) {
    const rgb = pixels(w, h, 3);
    const bmp = encodeBmp(rgb, w, h, 3);
    assert.equal(bmp.readUInt16LE(28), 24);
    const info = await probe(bmp);
    assert.deepEqual([info.format, info.width, info.height, info.hasAlpha], ['bmp', w, h, false]);
    const raw = await toSharpInput(bmp, info);
    assert.ok(isRaw(raw));
    assert.deepEqual(raw.raw, { width: w, height: h, channels: 3 });
    assert.ok(raw.data.equals(rgb), `${w}x${h}`);
  }
});

test('BMP: transparent images are written as 32-bit V4 with an alpha mask and read back with alpha', async () => {
  const rgba = pixels(6, 4, 4, (i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? 128 : 255));
  const bmp = encodeBmp(rgba, 6, 4, 4);
  const h = readBmpHeader(bmp);
  assert.deepEqual([h.headerSize, h.bitsPerPixel, h.compression, h.hasAlpha], [108, 32, 3, true]);
  const back = decodeBmp(bmp);
  assert.deepEqual(back.raw, { width: 6, height: 4, channels: 4 });
  assert.ok(back.data.equals(rgba));
  // Opaque RGBA and grey inputs become 24-bit.
  const opaque = pixels(3, 3, 4, () => 255);
  assert.equal(readBmpHeader(encodeBmp(opaque, 3, 3, 4)).bitsPerPixel, 24);
  const grey = Buffer.from([0, 50, 100, 150, 200, 250]);
  const g = decodeBmp(encodeBmp(grey, 3, 2, 1));
  assert.deepEqual(Array.from(g.data), [0, 0, 0, 50, 50, 50, 100, 100, 100, 150, 150, 150, 200, 200, 200, 250, 250, 250]);
});

test('BMP: top-down (negative height) rows come out the right way up', () => {
  const { data, raw } = decodeBmp(fixture('topdown-64x48.bmp'));
  assert.deepEqual(raw, { width: 64, height: 48, channels: 3 });
  assert.deepEqual(Array.from(data.subarray(0, 3)), [255, 255, 255], 'white band at the top');
  const last = (47 * 64) * 3;
  assert.deepEqual(Array.from(data.subarray(last, last + 3)), [0, 0, 255], 'blue at the bottom');
});

/** Hand-written 8-bit RLE BMP: 4×2, palette red/green/blue. */
function rle8Bmp(): Buffer {
  const palette = Buffer.from([0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0]); // BGRX: red, green, blue
  // Bottom row first: 4× blue; top row: 2× red, 1× green, 1× red; then end of bitmap.
  const data = Buffer.from([4, 2, 0, 0, 2, 0, 1, 1, 1, 0, 0, 1]);
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + palette.length + data.length, 2);
  header.writeUInt32LE(54 + palette.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(4, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(8, 28);
  header.writeUInt32LE(1, 30); // BI_RLE8
  header.writeUInt32LE(data.length, 34);
  header.writeUInt32LE(3, 46);
  return Buffer.concat([header, palette, data]);
}

test('BMP: RLE8 is decoded (bmp-ts RLE path is bypassed)', () => {
  const { data, raw } = decodeBmp(rle8Bmp());
  assert.deepEqual(raw, { width: 4, height: 2, channels: 3 });
  assert.deepEqual(Array.from(data), [255, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255]);
});

test('BMP: truncated or lying pixel data is CORRUPT_IMAGE, never a crash', async () => {
  const bmp = encodeBmp(pixels(16, 16, 3), 16, 16, 3);
  for (const cut of [60, 200, bmp.length - 40]) {
    const part = bmp.subarray(0, cut);
    await assert.rejects(
      (async () => toSharpInput(part, await probe(part)))(),
      (e: unknown) => e instanceof AppError && e.code === 'CORRUPT_IMAGE',
      `cut at ${cut}`,
    );
  }
  const rle = rle8Bmp();
  assert.throws(() => decodeBmp(rle.subarray(0, rle.length - 4)), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT_IMAGE');
});

test('HEIC: decoded to raw RGB (opaque) or RGBA (alpha) with the probed size', async () => {
  const opaque = fixture('gradient-64x48.heic');
  const a = await toSharpInput(opaque, await probe(opaque));
  assert.ok(isRaw(a));
  assert.deepEqual(a.raw, { width: 64, height: 48, channels: 3 });
  // Left column dark red, right column bright red (gradient in x), within HEVC loss.
  const { data } = a;
  assert.ok((data[0] as number) < 40 && (data[63 * 3] as number) > 215, `${data[0]} … ${data[63 * 3]}`);
  const dice = fixture('alpha-dice-300x225.heic');
  const b = await toSharpInput(dice, await probe(dice));
  assert.ok(isRaw(b));
  assert.deepEqual(b.raw, { width: 300, height: 225, channels: 4 });
  assert.equal(b.data[3], 0, 'transparent corner');
});

test('HEIC: a corrupt HEVC payload gives CORRUPT_IMAGE with EC 0040-00000020', async () => {
  const heic = Buffer.from(fixture('gradient-64x48.heic'));
  const info = await probe(heic);
  // Wreck the mdat payload (the last bytes), keep the header intact.
  const broken = Buffer.concat([heic.subarray(0, heic.length - 200), Buffer.alloc(200, 0xff)]);
  try {
    const out = await toSharpInput(broken, info);
    assert.ok(isRaw(out), 'a lenient decode must still be raw pixels of the probed size');
    assert.deepEqual([out.raw.width, out.raw.height], [64, 48]);
  } catch (err) {
    assert.ok(err instanceof AppError && err.code === 'CORRUPT_IMAGE' && err.ec === '0040-00000020', String(err));
  }
  await assert.rejects(toSharpInput(heic.subarray(0, 300), info), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT_IMAGE');
});

test('heif-enc listing parser', () => {
  assert.equal(listsHevcEncoder('HEIC encoders:\n- x265 = x265 HEVC encoder (3.5) [default]\nAVIF encoders:\n- aom = AOM\n'), true);
  assert.equal(listsHevcEncoder('HEIC encoders:\nAVIF encoders:\n- aom = AOM\n'), false);
  assert.equal(listsHevcEncoder(''), false);
});

test('HEIC output: ENCODER_UNAVAILABLE naming the Debian package when heif-enc is missing', async () => {
  configureHeicEncoder('/nonexistent/heif-enc');
  try {
    assert.equal(await heicEncoderAvailable(), false);
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } }).png().toBuffer();
    await assert.rejects(encodeHeic(png, 80), (e: unknown) => e instanceof AppError && e.code === 'ENCODER_UNAVAILABLE' && /libheif-examples/.test(e.publicMessage) && /heif-enc/.test(e.publicMessage));
  } finally {
    configureHeicEncoder(undefined);
  }
});

test('HEIC output: real HEVC through heif-enc, alpha kept, abort and time limit', async (t) => {
  if (!(await heicEncoderAvailable())) {
    t.skip('heif-enc with an HEVC encoder is not installed (Debian package libheif-examples)');
    return;
  }
  const rgba = await sharp(pixels(33, 17, 4, (i) => (i < 33 ? 0 : 255)), { raw: { width: 33, height: 17, channels: 4 } }).png().toBuffer();
  const heic = await encodeHeic(rgba, 70);
  assert.equal(heic.toString('latin1', 4, 8), 'ftyp');
  assert.match(heic.toString('latin1', 8, 12), /heic|heix/);
  const info = await probe(heic);
  assert.deepEqual([info.format, info.width, info.height, info.hasAlpha], ['heic', 33, 17, true]);
  const raw = await toSharpInput(heic, info);
  assert.ok(isRaw(raw) && raw.raw.channels === 4);
  // Alpha is HEVC-coded too (lossy): transparent first row, opaque below, within tolerance.
  assert.ok((raw.data[3] as number) < 40 && (raw.data[16 * 33 * 4 + 3] as number) > 215, `${raw.data[3]} / ${raw.data[16 * 33 * 4 + 3]}`);

  await assert.rejects(encodeHeic(Buffer.from('not a png'), 80), (e: unknown) => e instanceof AppError && e.code === 'INTERNAL');
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(encodeHeic(rgba, 80, { signal: ac.signal }));
  // A large noisy PNG takes x265 well over 50 ms: the time limit kills it.
  const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png({ compressionLevel: 0 }).toBuffer();
  await assert.rejects(encodeHeic(big, 80, { timeoutMs: 50 }), (e: unknown) => e instanceof AppError && e.code === 'TIMEOUT');
  const ac2 = new AbortController();
  setTimeout(() => ac2.abort(), 50);
  await assert.rejects(encodeHeic(big, 80, { signal: ac2.signal }), (e: unknown) => e instanceof AppError && e.code === 'TIMEOUT');
});
