/**
 * The engine end to end through transformOss (the door the server and CLI use): output sizes and
 * formats exactly, pixels against golden images, orientation, quality rules, limits.
 *
 * Golden tolerance: mean absolute difference ≤ 1.5 per channel (0–255) against the stored PNG of
 * the decoded output; it absorbs encoder rounding between libvips builds but not a misplaced crop,
 * a missing blur or a wrong colour.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { transformOss, type TransformResult } from '../../src/app/transform-image.js';
import { AppError } from '../../src/core/errors.js';
import { compareGolden, diff, pixel, rgba } from '../helpers/pixels.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));
const example = fixture('example-400x267.jpg');
const panda = fixture('panda-100x50.png');
const loadObject = async (key: string): Promise<Buffer> => {
  if (key === 'panda.png') return panda;
  throw new AppError('NO_SUCH_KEY', `no object ${key}`);
};

async function run(process: string, source: Buffer = example): Promise<Extract<TransformResult, { kind: 'image' }>> {
  const res = await transformOss(source, process, { loadObject });
  assert.equal(res.kind, 'image');
  if (res.kind !== 'image') throw new Error('unreachable');
  return res;
}

async function metaOf(buf: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined }> {
  const m = await sharp(buf).metadata();
  return { format: m.format, width: m.width, height: m.height };
}

const GOLDEN_TOLERANCE = 1.5;

describe('every action on the 400x267 example photo (golden, exact size)', () => {
  const cases: [string, string, number, number, string][] = [
    ['resize-w100', 'image/resize,w_100', 100, 67, 'jpeg'],
    ['resize-fill', 'image/resize,m_fill,w_150,h_80', 150, 80, 'jpeg'],
    ['resize-pad', 'image/resize,m_pad,w_150,h_150,color_FF0000/format,png', 150, 150, 'png'],
    ['resize-fixed', 'image/resize,m_fixed,w_150,h_80', 150, 80, 'jpeg'],
    ['crop-center', 'image/crop,w_100,h_100,g_center', 100, 100, 'jpeg'],
    ['crop-se-offset', 'image/crop,x_10,y_10,w_200,h_200,g_se/format,png', 190, 190, 'png'],
    ['watermark-image', 'image/watermark,image_cGFuZGEucG5n/format,png', 400, 267, 'png'],
    ['watermark-text', 'image/watermark,text_SGVsbG8gV29ybGQ,color_FFFFFF,size_30,shadow_50,g_se,x_10,y_10/format,png', 400, 267, 'png'],
    ['circle', 'image/circle,r_100/format,png', 200, 200, 'png'],
    ['circle-jpg', 'image/circle,r_100', 200, 200, 'jpeg'],
    ['indexcrop', 'image/indexcrop,x_150,i_2/format,png', 100, 267, 'png'],
    ['rounded-corners', 'image/rounded-corners,r_30/format,png', 400, 267, 'png'],
    ['blur', 'image/blur,r_3,s_2/format,png', 400, 267, 'png'],
    ['rotate-90', 'image/rotate,90/format,png', 267, 400, 'png'],
    ['rotate-45', 'image/rotate,45/format,png', 472, 472, 'png'],
    ['bright', 'image/bright,50/format,png', 400, 267, 'png'],
    ['contrast', 'image/contrast,-50/format,png', 400, 267, 'png'],
    ['sharpen', 'image/sharpen,200/format,png', 400, 267, 'png'],
    ['format-webp', 'image/resize,w_200/format,webp', 200, 134, 'webp'],
    ['format-avif', 'image/resize,w_200/format,avif', 200, 134, 'heif'],
    ['format-tiff', 'image/resize,w_200/format,tiff', 200, 134, 'tiff'],
    ['chain', 'image/resize,w_300/crop,w_200,h_150,g_center/rotate,90/blur,r_2,s_1/format,png', 150, 200, 'png'],
  ];
  for (const [name, process, w, h, format] of cases) {
    it(`${process} → ${w}x${h} ${format}`, async () => {
      const res = await run(process);
      assert.deepEqual([res.width, res.height], [w, h]);
      assert.deepEqual(await metaOf(res.data), { format, width: w, height: h });
      const d = await compareGolden(name, res.data);
      assert.ok(d <= GOLDEN_TOLERANCE, `${name}: mean difference ${d.toFixed(3)} > ${GOLDEN_TOLERANCE}`);
    });
  }
});

describe('transparency', () => {
  it('circle: corners transparent for PNG, white for JPEG (spec §3.8)', async () => {
    const png = await rgba((await run('image/circle,r_100/format,png')).data);
    assert.equal(pixel(png, 0, 0)[3], 0);
    assert.equal(pixel(png, 100, 100)[3], 255);
    const jpg = await rgba((await run('image/circle,r_100')).data);
    const [r, g, b] = pixel(jpg, 1, 1);
    assert.ok(r > 245 && g > 245 && b > 245, `corner should be white, got ${r},${g},${b}`);
  });

  it('a transparent PNG converted to JPEG becomes white there, never black', async () => {
    const half = await sharp({ create: { width: 20, height: 10, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0 } } })
      .composite([{ input: { create: { width: 10, height: 10, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } }, left: 0, top: 0 }])
      .png()
      .toBuffer();
    const out = await rgba((await run('image/format,jpg', half)).data);
    const [r, g, b] = pixel(out, 15, 5);
    assert.ok(r > 245 && g > 245 && b > 245, `transparent area should be white, got ${r},${g},${b}`);
    const [r2, , b2] = pixel(out, 5, 5);
    assert.ok(r2 < 20 && b2 > 230, 'opaque blue stays blue');
  });
});

describe('auto-orient', () => {
  const upright = fixture('orientation/Landscape_1.jpg');
  for (let o = 1; o <= 8; o++) {
    it(`orientation ${o} comes out upright 90x60 with auto-orient,1`, async () => {
      const res = await run('image/auto-orient,1/format,png', fixture(`orientation/Landscape_${o}.jpg`));
      assert.deepEqual([res.width, res.height], [90, 60]);
      const d = diff(await rgba(res.data), await rgba(await sharp(upright).png().toBuffer())).mean;
      assert.ok(d < 12, `orientation ${o}: mean difference to the upright image ${d.toFixed(2)} ≥ 12`);
    });
  }

  it('auto-orient applies before the chain (resize,w_45/auto-orient,1 on orientation 6 → 45x30)', async () => {
    const res = await run('image/resize,w_45/auto-orient,1', fixture('orientation/Landscape_6.jpg'));
    assert.deepEqual([res.width, res.height], [45, 30]);
  });

  it('auto-orient,0 keeps the stored geometry and the Orientation tag', async () => {
    const res = await run('image/resize,w_30/auto-orient,0', fixture('orientation/Landscape_6.jpg'));
    assert.deepEqual([res.width, res.height], [30, 45]);
    assert.equal((await sharp(res.data).metadata()).orientation, 6);
  });
});

describe('quality', () => {
  it('q is relative to the source JPEG quality, Q absolute but capped (spec §3.4)', async () => {
    const q90 = await sharp(example).jpeg({ quality: 80 }).toBuffer();
    const rel = await run('image/quality,q_50', q90);
    const abs = await run('image/quality,Q_95', q90);
    // Q_95 on a q80 source stays at 80: the same size as re-encoding at 80, bigger than q_50's 40.
    const at80 = await sharp(q90).jpeg({ quality: 80 }).toBuffer();
    const at40 = await sharp(q90).jpeg({ quality: 40 }).toBuffer();
    assert.ok(Math.abs(abs.data.length - at80.length) / at80.length < 0.02, `Q_95 → ${abs.data.length} bytes, q80 → ${at80.length}`);
    assert.ok(Math.abs(rel.data.length - at40.length) / at40.length < 0.02, `q_50 → ${rel.data.length} bytes, q40 → ${at40.length}`);
  });

  it('interlace,1 gives a progressive JPEG', async () => {
    const res = await run('image/resize,w_200/interlace,1');
    assert.equal((await sharp(res.data).metadata()).isProgressive, true);
  });

  it('quality does not apply to PNG output', async () => {
    const png = fixture('kodim23-256.png');
    const res = await run('image/quality,Q_50', png);
    assert.equal(res.format, 'png');
  });
});

describe('JSON answers', () => {
  it('info returns sorted string values', async () => {
    const res = await transformOss(example, 'image/info', { loadObject });
    assert.equal(res.kind, 'json');
    if (res.kind !== 'json') return;
    const info = JSON.parse(res.body) as Record<string, { value: string }>;
    assert.equal(info.ImageWidth?.value, '400');
    assert.equal(info.ImageHeight?.value, '267');
    assert.equal(info.Format?.value, 'jpg');
    assert.equal(info.FileSize?.value, String(example.length));
    assert.deepEqual(Object.keys(info), Object.keys(info).sort());
  });

  it('average-hue of a solid red image is 0xff0000', async () => {
    const red = await sharp({ create: { width: 10, height: 10, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const res = await transformOss(red, 'image/average-hue', { loadObject });
    assert.deepEqual(res, { kind: 'json', body: '{"RGB":"0xff0000"}' });
  });
});

describe('errors', () => {
  const expectCode = async (p: Promise<unknown>, code: string, ec?: string): Promise<void> => {
    await assert.rejects(p, (e: unknown) => e instanceof AppError && e.code === code && (ec === undefined || e.ec === ec));
  };
  it('a non-image is UNSUPPORTED_FORMAT', () => expectCode(transformOss(Buffer.from('hello world, not an image'), 'image/resize,w_10', { loadObject }), 'UNSUPPORTED_FORMAT'));
  it('an empty body is UNSUPPORTED_FORMAT', () => expectCode(transformOss(Buffer.alloc(0), 'image/resize,w_10', { loadObject }), 'UNSUPPORTED_FORMAT'));
  it('a truncated JPEG is CORRUPT_IMAGE', () => expectCode(transformOss(example.subarray(0, example.length / 2), 'image/resize,w_10', { loadObject }), 'CORRUPT_IMAGE'));
  it('crop starting outside is BAD_REQUEST', () => expectCode(run('image/crop,x_500,y_10'), 'BAD_REQUEST'));
  it('a missing watermark object is WatermarkError (400)', () => expectCode(run('image/watermark,image_bm9wZS5wbmc'), 'WATERMARK_ERROR'));
  it('resize output over the pixel limit has EC 0040-00000007', () => expectCode(run('image/resize,m_fixed,w_5000,h_5000,limit_0'), 'OUTPUT_TOO_LARGE', '0040-00000007'));
  it('a header claiming 40000 px is refused before decoding (EC 0040-00000019 for JPEG)', async () => {
    // A valid JPEG header whose SOF claims 40000x10: patch the dimensions of a tiny JPEG.
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const sof = tiny.indexOf(Buffer.from([0xff, 0xc0]));
    const lie = Buffer.from(tiny);
    lie.writeUInt16BE(10, sof + 5);
    lie.writeUInt16BE(40000, sof + 7);
    await expectCode(transformOss(lie, 'image/resize,w_10', { loadObject }), 'IMAGE_TOO_LARGE', '0040-00000019');
  });
});
