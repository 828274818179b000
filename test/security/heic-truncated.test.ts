/**
 * Regression (found by the hostile-files suite on corpus/broken/truncated_half_iphone11.heic): the
 * WebAssembly HEIC decoder grey-fills the tiles of a truncated file instead of failing, so a cut
 * HEIC was served as a processed image. Truncated ISO-BMFF files are now refused as CORRUPT_IMAGE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bmffComplete } from '../../src/core/codecs/decode.js';
import { transformOss } from '../../src/app/transform-image.js';

const heic = readFileSync(new URL('../fixtures/codecs/alpha-dice-300x225.heic', import.meta.url));
const noObjects = async (): Promise<Buffer> => {
  throw new Error('no objects');
};

test('bmffComplete: whole files pass, cut files and bad box sizes fail', () => {
  assert.equal(bmffComplete(heic), true);
  for (const cut of [0.9, 0.5, 0.1]) assert.equal(bmffComplete(heic.subarray(0, Math.floor(heic.length * cut))), false, `cut at ${cut}`);
  const bad = Buffer.from(heic);
  bad.writeUInt32BE(4, 0); // a box smaller than its own header
  assert.equal(bmffComplete(bad), false);
});

test('a truncated HEIC is refused with CORRUPT_IMAGE, the whole file still converts', async () => {
  const ok = await transformOss(heic, 'image/resize,w_50/format,png', { loadObject: noObjects });
  assert.equal(ok.kind, 'image');
  await assert.rejects(transformOss(heic.subarray(0, Math.floor(heic.length * 0.6)), 'image/resize,w_50/format,png', { loadObject: noObjects }), { code: 'CORRUPT_IMAGE' });
});
