/**
 * Shared helpers of the video tests: which ffmpeg to use (system, else the npm static build),
 * small generated clips, the corpus folder, and decoding results with sharp.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { locateBinary } from '../../src/adapters/video/ffmpeg.js';

const root = new URL('../..', import.meta.url).pathname;
export const CORPUS_VIDEO = resolve(root, '..', 'shared', 'corpus', 'video');
export const hasCorpus = existsSync(CORPUS_VIDEO);

export const FFMPEG = locateBinary('ffmpeg', undefined, process.env['PATH']).path;
export const FFPROBE = locateBinary('ffprobe', undefined, process.env['PATH']).path;
/** Why the ffmpeg tests skip, or false when they run. */
export const noFfmpeg: string | false = FFMPEG === undefined || FFPROBE === undefined
  ? 'no ffmpeg/ffprobe: install ffmpeg (apt-get install ffmpeg) or run npm ci (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe)'
  : false;

export function tempDir(prefix = 'halftone-video-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs ffmpeg with `args` (quiet); throws with its stderr on failure. */
export function ffmpeg(args: string[]): void {
  const r = spawnSync(FFMPEG!, ['-hide_banner', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

/**
 * A 10 s, 25 fps clip of `width`×`height` (16:9 in the tests, like the spec's 1920×1080 source):
 * a moving testsrc2 pattern in grey with a solid red band on the left and blue on the right (40/320 of the
 * width each), so crop/fill/stretch geometry can be read off the edge columns.
 */
export function specClip(dir: string, width = 320, height = 180, seconds = 10): string {
  const band = Math.round(width / 8);
  const out = join(dir, `spec-${width}x${height}.mp4`);
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${width - 2 * band}x${height}:rate=25:duration=${seconds}`,
    '-vf', `hue=s=0,pad=${width}:${height}:${band}:0:red,drawbox=x=${width - band}:y=0:w=${band}:h=${height}:c=blue:t=fill`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', out]);
  return out;
}

export interface Decoded {
  readonly pages: number;
  readonly delay: number[];
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly loop: number | undefined;
}

/** Frame count, per-frame delays (ms) and size of an animated GIF/WebP, decoded by sharp. */
export async function decode(buf: Buffer | string): Promise<Decoded> {
  const m = await sharp(buf, { animated: true }).metadata();
  return { pages: m.pages ?? 1, delay: m.delay ?? [], width: m.width, height: m.pageHeight ?? m.height, format: m.format, loop: m.loop };
}

/** Mean RGB of a rectangle of the first frame. */
export async function meanRgb(buf: Buffer | string, left: number, top: number, width: number, height: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(buf).removeAlpha().extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sum[c]! += data[i + c]!;
  const n = data.length / info.channels;
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}
