/**
 * The Cloudflare dialect (spec cloudflare-transform.md §1–§9): the `<OPTIONS>` segment of
 * `/cdn-cgi/image/<OPTIONS>/<SOURCE>` → typed options → a Recipe in one canonical order.
 *
 * Pure: strings in, options/Recipe or a coded AppError out. Request-dependent choices
 * (`width=auto`, `slow-connection-quality`, `format=auto`) are resolved by small pure functions in
 * `hints.ts` and `core/output/negotiate.ts` from header values the caller passes in.
 *
 * Validation (spec §1.1 rule 4): lenient by default — an unknown key or a bad value is ignored and
 * reported as a `Warning: cf-images 299 "<text>"` text; strict mode throws INVALID_ARGUMENT
 * (Cloudflare 9401, HTTP 400) instead. Duplicate keys: the last one wins, aliases included
 * (spec §1.1 rule 5, UNCONFIRMED). Keys are matched case-insensitively (§2, UNCONFIRMED).
 */
import { AppError } from '../../core/errors.js';
import {
  CF_FITS,
  WHITE,
  type CfFit,
  type CfGravity,
  type CfTrimLength,
  type CfTrimParams,
  type Operation,
  type Recipe,
  type Rgba,
} from '../../core/ir.js';
import { parseCssColour } from './colour.js';

/** Values of `format` (URL form plus the TYPES-only `png`). */
export const CF_FORMATS = ['auto', 'avif', 'webp', 'jpeg', 'baseline-jpeg', 'png', 'json'] as const;
export type CfFormat = (typeof CF_FORMATS)[number];

/** Perceptual quality names (spec §8.1, UNCONFIRMED mapping shared with one reimplementation). */
export const QUALITY_NAMES: Readonly<Record<string, number>> = { high: 90, 'medium-high': 80, 'medium-low': 60, low: 40 };

export const DEFAULT_BREAKPOINTS: readonly number[] = [320, 768, 960, 1200];

/** Options after validation. Absent fields were not given (or were ignored as invalid). */
export interface CfOptions {
  anim?: boolean;
  background?: Rgba;
  blur?: number;
  border?: { color?: Rgba; top?: number; right?: number; bottom?: number; left?: number };
  brightness?: number;
  compression?: 'fast';
  contrast?: number;
  dpr?: number;
  fit?: CfFit;
  flip?: { horizontal: boolean; vertical: boolean };
  format?: CfFormat;
  gamma?: number;
  gravity?: CfGravity;
  height?: number;
  metadata?: 'keep' | 'copyright' | 'none';
  onerror?: 'redirect';
  quality?: number;
  rotate?: 0 | 90 | 180 | 270;
  saturation?: number;
  segment?: 'foreground';
  sharpen?: number;
  slowConnectionQuality?: number;
  trim?: CfTrimParams;
  upscale?: 'interpolate' | 'generate';
  width?: number | 'auto';
  wbreakpoints?: number[];
  wmobile?: number;
  wdesktop?: number;
  zoom?: number;
}

export interface CfParseOptions {
  /** Throw on unknown keys and invalid values instead of ignoring them (default false). */
  readonly strict?: boolean;
}

export interface CfParsed {
  readonly options: CfOptions;
  /** Texts for `Warning: cf-images 299 "<text>"` headers. */
  readonly warnings: readonly string[];
}

/** Aliases documented by Cloudflare (spec §2): short → full. */
export const ALIASES: Readonly<Record<string, string>> = {
  w: 'width',
  h: 'height',
  q: 'quality',
  f: 'format',
  g: 'gravity',
  scq: 'slow-connection-quality',
  'face-zoom': 'zoom',
};

const NUM = /^[+]?(\d+(\.\d*)?|\.\d+)$/;
const INT = /^[+]?\d+$/;

/** Thrown inside value parsers; becomes a warning (lenient) or INVALID_ARGUMENT (strict). */
class Invalid extends Error {}

function invalid(key: string, expected: string, raw: string): never {
  throw new Invalid(`Expected ${expected} for ${key} but received ${JSON.stringify(raw)}`);
}

function num(key: string, raw: string, min: number, max: number, expected = `a number between ${min} and ${max}`): number {
  if (!NUM.test(raw)) invalid(key, expected, raw);
  const v = Number(raw);
  if (v < min || v > max) invalid(key, expected, raw);
  return v;
}

function int(key: string, raw: string, min: number, max: number): number {
  if (!INT.test(raw)) invalid(key, `an integer between ${min} and ${max}`, raw);
  const v = Number(raw);
  if (v < min || v > max) invalid(key, `an integer between ${min} and ${max}`, raw);
  return v;
}

function oneOf<T extends string>(key: string, raw: string, values: readonly T[]): T {
  const v = raw.toLowerCase();
  if (!(values as readonly string[]).includes(v)) invalid(key, `one of ${values.join(', ')}`, raw);
  return v as T;
}

function colour(key: string, raw: string): Rgba {
  const c = parseCssColour(raw);
  if (c === undefined) invalid(key, 'a CSS colour (#RRGGBB written %23RRGGBB, a name, rgb(), rgba() or hsl())', raw);
  return c;
}

function quality(key: string, raw: string): number {
  const named = Object.hasOwn(QUALITY_NAMES, raw.toLowerCase()) ? QUALITY_NAMES[raw.toLowerCase()] : undefined;
  if (named !== undefined) return named;
  return int(key, raw, 1, 100);
}

function trimLength(key: string, raw: string): CfTrimLength {
  // A decimal between 0 and 1 is a fraction of the dimension; an integer is pixels (spec §9).
  if (INT.test(raw)) return { unit: 'px', value: int(key, raw, 0, 100000) };
  return { unit: 'fraction', value: num(key, raw, 0, 1, 'an integer number of pixels or a fraction between 0 and 1') };
}

const NO_TRIM: CfTrimLength = { unit: 'px', value: 0 };

function gravity(key: string, raw: string): CfGravity {
  const v = raw.toLowerCase();
  switch (v) {
    case 'auto': return { kind: 'auto' };
    case 'entropy': return { kind: 'entropy' };
    case 'face': return { kind: 'face', zoom: 0 };
    case 'left': return { kind: 'point', x: 0, y: 0.5 };
    case 'right': return { kind: 'point', x: 1, y: 0.5 };
    case 'top': return { kind: 'point', x: 0.5, y: 0 };
    case 'bottom': return { kind: 'point', x: 0.5, y: 1 };
    case 'center':
    case 'centre': return { kind: 'point', x: 0.5, y: 0.5 };
  }
  const m = /^(\d*\.?\d+)x(\d*\.?\d+)$/.exec(v);
  if (m !== null) {
    const x = Number(m[1]);
    const y = Number(m[2]);
    if (x <= 1 && y <= 1) return { kind: 'point', x, y };
  }
  return invalid(key, 'auto, face, left, right, top, bottom, center or XxY with X and Y between 0 and 1', raw);
}

type Setter = (o: CfOptions, raw: string, key: string) => void;

function border(o: CfOptions): NonNullable<CfOptions['border']> {
  o.border = o.border ?? {};
  return o.border;
}

function sidesTrim(o: CfOptions): Extract<CfTrimParams, { kind: 'sides' }> {
  if (o.trim === undefined || o.trim.kind !== 'sides') {
    o.trim = { kind: 'sides', top: NO_TRIM, right: NO_TRIM, bottom: NO_TRIM, left: NO_TRIM };
  }
  return o.trim;
}

function borderTrim(o: CfOptions): { color?: Rgba; tolerance: number; keep: number } {
  if (o.trim === undefined || o.trim.kind !== 'border') o.trim = { kind: 'border', tolerance: DEFAULT_TRIM_TOLERANCE, keep: 0 };
  return o.trim as { color?: Rgba; tolerance: number; keep: number };
}

/** Default `trim.border.tolerance`: 245, i.e. sharp's default threshold of 10 (UNCONFIRMED). */
export const DEFAULT_TRIM_TOLERANCE = 245;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One setter per full option name. */
const SETTERS: Readonly<Record<string, Setter>> = {
  anim: (o, r, k) => { o.anim = oneOf(k, r, ['true', 'false', '1', '0'] as const) === 'true' || r === '1'; },
  background: (o, r, k) => { o.background = colour(k, r); },
  blur: (o, r, k) => { o.blur = num(k, r, 0, 250); },
  brightness: (o, r, k) => { o.brightness = num(k, r, 0, 254.999, 'a multiplier between 0 and 255'); },
  compression: (o, r, k) => { o.compression = oneOf(k, r, ['fast'] as const); },
  contrast: (o, r, k) => { o.contrast = num(k, r, 0, 254.999, 'a multiplier between 0 and 255'); },
  dpr: (o, r, k) => { o.dpr = num(k, r, 0.01, 10, 'a number between 0.01 and 10'); },
  fit: (o, r, k) => { o.fit = oneOf(k, r, CF_FITS); },
  flip: (o, r, k) => {
    const v = oneOf(k, r, ['h', 'v', 'hv', 'vh'] as const);
    o.flip = { horizontal: v.includes('h'), vertical: v.includes('v') };
  },
  format: (o, r, k) => { o.format = oneOf(k, r, CF_FORMATS); },
  gamma: (o, r, k) => { o.gamma = num(k, r, 0, 254.999, 'a number between 0 and 255'); },
  gravity: (o, r, k) => {
    const zoom = o.gravity?.kind === 'face' ? o.gravity.zoom : 0;
    const g = gravity(k, r);
    o.gravity = g.kind === 'face' ? { kind: 'face', zoom } : g;
  },
  height: (o, r, k) => { o.height = int(k, r, 1, 100000); },
  metadata: (o, r, k) => { o.metadata = oneOf(k, r, ['keep', 'copyright', 'none'] as const); },
  onerror: (o, r, k) => { o.onerror = oneOf(k, r, ['redirect'] as const); },
  quality: (o, r, k) => { o.quality = quality(k, r); },
  rotate: (o, r, k) => {
    const v = int(k, r, 0, 360);
    if (v % 90 !== 0) invalid(k, 'one of 0, 90, 180, 270', r);
    o.rotate = (v % 360) as 0 | 90 | 180 | 270;
  },
  saturation: (o, r, k) => { o.saturation = num(k, r, 0, 254.999, 'a multiplier between 0 and 255'); },
  segment: (o, r, k) => { o.segment = oneOf(k, r, ['foreground'] as const); },
  sharpen: (o, r, k) => { o.sharpen = num(k, r, 0, 10); },
  'slow-connection-quality': (o, r, k) => { o.slowConnectionQuality = quality(k, r); },
  trim: (o, r, k) => {
    if (r.toLowerCase() === 'border') {
      borderTrim(o);
      return;
    }
    const parts = r.split(';');
    if (parts.length !== 4) invalid(k, 'border or top;right;bottom;left', r);
    const [top, right, bottom, left] = parts.map((p) => trimLength(k, p)) as [CfTrimLength, CfTrimLength, CfTrimLength, CfTrimLength];
    const t = sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>;
    Object.assign(t, { top, right, bottom, left });
  },
  'trim.top': (o, r, k) => { const v = trimLength(k, r); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).top = v; },
  'trim.right': (o, r, k) => { const v = trimLength(k, r); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).right = v; },
  'trim.bottom': (o, r, k) => { const v = trimLength(k, r); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).bottom = v; },
  'trim.left': (o, r, k) => { const v = trimLength(k, r); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).left = v; },
  'trim.width': (o, r, k) => { const v = int(k, r, 1, 100000); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).width = v; },
  'trim.height': (o, r, k) => { const v = int(k, r, 1, 100000); (sidesTrim(o) as Mutable<Extract<CfTrimParams, { kind: 'sides' }>>).height = v; },
  'trim.border': (o, r, k) => {
    if (oneOf(k, r, ['true', 'false', '1', '0'] as const) === 'true' || r === '1') borderTrim(o);
    else if (o.trim?.kind === 'border') delete o.trim;
  },
  'trim.border.color': (o, r, k) => { const v = colour(k, r); borderTrim(o).color = v; },
  'trim.border.tolerance': (o, r, k) => { const v = int(k, r, 0, 255); borderTrim(o).tolerance = v; },
  'trim.border.keep': (o, r, k) => { const v = int(k, r, 0, 10000); borderTrim(o).keep = v; },
  upscale: (o, r, k) => { o.upscale = oneOf(k, r, ['interpolate', 'generate'] as const); },
  width: (o, r, k) => { o.width = r.toLowerCase() === 'auto' ? 'auto' : int(k, r, 1, 100000); },
  wbreakpoints: (o, r, k) => {
    const list = r.split(';').map((p) => int(k, p, 1, 100000));
    o.wbreakpoints = [...new Set(list)].sort((a, b) => a - b);
  },
  wmobile: (o, r, k) => { o.wmobile = int(k, r, 1, 100000); },
  wdesktop: (o, r, k) => { o.wdesktop = int(k, r, 1, 100000); },
  zoom: (o, r, k) => {
    const z = num(k, r, 0, 1);
    o.zoom = z;
  },
  // Halftone extension: Cloudflare's `border` exists only in Workers (spec §2); these keys mirror it.
  'border.color': (o, r, k) => { const v = colour(k, r); border(o).color = v; },
  'border.width': (o, r, k) => {
    const v = int(k, r, 0, 2000);
    Object.assign(border(o), { top: v, right: v, bottom: v, left: v });
  },
  'border.top': (o, r, k) => { const v = int(k, r, 0, 2000); border(o).top = v; },
  'border.right': (o, r, k) => { const v = int(k, r, 0, 2000); border(o).right = v; },
  'border.bottom': (o, r, k) => { const v = int(k, r, 0, 2000); border(o).bottom = v; },
  'border.left': (o, r, k) => { const v = int(k, r, 0, 2000); border(o).left = v; },
};

/** Every key the URL form accepts (full names, aliases and Halftone's `border.*` extension). */
export const CF_KEYS: readonly string[] = [...Object.keys(SETTERS), ...Object.keys(ALIASES)].sort();

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Parses the options segment (as it appears in the URL, still percent-encoded).
 * Throws INVALID_ARGUMENT when there is no option at all, and in strict mode on the first bad key
 * or value.
 */
export function parseCfOptions(segment: string, opts: CfParseOptions = {}): CfParsed {
  const strict = opts.strict ?? false;
  const options: CfOptions = {};
  const warnings: string[] = [];
  const parts = segment.split(',').filter((p) => p !== '');
  if (parts.length === 0) {
    throw new AppError('MISSING_ARGUMENT', 'At least one transformation option is required.');
  }
  const problem = (msg: string) => {
    if (strict) throw new AppError('INVALID_ARGUMENT', msg);
    warnings.push(msg);
  };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const rawKey = decode(eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : decode(part.slice(eq + 1)).trim();
    // Own properties only: `constructor=1` or `__proto__=1` must not reach Object.prototype.
    const key = (Object.hasOwn(ALIASES, rawKey) ? ALIASES[rawKey] : undefined) ?? rawKey;
    const setter = Object.hasOwn(SETTERS, key) ? SETTERS[key] : undefined;
    if (setter === undefined) {
      problem(`Unknown option ${JSON.stringify(rawKey)} ignored`);
      continue;
    }
    if (eq < 0 || value === '') {
      problem(`Expected a value for ${rawKey} but received nothing`);
      continue;
    }
    try {
      setter(options, value, rawKey);
    } catch (err) {
      if (err instanceof Invalid) problem(err.message);
      else throw err;
    }
  }
  if (options.zoom !== undefined && options.gravity?.kind === 'face') options.gravity = { kind: 'face', zoom: options.zoom };
  if (options.dpr !== undefined && options.dpr > 3) warnings.push('dpr > 3 should never be used');
  if (options.segment === 'foreground') {
    // A real segmentation model is not available (docs/cloudflare.md); never pretend.
    throw new AppError('UNSUPPORTED_OPTION', 'segment=foreground is not available on this server (no segmentation model is installed).');
  }
  return { options, warnings };
}

/** Request-dependent values the recipe needs, resolved by the caller. */
export interface CfRecipeContext {
  /** Default fit when none is given (spec §4.1 CONFLICT; Halftone default `scale-down`). */
  readonly defaultFit: CfFit;
  /** The width chosen for `width=auto` (hints.ts), when `width=auto` was requested. */
  readonly autoWidth?: number;
  /** Whether `slow-connection-quality` applies (hints.ts). */
  readonly slowConnection?: boolean;
}

export interface CfRecipe {
  readonly recipe: Recipe;
  readonly warnings: readonly string[];
  /** Target size actually requested (after dpr), for diagnostics. */
  readonly target: { readonly width?: number; readonly height?: number };
}

/**
 * Builds the Recipe in the canonical order of spec §3: auto-orient (always baked in), trim, flip,
 * rotate, flatten onto `background`, fit/resize (with pad bands), brightness+saturation, contrast,
 * gamma, blur, sharpen, border. The output format is decided by the caller (negotiate.ts); this
 * only records quality, lossless WebP, progressive JPEG and metadata.
 */
export function cfRecipe(o: CfOptions, ctx: CfRecipeContext): CfRecipe {
  const warnings: string[] = [];
  const ops: Operation[] = [{ op: 'autoOrient', params: { enabled: true } }];
  const dpr = o.dpr ?? 1;
  if (o.trim !== undefined) {
    const isNoop = o.trim.kind === 'sides' && o.trim.width === undefined && o.trim.height === undefined
      && [o.trim.top, o.trim.right, o.trim.bottom, o.trim.left].every((l) => l.value === 0);
    if (!isNoop) ops.push({ op: 'cfTrim', params: o.trim });
  }
  if (o.flip !== undefined) ops.push({ op: 'flip', params: o.flip });
  if (o.rotate !== undefined && o.rotate !== 0) ops.push({ op: 'rotate', params: { angle: o.rotate } });
  if (o.background !== undefined) ops.push({ op: 'flatten', params: { background: o.background } });

  const cssWidth = o.width === 'auto' ? ctx.autoWidth : o.width;
  const width = cssWidth === undefined ? undefined : Math.max(1, Math.round(cssWidth * dpr));
  const height = o.height === undefined ? undefined : Math.max(1, Math.round(o.height * dpr));
  const fit = o.fit ?? ctx.defaultFit;
  if (width !== undefined || height !== undefined) {
    if ((width === undefined || height === undefined) && (fit === 'cover' || fit === 'crop' || fit === 'aspect-crop' || fit === 'pad' || fit === 'squeeze')) {
      warnings.push(`${fit} fit mode needs both width and height`);
    }
    ops.push({
      op: 'cfResize',
      params: {
        fit,
        ...(width === undefined ? {} : { width }),
        ...(height === undefined ? {} : { height }),
        gravity: o.gravity ?? { kind: 'point', x: 0.5, y: 0.5 },
        ...(o.background === undefined ? {} : { background: o.background }),
      },
    });
  }
  if (o.upscale === 'generate') warnings.push('upscale=generate is not available; interpolating');

  const brightness = o.brightness === undefined || o.brightness === 0 ? 1 : o.brightness;
  const saturation = o.saturation ?? 1;
  if (brightness !== 1 || saturation !== 1) ops.push({ op: 'cfModulate', params: { brightness, saturation } });
  if (o.contrast !== undefined && o.contrast !== 0 && o.contrast !== 1) ops.push({ op: 'cfContrast', params: { value: o.contrast } });
  if (o.gamma !== undefined && o.gamma !== 0 && o.gamma !== 1) {
    if (o.gamma < 1 / 3 || o.gamma > 3) warnings.push('gamma is limited to 0.34–3');
    ops.push({ op: 'gamma', params: { value: o.gamma } });
  }
  if (o.blur !== undefined && o.blur > 0) ops.push({ op: 'cfBlur', params: { radius: o.blur } });
  if (o.sharpen !== undefined && o.sharpen > 0) ops.push({ op: 'cfSharpen', params: { value: o.sharpen } });
  if (o.border !== undefined) {
    const b = o.border;
    const side = (v: number | undefined) => Math.round((v ?? 0) * dpr);
    const params = { color: b.color ?? WHITE, top: side(b.top), right: side(b.right), bottom: side(b.bottom), left: side(b.left) };
    if (params.top + params.right + params.bottom + params.left > 0) ops.push({ op: 'border', params });
  }

  const q = ctx.slowConnection === true && o.slowConnectionQuality !== undefined ? o.slowConnectionQuality : o.quality ?? 85;
  const recipe: Recipe = {
    ops,
    output: {
      exactQuality: q,
      lossless: o.format === 'webp' && q === 100,
      interlace: o.format !== 'baseline-jpeg',
      metadata: o.metadata ?? 'copyright',
    },
  };
  return {
    recipe,
    warnings,
    target: { ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) },
  };
}
