/**
 * Raw decodes (BMP, HEIC) carry no EXIF for sharp to apply, so target-size compression orients
 * them itself: orientRaw(N) must equal sharp's autoOrient for every EXIF orientation 1–8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { orientRaw } from '../../src/core/compress/target-size.js';

for (let o = 1; o <= 8; o++) {
  test(`orientation ${o}: raw pixels oriented like sharp's autoOrient`, async () => {
    const file = readFileSync(new URL(`../fixtures/orientation/Landscape_${o}.jpg`, import.meta.url));
    const stored = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    const want = await sharp(file).autoOrient().raw().toBuffer({ resolveWithObject: true });
    const oriented = await orientRaw(sharp(stored.data, { raw: { width: stored.info.width, height: stored.info.height, channels: stored.info.channels } }), o);
    const got = await oriented.raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([got.info.width, got.info.height], [want.info.width, want.info.height]);
    assert.ok(got.data.equals(want.data), 'same pixels');
  });
}
