/**
 * Target-size compression ("kbyte"): the best image of one format that is not larger than a byte
 * budget.
 *
 * The source is probed and its limits checked from the header, then decoded, auto-oriented and
 * resized ONCE to raw 8-bit pixels; every trial encode starts from those raw pixels, so a search
 * costs encodes only.
 *
 * - JPEG, WebP, AVIF: a search over integer qualities [minQuality, 100]. Bytes grow roughly
 *   exponentially with quality, so the next trial is a secant step on ln(bytes) versus quality
 *   (bracketed once one trial fits and one does not, bisection when the secant repeats itself),
 *   aiming at 97.5 % of the target and stopping as soon as a trial lands in [95 %, 100 %].
 * - PNG: lossless first (if it fits it is the best answer); otherwise palette quantisation
 *   (libimagequant through sharp) searched over the quantiser quality [0, 100], then the
 *   dithering level, then fewer palette levels (256/16/4/2 colours) — see searchPalette.
 * - When even the lowest setting is above the target, the raw pixels are downscaled by
 *   sqrt(target / bytes) (a little less, at most 0.9 per step, a few steps) and searched again.
 *
 * Invariant: the returned data is never larger than `targetBytes`. "Within 5 % below" is a goal
 * only where it is reachable: quality 100 (or lossless PNG) may already be well under the target,
 * and integer quality steps can jump over the [95 %, 100 %] window (then the largest fitting
 * trial is kept).
 *
 * Targets: an integer number of bytes ≥ 1 (else INVALID_ARGUMENT). A target that a 1×1 image at
 * the lowest setting still exceeds (container overhead: ~100 bytes for PNG, a few hundred for
 * JPEG and AVIF) answers TARGET_SIZE_UNREACHABLE rather than an oversized result.
 */
import sharp, { type Sharp } from 'sharp';
import { AppError, invalidParam } from '../errors.js';
import { probe } from '../codecs/probe.js';
import { toSharpInput } from '../codecs/decode.js';
import { checkSourceLimits, checkOutputLimits, DEFAULT_LIMITS, type Limits } from '../pipeline/limits.js';

export type TargetFormat = 'jpeg' | 'webp' | 'avif' | 'png';

export interface CompressToTargetOptions {
  readonly format: TargetFormat;
  /** Largest acceptable output, in bytes (integer ≥ 1). */
  readonly targetBytes: number;
  /** Output width; with only one of width/height the other follows the aspect ratio; both: exact. */
  readonly width?: number;
  readonly height?: number;
  /** Lowest quality tried before downscaling (JPEG/WebP/AVIF; default 30). */
  readonly minQuality?: number;
  readonly limits?: Limits;
}

export interface CompressToTargetResult {
  readonly data: Buffer;
  readonly format: TargetFormat;
  readonly width: number;
  readonly height: number;
  /** Encoder quality of the result (JPEG/WebP/AVIF), or the quantiser quality of a palette PNG. */
  readonly quality?: number;
  /** Palette size of a quantised PNG result (absent for lossless PNG and the lossy formats). */
  readonly colours?: number;
  /** Dithering level (0–1) of a quantised PNG result. */
  readonly dither?: number;
  /** The `colours` option a quantised PNG result was encoded with (256, 16, 4 or 2: a bit depth). */
  readonly paletteLevel?: number;
  /** How many trial encodes the search made (the result is one of them). */
  readonly encodes: number;
  /** True when the image had to be downscaled below the requested/source size to fit. */
  readonly scaled: boolean;
}

export const DEFAULT_MIN_QUALITY = 30;
/** Sizes above this are aimed at; a trial in [LOW_RATIO × target, target] ends the search. */
const LOW_RATIO = 0.95;
const AIM_RATIO = 0.975;
const MAX_SIDE = 16383;
const MAX_DOWNSCALES = 6;
/** Trial budget of one search at one size. */
const SEARCH_BUDGET = 7;

export interface Raw {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

function checkDimension(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw invalidParam(name, `integer between 1 and ${MAX_SIDE}`, v);
}

export async function compressToTarget(input: Buffer, opts: CompressToTargetOptions): Promise<CompressToTargetResult> {
  const { format, targetBytes } = opts;
  if (!['jpeg', 'webp', 'avif', 'png'].includes(format)) throw invalidParam('format', 'one of jpeg, webp, avif, png', format);
  if (!Number.isInteger(targetBytes) || targetBytes < 1) throw invalidParam('target size', 'a positive integer number of bytes', targetBytes);
  checkDimension('width', opts.width);
  checkDimension('height', opts.height);
  const minQuality = opts.minQuality ?? DEFAULT_MIN_QUALITY;
  if (!Number.isInteger(minQuality) || minQuality < 1 || minQuality > 100) throw invalidParam('minQuality', 'integer between 1 and 100', minQuality);

  const info = await probe(input);
  checkSourceLimits(info, { ops: [], output: {} }, opts.limits ?? DEFAULT_LIMITS, 1);
  const base = await decodeForOutput(input, info, opts, format);
  checkOutputLimits(format, base.width, base.height);

  let encodes = 0;
  let raw = base;
  for (let step = 0; ; step++) {
    const trial = async (param: number): Promise<Buffer> => {
      encodes++;
      return encode(raw, format, param);
    };
    let found: { param: number; data: Buffer } | { tooBig: number };
    if (format === 'png') {
      if (step === 0) {
        // Lossless first: when it fits, nothing quantised beats it.
        encodes++;
        const lossless = await encodePng(raw, undefined);
        if (lossless.length <= targetBytes) return done(format, lossless, raw, undefined, undefined, encodes, false);
      }
      const png = await searchPalette(raw, targetBytes, step === 0, () => encodes++);
      if ('data' in png) return { ...done(format, png.data, raw, png.quality, paletteSize(png.data), encodes, step > 0), dither: png.dither, paletteLevel: png.colours };
      found = png;
    } else {
      const start = step > 0 ? minQuality : format === 'avif' ? 60 : 80;
      found = await search(minQuality, 100, start, trial, targetBytes, 0.03);
    }
    if ('data' in found) {
      const p = found.param;
      return format === 'png' ? done(format, found.data, raw, p, paletteSize(found.data), encodes, step > 0) : done(format, found.data, raw, p, undefined, encodes, step > 0);
    }
    // Even the lowest setting is too big at this size: shrink by about sqrt of the byte ratio.
    if ((raw.width === 1 && raw.height === 1) || step >= MAX_DOWNSCALES) {
      throw new AppError('TARGET_SIZE_UNREACHABLE', `A ${format} image cannot be made as small as ${targetBytes} bytes (the smallest reached was ${found.tooBig} bytes).`, {
        details: { targetBytes, smallest: found.tooBig },
      });
    }
    const factor = Math.min(0.9, Math.sqrt((AIM_RATIO * targetBytes) / found.tooBig));
    raw = await downscale(base, Math.max(1, Math.floor(raw.width * factor)), Math.max(1, Math.floor(raw.height * factor)));
  }
}

function done(format: TargetFormat, data: Buffer, raw: Raw, quality: number | undefined, colours: number | undefined, encodes: number, scaled: boolean): CompressToTargetResult {
  return {
    data,
    format,
    width: raw.width,
    height: raw.height,
    encodes,
    scaled,
    ...(quality === undefined ? {} : { quality }),
    ...(colours === undefined ? {} : { colours }),
  };
}

/**
 * Finds the largest integer parameter in [min, max] whose encode fits the target, in few trials.
 * Assumes bytes grow with the parameter (mostly true; a non-monotonic step only costs a trial).
 * Returns the fitting encode, or the size of the smallest encode tried when `min` is too big.
 */
async function search(
  min: number,
  max: number,
  start: number,
  trial: (p: number) => Promise<Buffer>,
  target: number,
  defaultSlope: number,
  logScale = false,
): Promise<{ param: number; data: Buffer } | { tooBig: number }> {
  const sizes = new Map<number, number>();
  let best: { param: number; data: Buffer } | undefined;
  let over: number | undefined; // smallest parameter known to be too big (above best)
  const lnAim = Math.log(AIM_RATIO * target);
  const toX = (v: number): number => (logScale ? Math.log(v + 1) : v);
  const fromX = (x: number): number => (logScale ? Math.exp(Math.min(x, 20)) - 1 : x);
  let p = start;
  let lastSide: 'fit' | 'over' | undefined;
  for (let n = 0; n < SEARCH_BUDGET; n++) {
    const data = await trial(p);
    sizes.set(p, data.length);
    const side = data.length <= target ? 'fit' : 'over';
    const sameSideTwice = side === lastSide;
    lastSide = side;
    if (data.length <= target) {
      if (!best || p > best.param) best = { param: p, data };
      if (data.length >= LOW_RATIO * target || p === max) return best;
    } else if (over === undefined || p < over) {
      over = p;
    }
    if (over !== undefined && best && over <= best.param) over = undefined; // non-monotonic: trust the fit
    if (over === min) return { tooBig: sizes.get(min) as number };
    if (best && over !== undefined && over - best.param <= 1) return best;

    // Next trial: secant on ln(bytes) vs x through the bracket (or the nearest two points).
    const lo = best ? best.param + 1 : min;
    const hi = over !== undefined ? over - 1 : max;
    const pts = [...sizes.entries()].sort((a, b) => Math.abs(Math.log(a[1]) - lnAim) - Math.abs(Math.log(b[1]) - lnAim));
    let a: [number, number] | undefined;
    let b: [number, number] | undefined;
    if (best && over !== undefined) {
      a = [best.param, sizes.get(best.param) as number];
      b = [over, sizes.get(over) as number];
    } else if (pts.length >= 2) {
      a = pts[0];
      b = pts[1];
    }
    let slope = defaultSlope;
    if (a && b && a[0] !== b[0]) {
      const s = (Math.log(b[1]) - Math.log(a[1])) / (toX(b[0]) - toX(a[0]));
      if (s > 1e-4) slope = s;
    }
    const [p0, s0] = a ?? [p, data.length];
    let next = Math.round(fromX(toX(p0) + (lnAim - Math.log(s0)) / slope));
    next = Math.min(hi, Math.max(lo, next));
    // Regula falsi stalls on one side when bytes jump (PNG palettes do): after two trials on the
    // same side of a bracket, bisect.
    if (sizes.has(next) || (sameSideTwice && best && over !== undefined)) next = Math.round((lo + hi) / 2);
    if (sizes.has(next) || lo > hi) break;
    p = next;
  }
  if (best) return best;
  // Budget spent without a fit: the lowest setting decides between a fit and a downscale.
  if (!sizes.has(min)) {
    const data = await trial(min);
    if (data.length <= target) return { param: min, data };
    return { tooBig: data.length };
  }
  return { tooBig: sizes.get(min) as number };
}

/**
 * Decodes a probed (limits-checked) source once to upright raw 8-bit sRGB pixels, resized to the
 * requested width/height (one: aspect kept; both: exact) and, for JPEG output, flattened on white.
 * The EXIF orientation is applied for every source, including BMP/HEIC decoded to raw pixels.
 */
export async function decodeForOutput(
  input: Buffer,
  info: Awaited<ReturnType<typeof probe>>,
  opts: { readonly width?: number | undefined; readonly height?: number | undefined },
  format: TargetFormat,
): Promise<Raw> {
  const src = await toSharpInput(input, info);
  let img: Sharp;
  try {
    img = Buffer.isBuffer(src) ? sharp(src, { limitInputPixels: false }).autoOrient() : await orientRaw(sharp(src.data, { raw: src.raw }), info.orientation);
  } catch (err) {
    throw new AppError('CORRUPT_IMAGE', 'The source image is corrupt or truncated and cannot be read.', { cause: err });
  }
  if (opts.width !== undefined || opts.height !== undefined) {
    img = img.resize({ width: opts.width, height: opts.height, fit: opts.width !== undefined && opts.height !== undefined ? 'fill' : 'inside' });
  }
  // JPEG has no alpha: composite on white once here, not per encode.
  if (format === 'jpeg') img = img.flatten({ background: '#ffffff' });
  img = img.toColourspace('srgb');
  try {
    const { data, info: out } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data, width: out.width, height: out.height, channels: out.channels };
  } catch (err) {
    throw new AppError('CORRUPT_IMAGE', 'The source image is corrupt or truncated and cannot be read.', { cause: err });
  }
}

/**
 * Applies an EXIF orientation to pixels that carry no EXIF (raw BMP/HEIC decodes). sharp mirrors
 * before it rotates within one pipeline, hence flip/flop first: 5 (transpose) = flip + 90°,
 * 7 (transverse) = flop + 90°.
 */
export async function orientRaw(img: Sharp, orientation: number): Promise<Sharp> {
  if (orientation <= 1 || orientation > 8) return img;
  const ops: Record<number, (s: Sharp) => Sharp> = {
    2: (s) => s.flop(),
    3: (s) => s.rotate(180),
    4: (s) => s.flip(),
    5: (s) => s.flip().rotate(90),
    6: (s) => s.rotate(90),
    7: (s) => s.flop().rotate(90),
    8: (s) => s.rotate(270),
  };
  const { data, info } = await (ops[orientation] as (s: Sharp) => Sharp)(img).raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

async function downscale(base: Raw, width: number, height: number): Promise<Raw> {
  const { data, info } = await fromRaw(base).resize({ width, height, fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

export function fromRaw(raw: Raw): Sharp {
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
}

function encode(raw: Raw, format: TargetFormat, param: number): Promise<Buffer> {
  switch (format) {
    case 'jpeg':
      return fromRaw(raw).jpeg({ quality: param }).toBuffer();
    case 'webp':
      return fromRaw(raw).webp({ quality: param, effort: 4 }).toBuffer();
    case 'avif':
      // effort 3 (of 0–9): a search makes several encodes, and AVIF effort costs time steeply.
      return fromRaw(raw).avif({ quality: param, effort: 3 }).toBuffer();
    case 'png':
      return encodePng(raw, param);
  }
}

/**
 * Lossless PNG when `quality` is undefined, else a palette of at most 256 colours chosen by
 * libimagequant for that quality (0–100: fewer colours for lower quality). The quality, not the
 * `colours` option, is searched: libvips turns `colours` into a bit depth, so only 2, 4, 16 and 256
 * are distinct sizes.
 */
function encodePng(raw: Raw, quality: number | undefined): Promise<Buffer> {
  if (quality === undefined) return fromRaw(raw).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
  return fromRaw(raw).png({ palette: true, colours: 256, quality, effort: 7, dither: 1, compressionLevel: 9 }).toBuffer();
}

/** Palette bit depths libvips can write (`colours` is turned into one of these). */
const PALETTE_LEVELS = [256, 16, 4, 2] as const;
/** Below this share of the target, a palette fit makes the search try fewer colours. */
const LOWER_LEVEL_RATIO = 0.8;
/** Trials after which no lower palette level is started. */
const PALETTE_BUDGET = 14;

interface PaletteFit {
  readonly data: Buffer;
  readonly colours: number;
  readonly quality: number;
  readonly dither: number;
}

/**
 * The largest palette PNG that fits, over three knobs (libimagequant through sharp):
 *
 * - colour levels 256 → 16 → 4 → 2 (bit depths 8, 4, 2, 1; libvips writes no other palette
 *   sizes, so these are the colour-count steps);
 * - at each level, the quantiser quality [0, 100] (fewer colours used for lower quality), searched
 *   on a log scale (bytes grow about linearly with ln(quality + 1)) with full dithering;
 * - then the dithering level [0, 1] between the fitting quality and the next one up: less
 *   dithering compresses better, so it fills the gaps between integer qualities (and the wide gap
 *   between quality 0 and 2).
 *
 * A level is left for the next one only when nothing fits or the best fit is below 80 % of the
 * target (fewer colours look much worse, so they must buy a lot); a lower level is tried from its
 * largest setting down. `tooBig` when nothing fits even at 2
 * colours without dithering (then the caller downscales).
 */
async function searchPalette(raw: Raw, target: number, firstRound: boolean, count: () => void): Promise<(PaletteFit & { quality: number }) | { tooBig: number }> {
  let best: PaletteFit | undefined;
  let smallest = Infinity;
  const inWindow = (n: number): boolean => n >= LOW_RATIO * target && n <= target;
  const consider = (fit: PaletteFit): void => {
    if (fit.data.length <= target && (!best || fit.data.length > best.data.length)) best = fit;
  };
  let trials = 0;
  const enc = async (colours: number, quality: number, dither: number): Promise<Buffer> => {
    count();
    trials++;
    const data = await fromRaw(raw).png({ palette: true, colours, quality, effort: 7, dither, compressionLevel: 9 }).toBuffer();
    smallest = Math.min(smallest, data.length);
    return data;
  };
  for (const colours of PALETTE_LEVELS) {
    // Fewer colours cost visibly more than they gain unless the fit so far is poor.
    if (colours !== 256 && best && (!firstRound || best.data.length >= LOWER_LEVEL_RATIO * target)) break;
    if (colours !== 256) {
      // So few colours leave the quantiser little to choose: only the largest setting and the
      // dithering below it are tried.
      if (trials >= PALETTE_BUDGET) break;
      const top = await enc(colours, 100, 1);
      if (top.length <= target) {
        consider({ data: top, colours, quality: 100, dither: 1 });
        break;
      }
      const tuned = await searchDither(target, (d) => enc(colours, 100, d));
      if (tuned) consider({ data: tuned.data, colours, quality: 100, dither: tuned.dither });
      if (best && inWindow(best.data.length)) return best;
      continue;
    }
    const qualityFit = await search(0, 100, firstRound ? 90 : 0, (q) => enc(colours, q, 1), target, 0.3, true);
    if ('data' in qualityFit) consider({ data: qualityFit.data, colours, quality: qualityFit.param, dither: 1 });
    if (best && inWindow(best.data.length)) return best;
    // Fill the gap above the fitting quality (or below quality 0) with less dithering.
    const q = 'data' in qualityFit ? Math.min(100, qualityFit.param + 1) : 0;
    if (!('data' in qualityFit) || qualityFit.param < 100) {
      const tuned = await searchDither(target, (d) => enc(colours, q, d));
      if (tuned) consider({ data: tuned.data, colours, quality: q, dither: tuned.dither });
      if (best && inWindow(best.data.length)) return best;
    }
  }
  return best ?? { tooBig: smallest };
}

/** The largest encode ≤ target over dithering [0, 1) (bytes fall as dithering falls); 3 trials at most. */
async function searchDither(target: number, trial: (dither: number) => Promise<Buffer>): Promise<{ dither: number; data: Buffer } | undefined> {
  const none = await trial(0);
  if (none.length > target) return undefined;
  let fit = { dither: 0, data: none };
  if (none.length >= LOW_RATIO * target) return fit;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 2; i++) {
    const mid = Math.round(((lo + hi) / 2) * 100) / 100;
    const data = await trial(mid);
    if (data.length <= target) {
      if (data.length > fit.data.length) fit = { dither: mid, data };
      if (data.length >= LOW_RATIO * target) break;
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return fit;
}

/** Number of palette entries (PLTE chunk length / 3) of a PNG written by sharp. */
export function paletteSize(png: Buffer): number | undefined {
  for (let off = 8; off + 8 <= png.length; ) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    if (type === 'PLTE') return len / 3;
    if (type === 'IDAT') return undefined;
    off += 12 + len;
  }
  return undefined;
}
