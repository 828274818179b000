/**
 * Extended codec test over the shared corpus (../shared/corpus relative to the repo root; skipped
 * with a message when it is missing). formats/: every file probes with the manifest's size or gets
 * a coded AppError, and decodes (when ≤ 30 MP) to that size. broken/: a coded AppError or a
 * correct probe, never a crash or a hang. orientation/: probe orientation, info EXIF shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { probe } from '../../src/core/codecs/probe.js';
import { toSharpInput } from '../../src/core/codecs/decode.js';
import { ossInfo } from '../../src/core/codecs/info.js';
import { AppError } from '../../src/core/errors.js';
import type { SourceInfo } from '../../src/core/ir.js';

const corpus = fileURLToPath(new URL('../../../shared/corpus/', import.meta.url));
const present = existsSync(`${corpus}manifest.json`);

interface Entry {
  path: string;
  folder: string;
  width: number | null;
  height: number | null;
  frames: number | null;
  orientation: number | null;
}

/**
 * Files whose probe deliberately differs from the manifest (header claim vs what is decoded):
 * libvips' GIF loader sizes the canvas from the frames when the logical screen is absurd.
 */
const SIZE_EXCEPTIONS: Record<string, string> = {
  'broken/gif_logical_screen_65535x65535.gif': 'libvips uses the 1×1 frame, not the 65535² logical screen',
};
const DECODE_PIXEL_CAP = 30_000_000;

function entries(): Entry[] {
  return (JSON.parse(readFileSync(`${corpus}manifest.json`, 'utf8')) as { files: Entry[] }).files;
}

async function decodeFirstFrame(buf: Buffer, info: SourceInfo): Promise<{ width: number; height: number }> {
  const input = await toSharpInput(buf, info);
  const img = Buffer.isBuffer(input) ? sharp(input, { pages: 1, limitInputPixels: DECODE_PIXEL_CAP }) : sharp(input.data, { raw: input.raw });
  const { info: out } = await img.raw().toBuffer({ resolveWithObject: true });
  return { width: out.width, height: out.height };
}

function coded(err: unknown): AppError {
  assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
  return err;
}

test('corpus formats/: probe size or coded error; decode to the probed size', { skip: present ? false : `corpus not found at ${corpus}` }, async () => {
  const tally: Record<string, number> = {};
  for (const e of entries().filter((f) => f.folder === 'formats' || f.path.startsWith('formats/'))) {
    const buf = readFileSync(corpus + e.path);
    let info: SourceInfo;
    try {
      info = await probe(buf);
    } catch (err) {
      const c = coded(err);
      tally[c.code] = (tally[c.code] ?? 0) + 1;
      assert.ok(e.path.endsWith('.svg') || e.path.endsWith('.svgz'), `${e.path}: only SVG may be refused, got ${c.code}`);
      continue;
    }
    assert.deepEqual([info.width, info.height], [e.width, e.height], e.path);
    if (info.width * info.height <= DECODE_PIXEL_CAP) {
      const d = await decodeFirstFrame(buf, info);
      assert.deepEqual([d.width, d.height], [info.width, info.height], `${e.path} decoded size`);
    }
    tally.ok = (tally.ok ?? 0) + 1;
  }
  console.log('formats/:', JSON.stringify(tally));
  assert.ok((tally.ok ?? 0) >= 80);
});

test('corpus broken/: coded error or correct probe; decoding fails cleanly', { skip: present ? false : `corpus not found at ${corpus}`, timeout: 120_000 }, async () => {
  const tally: Record<string, number> = {};
  for (const e of entries().filter((f) => f.path.startsWith('broken/'))) {
    const buf = readFileSync(corpus + e.path);
    let info: SourceInfo;
    try {
      info = await probe(buf);
    } catch (err) {
      const c = coded(err);
      assert.ok(c.code === 'UNSUPPORTED_FORMAT' || c.code === 'CORRUPT_IMAGE', `${e.path}: ${c.code}`);
      tally[`probe:${c.code}`] = (tally[`probe:${c.code}`] ?? 0) + 1;
      continue;
    }
    if (SIZE_EXCEPTIONS[e.path] === undefined) {
      assert.deepEqual([info.width, info.height], [e.width, e.height], `${e.path} probe must match the header claim`);
    }
    tally.probed = (tally.probed ?? 0) + 1;
    // Decoding is the pipeline's job after the limits; here only files small enough to try.
    if (info.width * info.height * info.frames > DECODE_PIXEL_CAP) continue;
    try {
      await decodeFirstFrame(buf, info);
      tally.decoded = (tally.decoded ?? 0) + 1;
    } catch (err) {
      if (err instanceof AppError) {
        assert.equal(err.code, 'CORRUPT_IMAGE', e.path);
      } else {
        // sharp's own decode error (the pipeline maps it to CORRUPT_IMAGE); must be an Error.
        assert.ok(err instanceof Error, `${e.path}: ${String(err)}`);
      }
      tally.decodeFailed = (tally.decodeFailed ?? 0) + 1;
    }
  }
  console.log('broken/:', JSON.stringify(tally));
});

test('corpus orientation/: EXIF orientation (0 → 1) and info EXIF fields', { skip: present ? false : `corpus not found at ${corpus}` }, async () => {
  for (const e of entries().filter((f) => f.path.startsWith('orientation/'))) {
    const buf = readFileSync(corpus + e.path);
    const info = await probe(buf);
    const expected = e.orientation === null || e.orientation < 1 || e.orientation > 8 ? 1 : e.orientation;
    assert.equal(info.orientation, expected, e.path);
    assert.deepEqual([info.width, info.height], [e.width, e.height], e.path);
    const body = JSON.parse(await ossInfo(buf, info)) as Record<string, { value: string }>;
    assert.equal(body.ImageWidth?.value, String(e.width), `${e.path}: stored width`);
    if (info.format === 'jpeg' && e.orientation !== null) assert.equal(body.Orientation?.value, String(e.orientation), e.path);
    if (info.format === 'png') assert.equal(body.Orientation, undefined, `${e.path}: PNG EXIF not returned`);
  }
  const nikon = JSON.parse(await ossInfo(readFileSync(`${corpus}orientation/exif_gps_nikon_DSCN0010.jpg`), await probe(readFileSync(`${corpus}orientation/exif_gps_nikon_DSCN0010.jpg`)))) as Record<string, { value: string }>;
  assert.equal(nikon.GPSLatitudeRef?.value, 'North');
  assert.match(nikon.GPSLatitude?.value ?? '', /^43deg 28' [\d.]+"$/);
  assert.equal(nikon.Make?.value, 'NIKON');
  assert.match(nikon.XResolution?.value ?? '', /^\d+\/\d+$/);
});
