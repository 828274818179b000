/**
 * libvips threads per image follow the load (src/core/pipeline/engine-settings.ts): every core for
 * a recipe that starts while sharp has no other task, 1 otherwise, and the setting never rises
 * while a sharp task is queued or running (libvips sizes a pipeline's line caches from it when
 * the pipeline is built and reads it again when it runs). A fixed setting is left alone.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { configureEngine } from '../../src/core/pipeline/engine-settings.js';
import { runRecipe } from '../../src/core/pipeline/run.js';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';

const example = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const resize = parseOssProcess('image/resize,w_100');
const inFlight = () => sharp.counters().queue + sharp.counters().process;

/** A sharp task that keeps libvips busy for a while (a large blur), started and not awaited. */
function slowTask(): Promise<unknown> {
  return sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).blur(20).jpeg().toBuffer();
}

describe('libvips threads per image', () => {
  const original = sharp.concurrency;
  after(() => {
    sharp.concurrency = original;
    configureEngine({ threads: 0, timeoutSeconds: 0 });
  });

  it('a lone recipe gets every core, one started beside another sharp task gets 1', async () => {
    configureEngine({ threads: 0, timeoutSeconds: 0 });
    assert.equal(sharp.concurrency(), 1);
    await runRecipe(example, resize);
    assert.equal(sharp.concurrency(), availableParallelism());

    const busy = slowTask();
    await runRecipe(example, resize);
    assert.ok(inFlight() > 0, 'the slow task must still be running for this check to mean anything');
    assert.equal(sharp.concurrency(), 1);
    await busy;
    await runRecipe(example, resize);
    assert.equal(sharp.concurrency(), availableParallelism());
  });

  it('never raises the setting while a sharp task is queued or running', async () => {
    configureEngine({ threads: 0, timeoutSeconds: 0 });
    const rises: { to: number; inFlight: number }[] = [];
    let last = sharp.concurrency();
    sharp.concurrency = ((n?: number) => {
      if (n !== undefined && n > last) rises.push({ to: n, inFlight: inFlight() });
      if (n !== undefined) last = n;
      return original(n);
    }) as typeof sharp.concurrency;
    try {
      // Waves of recipes that start and finish at different times, with pauses that let sharp go idle.
      for (let wave = 0; wave < 6; wave++) {
        await Promise.all(Array.from({ length: 1 + (wave % 4) }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 3));
          await runRecipe(example, parseOssProcess(`image/resize,w_${60 + 10 * i}/format,${i % 2 === 0 ? 'webp' : 'png'}`));
        }));
      }
    } finally {
      sharp.concurrency = original;
    }
    if (availableParallelism() > 1) assert.ok(rises.length > 0, 'some recipe ran alone, so the setting rose at least once');
    assert.deepEqual(rises.filter((r) => r.inFlight > 0), []);
  });

  it('a fixed setting is not changed by the load', async () => {
    configureEngine({ threads: 3, timeoutSeconds: 0 });
    await runRecipe(example, resize);
    assert.equal(sharp.concurrency(), 3);
    const busy = slowTask();
    await runRecipe(example, resize);
    assert.equal(sharp.concurrency(), 3);
    await busy;
  });
});
