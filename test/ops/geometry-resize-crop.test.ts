/**
 * Exact geometry of resize and crop against every worked example of spec oss-img.md §3.1–§3.2,
 * through the parser (so the strings are the ones users write).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { planResize } from '../../src/core/ops/resize.js';
import { cropRect } from '../../src/core/ops/crop.js';
import { AppError } from '../../src/core/errors.js';

function resizeOf(process: string, W: number, H: number) {
  const op = parseOssProcess(process).ops.find((o) => o.op === 'resize');
  assert.ok(op?.op === 'resize');
  return planResize(op.params, W, H);
}

describe('resize worked examples (spec §3.1)', () => {
  const cases: [number, number, string, number, number][] = [
    [200, 100, 'image/resize,m_lfit,w_150,h_80', 150, 75],
    [200, 100, 'image/resize,m_mfit,w_150,h_80', 160, 80],
    [200, 100, 'image/resize,m_fill,w_150,h_80', 150, 80],
    [200, 100, 'image/resize,m_pad,w_150,h_80,color_FF0000', 150, 80],
    [200, 100, 'image/resize,m_fixed,w_150,h_80', 150, 80],
    [600, 400, 'image/resize,w_500,h_300', 450, 300],
    [600, 400, 'image/resize,m_mfit,w_500,h_300', 500, 333],
    [600, 400, 'image/resize,w_900,h_800', 600, 400],
    [600, 400, 'image/resize,w_900,h_800,limit_0', 900, 600],
    [400, 267, 'image/resize,w_100', 100, 67],
    [400, 267, 'image/resize,h_100', 150, 100],
    [400, 267, 'image/resize,l_100', 100, 67],
    [400, 267, 'image/resize,s_100', 150, 100],
    [400, 200, 'image/resize,p_50', 200, 100],
    [400, 267, 'image/resize,p_50', 200, 134],
    [200, 100, 'image/resize,m_fixed,h_100', 100, 100],
    [200, 100, 'image/resize,m_fill,h_50', 50, 50],
    [400, 267, 'image/resize,w_100,h_100,p_200', 200, 134],
    [400, 300, 'image/resize,l_200,s_100', 133, 100],
  ];
  for (const [W, H, process, w, h] of cases) {
    it(`${W}x${H} ${process} → ${w}x${h}`, () => {
      const plan = resizeOf(process, W, H);
      assert.equal(plan.width, w);
      assert.equal(plan.height, h);
    });
  }

  it('fill crops the middle: 160x80 then 5 px off left and right', () => {
    const plan = resizeOf('image/resize,m_fill,w_150,h_80', 200, 100);
    assert.deepEqual(plan.scaleTo, { width: 160, height: 80 });
    assert.deepEqual(plan.crop, { left: 5, top: 0, width: 150, height: 80 });
  });

  it('pad centres with 2 rows of colour on top and 3 below', () => {
    const plan = resizeOf('image/resize,m_pad,w_150,h_80,color_FF0000', 200, 100);
    assert.deepEqual(plan.scaleTo, { width: 150, height: 75 });
    assert.deepEqual(plan.pad, { top: 2, bottom: 3, left: 0, right: 0, color: { r: 255, g: 0, b: 0, alpha: 1 } });
  });

  it('limit_1 with fill only crops where the box is smaller than the source', () => {
    const plan = resizeOf('image/resize,m_fill,w_150,h_150', 200, 100);
    assert.equal(plan.scaleTo, null);
    assert.deepEqual(plan.crop, { left: 25, top: 0, width: 150, height: 100 });
  });

  it('animated sources are never enlarged, whatever limit says', () => {
    const op = parseOssProcess('image/resize,w_900,limit_0').ops[0];
    assert.ok(op?.op === 'resize');
    assert.equal(planResize(op.params, 600, 400, true).width, 600);
  });

  it('m_fixed,w_5000,h_5000 exceeds the output pixel limit (EC 0040-00000007)', () => {
    assert.throws(() => resizeOf('image/resize,m_fixed,w_5000,h_5000,limit_0', 6000, 6000), (e: unknown) => e instanceof AppError && e.ec === '0040-00000007');
  });
});

describe('crop worked examples (spec §3.2, source 400x267)', () => {
  const cases: [string, [number, number, number, number]][] = [
    ['image/crop,x_100,y_50', [100, 50, 300, 217]],
    ['image/crop,x_100,y_50,w_100,h_100', [100, 50, 100, 100]],
    ['image/crop,w_200,h_200,g_se', [200, 67, 200, 200]],
    ['image/crop,x_10,y_10,w_200,h_200,g_se', [210, 77, 190, 190]],
    ['image/crop,w_100,h_100,g_center', [150, 83, 100, 100]],
    ['image/crop,w_100,h_100,g_north', [150, 0, 100, 100]],
    ['image/crop,w_100,h_100,g_sw', [0, 167, 100, 100]],
    ['image/crop,w_1000,h_1000,g_se', [0, 0, 400, 267]],
  ];
  for (const [process, [left, top, width, height]] of cases) {
    it(`${process} → (${left}, ${top}, ${width}, ${height})`, () => {
      const op = parseOssProcess(process).ops[0];
      assert.ok(op?.op === 'crop');
      assert.deepEqual(cropRect(op.params, 400, 267), { left, top, width, height });
    });
  }
  it('a start outside the image is 400 BadRequest with the OSS message', () => {
    const op = parseOssProcess('image/crop,x_500,y_10').ops[0];
    assert.ok(op?.op === 'crop');
    assert.throws(() => cropRect(op.params, 400, 267), (e: unknown) => e instanceof AppError && e.code === 'BAD_REQUEST' && e.publicMessage === "Advance cut's position is out of image.");
  });
});
