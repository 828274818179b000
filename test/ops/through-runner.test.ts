/**
 * The same operations through the real planner and runner (src/core/pipeline/run.ts): the decoded
 * output size must equal the planned geometry exactly, and animated GIFs keep or lose their
 * animation as spec oss-img.md §4 says (rotate and watermark keep it; circle, indexcrop, blur… make
 * a still image). Pixel tolerance: corner colour ≥ 250 per channel after JPEG encoding (white) /
 * alpha ≤ 2 (PNG), watermark colour within 24 levels after GIF palette quantisation; the spec's
 * watermark examples compare PNG output with the decoded source exactly (any changed pixel counts);
 * 16-bit bright/contrast ±1 level.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Operation, Recipe } from '../../src/core/ir.js';
import { runRecipe } from '../../src/core/pipeline/run.js';
import { transformOss } from '../../src/app/transform-image.js';

const example = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const recipe = (ops: Operation[], format?: Recipe['output']['format']): Recipe => ({ ops, output: format ? { format } : {} });

async function run(input: Buffer, r: Recipe, objects: Record<string, Buffer> = {}): Promise<{ data: Buffer; width: number; height: number; frames: number }> {
  const res = await runRecipe(input, r, {
    loadObject: async (k) => {
      const b = objects[k];
      if (!b) throw new Error(`no ${k}`);
      return b;
    },
  });
  assert.equal(res.kind, 'image');
  if (res.kind !== 'image') throw new Error('unreachable');
  return res;
}

async function decoded(buf: Buffer): Promise<{ width: number; height: number; pages: number }> {
  const m = await sharp(buf, { animated: true }).metadata();
  const pages = m.pages ?? 1;
  return { width: m.width ?? 0, height: (m.pageHeight ?? m.height ?? 0), pages };
}

/** A 3-frame 24×16 animated GIF: frames red, green, blue. */
async function animatedGif(): Promise<Buffer> {
  const frames = [[255, 0, 0], [0, 255, 0], [0, 0, 255]].map(([r, g, b]) => {
    const f = Buffer.alloc(24 * 16 * 4);
    for (let i = 0; i < f.length; i += 4) {
      f[i] = r as number;
      f[i + 1] = g as number;
      f[i + 2] = b as number;
      f[i + 3] = 255;
    }
    return f;
  });
  return sharp(Buffer.concat(frames), { raw: { width: 24, height: 48, channels: 4, pageHeight: 16 } as never })
    .gif({ delay: [100, 100, 100], loop: 0 })
    .toBuffer();
}

describe('through the runner: output size equals the plan', () => {
  const cases: [string, Operation[], [number, number]][] = [
    ['rotate 2° (ceil 410×281, libvips rounds to 409)', [{ op: 'rotate', params: { angle: 2 } }], [410, 281]],
    ['rotate 45°', [{ op: 'rotate', params: { angle: 45 } }], [472, 472]],
    ['rotate 90°', [{ op: 'rotate', params: { angle: 90 } }], [267, 400]],
    ['circle r_4096', [{ op: 'circle', params: { r: 4096 } }], [266, 266]],
    ['indexcrop x_150,i_2', [{ op: 'indexcrop', params: { axis: 'x', size: 150, index: 2 } }], [100, 267]],
    ['rotate 33° then circle then rounded corners', [{ op: 'rotate', params: { angle: 33 } }, { op: 'circle', params: { r: 150 } }, { op: 'roundedCorners', params: { r: 20 } }], [300, 300]],
    ['blur, sharpen, bright, contrast', [{ op: 'blur', params: { r: 3, s: 2 } }, { op: 'sharpen', params: { value: 100 } }, { op: 'bright', params: { value: 10 } }, { op: 'contrast', params: { value: 10 } }], [400, 267]],
  ];
  for (const [name, ops, [w, h]] of cases) {
    for (const format of ['png', 'jpeg'] as const) {
      it(`${name} → ${w}×${h} (${format})`, async () => {
        const out = await run(example, recipe(ops, format));
        assert.deepEqual([out.width, out.height], [w, h]);
        const d = await decoded(out.data);
        assert.deepEqual([d.width, d.height], [w, h]);
      });
    }
  }
  it('rotate 45° corners: white for JPEG, transparent for PNG', async () => {
    const jpg = await sharp((await run(example, recipe([{ op: 'rotate', params: { angle: 45 } }], 'jpeg'))).data).raw().toBuffer({ resolveWithObject: true });
    assert.equal(jpg.info.channels, 3);
    assert.ok([...jpg.data.subarray(0, 3)].every((v) => v >= 250), String([...jpg.data.subarray(0, 3)]));
    const png = await sharp((await run(example, recipe([{ op: 'rotate', params: { angle: 45 } }], 'png'))).data).ensureAlpha().raw().toBuffer();
    assert.ok((png[3] as number) <= 2);
  });
});

describe("the spec's watermark examples end to end (400×267 photo, panda 100×50): changed pixels span exactly the mark box", () => {
  const panda = readFileSync(new URL('../fixtures/panda-100x50.png', import.meta.url));
  const cases: [string, string, [number, number, number, number]][] = [
    ['default se', 'image/watermark,image_cGFuZGEucG5n/format,png', [290, 207, 389, 256]],
    ['center voffset_-40 → (150, 68)', 'image/watermark,image_cGFuZGEucG5n,g_center,voffset_-40/format,png', [150, 68, 249, 117]],
    ['nw x_20 y_30 t_50', 'image/watermark,image_cGFuZGEucG5n,g_nw,x_20,y_30,t_50/format,png', [20, 30, 119, 79]],
    ['P_30 → 120×60 at (270, 197)', 'image/watermark,image_cGFuZGEucG5nP3gtb3NzLXByb2Nlc3M9aW1hZ2UvcmVzaXplLFBfMzA/format,png', [270, 197, 389, 256]],
  ];
  for (const [name, process, box] of cases) {
    it(name, async () => {
      const res = await transformOss(example, process, { loadObject: async (k: string) => (k === 'panda.png' ? panda : Promise.reject(new Error(k))) } as never);
      assert.equal(res.kind, 'image');
      if (res.kind !== 'image') return;
      const src = await sharp(example).ensureAlpha().raw().toBuffer();
      const out = await sharp(res.data).ensureAlpha().raw().toBuffer();
      let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
      for (let y = 0; y < 267; y++) {
        for (let x = 0; x < 400; x++) {
          const i = (y * 400 + x) * 4;
          if (out[i] !== src[i] || out[i + 1] !== src[i + 1] || out[i + 2] !== src[i + 2]) {
            x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
          }
        }
      }
      assert.deepEqual([x0, y0, x1, y1], box);
    });
  }
});

describe('watermark marks of any pixel format', () => {
  for (const [name, make] of [
    ['greyscale', () => sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 200, g: 200, b: 200 } } }).toColourspace('b-w').png().toBuffer()],
    ['16-bit RGBA', () => sharp({ create: { width: 10, height: 6, channels: 4, background: { r: 200, g: 200, b: 200, alpha: 1 } } }).toColourspace('rgb16').png().toBuffer()],
    ['palette', () => sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png({ palette: true }).toBuffer()],
  ] as [string, () => Promise<Buffer>][]) {
    it(`${name}: drawn at nw (exact grey 200 on blue)`, async () => {
      const canvas = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
      const ops: Operation[] = [{ op: 'watermark', params: { t: 100, g: 'nw', x: 0, y: 0, voffset: 0, order: 0, align: 2, interval: 0, image: { key: 'm', ops: [] } } }];
      const out = await run(canvas, recipe(ops, 'png'), { m: await make() });
      const { data } = await sharp(out.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const at = (x: number, y: number): number[] => [...data.subarray((y * 40 + x) * 4, (y * 40 + x) * 4 + 4)];
      assert.deepEqual(at(9, 5), [200, 200, 200, 255]);
      assert.deepEqual(at(10, 6), [0, 0, 255, 255]);
    });
  }
});

describe('bright/contrast on 16-bit sources (sharp keeps 16 bits in the pipeline), ±1 level', () => {
  const cases: [string, Operation[], [number, number, number]][] = [
    ['bright,50', [{ op: 'bright', params: { value: 50 } }], [227.5, 255, 255]],
    ['contrast,-50', [{ op: 'contrast', params: { value: -50 } }], [118.6, 135.4, 152.1]],
    ['rounded-corners then bright,50 (composite then linear in one pass)', [{ op: 'roundedCorners', params: { r: 5 } }, { op: 'bright', params: { value: 50 } }], [227.5, 255, 255]],
    ['rotate,30 then contrast,-50', [{ op: 'rotate', params: { angle: 30 } }, { op: 'contrast', params: { value: -50 } }], [118.6, 135.4, 152.1]],
  ];
  for (const [name, ops, want] of cases) {
    for (const onePassPerOp of [false, true]) {
      it(`${name}${onePassPerOp ? ' (one pass per op)' : ''}`, async () => {
        const src = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 100, g: 150, b: 200 } } }).toColourspace('rgb16').png().toBuffer();
        const res = await runRecipe(src, recipe(ops, 'png'), { onePassPerOp });
        assert.equal(res.kind, 'image');
        if (res.kind !== 'image') return;
        const { data, info } = await sharp(res.data).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
        const c = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
        const got = [...data.subarray(c, c + 3)];
        want.forEach((w, i) => assert.ok(Math.abs((got[i] as number) - w) <= 1, `${got} vs ${want}`));
      });
    }
  }
});

describe('animated GIF (§4)', () => {
  it('rotate,90 keeps every frame (rotated frame by frame)', async () => {
    const out = await run(await animatedGif(), recipe([{ op: 'rotate', params: { angle: 90 } }]));
    const d = await decoded(out.data);
    assert.deepEqual(d, { width: 16, height: 24, pages: 3 });
  });
  it('rotate,30 keeps every frame at the ceil size', async () => {
    const out = await run(await animatedGif(), recipe([{ op: 'rotate', params: { angle: 30 } }]));
    const d = await decoded(out.data);
    // 24·cos30 + 16·sin30 = 28.78 → 29; 24·sin30 + 16·cos30 = 25.86 → 26.
    assert.deepEqual(d, { width: 29, height: 26, pages: 3 });
  });
  it('watermark keeps every frame and draws the mark on each', async () => {
    const mark = await sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer();
    const ops: Operation[] = [{ op: 'watermark', params: { t: 100, g: 'nw', x: 1, y: 1, voffset: 0, order: 0, align: 2, interval: 0, image: { key: 'm.png', ops: [] } } }];
    const out = await run(await animatedGif(), recipe(ops), { 'm.png': mark });
    const d = await decoded(out.data);
    assert.deepEqual(d, { width: 24, height: 16, pages: 3 });
    const raw = await sharp(out.data, { animated: true }).ensureAlpha().raw().toBuffer();
    for (let f = 0; f < 3; f++) {
      const at = (x: number, y: number): number[] => [...raw.subarray(((f * 16 + y) * 24 + x) * 4, ((f * 16 + y) * 24 + x) * 4 + 3)];
      assert.ok(at(3, 2).every((v) => v >= 231), `frame ${f} mark ${at(3, 2)}`);
      assert.ok(!at(10, 10).every((v) => v >= 231), `frame ${f} background ${at(10, 10)}`);
    }
  });
  for (const [name, op] of [
    ['circle', { op: 'circle', params: { r: 5 } }],
    ['indexcrop', { op: 'indexcrop', params: { axis: 'x', size: 10, index: 0 } }],
    ['rounded-corners', { op: 'roundedCorners', params: { r: 3 } }],
    ['blur', { op: 'blur', params: { r: 2, s: 1 } }],
    ['bright', { op: 'bright', params: { value: 10 } }],
  ] as [string, Operation][]) {
    it(`${name} makes a still image (first frame)`, async () => {
      const out = await run(await animatedGif(), recipe([op]));
      assert.equal((await decoded(out.data)).pages, 1);
    });
  }
});
