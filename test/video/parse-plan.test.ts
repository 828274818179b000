/**
 * Pure parts of video/animation: the body parser (spec §1.2, §2, §4 error table), the target-key
 * variables, and the plan (sampling, playback delay, geometry) for every worked example of §4 on
 * the spec's source (10 000 ms, 25 fps, 1920×1080).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expandTargetKey, parseAnimationParams, parseAsyncProcessBody, targetVariables } from '../../src/dialects/oss/video.js';
import { planAnimation, type VideoInfo } from '../../src/core/video/animation.js';
import { isAppError } from '../../src/core/errors.js';

const SPEC_SOURCE: VideoInfo = { durationMs: 10_000, fps: 25, width: 1920, height: 1080, rotation: 0, codec: 'h264', container: 'matroska,webm' };
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(isAppError(err), String(err));
    return err.code;
  }
  assert.fail('expected an error');
};

describe('video/animation body parser', () => {
  it('decodes the documented example 1 body (bucket, {autoext} key, topic)', () => {
    const body = 'x-oss-async-process=video/animation,f_gif,w_100,h_100,inter_1000|sys/saveas,b_b3V0YnVja2V0,o_b3V0b2JqcHJlZml4LnthdXRvZXh0fQ/notify,topic_QXVkaW9Db252ZXJ0';
    const p = parseAsyncProcessBody(body);
    assert.deepEqual(p, { process: 'video/animation,f_gif,w_100,h_100,inter_1000', saveas: { bucket: 'outbucket', object: 'outobjprefix.{autoext}' }, topic: 'AudioConvert' });
    assert.deepEqual(parseAnimationParams(p.process), { format: 'gif', ss: 0, num: undefined, inter: 1000, fps: undefined, w: 100, h: 100, pw: undefined, ph: undefined, scaletype: 'stretch' });
  });

  it('accepts a percent-encoded body, padded / standard base64 and o before b', () => {
    const raw = 'video/animation,f_webp|sys/saveas,o_' + Buffer.from('a/b.{autoext}').toString('base64') + ',b_' + Buffer.from('outbucket').toString('base64');
    const p = parseAsyncProcessBody('x-oss-async-process=' + encodeURIComponent(raw));
    assert.deepEqual(p.saveas, { bucket: 'outbucket', object: 'a/b.{autoext}' });
    assert.equal(p.topic, undefined);
  });

  it('parses example 2 parameters', () => {
    assert.deepEqual(parseAnimationParams('video/animation,ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500'), {
      format: 'webp', ss: 5000, num: undefined, inter: 500, fps: 25, w: undefined, h: undefined, pw: 25, ph: 25, scaletype: 'stretch',
    });
    assert.equal(parseAnimationParams('video/animation,f_gif,fps_12.5').fps, 12.5);
  });

  it('gives the spec error table\'s InvalidArgument for f_mp4, w_8, fps_300 and a missing sys/saveas', () => {
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_mp4|sys/saveas,o_eA')), 'INVALID_ARGUMENT');
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif,w_8')), 'INVALID_ARGUMENT');
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif,fps_300|sys/saveas,o_eA')), 'INVALID_ARGUMENT');
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif')), 'INVALID_ARGUMENT');
    assert.match(
      (() => { try { parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif,w_8'); } catch (e) { return (e as Error).message; } return ''; })(),
      /w/,
    );
  });

  it('rejects other bad values', () => {
    for (const p of ['video/animation,w_100', 'video/animation,f_gif,fps_0', 'video/animation,f_gif,h_4097', 'video/animation,f_gif,pw_0', 'video/animation,f_gif,pw_101',
      'video/animation,f_gif,scaletype_pad', 'video/animation,f_gif,inter_0', 'video/animation,f_gif,ss_-1', 'video/animation,f_gif,zz_1', 'image/resize,w_1']) {
      assert.equal(code(() => parseAnimationParams(p)), 'INVALID_ARGUMENT', p);
    }
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif|sys/saveas,b_eA')), 'INVALID_ARGUMENT');
    assert.equal(code(() => parseAsyncProcessBody('x-oss-async-process=video/animation,f_gif|sys/saveas,o_eA/notify,topic_')), 'BAD_REQUEST');
    assert.equal(code(() => parseAsyncProcessBody('x-oss-process=video/animation,f_gif|sys/saveas,o_eA')), 'INVALID_ARGUMENT');
  });
});

describe('target key variables', () => {
  const vars = targetVariables({ bucket: 'src', key: 'videos/2024/clip.final.mp4', format: 'gif', uploadedAt: Date.UTC(2024, 7, 20, 7, 3, 7), taskAt: Date.UTC(2025, 0, 2, 3, 4, 5) });
  it('expands {autoext} and the documented variables', () => {
    assert.equal(expandTargetKey('outobjprefix.{autoext}', vars), 'outobjprefix.gif');
    assert.equal(expandTargetKey('{dirname}/{barename}-{ext}.{autoext}', vars), 'videos/2024/clip.final-mp4.gif');
    assert.equal(expandTargetKey('{bucket}/{basename}/{year}{mon}{day}{hour}{min}{sec}/{t_year}-{t_mon}-{t_day}', vars), 'src/clip.final.mp4/20240820070307/2025-01-02');
    assert.equal(expandTargetKey('{{literal}}-{key}', vars), '{literal}-videos/2024/clip.final.mp4');
  });
  it('refuses unknown variables and unbalanced braces', () => {
    assert.equal(code(() => expandTargetKey('{nope}', vars)), 'INVALID_ARGUMENT');
    assert.equal(code(() => expandTargetKey('a{autoext', vars)), 'INVALID_ARGUMENT');
    assert.equal(code(() => expandTargetKey('a}b', vars)), 'INVALID_ARGUMENT');
  });
});

describe('plan: the worked examples of spec §4 (10 s, 25 fps, 1920×1080)', () => {
  const plan = (p: string) => planAnimation(parseAnimationParams(p), SPEC_SOURCE);
  it('#1 f_gif,w_100,h_100,inter_1000: 10 frames, 1 s each, 100×100 stretched', () => {
    const r = plan('video/animation,f_gif,w_100,h_100,inter_1000');
    assert.deepEqual([r.frames, r.intervalMs, r.playbackFps, r.delay, r.delayUnitsPerSecond], [10, 1000, 1, 100, 100]);
    assert.deepEqual([r.scaled, r.output], [{ width: 100, height: 100 }, { width: 100, height: 100 }]);
  });
  it('#2 ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500: 10 frames from 5 s, 40 ms each, 480×270', () => {
    const r = plan('video/animation,ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500');
    assert.deepEqual([r.startMs, r.frames, r.intervalMs, r.delay, r.delayUnitsPerSecond], [5000, 10, 500, 40, 1000]);
    assert.deepEqual(r.output, { width: 480, height: 270 });
  });
  it('#3 inter_1000,num_5: 5 frames (cap), 1 fps, source size', () => {
    const r = plan('video/animation,f_gif,inter_1000,num_5');
    assert.deepEqual([r.frames, r.delay, r.output.width, r.output.height], [5, 100, 1920, 1080]);
  });
  it('#4 inter_10: raised to the 40 ms frame interval → 250 frames, real time', () => {
    const r = plan('video/animation,f_gif,inter_10');
    assert.deepEqual([r.frames, r.intervalMs, r.playbackFps, r.delay], [250, 40, 25, 4]);
  });
  it('#5 ss_9500,inter_200: 3 frames at 5 fps', () => {
    const r = plan('video/animation,f_gif,ss_9500,inter_200');
    assert.deepEqual([r.frames, r.playbackFps, r.delay], [3, 5, 20]);
  });
  it('#6 crop: scale to 711×400, centre-crop to 400×400', () => {
    const r = plan('video/animation,f_gif,w_400,h_400,scaletype_crop,inter_1000');
    assert.deepEqual([r.frames, r.delay], [10, 100]);
    assert.deepEqual([r.scaled, r.output, r.offset], [{ width: 711, height: 400 }, { width: 400, height: 400 }, { x: 155, y: 0 }]);
  });
  it('#7 fill: 400×225 on a 400×400 black canvas, 87 px top / 88 px bottom', () => {
    const r = plan('video/animation,f_gif,w_400,h_400,scaletype_fill,inter_1000');
    assert.deepEqual([r.scaled, r.output, r.offset], [{ width: 400, height: 225 }, { width: 400, height: 400 }, { x: 0, y: 87 }]);
    assert.equal(r.output.height - r.scaled.height - r.offset.y, 88);
  });
  it('#8 fit: 400×225, no borders', () => {
    const r = plan('video/animation,f_gif,w_400,h_400,scaletype_fit,inter_1000');
    assert.deepEqual([r.scaled, r.output], [{ width: 400, height: 225 }, { width: 400, height: 225 }]);
  });
  it('#9 stretch (default): 400×400', () => {
    const a = plan('video/animation,f_gif,w_400,h_400,scaletype_stretch,inter_1000');
    const b = plan('video/animation,f_gif,w_400,h_400,inter_1000');
    assert.deepEqual([a.scaled, a.output, a.frames], [{ width: 400, height: 400 }, { width: 400, height: 400 }, 10]);
    assert.deepEqual(a, b);
  });
  it('one side given: the other follows the aspect ratio; w/h win over pw/ph', () => {
    assert.deepEqual(plan('video/animation,f_gif,w_320').output, { width: 320, height: 180 });
    assert.deepEqual(plan('video/animation,f_gif,ph_10').output, { width: 192, height: 108 });
    assert.deepEqual(plan('video/animation,f_gif,w_100,pw_50,ph_50').output, { width: 100, height: 540 });
  });
  it('fps overrides playback only; GIF delays are ≥ 2 cs, WebP keeps milliseconds', () => {
    assert.equal(plan('video/animation,f_gif,fps_60').delay, 2);
    assert.equal(plan('video/animation,f_webp,fps_60').delay, 17);
    assert.equal(plan('video/animation,f_gif,fps_240').delay, 2);
    const slow = plan('video/animation,f_gif,inter_1000,fps_0.5');
    assert.deepEqual([slow.frames, slow.delay], [10, 200]);
  });
  it('limits: too long, too many frames, ss past the end', () => {
    assert.equal(code(() => planAnimation(parseAnimationParams('video/animation,f_gif,inter_1000'), { ...SPEC_SOURCE, durationMs: 36_000_000 })), 'VIDEO_TOO_LARGE');
    assert.equal(code(() => planAnimation(parseAnimationParams('video/animation,f_gif'), { ...SPEC_SOURCE, durationMs: 60_000 })), 'OUTPUT_TOO_LARGE');
    assert.equal(code(() => planAnimation(parseAnimationParams('video/animation,f_gif,ss_10000'), SPEC_SOURCE)), 'INVALID_ARGUMENT');
  });
});
