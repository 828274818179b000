/**
 * The pure half of the ffmpeg adapter: argv for each recipe, probe JSON → VideoInfo (rotation,
 * frame rate, images refused), stderr → error code, binary lookup order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAnimateArgv, buildProbeArgv, frameFilters, locateBinary, parseProbe, probeFailure } from '../../src/adapters/video/ffmpeg.js';
import { planAnimation, type VideoInfo } from '../../src/core/video/animation.js';
import { parseAnimationParams } from '../../src/dialects/oss/video.js';
import { isAppError } from '../../src/core/errors.js';

const SRC: VideoInfo = { durationMs: 10_000, fps: 25, width: 1920, height: 1080, rotation: 0, codec: 'h264', container: 'mov,mp4' };
const plan = (p: string) => planAnimation(parseAnimationParams(p), SRC);

describe('ffmpeg argv', () => {
  it('probe', () => {
    assert.deepEqual(buildProbeArgv('/t/source'), ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '/t/source']);
  });
  it('example 1 (GIF, one pass): sampling, stretch, 100 cs per frame, palette per clip', () => {
    assert.deepEqual(buildAnimateArgv(plan('video/animation,f_gif,w_100,h_100,inter_1000'), '/t/in', '/t/out.gif', '/t/p.png'), [[
      '-hide_banner', '-nostdin', '-v', 'error', '-y', '-progress', 'pipe:1', '-nostats', '-i', '/t/in', '-an', '-sn', '-dn',
      '-filter_complex',
      '[0:v]fps=fps=1:start_time=0:round=up,trim=end_frame=10,scale=100:100:flags=lanczos,setsar=1,settb=1/100,setpts=N*100,split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a:diff_mode=rectangle[out]',
      '-map', '[out]', '-frames:v', '10', '-r', '100/100', '-loop', '0', '-f', 'gif', '/t/out.gif',
    ]]);
  });
  it('example 2 (WebP): keyframe seek to ss, 2 samples/s, 40 ms per frame, libwebp_anim', () => {
    const [argv] = buildAnimateArgv(plan('video/animation,ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500'), '/t/in', '/t/out.webp', '/t/p.png');
    assert.deepEqual(argv!.slice(8, 14), ['-noaccurate_seek', '-ss', '5.000', '-i', '/t/in', '-an']);
    assert.equal(argv![argv!.indexOf('-vf') + 1], 'fps=fps=2:start_time=0:round=up,trim=end_frame=10,scale=480:270:flags=lanczos,setsar=1,settb=1/1000,setpts=N*40');
    assert.deepEqual(argv!.slice(argv!.indexOf('-frames:v')), ['-frames:v', '10', '-r', '1000/40', '-c:v', 'libwebp_anim', '-lossless', '0', '-quality', '75', '-compression_level', '4', '-loop', '0', '-f', 'webp', '/t/out.webp']);
  });
  it('crop and fill add their crop / pad with the planned offsets', () => {
    assert.match(frameFilters(plan('video/animation,f_gif,w_400,h_400,scaletype_crop,inter_1000')), /scale=711:400:flags=lanczos,crop=400:400:155:0,/);
    assert.match(frameFilters(plan('video/animation,f_gif,w_400,h_400,scaletype_fill,inter_1000')), /scale=400:225:flags=lanczos,pad=400:400:0:87:black,/);
    assert.doesNotMatch(frameFilters(plan('video/animation,f_gif,w_400,h_400,scaletype_fit,inter_1000')), /crop|pad/);
  });
  it('large GIFs take two passes (palette, then encode) instead of buffering every frame', () => {
    const runs = buildAnimateArgv(plan('video/animation,f_gif,inter_10'), '/t/in', '/t/out.gif', '/t/p.png');
    assert.equal(runs.length, 2);
    assert.ok(runs[0]!.includes('/t/p.png') && runs[0]!.join(' ').includes('palettegen') && !runs[0]!.includes('-progress'));
    assert.ok(runs[1]!.includes('-progress') && runs[1]!.join(' ').includes('[x][1:v]paletteuse'));
  });
});

describe('probe parsing', () => {
  const probe = (streams: unknown[], format: Record<string, unknown> = { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '5.000000' }) => JSON.stringify({ streams, format });
  const codeOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(isAppError(e));
      return e.code;
    }
    return 'none';
  };
  it('display matrix -90 (iPhone portrait): upright 480×854, rotation 90', () => {
    const info = parseProbe(probe([{ codec_type: 'video', codec_name: 'hevc', width: 854, height: 480, r_frame_rate: '24/1', avg_frame_rate: '24/1', duration: '5.000000', side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }]));
    assert.deepEqual(info, { durationMs: 5000, fps: 24, width: 480, height: 854, rotation: 90, codec: 'hevc', container: 'mov,mp4,m4a,3gp,3g2,mj2' });
  });
  it('rotate tag, container duration, r_frame_rate fallback, cover art skipped', () => {
    const info = parseProbe(probe([
      { codec_type: 'video', codec_name: 'mjpeg', width: 300, height: 300, disposition: { attached_pic: 1 } },
      { codec_type: 'video', codec_name: 'h264', width: 640, height: 360, r_frame_rate: '30000/1001', avg_frame_rate: '0/0', tags: { rotate: '180' } },
    ], { format_name: 'matroska,webm', duration: '6.010000' }));
    assert.deepEqual([info.width, info.height, info.rotation, info.durationMs, info.fps.toFixed(3)], [640, 360, 180, 6010, '29.970']);
  });
  it('images and audio-only files are not videos; no duration is corrupt', () => {
    assert.equal(codeOf(() => parseProbe(probe([{ codec_type: 'video', codec_name: 'mjpeg', width: 400, height: 267, r_frame_rate: '25/1' }], { format_name: 'image2', duration: '0.04' }))), 'NOT_A_VIDEO');
    assert.equal(codeOf(() => parseProbe(probe([{ codec_type: 'video', codec_name: 'png', width: 4, height: 4 }], { format_name: 'png_pipe' }))), 'NOT_A_VIDEO');
    assert.equal(codeOf(() => parseProbe(probe([{ codec_type: 'audio', codec_name: 'aac' }]))), 'NOT_A_VIDEO');
    assert.equal(codeOf(() => parseProbe(probe([{ codec_type: 'video', codec_name: 'h264', width: 4, height: 4, r_frame_rate: '25/1' }], { format_name: 'mpegts' }))), 'CORRUPT_VIDEO');
    assert.equal(codeOf(() => parseProbe('not json')), 'CORRUPT_VIDEO');
  });
  it('ffprobe failures: missing moov = corrupt, unknown data = not a video', () => {
    assert.equal(probeFailure('[mov,mp4 @ 0x1] moov atom not found\n/t/source: Invalid data found when processing input\n').code, 'CORRUPT_VIDEO');
    assert.equal(probeFailure('/t/source: Invalid data found when processing input\n').code, 'NOT_A_VIDEO');
  });
});

describe('binary lookup', () => {
  it('an explicit path wins; an empty PATH falls back to the npm package', () => {
    assert.deepEqual(locateBinary('ffmpeg', '/opt/ff/ffmpeg', '/usr/bin'), { path: '/opt/ff/ffmpeg', source: 'config' });
    const npm = locateBinary('ffprobe', undefined, '');
    assert.equal(npm.source, 'npm');
    assert.match(npm.path ?? '', /@ffprobe-installer/);
  });
});
