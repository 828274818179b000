/**
 * `halftone animate`: a video file → animated GIF or WebP, with the parameters and semantics of
 * OSS `video/animation` (the same parser, plan and ffmpeg recipe as the server's async tasks).
 */
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { AppError } from '../core/errors.js';
import { planAnimation, DEFAULT_ANIMATION_LIMITS } from '../core/video/animation.js';
import { parseAnimationParams } from '../dialects/oss/video.js';
import { load } from '../config/schema.js';

interface AnimateOptions {
  format?: string;
  ss?: string;
  num?: string;
  inter?: string;
  fps?: string;
  w?: string;
  h?: string;
  pw?: string;
  ph?: string;
  scaletype?: string;
  progress: boolean;
}

const PARAMS = ['ss', 'num', 'inter', 'fps', 'w', 'h', 'pw', 'ph', 'scaletype'] as const;

function token(v: string): string {
  // Values become part of a processing string: only plain numbers and words.
  if (!/^[a-z0-9.]+$/i.test(v)) throw new InvalidArgumentError('expected a number or a word');
  return v;
}

/** The `video/animation,...` string the options stand for. */
export function processFromOptions(opts: AnimateOptions, output: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(output)?.[1]?.toLowerCase();
  const format = opts.format ?? (ext === 'gif' || ext === 'webp' ? ext : undefined);
  if (format === undefined) throw new AppError('INVALID_ARGUMENT', 'Give --format gif|webp or an output file ending in .gif or .webp.');
  const parts = [`video/animation`, `f_${format}`];
  for (const k of PARAMS) if (opts[k] !== undefined) parts.push(`${k}_${opts[k]}`);
  return parts.join(',');
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? 0 : Math.round((width * Math.min(done, total)) / total);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round((100 * Math.min(done, total)) / Math.max(1, total))).padStart(3)}% ${done}/${total} frames`;
}

export function registerAnimate(program: Command): void {
  program
    .command('animate')
    .description('Turn a video into an animated GIF or WebP (OSS video/animation parameters; needs ffmpeg).')
    .option('--format <format>', 'gif|webp (default: from the output file extension)', token)
    .option('--ss <ms>', 'start offset in milliseconds (default 0)', token)
    .option('--num <n>', 'most frames (default: until the end of the video)', token)
    .option('--inter <ms>', 'sampling interval in milliseconds (default: every source frame; never below the source frame interval)', token)
    .option('--fps <rate>', 'playback frame rate, (0, 240] (default 1000 / interval: real time)', token)
    .option('--w <px>', 'output width, 32-4096 (default: source width, or from --h keeping the aspect ratio)', token)
    .option('--h <px>', 'output height, 32-4096', token)
    .option('--pw <percent>', 'output width in percent of the source, 1-100', token)
    .option('--ph <percent>', 'output height in percent of the source, 1-100', token)
    .option('--scaletype <type>', 'crop|stretch|fill|fit into the w×h box (default stretch)', token)
    .option('--no-progress', 'do not draw the progress bar')
    .argument('<in>', 'input video file (any format ffmpeg reads: MP4, MOV, WebM, MKV, …)')
    .argument('<out>', 'output .gif or .webp file (written atomically)')
    .addHelpText('after', [
      '',
      'Examples:',
      '  halftone animate --fps 10 --inter 500 --w 320 in.mp4 out.gif',
      '  halftone animate --ss 5000 --inter 500 --fps 25 --pw 25 --ph 25 in.mp4 timelapse.webp',
      '  halftone animate --w 400 --h 400 --scaletype crop --inter 1000 in.mov square.gif',
      '',
      '--inter picks which frames are taken (one every N ms of video); --fps sets how fast they play.',
      'ffmpeg: HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH, else ffmpeg on PATH, else the npm build.',
      'See docs/video.md.',
    ].join('\n'))
    .action(async (input: string, output: string, opts: AnimateOptions) => {
      const params = parseAnimationParams(processFromOptions(opts, output));
      const loaded = load(process.env);
      if (!loaded.ok) throw new AppError('INVALID_ARGUMENT', `Invalid configuration: ${loaded.errors.join('; ')}`);
      const cfg = loaded.config;
      // The composition root builds the ffmpeg adapter (the CLI never imports adapters itself).
      const { createVideoTools } = await import('../compose-shared.js');
      const tools = createVideoTools(cfg);
      if (!tools.available()) throw new AppError('VIDEO_TOOLS_UNAVAILABLE', `No ffmpeg/ffprobe available (${tools.describe()}).`);
      const info = await tools.probe(input);
      const plan = planAnimation(params, info, { ...DEFAULT_ANIMATION_LIMITS, maxDurationMs: cfg.videoMaxDurationS * 1000, maxFrames: cfg.videoMaxFrames });
      const tty = opts.progress && process.stderr.isTTY === true;
      const tmp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
      const ac = new AbortController();
      const onSigint = () => ac.abort(new AppError('TIMEOUT', 'Interrupted.'));
      process.once('SIGINT', onSigint);
      try {
        if (tty) process.stderr.write(bar(0, plan.frames));
        const res = await tools.animate({
          input, output: tmp, plan, signal: ac.signal,
          onFrames: tty ? (n) => process.stderr.write(`\r${bar(n, plan.frames)}`) : undefined,
        });
        await rename(tmp, output);
        if (tty) process.stderr.write('\n');
        const unit = plan.format === 'gif' ? 'cs' : 'ms';
        process.stderr.write(`${output}: ${plan.format} ${plan.output.width}x${plan.output.height}, ${res.frames} frames every ${Math.round(plan.intervalMs)} ms of video, ${plan.delay} ${unit} each\n`);
      } finally {
        process.off('SIGINT', onSigint);
        await rm(tmp, { force: true });
        await rm(`${tmp}.palette.png`, { force: true });
      }
    });
}
