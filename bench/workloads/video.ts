/**
 * Workload group: video → animated image (OSS `video/animation`), Halftone's adapter path against
 * the plain ffmpeg command line a user would write for the same result, same binary, same run.
 *
 * Input: a 10 s 1280×720 30 fps H.264 clip (ffmpeg testsrc2 with film-like noise, generated once
 * into the bench cache). Output: 320×180 at 10 samples per second played at 10 fps (100 frames).
 *
 * Candidate: probe → planAnimation → VideoTools.animate (src/adapters/video/ffmpeg.ts), i.e. what
 * a `video/animation,f_gif,w_320,inter_100` task does apart from the object store copy.
 * Baseline: `ffmpeg -i in.mp4 -vf "fps=10,scale=320:-1:flags=lanczos,split[a][b];[a]palettegen[p];
 * [b][p]paletteuse" -loop 0 out.gif` (GIF), and the same with libwebp_anim q75 for WebP.
 * The output bytes of both sides are logged; GIF sizes differ a little because Halftone's
 * paletteuse only re-codes the changed rectangle of each frame (diff_mode=rectangle).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createFfmpegTools, locateBinary } from '../../src/adapters/video/ffmpeg.js';
import { planAnimation } from '../../src/core/video/animation.js';
import { parseAnimationParams } from '../../src/dialects/oss/video.js';
import type { BenchContext, Contender, OpOutput, PreparedWorkload, Workload, WorkloadGroup } from '../lib/types.js';

const FFMPEG = locateBinary('ffmpeg', process.env['HALFTONE_FFMPEG_PATH'], process.env['PATH']).path;
const FFPROBE = locateBinary('ffprobe', process.env['HALFTONE_FFPROBE_PATH'], process.env['PATH']).path;

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} ${args.join(' ')}: ${err}`))));
  });
}

/** The 10 s 720p input, generated once into the cache. */
async function clip720p(ctx: BenchContext): Promise<string> {
  const file = join(ctx.cacheDir, 'video-1280x720-30fps-10s.v1.mp4');
  if (existsSync(file)) return file;
  await mkdir(ctx.cacheDir, { recursive: true });
  ctx.log(`  generating ${file}`);
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  await run(FFMPEG!, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=10',
    '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264', '-crf', '23', '-preset', 'medium', '-pix_fmt', 'yuv420p', tmp]);
  await rename(tmp, file);
  return file;
}

async function describeOutput(file: string, format: string): Promise<OpOutput> {
  const m = await sharp(file, { animated: true }).metadata();
  const bytes = statSync(file).size;
  await rm(file, { force: true });
  return { format, width: m.width, height: m.pageHeight ?? m.height, bytes };
}

function workload(id: string, title: string, format: 'gif' | 'webp'): Workload {
  const process = `video/animation,f_${format},w_320,inter_100`;
  const encoder = format === 'gif'
    ? { vf: 'fps=10,scale=320:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse', args: ['-loop', '0'] }
    : { vf: 'fps=10,scale=320:-1:flags=lanczos', args: ['-c:v', 'libwebp_anim', '-lossless', '0', '-quality', '75', '-compression_level', '4', '-loop', '0'] };
  return {
    id,
    title,
    input: '10 s 1280×720 30 fps H.264 (ffmpeg testsrc2 + noise, cached in .tmp/bench)',
    async setup(ctx): Promise<PreparedWorkload> {
      if (FFMPEG === undefined || FFPROBE === undefined) throw new Error('no ffmpeg/ffprobe: apt-get install ffmpeg, or npm ci (@ffmpeg-installer/ffmpeg)');
      const input = await clip720p(ctx);
      const dir = mkdtempSync(join(tmpdir(), 'halftone-bench-video-'));
      const tools = createFfmpegTools({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE, concurrency: 64 });
      let n = 0;
      const candidate: Contender = {
        label: 'halftone',
        code: `planAnimation(parseAnimationParams('${process}'), await tools.probe(in)) → tools.animate(...)`,
        async run() {
          const out = join(dir, `c${n++}.${format}`);
          const plan = planAnimation(parseAnimationParams(process), await tools.probe(input));
          await tools.animate({ input, output: out, plan });
          return describeOutput(out, format);
        },
      };
      const baseline: Contender = {
        label: 'plain ffmpeg',
        code: `ffmpeg -i in.mp4 -vf "${encoder.vf}" ${encoder.args.join(' ')} out.${format}`,
        async run() {
          const out = join(dir, `b${n++}.${format}`);
          await run(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', input, '-an', '-vf', encoder.vf, ...encoder.args, '-f', format, out]);
          return describeOutput(out, format);
        },
      };
      const a = await candidate.run();
      const b = await baseline.run();
      ctx.log(`    output bytes: halftone ${a.bytes}, plain ffmpeg ${b.bytes} (${((100 * a.bytes) / b.bytes).toFixed(0)} %)`);
      return {
        candidate, baseline, sizeTolerance: format === 'gif' ? 0.3 : 0.05,
        async dispose() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

export const videoAnimation: WorkloadGroup = {
  id: 'video',
  title: 'Video → animated image (video/animation vs plain ffmpeg)',
  workloads: [
    workload('video-gif-320', '10 s 720p H.264 → 320 px GIF, 10 fps (palette per clip)', 'gif'),
    workload('video-webp-320', '10 s 720p H.264 → 320 px animated WebP, 10 fps', 'webp'),
  ],
};
