/**
 * PNG target size: the palette search over quality, dithering and palette level lands within 5 %
 * below targets that fall between the quantiser's quality steps, and reports how it got there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { compressToTarget } from '../../src/core/compress/target-size.js';

const JPG = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const PNG = readFileSync(new URL('../fixtures/kodim23-256.png', import.meta.url));

for (const [name, input, target] of [['example-400x267.jpg', JPG, 10_000], ['example-400x267.jpg', JPG, 12_000], ['kodim23-256.png', PNG, 12_000]] as const) {
  test(`${name} → png ≤ ${target}: within 5 % below, a valid palette PNG`, async () => {
    const res = await compressToTarget(input, { format: 'png', targetBytes: target });
    const where = `${res.data.length} bytes, q ${res.quality}, dither ${res.dither}, level ${res.paletteLevel}, ${res.encodes} encodes`;
    assert.ok(res.data.length <= target && res.data.length >= 0.95 * target, where);
    assert.ok([256, 16, 4, 2].includes(res.paletteLevel as number), where);
    assert.ok((res.dither as number) >= 0 && (res.dither as number) <= 1, where);
    assert.ok((res.colours as number) >= 2 && (res.colours as number) <= 256, where);
    assert.ok(res.encodes <= 16, where);
    const meta = await sharp(res.data).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.isPalette, true);
    assert.equal(res.scaled, false);
  });
}
