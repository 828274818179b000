/**
 * VideoTools over ffmpeg/ffprobe child processes.
 *
 * Binaries: an explicit path (HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH), else `ffmpeg` /
 * `ffprobe` on PATH, else the static builds shipped inside the npm packages
 * `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe` (so `npm ci` alone is enough).
 *
 * argv is built by pure functions (unit-tested); processes run with an AbortSignal, a time limit
 * and a bounded number running at once. Output goes to the caller's temp path.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { AppError } from '../../core/errors.js';
import type { AnimationPlan, VideoInfo } from '../../core/video/animation.js';
import type { AnimateRequest, AnimateResult, VideoTools } from '../../ports/video-tools.js';

export interface FfmpegOptions {
  /** Explicit binaries; undefined = PATH, then the npm packages. */
  readonly ffmpegPath?: string | undefined;
  readonly ffprobePath?: string | undefined;
  /** Time limit of one ffmpeg/ffprobe process (default 10 minutes). */
  readonly timeoutMs?: number;
  /** Most processes at once (default 1). */
  readonly concurrency?: number;
  /** Frames buffered in memory by the one-pass GIF recipe before it switches to two passes. */
  readonly onePassGifBytes?: number;
  /** Environment PATH to search (tests). */
  readonly pathEnv?: string | undefined;
}

// ---------------------------------------------------------------------------- locating binaries

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** First `name` on a PATH string, if any. */
export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    if (executable(p)) return p;
  }
  return undefined;
}

function fromPackage(pkg: string): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const p = (req(pkg) as { path?: string }).path;
    return p !== undefined && executable(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

export interface LocatedBinary {
  readonly path: string | undefined;
  readonly source: 'config' | 'PATH' | 'npm' | 'none';
}

/** Resolves one binary: configured path, PATH, npm package. */
export function locateBinary(name: 'ffmpeg' | 'ffprobe', configured: string | undefined, pathEnv: string | undefined): LocatedBinary {
  if (configured !== undefined && configured !== '') return { path: configured, source: 'config' };
  const onPath = findOnPath(name, pathEnv);
  if (onPath !== undefined) return { path: onPath, source: 'PATH' };
  const pkg = fromPackage(name === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe');
  if (pkg !== undefined) return { path: pkg, source: 'npm' };
  return { path: undefined, source: 'none' };
}

// ---------------------------------------------------------------------------- pure argv + parsing

/** ffprobe argv for one file. */
export function buildProbeArgv(input: string): string[] {
  return ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', input];
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  disposition?: { attached_pic?: number };
}

const IMAGE_FORMATS = /(^|,)(image2|[a-z0-9]+_pipe|gif|apng|ico|webp|svg)(,|$)/;

function rate(s: string | undefined): number | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(s ?? '');
  if (m === null || Number(m[2]) === 0 || Number(m[1]) === 0) return undefined;
  return Number(m[1]) / Number(m[2]);
}

/** Turns ffprobe's JSON into VideoInfo, or throws NOT_A_VIDEO / CORRUPT_VIDEO. Pure. */
export function parseProbe(json: string): VideoInfo {
  let doc: { streams?: ProbeStream[]; format?: { format_name?: string; duration?: string } };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    throw new AppError('CORRUPT_VIDEO', 'The video could not be probed (unreadable probe output).');
  }
  const container = doc.format?.format_name ?? '';
  if (IMAGE_FORMATS.test(container)) {
    const codec = doc.streams?.find((s) => s.codec_type === 'video')?.codec_name;
    const kind = container === 'image2' && codec !== undefined ? codec.replace(/^mjpeg$/, 'jpeg') : container.replace(/_pipe$/, '');
    throw new AppError('NOT_A_VIDEO', `The source is an image (${kind}), not a video.`, { details: { container } });
  }
  const v = (doc.streams ?? []).find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  if (v === undefined || !(Number(v.width) > 0) || !(Number(v.height) > 0)) {
    throw new AppError('NOT_A_VIDEO', 'The source has no video stream.', { details: { container } });
  }
  const durationS = Number(v.duration ?? doc.format?.duration);
  if (!Number.isFinite(durationS) || durationS <= 0) {
    throw new AppError('CORRUPT_VIDEO', 'The video declares no duration (a live stream or a broken container).');
  }
  const avg = rate(v.avg_frame_rate);
  const fps = avg !== undefined && avg <= 1000 ? avg : rate(v.r_frame_rate);
  if (fps === undefined || fps > 1000) throw new AppError('CORRUPT_VIDEO', 'The video declares no usable frame rate.');
  // ffprobe reports the display matrix counter-clockwise (-90 = turn 90° clockwise to show).
  const matrix = v.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const tag = v.tags?.['rotate'];
  const cw = matrix !== undefined ? -matrix : tag !== undefined ? Number(tag) : 0;
  const rotation = ((Math.round((Number.isFinite(cw) ? cw : 0) / 90) * 90) % 360 + 360) % 360;
  const swap = rotation === 90 || rotation === 270;
  return {
    durationMs: durationS * 1000, fps,
    width: swap ? v.height! : v.width!, height: swap ? v.width! : v.height!,
    rotation, codec: v.codec_name ?? 'unknown', container,
  };
}

/** Frame filters shared by every recipe: sampling, count, geometry, per-frame delay. */
export function frameFilters(plan: AnimationPlan): string {
  const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(6));
  const f: string[] = [
    // Sample t_k = ss + k·I: the frame shown at each instant (round=up picks the preceding frame).
    `fps=fps=${fmt(1000 / plan.intervalMs)}:start_time=0:round=up`,
    `trim=end_frame=${plan.frames}`,
    `scale=${plan.scaled.width}:${plan.scaled.height}:flags=lanczos`,
  ];
  const { output: o, offset } = plan;
  if (plan.scaletype === 'crop') f.push(`crop=${o.width}:${o.height}:${offset.x}:${offset.y}`);
  if (plan.scaletype === 'fill') f.push(`pad=${o.width}:${o.height}:${offset.x}:${offset.y}:black`);
  // Playback is separate from sampling: frame n is shown at n·delay in the format's time unit.
  f.push('setsar=1', `settb=1/${plan.delayUnitsPerSecond}`, `setpts=N*${plan.delay}`);
  return f.join(',');
}

/** Input options: fast seek to the keyframe before ss; frames before ss keep negative times. */
function inputArgs(plan: AnimationPlan, input: string): string[] {
  const seek = plan.startMs > 0 ? ['-noaccurate_seek', '-ss', (plan.startMs / 1000).toFixed(3)] : [];
  return [...seek, '-i', input, '-an', '-sn', '-dn'];
}

function outputArgs(plan: AnimationPlan): string[] {
  return ['-frames:v', String(plan.frames), '-r', `${plan.delayUnitsPerSecond}/${plan.delay}`];
}

const GIF_PALETTE = 'palettegen=stats_mode=full';
const GIF_USE = 'paletteuse=dither=sierra2_4a:diff_mode=rectangle';

/**
 * The ffmpeg runs of a plan (pure). GIF: one pass with a palette per clip when the sampled frames
 * fit in `onePassGifBytes` (palettegen must see every frame before paletteuse can start), else a
 * palette pass and an encode pass. WebP: libwebp_anim, lossy q75, looping forever.
 */
export function buildAnimateArgv(plan: AnimationPlan, input: string, output: string, palette: string, onePassGifBytes = 256 * 1024 * 1024): string[][] {
  const common = ['-hide_banner', '-nostdin', '-v', 'error', '-y'];
  const progress = ['-progress', 'pipe:1', '-nostats'];
  const frames = frameFilters(plan);
  if (plan.format === 'webp') {
    return [[...common, ...progress, ...inputArgs(plan, input), '-vf', frames, ...outputArgs(plan),
      '-c:v', 'libwebp_anim', '-lossless', '0', '-quality', '75', '-compression_level', '4', '-loop', '0', '-f', 'webp', output]];
  }
  const buffered = plan.frames * plan.output.width * plan.output.height * 4;
  if (buffered <= onePassGifBytes) {
    return [[...common, ...progress, ...inputArgs(plan, input),
      '-filter_complex', `[0:v]${frames},split[a][b];[a]${GIF_PALETTE}[p];[b][p]${GIF_USE}[out]`, '-map', '[out]',
      ...outputArgs(plan), '-loop', '0', '-f', 'gif', output]];
  }
  return [
    [...common, ...inputArgs(plan, input), '-vf', `${frames},${GIF_PALETTE}`, '-frames:v', '1', '-update', '1', '-f', 'image2', palette],
    [...common, ...progress, ...inputArgs(plan, input), '-i', palette,
      '-filter_complex', `[0:v]${frames}[x];[x][1:v]${GIF_USE}[out]`, '-map', '[out]',
      ...outputArgs(plan), '-loop', '0', '-f', 'gif', output],
  ];
}

// ---------------------------------------------------------------------------- process runner

function semaphore(limit: number): <T>(fn: () => Promise<T>, signal?: AbortSignal) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn, signal) => {
    if (running >= limit) {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = waiting.indexOf(go);
          if (i >= 0) waiting.splice(i, 1);
          reject(signal?.reason instanceof Error ? signal.reason : new AppError('TIMEOUT', 'The video job was aborted.'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(go);
      });
    }
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one process; kills it (SIGKILL) on abort or after `timeoutMs`. */
function runProcess(bin: string, argv: readonly string[], opts: { signal?: AbortSignal | undefined; timeoutMs: number; onLine?: (line: string) => void; keepStdout: boolean }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let killedFor: 'timeout' | 'abort' | undefined;
    const kill = (why: 'timeout' | 'abort') => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    const onAbort = () => kill('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (opts.keepStdout && stdout.length < 4 * 1024 * 1024) stdout += d;
      if (opts.onLine === undefined) return;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    });
    // Keep the tail of stderr: the last lines say what went wrong.
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-16 * 1024);
    });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(err.code === 'ENOENT' || err.code === 'EACCES'
        ? new AppError('VIDEO_TOOLS_UNAVAILABLE', `${bin} cannot be run (${err.code}); install ffmpeg or set HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH.`, { cause: err })
        : err);
    });
    child.once('close', (code) => {
      done();
      if (killedFor === 'timeout') return reject(new AppError('TIMEOUT', `Video processing took longer than ${Math.round(opts.timeoutMs / 1000)} s.`));
      if (killedFor === 'abort') return reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new AppError('TIMEOUT', 'The video job was aborted.'));
      resolve({ code, stdout, stderr });
    });
  });
}

/** Maps a failed ffprobe run to a coded error. */
export function probeFailure(stderr: string): AppError {
  const line = stderr.trim().split('\n').filter((l) => l !== '').pop() ?? '';
  if (/moov atom not found|truncat|EBML|End of file|partial file|Invalid NAL/i.test(stderr)) {
    return new AppError('CORRUPT_VIDEO', 'The video cannot be read: it is truncated or corrupt.', { cause: new Error(stderr) });
  }
  if (/Invalid data found when processing input/.test(line)) {
    return new AppError('NOT_A_VIDEO', 'The source is not a video in a format this server can read.', { cause: new Error(stderr) });
  }
  return new AppError('CORRUPT_VIDEO', 'The video cannot be read.', { cause: new Error(stderr) });
}

/** Creates the adapter. */
export function createFfmpegTools(options: FfmpegOptions = {}): VideoTools {
  const pathEnv = options.pathEnv ?? process.env['PATH'];
  const ffmpeg = locateBinary('ffmpeg', options.ffmpegPath, pathEnv);
  const ffprobe = locateBinary('ffprobe', options.ffprobePath, pathEnv);
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const limit = semaphore(Math.max(1, options.concurrency ?? 1));
  const unavailable = (name: string) => new AppError('VIDEO_TOOLS_UNAVAILABLE', `No ${name} found: install ffmpeg (apt-get install ffmpeg), run npm ci (bundled binaries), or set HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH.`);

  return {
    available: () => ffmpeg.path !== undefined && ffprobe.path !== undefined,
    describe() {
      const d = (n: string, b: LocatedBinary) => (b.path === undefined ? `${n}: not found` : `${n}: ${b.path} (${b.source})`);
      return `${d('ffmpeg', ffmpeg)}; ${d('ffprobe', ffprobe)}`;
    },

    async probe(input, signal) {
      if (ffprobe.path === undefined) throw unavailable('ffprobe');
      let size = 0;
      try {
        size = statSync(input).size;
      } catch {
        size = 0;
      }
      if (size === 0) throw new AppError('NOT_A_VIDEO', 'The source is empty (0 bytes).');
      const bin = ffprobe.path;
      const res = await limit(() => runProcess(bin, buildProbeArgv(input), { signal, timeoutMs: Math.min(timeoutMs, 60_000), keepStdout: true }), signal);
      if (res.code !== 0) throw probeFailure(res.stderr);
      return parseProbe(res.stdout);
    },

    async animate(req: AnimateRequest): Promise<AnimateResult> {
      if (ffmpeg.path === undefined) throw unavailable('ffmpeg');
      const bin = ffmpeg.path;
      const runs = buildAnimateArgv(req.plan, req.input, req.output, `${req.output}.palette.png`, options.onePassGifBytes);
      return limit(async () => {
        let frames = 0;
        for (const argv of runs) {
          frames = 0;
          const res = await runProcess(bin, argv, {
            signal: req.signal, timeoutMs, keepStdout: false,
            onLine: (l) => {
              const m = /^frame=(\d+)/.exec(l);
              if (m !== null) {
                frames = Number(m[1]);
                req.onFrames?.(frames);
              }
            },
          });
          // Decoding errors with missing frames: the stream breaks off (truncated or corrupt data).
          if (res.code === 0 && argv.includes('-progress') && frames < req.plan.frames && /error|invalid|corrupt|truncat/i.test(res.stderr)) {
            throw new AppError('CORRUPT_VIDEO', `The video stream breaks off after ${frames} of ${req.plan.frames} frames (truncated or corrupt).`, { cause: new Error(res.stderr) });
          }
          if (res.code !== 0) {
            const msg = res.stderr.trim().split('\n').pop() ?? '';
            if (/Unknown encoder|Encoder not found|No such filter/i.test(res.stderr)) {
              throw new AppError('VIDEO_TOOLS_UNAVAILABLE', `${bin} lacks what ${req.plan.format} output needs (${msg}); install a full ffmpeg build.`, { cause: new Error(res.stderr) });
            }
            throw new AppError('CORRUPT_VIDEO', 'The video could not be decoded (truncated or corrupt).', { cause: new Error(res.stderr) });
          }
        }
        if (frames === 0) throw new AppError('CORRUPT_VIDEO', 'No frame could be decoded from the video (truncated or corrupt).');
        return { frames };
      }, req.signal);
    },
  };
}
