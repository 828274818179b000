/**
 * Watermark pixels (spec oss-img.md §3.3) on tiny synthetic images, through a hand-made sharp pass
 * (test/helpers/run-op.ts): a one-colour mark on a one-colour canvas must land exactly at the
 * position of the spec's table (tolerance 0 for opaque marks), `t_50` blends half-way (±2 levels),
 * marks larger than the image are clipped, `P` scales relative to the main image, the nested
 * process runs on the mark, image+text sit side by side. Text checks look at where ink is (any
 * pixel differing from the canvas), not at glyph shapes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Gravity, WatermarkParams, WatermarkText } from '../../src/core/ir.js';
import { AppError } from '../../src/core/errors.js';
import sharp from 'sharp';
import { rotateLayer, watermarkPosition, type Layer } from '../../src/core/ops/watermark.js';
import { px, runPass, solid, type RawRgba } from '../helpers/run-op.js';

const BLUE = { r: 0, g: 0, b: 255 };
const RED = { r: 255, g: 0, b: 0 };
const BLACK = { r: 0, g: 0, b: 0 };
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

const base: WatermarkParams = { t: 100, g: 'se', x: 10, y: 10, voffset: 0, order: 0, align: 2, interval: 0 };
const text = (s: string, over: Partial<WatermarkText> = {}): WatermarkText => ({
  text: s,
  font: 'wqy-zenhei',
  color: WHITE,
  size: 20,
  shadow: 0,
  rotate: 0,
  fill: false,
  padx: 0,
  pady: 0,
  ...over,
});

/** Bounding box of pixels that differ from `bg` (RGB) by more than 8 levels. */
function ink(out: RawRgba, bg: [number, number, number], where: (x: number, y: number) => boolean = () => true): { x0: number; y0: number; x1: number; y1: number; n: number } {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1, n = 0;
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      if (!where(x, y)) continue;
      const p = px(out, x, y);
      if (Math.abs(p[0] - bg[0]) + Math.abs(p[1] - bg[1]) + Math.abs(p[2] - bg[2]) > 8) {
        n++;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
    }
  }
  return { x0, y0, x1, y1, n };
}

async function objects(): Promise<Record<string, Buffer>> {
  return {
    'red.png': await solid(10, 6, RED),
    'big.png': await solid(60, 50, RED),
    'half.png': await solid(10, 6, { ...RED, alpha: 0.5 }, true),
    'tall.png': await solid(4, 40, RED),
  };
}

describe('image watermark placement (40×30 blue canvas, 10×6 red mark), tolerance 0', () => {
  const gs: Gravity[] = ['nw', 'north', 'ne', 'west', 'center', 'east', 'sw', 'south', 'se'];
  for (const g of gs) {
    it(`g_${g},x_3,y_4,voffset_2 lands where the spec's table says`, async () => {
      const p = { ...base, g, x: 3, y: 4, voffset: 2, image: { key: 'red.png', ops: [] } };
      const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: p }], { objects: await objects() });
      assert.deepEqual([out.width, out.height], [40, 30]);
      const { left, top } = watermarkPosition(p, 40, 30, 10, 6);
      for (let y = 0; y < 30; y++) {
        for (let x = 0; x < 40; x++) {
          const inMark = x >= left && x < left + 10 && y >= top && y < top + 6;
          assert.deepEqual(px(out, x, y), inMark ? [255, 0, 0, 255] : [0, 0, 255, 255], `${g} (${x},${y})`);
        }
      }
    });
  }
  it('the spec examples on 400×267 with a 100×50 mark: se → (290, 207), center voffset_-40 → (150, 68)', async () => {
    const objs = { 'm.png': await solid(100, 50, RED) };
    const canvas = await solid(400, 267, BLUE);
    const se = await runPass(canvas, [{ op: 'watermark', params: { ...base, image: { key: 'm.png', ops: [] } } }], { objects: objs });
    assert.deepEqual(ink(se, [0, 0, 255]), { x0: 290, y0: 207, x1: 389, y1: 256, n: 5000 });
    const c = await runPass(canvas, [{ op: 'watermark', params: { ...base, g: 'center', voffset: -40, image: { key: 'm.png', ops: [] } } }], { objects: objs });
    assert.deepEqual(ink(c, [0, 0, 255]), { x0: 150, y0: 68, x1: 249, y1: 117, n: 5000 });
  });
  it('t_50 blends half-way (±2, sharp rounds through premultiplied 8-bit): red over blue → (128, 0, 127)', async () => {
    const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, t: 50, image: { key: 'red.png', ops: [] } } }], { objects: await objects() });
    const p = px(out, 5, 3);
    assert.ok(Math.abs(p[0] - 127.5) <= 2 && p[1] === 0 && Math.abs(p[2] - 127.5) <= 2, String(p));
    assert.deepEqual(px(out, 10, 3), [0, 0, 255, 255]);
  });
  it("t multiplies the mark's own alpha (t_50 on a 50 % mark → 25 %, ±2)", async () => {
    const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, t: 50, image: { key: 'half.png', ops: [] } } }], { objects: await objects() });
    const p = px(out, 5, 3);
    assert.ok(Math.abs(p[0] - 64) <= 2 && Math.abs(p[2] - 191) <= 2, String(p));
  });
  it('t_0 draws nothing', async () => {
    const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, t: 0, image: { key: 'red.png', ops: [] } } }], { objects: await objects() });
    assert.equal(ink(out, [0, 0, 255]).n, 0);
  });
  it('a mark larger than the image is clipped (no sharp error), size unchanged', async () => {
    const objs = await objects();
    for (const g of ['nw', 'center', 'se'] as const) {
      const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, g, image: { key: 'big.png', ops: [] } } }], { objects: objs });
      assert.deepEqual([out.width, out.height], [40, 30]);
      // se with x/y 10: the 60×50 mark starts at (−30, −30) and covers up to (29, 19).
      const want = g === 'nw' ? { x0: 10, y0: 10, x1: 39, y1: 29 } : g === 'center' ? { x0: 0, y0: 0, x1: 39, y1: 29 } : { x0: 0, y0: 0, x1: 29, y1: 19 };
      const b = ink(out, [0, 0, 255]);
      assert.deepEqual({ x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 }, want, g);
    }
  });
  it('a mark entirely outside the image draws nothing', async () => {
    const out = await runPass(await solid(20, 20, BLUE), [{ op: 'watermark', params: { ...base, g: 'nw', x: 30, y: 0, image: { key: 'red.png', ops: [] } } }], { objects: await objects() });
    assert.equal(ink(out, [0, 0, 255]).n, 0);
  });
  it('P_50 on a 40-wide image scales the 10×6 mark to 20×12 (keeps its aspect)', async () => {
    const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, image: { key: 'red.png', ops: [], percentOfMain: 50 } } }], { objects: await objects() });
    const b = ink(out, [0, 0, 255]);
    assert.deepEqual(b, { x0: 10, y0: 8, x1: 29, y1: 19, n: 240 });
  });
  it("the mark's own process runs first (nested rotate,90 → 6×10)", async () => {
    const p = { ...base, g: 'nw' as const, x: 0, y: 0, image: { key: 'red.png', ops: [{ op: 'rotate' as const, params: { angle: 90 } }] } };
    const out = await runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: p }], { objects: await objects() });
    assert.deepEqual(ink(out, [0, 0, 255]), { x0: 0, y0: 0, x1: 5, y1: 9, n: 60 });
  });
  it('a missing watermark object is WATERMARK_ERROR', async () => {
    await assert.rejects(
      runPass(await solid(40, 30, BLUE), [{ op: 'watermark', params: { ...base, image: { key: 'nope.png', ops: [] } } }], { objects: await objects() }),
      (e: unknown) => e instanceof AppError && e.code === 'WATERMARK_ERROR',
    );
  });
});

describe('text watermark', () => {
  it('white text at nw x_0,y_0 inks the top-left corner only, about size px high', async () => {
    const out = await runPass(await solid(200, 60, BLACK), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, text: text('HELLO') } }]);
    const b = ink(out, [0, 0, 0]);
    assert.ok(b.x0 <= 3 && b.y0 <= 3, JSON.stringify(b));
    assert.ok(b.y1 - b.y0 + 1 >= 12 && b.y1 - b.y0 + 1 <= 20, `height ${JSON.stringify(b)}`);
    assert.ok(b.x1 < 120, `width ${JSON.stringify(b)}`);
  });
  it('bigger size, bigger ink; colour is the requested one', async () => {
    const small = ink(await runPass(await solid(400, 120, BLACK), [{ op: 'watermark', params: { ...base, text: text('HELLO', { size: 20 }) } }]), [0, 0, 0]);
    const bigOut = await runPass(await solid(400, 120, BLACK), [{ op: 'watermark', params: { ...base, text: text('HELLO', { size: 60, color: { r: 0, g: 255, b: 0, alpha: 1 } }) } }]);
    const big = ink(bigOut, [0, 0, 0]);
    assert.ok(big.y1 - big.y0 > 2 * (small.y1 - small.y0), `${JSON.stringify(small)} vs ${JSON.stringify(big)}`);
    // se with 10 px margins: the ink ends 10 px from the right and bottom edges (ink-cropped text).
    assert.equal(big.x1, 389);
    assert.equal(big.y1, 109);
    // Solid stroke pixels are pure green.
    let green = 0;
    for (let y = big.y0; y <= big.y1; y++) for (let x = big.x0; x <= big.x1; x++) if (px(bigOut, x, y).join() === '0,255,0,255') green++;
    assert.ok(green > 100, String(green));
  });
  it('shadow_100 draws black ink down-right of white text on a white canvas', async () => {
    const out = await runPass(await solid(200, 60, { r: 255, g: 255, b: 255 }), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, text: text('HELLO', { shadow: 100 }) } }]);
    const b = ink(out, [255, 255, 255]);
    assert.ok(b.n > 20 && b.x0 >= 1 && b.y0 >= 1, JSON.stringify(b));
  });
  it('CJK text renders with the bundled Droid Sans Fallback (一 is a flat bar, not a tofu box)', async () => {
    const out = await runPass(await solid(100, 100, BLACK), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, text: text('一', { size: 60 }) } }]);
    const b = ink(out, [0, 0, 0]);
    assert.ok(b.x1 - b.x0 > 30 && b.y1 - b.y0 < 15, JSON.stringify(b));
  });
  it('rotate_90 turns the text clockwise (tall ink)', async () => {
    const out = await runPass(await solid(100, 200, BLACK), [{ op: 'watermark', params: { ...base, g: 'nw', x: 0, y: 0, text: text('HELLO', { rotate: 90 }) } }]);
    const b = ink(out, [0, 0, 0]);
    assert.ok(b.y1 - b.y0 > 2 * (b.x1 - b.x0), JSON.stringify(b));
  });
  it('fill_1 tiles the text over the whole image, padx/pady apart', async () => {
    const out = await runPass(await solid(300, 200, BLACK), [{ op: 'watermark', params: { ...base, text: text('X', { fill: true, padx: 30, pady: 30 }) } }]);
    const quadrants = [
      (x: number, y: number) => x < 150 && y < 100,
      (x: number, y: number) => x >= 150 && y < 100,
      (x: number, y: number) => x < 150 && y >= 100,
      (x: number, y: number) => x >= 150 && y >= 100,
    ];
    for (const q of quadrants) assert.ok(ink(out, [0, 0, 0], q).n > 20);
    // One tile sits exactly where the non-tiled mark would (se, 10 px margins).
    const single = ink(await runPass(await solid(300, 200, BLACK), [{ op: 'watermark', params: { ...base, text: text('X') } }]), [0, 0, 0]);
    const tiled = ink(out, [0, 0, 0], (x, y) => x >= single.x0 - 2 && y >= single.y0 - 2);
    assert.deepEqual([tiled.x1, tiled.y1], [single.x1, single.y1]);
  });
});

describe('image + text side by side (order, align, interval)', () => {
  async function pair(order: 0 | 1, align: 0 | 1 | 2): Promise<{ img: ReturnType<typeof ink>; txt: ReturnType<typeof ink> }> {
    const p = { ...base, g: 'nw' as const, x: 0, y: 0, order, align, interval: 5, image: { key: 'tall.png', ops: [] }, text: text('HI', { size: 16 }) };
    const out = await runPass(await solid(100, 60, BLACK), [{ op: 'watermark', params: p }], { objects: await objects() });
    const red = (x: number, y: number) => { const q = px(out, x, y); return q[0] > 200 && q[1] < 50 && q[2] < 50; };
    const img = ink(out, [0, 0, 0], red);
    const txt = ink(out, [0, 0, 0], (x, y) => !red(x, y));
    return { img, txt };
  }
  it('order_0: image first, then interval, then text; order_1: the reverse', async () => {
    const a = await pair(0, 0);
    assert.deepEqual([a.img.x0, a.img.x1], [0, 3]);
    assert.ok(a.txt.x0 >= 4 + 5 && a.txt.x0 <= 4 + 5 + 3, JSON.stringify(a.txt));
    const b = await pair(1, 0);
    assert.ok(b.txt.x0 <= 3, JSON.stringify(b.txt));
    assert.ok(b.img.x0 >= b.txt.x1 + 1 + 5 && b.img.x0 <= b.txt.x1 + 1 + 5 + 3, `${JSON.stringify(b.txt)} ${JSON.stringify(b.img)}`);
  });
  it('align_0 top, align_1 middle, align_2 bottom (the 40-px image is the taller part)', async () => {
    const top = await pair(0, 0);
    assert.equal(top.img.y0, 0);
    assert.ok(top.txt.y0 <= 1, JSON.stringify(top.txt));
    const bottom = await pair(0, 2);
    assert.equal(bottom.img.y1, 39);
    assert.ok(bottom.txt.y1 >= 38, JSON.stringify(bottom.txt));
    const mid = await pair(0, 1);
    const centre = (mid.txt.y0 + mid.txt.y1) / 2;
    assert.ok(Math.abs(centre - 19.5) <= 1.5, JSON.stringify(mid.txt));
  });
});

describe('large rotated text stays bounded', () => {
  const env = { sharp: ((input: Buffer, opts: never) => sharp(input, opts)) as never };
  it('a window of the rotated layer equals the same window cut from the fully rotated layer (tolerance 0)', async () => {
    const data = Buffer.alloc(50 * 20 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    const layer: Layer = { data, width: 50, height: 20 };
    for (const angle of [30, 90, 133, 180, 270, 317]) {
      const full = await rotateLayer(layer, angle, env);
      const win = { left: 3, top: 4, width: 15, height: 12 };
      const part = await rotateLayer(layer, angle, env, win);
      const cut = await sharp(full.data, { raw: { width: full.width, height: full.height, channels: 4 } }).extract(win).raw().toBuffer();
      assert.deepEqual([part.width, part.height], [15, 12]);
      assert.ok(part.data.equals(cut), `angle ${angle}`);
    }
  });
  it('30 letters at size 1000 rotated 45° on a small image: only the visible part is computed', async () => {
    const out = await runPass(await solid(400, 267, BLACK), [{ op: 'watermark', params: { ...base, g: 'center', text: text('W'.repeat(30), { size: 1000, rotate: 45 }) } }]);
    assert.deepEqual([out.width, out.height], [400, 267]);
    assert.ok(ink(out, [0, 0, 0]).n > 1000);
  });
  it('a tiled (fill) mark beyond the pixel budget is WATERMARK_ERROR, not an out-of-memory', async () => {
    await assert.rejects(
      runPass(await solid(400, 267, BLACK), [{ op: 'watermark', params: { ...base, text: text('W'.repeat(30), { size: 1000, rotate: 45, fill: true }) } }]),
      (e: unknown) => e instanceof AppError && e.code === 'WATERMARK_ERROR',
    );
  });
  it('text wider than Cairo can draw (64 letters at size 1000) is WATERMARK_ERROR', async () => {
    await assert.rejects(
      runPass(await solid(40, 30, BLACK), [{ op: 'watermark', params: { ...base, text: text('W'.repeat(64), { size: 1000 }) } }]),
      (e: unknown) => e instanceof AppError && e.code === 'WATERMARK_ERROR',
    );
  });
});
