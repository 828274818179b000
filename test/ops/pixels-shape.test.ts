/**
 * Exact-pixel tests on tiny synthetic images for the geometry of circle, rounded-corners,
 * indexcrop and rotate, run through a hand-made sharp pass (test/helpers/run-op.ts).
 *
 * Tolerances (stated per assertion below):
 * - pixels moved by extract/rot90 must be identical (tolerance 0);
 * - circle/rounded-corners: pixels whose whole square lies inside the shape are identical to the
 *   source (tolerance 0); pixels whose whole square lies outside are fully transparent (alpha ≤ 1)
 *   or white (every channel ≥ 254); edge pixels are anti-aliased and not checked;
 * - non-multiple-of-90 rotation: only sizes (exact) and far corners / the centre (≤ 2 levels).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pattern, px, runPass, solid } from '../helpers/run-op.js';
import { rotatedSize, rotatePadding } from '../../src/core/ops/rotate.js';

/** A colour unique to each (x, y) of a small image. */
const colour = (x: number, y: number): [number, number, number] => [(x * 23) % 256, (y * 31) % 256, (x * 7 + y * 11 + 50) % 256];

function assertSame(got: [number, number, number, number], want: [number, number, number], what: string): void {
  assert.deepEqual(got, [...want, 255], what);
}

/** Squared distances from a point to the nearest and farthest corner of pixel square (x, y). */
function squareDist(x: number, y: number, cx: number, cy: number): { near: number; far: number } {
  const nx = Math.max(x, Math.min(cx, x + 1));
  const ny = Math.max(y, Math.min(cy, y + 1));
  const fx = Math.abs(cx - x) > Math.abs(cx - (x + 1)) ? x : x + 1;
  const fy = Math.abs(cy - y) > Math.abs(cy - (y + 1)) ? y : y + 1;
  return { near: (nx - cx) ** 2 + (ny - cy) ** 2, far: (fx - cx) ** 2 + (fy - cy) ** 2 };
}

describe('circle pixels (§3.8)', () => {
  for (const outputHasAlpha of [true, false]) {
    it(`r_5 on 20×12 → the 10×10 square at (5, 1), outside ${outputHasAlpha ? 'transparent' : 'white'}`, async () => {
      const src = await pattern(20, 12, colour);
      const out = await runPass(src, [{ op: 'circle', params: { r: 5 } }], { outputHasAlpha });
      assert.equal(out.width, 10);
      assert.equal(out.height, 10);
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < 10; y++) {
        for (let x = 0; x < 10; x++) {
          const d = squareDist(x, y, 5, 5);
          const p = px(out, x, y);
          if (d.far <= 25) {
            inside++;
            assertSame(p, colour(x + 5, y + 1), `inside (${x},${y})`);
          } else if (d.near >= 25) {
            outside++;
            if (outputHasAlpha) assert.ok(p[3] <= 1, `outside (${x},${y}) alpha ${p[3]}`);
            else assert.ok(p.slice(0, 3).every((v) => v >= 254), `outside (${x},${y}) ${p}`);
          }
        }
      }
      assert.ok(inside >= 40 && outside >= 8, `${inside} inside, ${outside} outside`);
    });
  }
  it('r larger than half the shorter side is clamped: r_4096 on 9×6 → 6×6 centred (left 1)', async () => {
    const out = await runPass(await pattern(9, 6, colour), [{ op: 'circle', params: { r: 4096 } }]);
    assert.deepEqual([out.width, out.height], [6, 6]);
    assertSame(px(out, 3, 3), colour(4, 3), 'centre');
  });
});

describe('rounded-corners pixels (§3.10)', () => {
  for (const outputHasAlpha of [true, false]) {
    it(`r_4 on 16×10: size kept, four corners ${outputHasAlpha ? 'transparent' : 'white'}, the rest untouched`, async () => {
      const out = await runPass(await pattern(16, 10, colour), [{ op: 'roundedCorners', params: { r: 4 } }], { outputHasAlpha });
      assert.deepEqual([out.width, out.height], [16, 10]);
      const centres: [number, number][] = [[4, 4], [12, 4], [4, 6], [12, 6]];
      for (let y = 0; y < 10; y++) {
        for (let x = 0; x < 16; x++) {
          // The corner circle that governs this pixel, if any.
          const cx = x < 4 ? 4 : x >= 12 ? 12 : null;
          const cy = y < 4 ? 4 : y >= 6 ? 6 : null;
          const p = px(out, x, y);
          if (cx === null || cy === null) {
            assertSame(p, colour(x, y), `edge band (${x},${y})`);
            continue;
          }
          assert.ok(centres.some(([a, b]) => a === cx && b === cy));
          const d = squareDist(x, y, cx, cy);
          if (d.far <= 16) assertSame(p, colour(x, y), `inside (${x},${y})`);
          else if (d.near >= 16) {
            if (outputHasAlpha) assert.ok(p[3] <= 1, `corner (${x},${y}) alpha ${p[3]}`);
            else assert.ok(p.slice(0, 3).every((v) => v >= 254), `corner (${x},${y}) ${p}`);
          }
        }
      }
      // The very corners are fully outside.
      for (const [x, y] of [[0, 0], [15, 0], [0, 9], [15, 9]] as const) {
        const p = px(out, x, y);
        if (outputHasAlpha) assert.ok(p[3] <= 1, `(${x},${y}) ${p}`);
        else assert.ok(p.slice(0, 3).every((v) => v >= 254), `(${x},${y}) ${p}`);
      }
    });
  }
  it('r_500 on 8×4 is a pill (radius 2): middle columns untouched', async () => {
    const out = await runPass(await pattern(8, 4, colour), [{ op: 'roundedCorners', params: { r: 500 } }]);
    assert.deepEqual([out.width, out.height], [8, 4]);
    for (let y = 0; y < 4; y++) for (let x = 2; x < 6; x++) assertSame(px(out, x, y), colour(x, y), `(${x},${y})`);
    // (0, 0) is mostly outside the radius-2 corner circle (partly covered: anti-aliased).
    assert.ok(px(out, 0, 0)[3] < 128, String(px(out, 0, 0)));
  });
});

describe('indexcrop pixels (§3.9), tolerance 0', () => {
  it('x_4,i_2 on 10×7 → columns 8–9 (remainder)', async () => {
    const out = await runPass(await pattern(10, 7, colour), [{ op: 'indexcrop', params: { axis: 'x', size: 4, index: 2 } }]);
    assert.deepEqual([out.width, out.height], [2, 7]);
    for (let y = 0; y < 7; y++) for (let x = 0; x < 2; x++) assertSame(px(out, x, y), colour(x + 8, y), `(${x},${y})`);
  });
  it('y_3,i_1 on 10×7 → rows 3–5', async () => {
    const out = await runPass(await pattern(10, 7, colour), [{ op: 'indexcrop', params: { axis: 'y', size: 3, index: 1 } }]);
    assert.deepEqual([out.width, out.height], [10, 3]);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 10; x++) assertSame(px(out, x, y), colour(x, y + 3), `(${x},${y})`);
  });
  it('an index past the last piece returns the image unchanged', async () => {
    const out = await runPass(await pattern(10, 7, colour), [{ op: 'indexcrop', params: { axis: 'y', size: 3, index: 3 } }]);
    assert.deepEqual([out.width, out.height], [10, 7]);
    assertSame(px(out, 9, 6), colour(9, 6), 'last pixel');
  });
});

describe('rotate pixels (§3.12)', () => {
  const W = 5;
  const H = 3;
  const maps: [number, number, number, (x: number, y: number) => [number, number]][] = [
    // [angle, out width, out height, source of output pixel (x, y)] — clockwise.
    [90, H, W, (x, y) => [y, H - 1 - x]],
    [180, W, H, (x, y) => [W - 1 - x, H - 1 - y]],
    [270, H, W, (x, y) => [W - 1 - y, x]],
  ];
  for (const [angle, ow, oh, from] of maps) {
    it(`${angle}° clockwise moves every pixel exactly (tolerance 0)`, async () => {
      const out = await runPass(await pattern(W, H, colour), [{ op: 'rotate', params: { angle } }]);
      assert.deepEqual([out.width, out.height], [ow, oh]);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const [sx, sy] = from(x, y);
          assertSame(px(out, x, y), colour(sx, sy), `${angle}° (${x},${y}) from (${sx},${sy})`);
        }
      }
      // The source's top-left corner lands top-right for 90°, bottom-right for 180°, bottom-left for 270°.
      const tl = colour(0, 0);
      const where = angle === 90 ? [ow - 1, 0] : angle === 180 ? [ow - 1, oh - 1] : [0, oh - 1];
      assertSame(px(out, where[0] as number, where[1] as number), tl, 'top-left corner');
    });
  }
  it('45° on a 20×12 red image: 23×23, corners transparent (PNG) or white (JPEG), centre red (≤ 2 levels)', async () => {
    const src = await solid(20, 12, { r: 255, g: 0, b: 0 });
    for (const outputHasAlpha of [true, false]) {
      const out = await runPass(src, [{ op: 'rotate', params: { angle: 45 } }], { outputHasAlpha });
      assert.deepEqual([out.width, out.height], [23, 23]);
      assert.deepEqual([out.state.width, out.state.height], [23, 23]);
      const c = px(out, 11, 11);
      assert.ok(c[0] >= 253 && c[1] <= 2 && c[2] <= 2 && c[3] >= 253, `centre ${c}`);
      for (const [x, y] of [[0, 0], [22, 0], [0, 22], [22, 22]] as const) {
        const p = px(out, x, y);
        if (outputHasAlpha) assert.ok(p[3] <= 2, `(${x},${y}) ${p}`);
        else assert.ok(p.slice(0, 3).every((v) => v >= 253) && p[3] === 255, `(${x},${y}) ${p}`);
      }
    }
  });
  it('sharp output size equals geometry() for every angle on several sizes (ceil, padded when libvips rounds)', async () => {
    const sizes: [number, number][] = [[40, 27], [3, 2], [17, 5], [1, 1], [64, 64]];
    const bad: string[] = [];
    for (const [w, h] of sizes) {
      const src = await solid(w, h, { r: 0, g: 128, b: 255 });
      for (let a = 1; a < 360; a += 4) {
        const out = await runPass(src, [{ op: 'rotate', params: { angle: a } }]);
        const want = rotatedSize(a, w, h);
        if (out.width !== want.width || out.height !== want.height || out.state.width !== want.width || out.state.height !== want.height) {
          bad.push(`${w}x${h}@${a}: sharp ${out.width}x${out.height}, geometry ${want.width}x${want.height}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });
  it('the padded row/column is background: 2° on 40×27 (PNG) gets a transparent last row (28.38 → 29)', async () => {
    assert.deepEqual(rotatePadding(2, 40, 27), { right: 0, bottom: 1 });
    const out = await runPass(await solid(40, 27, { r: 0, g: 0, b: 0 }), [{ op: 'rotate', params: { angle: 2 } }]);
    assert.deepEqual([out.width, out.height], [41, 29]);
    for (let x = 0; x < out.width; x++) assert.ok(px(out, x, 28)[3] <= 1, `(${x},28) ${px(out, x, 28)}`);
  });
});
