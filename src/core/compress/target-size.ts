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
 *   aiming at 97.5 % of the target and stopping as soon as a trial lands in [95 %, 100 %]. AVIF's
 *   quality moves the quantiser in steps of 4–10 % of the bytes with plateaus between, so when the
 *   bracket closes below the window the next quality up is tried with the encoder's `ssim` and
 *   `psnr` tunings (2 trials at most), which often land in between.
 * - PNG: the full palette (256 colours, dithered; libimagequant through sharp at PALETTE_EFFORT)
 *   first, lossless when that fits below the window, else less dithering, the quantiser quality
 *   and fewer colour levels — see searchPng.
 * - When even the lowest setting is above the target, the raw pixels are downscaled so that the
 *   reference setting (lowest quality; the full palette for PNG) should land just under the
 *   target: bytes ∝ area^γ, γ = 0.85 at first and then measured (downscaleFactor); a few steps.
 *
 * Invariant: the returned data is never larger than `targetBytes`. "Within 5 % below" is a goal
 * only where it is reachable: quality 100 (or lossless PNG) may already be well under the target,
 * a target between the full palette and lossless PNG has nothing in between, and integer quality
 * steps can jump over the [95 %, 100 %] window (then the largest fitting trial is kept).
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
import { fitThreadsToLoad } from '../pipeline/engine-settings.js';

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
  /** AVIF only: the encoder tuning of the result when it is not the default (see AVIF_GAP_TUNES). */
  readonly tune?: AvifTune;
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
  fitThreadsToLoad();
  if (!Number.isInteger(minQuality) || minQuality < 1 || minQuality > 100) throw invalidParam('minQuality', 'integer between 1 and 100', minQuality);

  const info = await probe(input);
  checkSourceLimits(info, { ops: [], output: {} }, opts.limits ?? DEFAULT_LIMITS, 1);
  const base = await decodeForOutput(input, info, opts, format);
  checkOutputLimits(format, base.width, base.height);

  let encodes = 0;
  let raw = base;
  /** (pixels, bytes of the reference setting) at each size tried: how bytes scale with area. */
  const scales: { pixels: number; bytes: number }[] = [];
  for (let step = 0; ; step++) {
    const trial = async (param: number): Promise<Buffer> => {
      encodes++;
      return encode(raw, format, param);
    };
    let found: { param: number; data: Buffer } | { tooBig: number; smallest?: number };
    if (format === 'png') {
      const png = await searchPng(raw, targetBytes, step === 0, () => encodes++);
      if ('lossless' in png) return done(format, png.data, raw, undefined, undefined, encodes, false);
      if ('data' in png) return { ...done(format, png.data, raw, png.quality, paletteSize(png.data), encodes, step > 0), dither: png.dither, paletteLevel: png.colours };
      found = png;
    } else {
      const start = step > 0 ? minQuality : format === 'avif' ? 60 : 80;
      found = await search(minQuality, 100, start, trial, targetBytes, format === 'avif' ? 0.05 : 0.03);
    }
    if ('data' in found && format === 'avif' && found.data.length < LOW_RATIO * targetBytes && found.param < 100) {
      // AVIF quality moves the quantiser in steps of 4–10 % of the bytes (and plateaus between), so
      // the window may lie between two qualities. The encoder's other tunings at the next quality
      // up land in between often enough to be worth two trials (largest fit wins).
      let best: { data: Buffer; tune?: AvifTune } = { data: found.data };
      for (const tune of AVIF_GAP_TUNES) {
        encodes++;
        const data = await encodeAvif(raw, found.param + 1, tune);
        if (data.length <= targetBytes && data.length > best.data.length) best = { data, tune };
        if (best.data.length >= LOW_RATIO * targetBytes) break;
      }
      const res = done(format, best.data, raw, best.tune ? found.param + 1 : found.param, undefined, encodes, step > 0);
      return best.tune ? { ...res, tune: best.tune } : res;
    }
    if ('data' in found) return done(format, found.data, raw, found.param, undefined, encodes, step > 0);
    // Even the lowest setting is too big at this size: shrink so that the reference setting (the
    // lowest quality; the full dithered palette for PNG) lands just under the target.
    if ((raw.width === 1 && raw.height === 1) || step >= MAX_DOWNSCALES) {
      const smallest = found.smallest ?? found.tooBig;
      throw new AppError('TARGET_SIZE_UNREACHABLE', `A ${format} image cannot be made as small as ${targetBytes} bytes (the smallest reached was ${smallest} bytes).`, {
        details: { targetBytes, smallest },
      });
    }
    scales.push({ pixels: raw.width * raw.height, bytes: found.tooBig });
    const factor = downscaleFactor(scales, AIM_RATIO * targetBytes);
    raw = await downscale(base, Math.max(1, Math.floor(raw.width * factor)), Math.max(1, Math.floor(raw.height * factor)));
  }
}

/**
 * Linear downscale factor (< 1) that should bring the reference encode from its last measured size
 * down to `aim`. Bytes grow with pixel area as area^γ, γ < 1 (a smaller image has more detail per
 * pixel); γ starts at 0.85 and, from the second downscale on, is measured from the sizes seen.
 */
export function downscaleFactor(scales: readonly { pixels: number; bytes: number }[], aim: number): number {
  const last = scales[scales.length - 1] as { pixels: number; bytes: number };
  let gamma = 0.85;
  const prev = scales[scales.length - 2];
  if (prev && prev.pixels !== last.pixels && prev.bytes !== last.bytes) {
    const g = Math.log(prev.bytes / last.bytes) / Math.log(prev.pixels / last.pixels);
    if (Number.isFinite(g)) gamma = Math.min(1.2, Math.max(0.5, g));
  }
  const area = Math.pow(aim / last.bytes, 1 / gamma);
  return Math.min(0.95, Math.sqrt(area));
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
  /** A trial already made just above `max` (too big): a secant end from the start. */
  known?: { param: number; bytes: number },
): Promise<{ param: number; data: Buffer } | { tooBig: number }> {
  const sizes = new Map<number, number>();
  let best: { param: number; data: Buffer } | undefined;
  let over: number | undefined; // smallest parameter known to be too big (above best)
  if (known) sizes.set(known.param, known.bytes);
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
    const hi = Math.min(max, over !== undefined ? over - 1 : max);
    const pts = [...sizes.entries()].sort((a, b) => Math.abs(Math.log(a[1]) - lnAim) - Math.abs(Math.log(b[1]) - lnAim));
    let a: [number, number] | undefined;
    let b: [number, number] | undefined;
    const above = over ?? (known && known.bytes > target ? known.param : undefined);
    if (best && above !== undefined) {
      a = [best.param, sizes.get(best.param) as number];
      b = [above, sizes.get(above) as number];
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
      return encodeAvif(raw, param, undefined);
    case 'png':
      return encodePalette(raw, 256, param, 1);
  }
}

export type AvifTune = 'ssim' | 'psnr';
/** Tunings tried at the next quality up when the window lies between two AVIF qualities. */
const AVIF_GAP_TUNES: readonly AvifTune[] = ['ssim', 'psnr'];
/** AVIF effort 3 (of 0–9) for every trial: a search makes several encodes, and effort costs time steeply. */
export const AVIF_EFFORT = 3;

export function encodeAvif(raw: Raw, quality: number, tune: AvifTune | undefined): Promise<Buffer> {
  return fromRaw(raw).avif({ quality, effort: AVIF_EFFORT, ...(tune ? { tune } : {}) }).toBuffer();
}

/** Lossless PNG: zlib 9 with adaptive filtering (the smallest lossless PNG sharp writes). */
function encodeLossless(raw: Raw): Promise<Buffer> {
  return fromRaw(raw).png({ compressionLevel: 9, adaptiveFiltering: true }).toBuffer();
}

/**
 * libimagequant effort of the palette search (sharp's 1–10; libimagequant speed 11 − effort).
 * Effort 7 makes palettes about 10–15 % smaller but costs 5–8× the time on a photo (≈ 15 s against
 * 2 s for one 1600×1067 encode on a loaded 2-core machine), and a search makes several encodes;
 * the result is one of the search's encodes, so its size is the one measured.
 */
export const PALETTE_EFFORT = 3;

/** A palette PNG: `colours` is the bit-depth level (256/16/4/2), quality the quantiser's (0–100). */
export function encodePalette(raw: Raw, colours: number, quality: number, dither: number): Promise<Buffer> {
  return fromRaw(raw).png({ palette: true, colours, quality, effort: PALETTE_EFFORT, dither, compressionLevel: 9 }).toBuffer();
}

/** Palette bit depths libvips can write (`colours` is turned into one of these). */
const LOWER_LEVELS = [16, 4, 2] as const;
/**
 * Fewer colour levels are tried (before downscaling) only when the smallest 256-colour encode is at
 * most this multiple of the target: each level roughly halves the bytes, so further off only a
 * downscale gets there, and for a photo a smaller image looks better than a 4-colour one.
 */
const LOWER_LEVEL_REACH = 2.5;

interface PaletteFit {
  readonly data: Buffer;
  readonly colours: number;
  readonly quality: number;
  readonly dither: number;
}

/**
 * The best PNG that fits, cheapest knobs first (every trial is a real encode of `raw`):
 *
 * 1. the full palette: 256 colours, quantiser quality 100, full dithering. If it fits it is the
 *    best palette; in the first round lossless is then tried too (it may fit as well);
 * 2. less dithering (bytes fall about linearly as dithering falls): dither 0, then interpolation
 *    between the two sizes;
 * 3. the quantiser quality at dither 0, searched on a log scale from 0 up (fewer colours used;
 *    photos keep all 256 down to low qualities, then drop steeply), then dithering filled in at
 *    the fitting quality; when that fit uses no more colours than a lower level (16/4/2) holds,
 *    that level at its best quality is tried too (as good, and often closer to the target);
 * 4. in the first round only, fewer colour levels (16, 4, 2: bit depths 4, 2, 1) when the
 *    smallest 256-colour encode is within LOWER_LEVEL_REACH of the target.
 *
 * `tooBig` carries the full palette's size, which the caller scales the image from, and
 * `smallest` the smallest encode tried (for the unreachable-target error).
 */
async function searchPng(
  raw: Raw,
  target: number,
  firstRound: boolean,
  count: () => void,
): Promise<PaletteFit | { lossless: true; data: Buffer } | { tooBig: number; smallest: number }> {
  let smallest = Infinity;
  const enc = async (colours: number, quality: number, dither: number): Promise<Buffer> => {
    count();
    const data = await encodePalette(raw, colours, quality, dither);
    smallest = Math.min(smallest, data.length);
    return data;
  };
  const inWindow = (n: number): boolean => n >= LOW_RATIO * target && n <= target;
  const full = await enc(256, 100, 1);
  if (full.length <= target) {
    if (firstRound && !inWindow(full.length)) {
      count();
      const lossless = await encodeLossless(raw);
      if (lossless.length <= target) return { lossless: true, data: lossless };
    }
    return { data: full, colours: 256, quality: 100, dither: 1 };
  }
  let plain: number | undefined;
  let best = await fillDither(target, async (d) => {
    const data = await enc(256, 100, d);
    if (d === 0) plain = data.length;
    return data;
  }, full.length);
  if (best) return { ...best, colours: 256, quality: 100 };
  const qualityFit = await search(0, 99, 0, (q) => enc(256, q, 0), target, 0.3, true, plain === undefined ? undefined : { param: 100, bytes: plain });
  if ('data' in qualityFit) {
    let fit: PaletteFit = { data: qualityFit.data, colours: 256, quality: qualityFit.param, dither: 0 };
    if (inWindow(fit.data.length)) return fit;
    const more = await fillDither(target, (d) => enc(256, qualityFit.param, d), undefined, qualityFit.data);
    if (more && more.data.length > fit.data.length) fit = { ...more, colours: 256, quality: qualityFit.param };
    // A low quantiser quality can leave only a handful of colours (the step from quality 1 to 0
    // often halves the bytes). When the fit has no more colours than a lower level holds, that
    // level at its best quality is at least as good and may fill the gap below the window.
    if (inWindow(fit.data.length)) return fit;
    const used = paletteSize(fit.data) ?? 256;
    for (const colours of LOWER_LEVELS) {
      if (used > colours) break;
      const top = await enc(colours, 100, 1);
      const tuned = top.length <= target ? { dither: 1, data: top } : await fillDither(target, (d) => enc(colours, 100, d), top.length);
      if (tuned && tuned.data.length > fit.data.length) {
        fit = { ...tuned, colours, quality: 100 };
        break;
      }
    }
    return fit;
  }
  if (firstRound && qualityFit.tooBig <= LOWER_LEVEL_REACH * target) {
    for (const colours of LOWER_LEVELS) {
      const top = await enc(colours, 100, 1);
      if (top.length <= target) return { data: top, colours, quality: 100, dither: 1 };
      best = await fillDither(target, (d) => enc(colours, 100, d), top.length);
      if (best) return { ...best, colours, quality: 100 };
    }
  }
  return { tooBig: full.length, smallest };
}

/**
 * The largest encode ≤ target over dithering [0, 1]: dither 0 first (unless `atZero` is given),
 * then linear interpolation on bytes between the largest fit and the smallest miss, 5 more
 * trials at most. `atOne` is the size at dither 1 when known (then it is above the target).
 */
async function fillDither(
  target: number,
  trial: (dither: number) => Promise<Buffer>,
  atOne: number | undefined,
  atZero?: Buffer,
): Promise<{ dither: number; data: Buffer } | undefined> {
  const none = atZero ?? (await trial(0));
  if (none.length > target) return undefined;
  let fit = { dither: 0, data: none };
  let lo = { d: 0, n: none.length };
  let hi = atOne === undefined ? undefined : { d: 1, n: atOne };
  for (let i = 0; i < 5 && fit.data.length < LOW_RATIO * target; i++) {
    let d: number;
    if (hi === undefined) d = 1;
    else d = lo.d + ((AIM_RATIO * target - lo.n) / Math.max(1, hi.n - lo.n)) * (hi.d - lo.d);
    d = Math.round(Math.min(hi ? hi.d - 0.01 : 1, Math.max(lo.d + 0.01, d)) * 100) / 100;
    if (d <= lo.d || (hi && d >= hi.d)) break;
    const data = await trial(d);
    if (data.length <= target) {
      fit = { dither: d, data };
      lo = { d, n: data.length };
      if (d === 1) break;
    } else {
      hi = { d, n: data.length };
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
