/**
 * The planner against the naive runner: the same chain run with the planned passes and with one
 * pass per operation must give the same pixels (mean absolute difference ≤ 1.0 per channel on a
 * lossless PNG output) while the planned run uses fewer passes. Real photos: the committed 400x267
 * fixture always; corpus photos too when ../shared/corpus exists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { runRecipe } from '../../src/core/pipeline/run.js';
import { meanDiff } from '../helpers/pixels.js';

const TOLERANCE = 1.0;
const chains = [
  'image/crop,w_300,h_200,g_center/resize,w_150/format,png',
  'image/resize,w_200/crop,w_100,h_80,g_se/format,png',
  'image/rotate,90/resize,w_120/format,png',
  'image/resize,w_200/blur,r_3,s_2/sharpen,120/format,png',
  'image/resize,m_pad,w_220,h_220/blur,r_2,s_1/format,png',
  'image/crop,x_10,y_10,w_300/crop,w_200,h_100/resize,m_fill,w_80,h_80/format,png',
  'image/resize,w_200/circle,r_80/format,png',
  'image/resize,w_250/rounded-corners,r_40/format,png',
];

const sources: [string, Buffer][] = [['example-400x267.jpg', readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url))]];
const corpus = new URL('../../../shared/corpus/photos/', import.meta.url);
if (existsSync(corpus)) {
  for (const f of ['fox_1204x800.jpg', 'hato_3082x2048.jpg']) sources.push([f, readFileSync(new URL(f, corpus))]);
}

describe('planned passes give the same pixels as one pass per operation', () => {
  for (const [name, buf] of sources) {
    for (const chain of chains) {
      it(`${name}: ${chain}`, async () => {
        const recipe = parseOssProcess(chain);
        const planned = await runRecipe(buf, recipe);
        const naive = await runRecipe(buf, recipe, { onePassPerOp: true });
        assert.ok(planned.kind === 'image' && naive.kind === 'image');
        assert.deepEqual([planned.width, planned.height], [naive.width, naive.height]);
        assert.ok(planned.passes < naive.passes, `planned ${planned.passes} passes, naive ${naive.passes}`);
        const d = await meanDiff(planned.data, naive.data);
        assert.ok(d <= TOLERANCE, `mean difference ${d.toFixed(3)} > ${TOLERANCE}`);
      });
    }
  }
});
