/**
 * The ffmpeg adapter end to end (probe → plan → encode → decode with sharp):
 * - every worked example of spec §4 on a generated 10 s 25 fps 16:9 clip (320×180 instead of
 *   1920×1080 to stay fast; example 2's 25 % and example 6–9's 400 px box keep their meaning):
 *   frame count, per-frame delay, output size, and crop / fill / stretch geometry read off the
 *   clip's red (left) and blue (right) bands;
 * - the corpus videos: HEVC with a 90° display matrix comes out portrait and upright, the
 *   natively portrait clip, 60 fps, and WebM/VP9 (skipped without ../shared/corpus/video);
 * - bad inputs: JPEG, truncated MP4, zero bytes, a stream declaring ten hours.
 * Skips with a message when no ffmpeg is available.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { createFfmpegTools } from '../../src/adapters/video/ffmpeg.js';
import { planAnimation, type AnimationPlan } from '../../src/core/video/animation.js';
import { parseAnimationParams } from '../../src/dialects/oss/video.js';
import { isAppError } from '../../src/core/errors.js';
import { CORPUS_VIDEO, decode, ffmpeg, FFMPEG, FFPROBE, hasCorpus, meanRgb, noFfmpeg, specClip, tempDir } from './helpers.js';

const tools = createFfmpegTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE, concurrency: 2 });
let dir = '';
let clip = '';

async function animate(input: string, process: string): Promise<{ plan: AnimationPlan; out: Buffer; frames: number }> {
  const info = await tools.probe(input);
  const plan = planAnimation(parseAnimationParams(process), info);
  const output = join(dir, `out-${Math.random().toString(36).slice(2)}.${plan.format}`);
  const progress: number[] = [];
  const res = await tools.animate({ input, output, plan, onFrames: (n) => progress.push(n) });
  assert.equal(progress.at(-1), res.frames, 'progress reports the frames written');
  return { plan, out: readFileSync(output), frames: res.frames };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAppError(err), String(err));
    assert.equal(err.code, code, err.publicMessage);
    return true;
  });
}

const RED: [number, number, number] = [255, 0, 0];
const isColour = (rgb: [number, number, number], want: [number, number, number], tol = 60) => rgb.every((v, i) => Math.abs(v - want[i]!) <= tol);

describe('video/animation worked examples (spec §4) on a generated clip', { skip: noFfmpeg }, () => {
  before(() => {
    dir = tempDir();
    clip = specClip(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('#1 f_gif,w_100,h_100,inter_1000 → 10 frames of 1 s, 100×100, loops forever', async () => {
    const { out } = await animate(clip, 'video/animation,f_gif,w_100,h_100,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.format, d.pages, d.width, d.height, d.loop], ['gif', 10, 100, 100, 0]);
    assert.deepEqual(d.delay, Array(10).fill(1000));
    // stretch: the red band (1/8 of the width) stays on the left edge.
    assert.ok(isColour(await meanRgb(out, 0, 10, 8, 80), RED));
  });

  it('#2 ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500 → 10 WebP frames of 40 ms, 25 % size', async () => {
    const { out } = await animate(clip, 'video/animation,ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500');
    const d = await decode(out);
    assert.deepEqual([d.format, d.pages, d.width, d.height, d.loop], ['webp', 10, 80, 45, 0]);
    assert.deepEqual(d.delay, Array(10).fill(40));
  });

  it('#3 inter_1000,num_5 → 5 frames, 1 fps, source size', async () => {
    const d = await decode((await animate(clip, 'video/animation,f_gif,inter_1000,num_5')).out);
    assert.deepEqual([d.pages, d.width, d.height], [5, 320, 180]);
    assert.deepEqual(d.delay, Array(5).fill(1000));
  });

  it('#4 inter_10 → raised to 40 ms: 250 frames in real time', async () => {
    const d = await decode((await animate(clip, 'video/animation,f_gif,inter_10')).out);
    assert.deepEqual([d.pages, d.width, d.height], [250, 320, 180]);
    assert.deepEqual([...new Set(d.delay)], [40]);
  });

  it('#5 ss_9500,inter_200 → 3 frames at 5 fps', async () => {
    const d = await decode((await animate(clip, 'video/animation,f_gif,ss_9500,inter_200')).out);
    assert.deepEqual([d.pages, ...new Set(d.delay)], [3, 200]);
  });

  it('#6 crop 400×400: scaled to 711×400 and centre-cropped (no red or blue band left)', async () => {
    const { out } = await animate(clip, 'video/animation,f_gif,w_400,h_400,scaletype_crop,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [10, 400, 400, 1000]);
    // The crop keeps source x 69.75…249.75 of 320: the bands (0–40, 280–320) are cut away.
    assert.ok(!isColour(await meanRgb(out, 0, 0, 2, 400), RED));
    assert.ok(!isColour(await meanRgb(out, 398, 0, 2, 400), [0, 0, 255]));
  });

  it('#7 fill 400×400: 400×225 picture on black, 87 rows above and 88 below', async () => {
    const { out } = await animate(clip, 'video/animation,f_gif,w_400,h_400,scaletype_fill,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height], [10, 400, 400]);
    const black: [number, number, number] = [0, 0, 0];
    assert.ok(isColour(await meanRgb(out, 0, 0, 400, 87), black, 8), 'top border black');
    assert.ok(isColour(await meanRgb(out, 0, 312, 400, 88), black, 8), 'bottom border black');
    assert.ok(isColour(await meanRgb(out, 0, 88, 40, 222), RED), 'picture starts at row 87 with the red band');
    assert.ok(isColour(await meanRgb(out, 0, 310, 40, 1), RED), 'last picture row 311');
  });

  it('#8 fit 400×400 → 400×225 without borders', async () => {
    const { out } = await animate(clip, 'video/animation,f_gif,w_400,h_400,scaletype_fit,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height], [10, 400, 225]);
    assert.ok(isColour(await meanRgb(out, 0, 0, 40, 225), RED));
  });

  it('#9 stretch 400×400 (default) → 400×400 distorted, bands on both edges', async () => {
    const { out } = await animate(clip, 'video/animation,f_gif,w_400,h_400,scaletype_stretch,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height], [10, 400, 400]);
    assert.ok(isColour(await meanRgb(out, 0, 0, 40, 400), RED));
    assert.ok(isColour(await meanRgb(out, 360, 0, 40, 400), [0, 0, 255]));
  });

  it('fps changes playback only: inter_1000,fps_5 → 10 frames of 200 ms', async () => {
    const d = await decode((await animate(clip, 'video/animation,f_webp,w_64,inter_1000,fps_5')).out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [10, 64, 36, 200]);
  });
});

describe('sampling takes the frame shown at each instant (nearest preceding frame)', { skip: noFfmpeg }, () => {
  let frameClip = '';
  before(() => {
    dir = tempDir();
    // Lossless 25 fps clip whose frame n is a flat grey Y = 16 + 4·(n mod 50): the picture says
    // which source frame a sample took.
    frameClip = join(dir, 'frames.mkv');
    ffmpeg(['-f', 'lavfi', '-i', 'color=black:s=32x32:r=25:d=10', '-vf', "geq=lum='16+4*mod(N,50)':cb=128:cr=128",
      '-c:v', 'libx264', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', frameClip]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function sourceFrames(process: string): Promise<number[]> {
    const { out } = await animate(frameClip, process);
    const d = await decode(out);
    const idx: number[] = [];
    for (let i = 0; i < d.pages; i++) {
      const { data } = await sharp(out, { page: i }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const y = 16 + (data[0]! * 219) / 255;
      idx.push(Math.round((y - 16) / 4));
    }
    return idx;
  }

  it('inter_1000: frames 0, 25, 50, … (instants on frame times)', async () => {
    assert.deepEqual(await sourceFrames('video/animation,f_gif,inter_1000'), [0, 25, 0, 25, 0, 25, 0, 25, 0, 25]);
  });
  it('ss_9500,inter_200: 9500 ms lies between frames 237 (9480) and 238 → 237, 242, 247', async () => {
    assert.deepEqual(await sourceFrames('video/animation,f_gif,ss_9500,inter_200'), [237 % 50, 242 % 50, 247 % 50]);
  });
  it('inter_130,num_4: t = 0, 130, 260, 390 → frames 0, 3, 6, 9', async () => {
    assert.deepEqual(await sourceFrames('video/animation,f_gif,inter_130,num_4'), [0, 3, 6, 9]);
  });
});

describe('video/animation on the corpus videos', { skip: noFfmpeg || (!hasCorpus && 'corpus not found at ../shared/corpus/video') }, () => {
  before(() => {
    dir = tempDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('HEVC 854×480 with a 90° display matrix comes out 480×854 and upright', async () => {
    const src = join(CORPUS_VIDEO, 'bbb_rotate90_hevc_854x480_24fps_5s.mp4');
    const info = await tools.probe(src);
    assert.deepEqual([info.width, info.height, info.rotation, info.codec], [480, 854, 90, 'hevc']);
    const { out } = await animate(src, 'video/animation,f_gif,w_120,inter_1000');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [5, 120, 214, 1000]);
    // Upright: the first frame matches the source frame turned 90° clockwise, not the coded one.
    const codedPng = join(dir, 'coded.png');
    ffmpeg(['-noautorotate', '-i', src, '-frames:v', '1', codedPng]);
    const turned = await sharp(codedPng).rotate(90).resize(120, 214, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const wrong = await sharp(codedPng).rotate(270).resize(120, 214, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    const ours = await sharp(out).removeAlpha().raw().toBuffer();
    const diff = (a: Buffer) => a.reduce((s, v, i) => s + Math.abs(v - ours[i]!), 0) / a.length;
    assert.ok(diff(turned) < 12 && diff(turned) * 2 < diff(wrong), `diff upright ${diff(turned).toFixed(1)} vs upside down ${diff(wrong).toFixed(1)}`);
  });

  it('natively portrait 720×1280 30 fps: w_180,inter_500 → 8 frames 180×320, 500 ms', async () => {
    const { out } = await animate(join(CORPUS_VIDEO, 'testsrc2_720x1280_30fps_h264_portrait_4s.mp4'), 'video/animation,f_gif,w_180,inter_500');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [8, 180, 320, 500]);
  });

  it('60 fps MKV at the source rate: WebP 17 ms, GIF 20 ms (2 cs, the GIF minimum)', async () => {
    const src = join(CORPUS_VIDEO, 'mandelbrot_1280x720_60fps_h264_opus_5s.mkv');
    const webp = await animate(src, 'video/animation,f_webp,w_160,num_30');
    assert.equal(webp.frames, 30);
    const w = await decode(webp.out);
    // libwebp stores a frame identical to the previous one as a longer previous frame (this clip
    // repeats frames): the playback time is exact, the stored frame count may be lower.
    assert.deepEqual([w.width, w.height, w.delay.reduce((a, b) => a + b, 0)], [160, 90, 30 * 17]);
    assert.ok(w.delay.every((x) => x % 17 === 0) && w.pages <= 30 && w.pages >= 25, `${w.pages} frames: ${w.delay.join(',')}`);
    const g = await decode((await animate(src, 'video/animation,f_gif,w_160,num_30')).out);
    assert.deepEqual([g.pages, g.width, g.height, ...new Set(g.delay)], [30, 160, 90, 20]);
  });

  it('WebM/VP9 640×360, 6.01 s: inter_1000 → 7 frames (t = 0…6000 ms)', async () => {
    const { out, plan } = await animate(join(CORPUS_VIDEO, 'bbb_640x360_24fps_vp9_opus_6s.webm'), 'video/animation,f_gif,w_160,inter_1000');
    assert.equal(plan.frames, 7);
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [7, 160, 90, 1000]);
  });

  it('the docs\' example 2 on real footage (854×480 H.264): 8 WebP frames of 40 ms at 214×120', async () => {
    const { out } = await animate(join(CORPUS_VIDEO, 'bbb_854x480_24fps_h264_aac_6s.mp4'), 'video/animation,ss_2000,f_webp,pw_25,ph_25,fps_25,inter_500');
    const d = await decode(out);
    assert.deepEqual([d.pages, d.width, d.height, ...new Set(d.delay)], [8, 214, 120, 40]);
  });
});

describe('video/animation bad inputs', { skip: noFfmpeg }, () => {
  before(() => {
    dir = tempDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a JPEG is not a video', async () => {
    const jpg = join(dir, 'photo');
    copyFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url), jpg);
    await expectCode(tools.probe(jpg), 'NOT_A_VIDEO');
  });

  it('a zero-byte file is not a video', async () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    await expectCode(tools.probe(empty), 'NOT_A_VIDEO');
  });

  it('a truncated MP4 (moov at the end) is corrupt', async () => {
    const src = join(dir, 'tail.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', src]);
    truncateSync(src, Math.floor(statSync(src).size / 2));
    await expectCode(tools.probe(src), 'CORRUPT_VIDEO');
  });

  it('a truncated MP4 whose index survives (moov first) fails while decoding', async () => {
    const src = join(dir, 'front.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', src]);
    truncateSync(src, Math.floor(statSync(src).size / 3));
    const info = await tools.probe(src);
    assert.equal(Math.round(info.durationMs), 4000, 'the index still declares 4 s');
    const plan = planAnimation(parseAnimationParams('video/animation,f_gif,inter_100'), info);
    await expectCode(tools.animate({ input: src, output: join(dir, 'front.gif'), plan }), 'CORRUPT_VIDEO');
  });

  it('a stream declaring ten hours is refused from the probe, before decoding', async () => {
    // Two frames, the second at 36 000 s: a tiny file whose container and stream last 10 h.
    const src = join(dir, 'ten-hours.mkv');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x36:rate=1:duration=2', '-vf', 'setpts=N*36000/TB', '-vsync', '0', '-c:v', 'libx264', '-preset', 'ultrafast', src]);
    const info = await tools.probe(src);
    assert.ok(info.durationMs >= 36_000_000, `declared ${info.durationMs} ms`);
    assert.ok(statSync(src).size < 100_000);
    assert.throws(() => planAnimation(parseAnimationParams('video/animation,f_gif,inter_1000'), info), (e: unknown) => isAppError(e) && e.code === 'VIDEO_TOO_LARGE');
  });

  it('an abort kills ffmpeg at once', async () => {
    const src = specClip(dir, 640, 360, 10);
    const info = await tools.probe(src);
    const plan = planAnimation(parseAnimationParams('video/animation,f_gif,inter_10'), info);
    const ac = new AbortController();
    const p = tools.animate({ input: src, output: join(dir, 'aborted.gif'), plan, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled by test')), 100);
    await assert.rejects(p, /cancelled by test/);
  });
});
