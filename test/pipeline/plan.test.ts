/**
 * The planner cuts ordered operations into the fewest sharp passes that keep OSS's order.
 * Pure tests on parsed chains; the pixel equivalence with a one-pass-per-op run is in
 * plan-equivalence.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { plan } from '../../src/core/pipeline/plan.js';
import type { ImageState } from '../../src/core/ops/types.js';

const src: ImageState = { width: 400, height: 267, hasAlpha: false, frames: 1, orientation: 1 };

function passes(process: string, state: ImageState = src): string[][] {
  return plan(parseOssProcess(process).ops, state).passes.map((p) => p.steps.map((s) => s.op.op));
}

describe('planner', () => {
  const cases: [string, string[][]][] = [
    ['image/resize,w_100', [['resize']]],
    ['image/crop,w_200,h_200/resize,w_100', [['crop', 'resize']]],
    ['image/resize,w_100/crop,w_50,h_50', [['resize', 'crop']]],
    ['image/crop,w_300/crop,w_100', [['crop', 'crop']]],
    ['image/crop,w_300/crop,w_200/crop,w_100', [['crop', 'crop'], ['crop']]],
    ['image/rotate,90/resize,w_100', [['rotate', 'resize']]],
    ['image/resize,w_100/rotate,90', [['resize'], ['rotate']]],
    ['image/resize,w_100/blur,r_3,s_2/sharpen,100', [['resize', 'blur', 'sharpen']]],
    ['image/sharpen,100/blur,r_3,s_2', [['sharpen'], ['blur']]],
    ['image/resize,m_fill,w_100,h_100/crop,w_50', [['resize'], ['crop']]],
    ['image/resize,m_pad,w_300,h_300/blur,r_2,s_2', [['resize', 'blur']]],
    ['image/bright,10/contrast,10', [['bright'], ['contrast']]],
  ];
  for (const [process, expected] of cases) {
    it(`${process} → ${expected.map((p) => p.join('+')).join(' | ')}`, () => {
      assert.deepEqual(passes(process), expected);
    });
  }

  it('auto-orient stays in the first pass and sets the pass flag', () => {
    const p = plan(parseOssProcess('image/resize,w_100/auto-orient,1').ops, { ...src, orientation: 7 });
    assert.equal(p.passes.length, 1);
    assert.equal(p.passes[0]?.autoOrient, true);
    assert.deepEqual([p.result.width, p.result.height], [100, 150]);
  });

  it('auto-orient,0 keeps the stored geometry (100x79)', () => {
    const p = plan(parseOssProcess('image/resize,w_100/auto-orient,0').ops, { ...src, width: 424, height: 333, orientation: 7 });
    assert.deepEqual([p.result.width, p.result.height], [100, 79]);
  });

  it("auto-orient on the docs' 424x333 orientation-7 photo gives 100x127", () => {
    const p = plan(parseOssProcess('image/resize,w_100/auto-orient,1').ops, { ...src, width: 424, height: 333, orientation: 7 });
    assert.deepEqual([p.result.width, p.result.height], [100, 127]);
  });

  it('onePassPerOp puts every operation in its own pass', () => {
    const p = plan(parseOssProcess('image/crop,w_200/resize,w_100/blur,r_1,s_1').ops, src, { onePassPerOp: true });
    assert.equal(p.passes.length, 3);
  });

  it('records the geometry before and after every step', () => {
    const p = plan(parseOssProcess('image/resize,w_200/crop,w_100,h_50,g_center').ops, src);
    const steps = p.passes.flatMap((x) => x.steps);
    assert.deepEqual(steps.map((s) => [s.before.width, s.before.height, s.after.width, s.after.height]), [
      [400, 267, 200, 134],
      [200, 134, 100, 50],
    ]);
  });
});
