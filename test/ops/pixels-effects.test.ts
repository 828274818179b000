/**
 * Pixel behaviour of bright, contrast, blur and sharpen on tiny synthetic images, through a
 * hand-made sharp pass (test/helpers/run-op.ts). Tolerance: ±1 level (0–255) for the linear ops
 * (libvips rounds the float result back to 8 bits); exact zero/non-zero checks for the blur kernel
 * width; for sharpen only the direction of the change (overshoot on both sides of an edge).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { px, runPass, solid } from '../helpers/run-op.js';

const near = (got: number, want: number, what: string): void => assert.ok(Math.abs(got - want) <= 1, `${what}: ${got} vs ${want}`);

describe('bright (§3.15): + v·2.55 on colour channels, alpha untouched (±1)', () => {
  it('bright,50 on (100,150,200,α128) → (227.5→227/228, 255, 255, 128)', async () => {
    const src = await solid(4, 3, { r: 100, g: 150, b: 200, alpha: 128 / 255 }, true);
    const out = await runPass(src, [{ op: 'bright', params: { value: 50 } }]);
    const [r, g, b, a] = px(out, 2, 1);
    near(r, 227.5, 'r');
    assert.equal(g, 255);
    assert.equal(b, 255);
    near(a, 128, 'alpha');
  });
  it('bright,-100 → black; bright,0 → unchanged', async () => {
    const src = await solid(2, 2, { r: 100, g: 150, b: 200 });
    assert.deepEqual(px(await runPass(src, [{ op: 'bright', params: { value: -100 } }]), 0, 0), [0, 0, 0, 255]);
    assert.deepEqual(px(await runPass(src, [{ op: 'bright', params: { value: 0 } }]), 1, 1), [100, 150, 200, 255]);
  });
});

describe('contrast (§3.17): f·(x − 128) + 128, alpha untouched (±1)', () => {
  it('128 is the pivot; contrast,-50 pulls 200 to 152, contrast,50 pushes it to 255', async () => {
    const src = await solid(2, 2, { r: 128, g: 200, b: 50, alpha: 0.5 }, true);
    const less = px(await runPass(src, [{ op: 'contrast', params: { value: -50 } }]), 0, 0);
    near(less[0], 128, 'pivot');
    near(less[1], 0.33506 * 72 + 128, 'less contrast 200');
    near(less[2], 128 - 0.33506 * 78, 'less contrast 50');
    near(less[3], 128, 'alpha');
    const more = px(await runPass(src, [{ op: 'contrast', params: { value: 50 } }]), 0, 0);
    near(more[0], 128, 'pivot');
    assert.equal(more[1], 255);
    assert.equal(more[2], 0);
  });
});

/** A 21×21 black image with one white pixel in the middle. */
async function dot(): Promise<Buffer> {
  const data = Buffer.alloc(21 * 21 * 3);
  data.fill(255, (10 * 21 + 10) * 3, (10 * 21 + 10) * 3 + 3);
  return sharp(data, { raw: { width: 21, height: 21, channels: 3 } }).png().toBuffer();
}

describe('blur (§3.11): sigma s, kernel half-width r', () => {
  it('r bounds the kernel: r_1,s_5 leaves pixels 2 away untouched, r_5,s_5 reaches them', async () => {
    const narrow = await runPass(await dot(), [{ op: 'blur', params: { r: 1, s: 5 } }]);
    const wide = await runPass(await dot(), [{ op: 'blur', params: { r: 5, s: 5 } }]);
    assert.deepEqual([narrow.width, narrow.height], [21, 21]);
    assert.equal(px(narrow, 12, 10)[0], 0, 'narrow kernel, 2 px away');
    assert.ok(px(narrow, 11, 10)[0] > 0, 'narrow kernel, 1 px away');
    assert.ok(px(wide, 12, 10)[0] > 0, 'wide kernel, 2 px away');
    assert.equal(px(wide, 16, 10)[0], 0, 'wide kernel, 6 px away');
  });
  it('bigger s spreads more (centre darker)', async () => {
    const s1 = px(await runPass(await dot(), [{ op: 'blur', params: { r: 10, s: 1 } }]), 10, 10)[0];
    const s3 = px(await runPass(await dot(), [{ op: 'blur', params: { r: 10, s: 3 } }]), 10, 10)[0];
    assert.ok(s1 > s3 && s3 > 0, `${s1} > ${s3}`);
  });
});

describe('sharpen (§3.16): unsharp mask, sigma v/100', () => {
  it('overshoots both sides of an edge; flat areas far from it stay (±1)', async () => {
    const data = Buffer.alloc(30 * 6 * 3);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 30; x++) data.fill(x < 15 ? 90 : 160, (y * 30 + x) * 3, (y * 30 + x) * 3 + 3);
    const src = await sharp(data, { raw: { width: 30, height: 6, channels: 3 } }).png().toBuffer();
    for (const value of [100, 399]) {
      const out = await runPass(src, [{ op: 'sharpen', params: { value } }]);
      assert.ok(px(out, 15, 3)[0] > 160, `v=${value} bright side ${px(out, 15, 3)}`);
      assert.ok(px(out, 14, 3)[0] < 90, `v=${value} dark side ${px(out, 14, 3)}`);
      near(px(out, 0, 3)[0], 90, `v=${value} far left`);
      near(px(out, 29, 3)[0], 160, `v=${value} far right`);
    }
  });
});
