/**
 * The decoded size that admission control charges for: JPEG/WebP shrink-on-load only where sharp
 * certainly pre-shrinks, the full size everywhere else, and libjpeg's whole coefficient buffer for
 * progressive JPEGs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { estimatePipelineBytes } from '../../src/app/admission.js';
import type { SourceInfo } from '../../src/core/ir.js';
import { decodedSize, jpegShrinkOnLoad } from '../../src/core/pipeline/decoded-size.js';
import { planRecipe } from '../../src/core/pipeline/run.js';
import { cfRecipe, parseCfOptions } from '../../src/dialects/cloudflare/parse.js';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';

const photo: SourceInfo = { format: 'jpeg', width: 6000, height: 4000, frames: 1, orientation: 1, hasAlpha: false, bytes: 5e6 };

function oss(process: string, info: SourceInfo = photo) {
  return decodedSize(info, planRecipe(parseOssProcess(process), info).plan);
}

function cf(options: string, info: SourceInfo = photo) {
  const recipe = cfRecipe(parseCfOptions(options).options, { defaultFit: 'scale-down' }).recipe;
  return decodedSize(info, planRecipe({ ...recipe, output: { ...recipe.output, format: 'jpeg' } }, info, { resolveFormat: () => 'jpeg' }).plan);
}

test("sharp's JPEG shrink-on-load factor: largest of 8/4/2 reached, halved on an exact integer", () => {
  assert.equal(jpegShrinkOnLoad(1.5), 1);
  assert.equal(jpegShrinkOnLoad(2), 1);
  assert.equal(jpegShrinkOnLoad(2.5), 1);
  assert.equal(jpegShrinkOnLoad(3), 2);
  assert.equal(jpegShrinkOnLoad(4.0), 2);
  assert.equal(jpegShrinkOnLoad(5), 4);
  assert.equal(jpegShrinkOnLoad(7.9), 4);
  assert.equal(jpegShrinkOnLoad(8), 4);
  assert.equal(jpegShrinkOnLoad(9.08), 8);
  assert.equal(jpegShrinkOnLoad(18.75), 8);
});

test('JPEG resized first: decoded at the shrink-on-load size', () => {
  assert.deepEqual(oss('image/resize,w_320'), { width: 750, height: 500 }); // 18.75 → 8
  assert.deepEqual(oss('image/resize,w_1000/quality,q_80/format,webp'), { width: 1500, height: 1000 }); // 6 → 4
  assert.deepEqual(oss('image/resize,w_1280'), { width: 3000, height: 2000 }); // 4.69 → 4, halved
  assert.deepEqual(oss('image/resize,w_1920'), { width: 3000, height: 2000 }); // 3.125 → 2
  // fill: scaled to cover 300×300 (4000/300 = 13.3 on the short side) before the crop.
  assert.deepEqual(oss('image/resize,m_fill,w_300,h_300'), { width: 750, height: 500 });
  // pad: the image is scaled to fit 300 wide (20×), the band does not count.
  assert.deepEqual(oss('image/resize,m_pad,w_300,h_300'), { width: 750, height: 500 });
  // operations after the resize keep the pre-shrink.
  assert.deepEqual(oss('image/resize,w_320/rotate,90/blur,r_3,s_2/sharpen,100'), { width: 750, height: 500 });
  // an odd size is rounded up (libvips keeps the whole pixels, 340×278: the estimate takes the bound).
  assert.deepEqual(oss('image/resize,w_300', { ...photo, width: 2725, height: 2225 }), { width: 341, height: 279 });
});

test('no shrink-on-load where sharp cannot pre-shrink: the full size is charged', () => {
  const full = { width: 6000, height: 4000 };
  assert.deepEqual(oss('image/crop,w_3000,h_2000/resize,w_300'), full); // extract before the resize
  assert.deepEqual(oss('image/rotate,90/resize,w_300'), full); // rotation before the resize
  // EXIF orientation with an extract in the pass: sharp orients first.
  assert.deepEqual(oss('image/auto-orient,1/resize,m_fill,w_300,h_300', { ...photo, orientation: 6 }), full);
  assert.deepEqual(oss('image/auto-orient,1/resize,w_320/crop,w_100,h_100', { ...photo, orientation: 3 }), full);
  assert.deepEqual(oss('image/resize,w_2900'), full); // 2.07: 2, halved
  assert.deepEqual(oss('image/resize,w_5000'), full); // no shrink
  assert.deepEqual(oss('image/resize,w_300', { ...photo, format: 'png' }), full);
  assert.deepEqual(oss('image/resize,w_300', { ...photo, format: 'gif', frames: 4 }), full);
  assert.deepEqual(cf('trim=10;10;10;10,width=300'), full);
  // an orientation that needs no turn does not stand in the way.
  assert.deepEqual(oss('image/auto-orient,1/resize,w_320'), { width: 750, height: 500 });
});

test('EXIF-oriented JPEG resized first: sharp resizes before it orients, with the target turned for 90°/270°', () => {
  // Orientation 6: displayed 4000×6000, w_300 → a 300×450 box; the stored 6000 px width meets 450.
  assert.deepEqual(oss('image/auto-orient,1/resize,w_300', { ...photo, orientation: 6 }), { width: 750, height: 500 }); // 13.3 → 8
  // Orientation 8: w_1000 → a 1000×1500 box; 6000/1500 = 4000/1000 = 4 exactly → 4, halved to 2.
  assert.deepEqual(oss('image/auto-orient,1/resize,w_1000', { ...photo, orientation: 8 }), { width: 3000, height: 2000 });
  // Orientation 3 (180°) turns nothing: the box applies as it is.
  assert.deepEqual(oss('image/auto-orient,1/resize,w_320', { ...photo, orientation: 3 }), { width: 750, height: 500 });
  // Without auto-orient the stored orientation is what gets resized.
  assert.deepEqual(oss('image/auto-orient,0/resize,w_320', { ...photo, orientation: 6 }), { width: 750, height: 500 });
});

test('WebP decodes straight to the scaled size; Cloudflare fits resize first too', () => {
  assert.deepEqual(oss('image/resize,w_300', { ...photo, format: 'webp' }), { width: 300, height: 200 });
  assert.deepEqual(cf('width=320'), { width: 750, height: 500 });
  assert.deepEqual(cf('width=300,height=300,fit=cover'), { width: 750, height: 500 });
  // content-based cover: sharp scales to cover the box, then picks the window.
  assert.deepEqual(cf('width=300,height=300,fit=cover,gravity=auto'), { width: 750, height: 500 });
  // gamma runs in a pass of its own, on the resized pixels: the first pass still pre-shrinks.
  assert.deepEqual(cf('gamma=2,width=320'), { width: 750, height: 500 });
});

test('estimate: a thumbnail of a 24 MP baseline JPEG charges the shrunk decode, a progressive one its coefficients', () => {
  const planned = planRecipe(parseOssProcess('image/resize,w_320'), photo);
  const out = planned.plan.result.width * planned.plan.result.height * 4 * 2;
  assert.equal(estimatePipelineBytes(photo, planned), 750 * 500 * 4 + out);
  // The coefficient buffer as the probe reads it from the frame (4:2:0: 3 bytes a pixel) …
  const progressive = { ...photo, progressive: true, coefficientBytes: 72_000_000 };
  assert.equal(estimatePipelineBytes(progressive, planned), 750 * 500 * 4 + 72_000_000 + out);
  // … or, when the probe could not tell, every component at full resolution.
  assert.equal(estimatePipelineBytes({ ...photo, progressive: true }, planned), 750 * 500 * 4 + 6000 * 4000 * 6 + out);
  // without a plan (Abstract's optimiser, an unplannable recipe) the full decode is charged.
  assert.equal(estimatePipelineBytes(photo), 6000 * 4000 * 4);
});

/**
 * The model checked against libvips itself: with VIPS_INFO set, libvips logs (on stdout) the residual scale of
 * every resize ("residual reduceh by X", X = output width ÷ the width the resize received). The
 * engine runs each recipe in a child process; the width the resize received must be the decoded
 * width the model claims when it claims a shrink, and never more than the model's width otherwise
 * (the model may err high, never low).
 */
test('decodedSize agrees with the shrink libvips performs in the engine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'decoded-size-'));
  try {
    const make = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: { r: 40, g: 120, b: 200 } } }).composite([
      { input: { create: { width: Math.round(w / 3), height: Math.round(h / 3), channels: 3, background: { r: 250, g: 240, b: 10 } } }, top: 10, left: 10 },
    ]);
    const files = {
      jpeg: join(dir, 'a.jpg'),
      progressive: join(dir, 'p.jpg'),
      webp: join(dir, 'a.webp'),
      turned: join(dir, 'o6.jpg'),
      upsideDown: join(dir, 'o3.jpg'),
    };
    writeFileSync(files.jpeg, await make(2725, 2225).jpeg({ quality: 90 }).toBuffer());
    writeFileSync(files.turned, await make(2725, 2225).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer());
    writeFileSync(files.upsideDown, await make(2725, 2225).jpeg({ quality: 90 }).withMetadata({ orientation: 3 }).toBuffer());
    writeFileSync(files.progressive, await make(2725, 2225).jpeg({ quality: 90, progressive: true }).toBuffer());
    writeFileSync(files.webp, await make(2400, 1600).webp().toBuffer());
    const cases: Array<[keyof typeof files, string]> = [
      ['jpeg', 'image/resize,w_300'],
      ['jpeg', 'image/resize,w_600/sharpen,100'],
      ['jpeg', 'image/resize,w_1000'],
      ['jpeg', 'image/resize,w_2000'],
      ['jpeg', 'image/crop,w_2400,h_2000/resize,w_300'],
      ['progressive', 'image/resize,w_300'],
      ['webp', 'image/resize,w_300'],
      ['webp', 'image/resize,w_1000'],
      ['turned', 'image/auto-orient,1/resize,w_300'],
      ['turned', 'image/auto-orient,1/resize,w_800'],
      ['turned', 'image/auto-orient,1/resize,m_fill,w_300,h_300'],
      ['turned', 'image/auto-orient,1/resize,w_300/crop,w_100,h_100'],
      ['turned', 'image/resize,w_300'],
      ['upsideDown', 'image/auto-orient,1/resize,w_300'],
    ];
    const script = `
      import { readFileSync } from 'node:fs';
      import { runRecipe, planRecipe } from './src/core/pipeline/run.ts';
      import { probeImage } from './src/core/codecs/probe.ts';
      import { decodedSize } from './src/core/pipeline/decoded-size.ts';
      import { parseOssProcess } from './src/dialects/oss/parse.ts';
      for (const [file, chain] of JSON.parse(process.argv[1])) {
        const bytes = readFileSync(file);
        const probed = await probeImage(bytes);
        const recipe = parseOssProcess(chain);
        const plan = planRecipe(recipe, probed.info).plan;
        const step = plan.passes[0].steps.find((s) => s.op.op === 'resize');
        // Widths in the stored orientation (libvips resizes before it turns the image).
        const turned = plan.passes[0].autoOrient && probed.info.orientation >= 5;
        console.log('### ' + JSON.stringify({ process: chain, claim: decodedSize(probed.info, plan), full: probed.info.width, resizeFrom: turned ? step.before.height : step.before.width }));
        const out = await runRecipe(bytes, recipe, {});
        console.log('### out ' + (turned ? out.height : out.width));
      }
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify(cases.map(([k, p]) => [files[k], p]))], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, VIPS_INFO: '1' },
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stderr);
    // glib writes info messages to stdout, between the child's markers.
    const blocks = res.stdout.split('### ').slice(1);
    let checked = 0;
    for (let i = 0; i < blocks.length; i += 2) {
      const head = JSON.parse((blocks[i] as string).split('\n')[0] as string) as { process: string; claim: { width: number }; full: number; resizeFrom: number };
      const scale = /residual reduceh by ([\d.]+)/.exec(blocks[i] as string);
      const outWidth = Number(/^out (\d+)/.exec(blocks[i + 1] as string)?.[1]);
      // No residual resize logged: the decoder delivered the output size itself (WebP's scale).
      const received = scale === null ? outWidth : Math.round(outWidth / Number(scale[1]));
      const label = `${cases[i / 2]?.[0]} ${head.process}`;
      if (head.claim.width < head.full) assert.ok(Math.abs(received - head.claim.width) <= 1, `${label}: libvips resized from ${received} px, the model says ${head.claim.width}`);
      else assert.ok(received <= head.resizeFrom, `${label}: libvips resized from ${received} px, more than the ${head.resizeFrom} px the resize step receives`);
      // The model must never claim less than libvips decodes.
      assert.ok(received <= head.claim.width + 1, `${label}: the model claims ${head.claim.width} px, libvips decoded ${received}`);
      checked++;
    }
    assert.equal(checked, cases.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The progressive-JPEG charge checked against the memory libjpeg really takes: a child process
 * decodes a 4000×3000 progressive 4:2:0 JPEG to 300 px (shrink-on-load) and reports how far its
 * peak RSS rose. The rise must cover the coefficient buffer the header reader computes, and stay
 * below it plus the rest of the estimate's order (decoded 500×375 RGBA, output, libvips' own
 * buffers: 24 MB allowed), which is less than the 6 bytes a pixel charged when the sampling is
 * unknown: the exact model is not optimistic, and the fallback over-charges 4:2:0 photos.
 */
test('the coefficient buffer charged for a progressive 4:2:0 JPEG is the peak RSS libjpeg adds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coefficients-'));
  try {
    const file = join(dir, 'p420.jpg');
    const noise = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: 'black', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).png().toBuffer();
    writeFileSync(file, await sharp(noise).jpeg({ quality: 85, progressive: true, chromaSubsampling: '4:2:0' }).toBuffer());
    const script = `
      import { readFileSync } from 'node:fs';
      import sharp from 'sharp';
      sharp.cache(false);
      sharp.concurrency(1);
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).jpeg().toBuffer();
      const before = hwm();
      const out = await sharp(process.argv[1]).resize(300).jpeg().toBuffer();
      console.log(JSON.stringify({ rise: hwm() - before, out: out.length }));
    `;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    const { rise } = JSON.parse(res.stdout.trim().split('\n').at(-1) as string) as { rise: number };
    const { fastJpegHeader } = await import('../../src/core/codecs/fast-header.js');
    const coefficients = fastJpegHeader(readFileSync(file))?.coefficientBytes;
    // Luma 500×375 blocks (375 rounded up to V = 2: 376), chroma 250 × ceil(3000 / 16) = 188 each.
    assert.equal(coefficients, (500 * 376 + 2 * 250 * 188) * 128);
    assert.ok(rise >= 0.95 * coefficients!, `peak RSS rose ${rise} bytes, less than the ${coefficients} charged`);
    assert.ok(rise <= coefficients! + 24 * 2 ** 20, `peak RSS rose ${rise} bytes, far more than the ${coefficients} charged`);
    assert.ok(rise < 4000 * 3000 * 6, 'the full-resolution fallback would over-charge this 4:2:0 image');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
