/**
 * Quality-mode compression (the task API without `kbyte`): one decode, optional resize, one
 * encode of JPEG, WebP, AVIF or PNG.
 *
 * - JPEG/WebP/AVIF: the given quality (default 80).
 * - PNG: lossless (zlib level 9, adaptive filtering) when no quality or 100 is given; otherwise a
 *   libimagequant palette at that quality (pngquant-style).
 * - "Never larger than the input": when the output has the source's format, no resize was asked,
 *   the source needs no EXIF rotation and the encode came out larger, the source bytes are
 *   returned unchanged (`kept: true`).
 */
import { invalidParam } from '../errors.js';
import { probe } from '../codecs/probe.js';
import { sniffFormat } from '../codecs/sniff.js';
import { checkOutputLimits, checkSourceLimits, DEFAULT_LIMITS, type Limits } from '../pipeline/limits.js';
import { decodeForOutput, fromRaw, type TargetFormat } from './target-size.js';
import { fitThreadsToLoad } from '../pipeline/engine-settings.js';

export interface RecompressOptions {
  readonly format: TargetFormat;
  /** 1–100; default 80 for JPEG/WebP/AVIF, lossless for PNG. */
  readonly quality?: number;
  readonly width?: number;
  readonly height?: number;
  readonly limits?: Limits;
}

export interface RecompressResult {
  readonly data: Buffer;
  readonly format: TargetFormat;
  readonly width: number;
  readonly height: number;
  /** True when the source bytes were smaller and were returned as they are. */
  readonly kept: boolean;
}

export const DEFAULT_QUALITY = 80;

export async function recompress(input: Buffer, opts: RecompressOptions): Promise<RecompressResult> {
  fitThreadsToLoad();
  const q = opts.quality;
  if (q !== undefined && (!Number.isInteger(q) || q < 1 || q > 100)) throw invalidParam('quality', 'integer between 1 and 100', q);
  const info = await probe(input);
  checkSourceLimits(info, { ops: [], output: {} }, opts.limits ?? DEFAULT_LIMITS, 1);
  const raw = await decodeForOutput(input, info, opts, opts.format);
  checkOutputLimits(opts.format, raw.width, raw.height);
  const img = fromRaw(raw);
  let data: Buffer;
  switch (opts.format) {
    case 'jpeg':
      data = await img.jpeg({ quality: q ?? DEFAULT_QUALITY, mozjpeg: true }).toBuffer();
      break;
    case 'webp':
      data = await img.webp({ quality: q ?? DEFAULT_QUALITY, effort: 4 }).toBuffer();
      break;
    case 'avif':
      data = await img.avif({ quality: q ?? DEFAULT_QUALITY, effort: 4 }).toBuffer();
      break;
    case 'png':
      data = q === undefined || q === 100
        ? await img.png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer()
        : await img.png({ palette: true, colours: 256, quality: q, effort: 7, dither: 1, compressionLevel: 9 }).toBuffer();
      break;
  }
  const sameFormat = sniffFormat(input) === opts.format;
  const untouched = opts.width === undefined && opts.height === undefined && info.orientation === 1;
  if (sameFormat && untouched && data.length >= input.length) return { data: input, format: opts.format, width: raw.width, height: raw.height, kept: true };
  return { data, format: opts.format, width: raw.width, height: raw.height, kept: false };
}
