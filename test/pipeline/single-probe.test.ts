/**
 * One header probe per request: transformOss probes once for the admission estimate and hands the
 * result to the engine (runRecipe's `probed`), which then does not read the header again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { transformOss } from '../../src/app/transform-image.js';
import { createAdmission } from '../../src/app/admission.js';
import { runRecipe } from '../../src/core/pipeline/run.js';
import { probe } from '../../src/core/codecs/probe.js';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { AppError, isAppError } from '../../src/core/errors.js';

const example = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const loadObject = async (key: string): Promise<Buffer> => {
  throw new AppError('NO_SUCH_KEY', `no object ${key}`);
};

describe('single header probe', () => {
  it('runRecipe uses the probe it is given instead of reading the header again', async () => {
    const real = await probe(example);
    // A probe that claims far more pixels than the limit: only a runRecipe that trusts it refuses.
    const claimed = { ...real, width: 20000, height: 20000 };
    await assert.rejects(runRecipe(example, parseOssProcess('image/resize,w_100'), {}, { src: example, info: claimed }), (err: unknown) => isAppError(err) && err.code === 'IMAGE_TOO_LARGE');
    const ok = await runRecipe(example, parseOssProcess('image/resize,w_100'), {}, { src: example, info: real });
    assert.equal(ok.kind, 'image');
  });

  it('transformOss behind admission gives the same bytes as without (JPEG, WebP and PNG sources)', async () => {
    const webp = await sharp(example).webp({ quality: 90 }).toBuffer();
    const png = await sharp(example).ensureAlpha(0.5).png().toBuffer();
    const admission = createAdmission({ maxActive: 2, maxQueue: 8, memoryBudgetBytes: 0 });
    for (const [source, process] of [[example, 'image/resize,w_120/format,webp'], [webp, 'image/resize,w_120/format,jpg'], [png, 'image/resize,w_120/format,png']] as const) {
      const plain = await transformOss(source, process, { loadObject });
      const gated = await transformOss(source, process, { loadObject, admission });
      assert.equal(plain.kind, 'image');
      assert.equal(gated.kind, 'image');
      if (plain.kind === 'image' && gated.kind === 'image') assert.ok(plain.data.equals(gated.data), process);
    }
    assert.equal(admission.stats().admitted, 3);
  });

  it('a source the probe rejects still fails with its own code behind admission', async () => {
    const admission = createAdmission({ maxActive: 2, maxQueue: 8, memoryBudgetBytes: 0 });
    await assert.rejects(transformOss(Buffer.from('not an image'), 'image/resize,w_10', { loadObject, admission }), (err: unknown) => isAppError(err) && err.code === 'UNSUPPORTED_FORMAT');
  });
});
