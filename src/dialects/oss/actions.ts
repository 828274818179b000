/**
 * One parser per OSS action: validated arguments → an IR operation or an output setting.
 * Ranges, defaults and ECs follow spec oss-img.md §3; comments name the UNCONFIRMED choices.
 */
import { AppError, invalidParam } from '../../core/errors.js';
import { GRAVITIES, type Gravity, type Operation, type OutputFormat, type QualitySpec, type TerminalKind, type WatermarkImage, type WatermarkText } from '../../core/ir.js';
import { decodeBase64, flag, hexColour, intIn, oneOf } from './values.js';

export interface ActionArgs {
  /** `k_v` arguments by key (a repeated key keeps the last value). */
  readonly keyed: ReadonlyMap<string, string>;
  /** Arguments without `_` (single-value actions such as `rotate,90`). */
  readonly bare: readonly string[];
}

export interface ParseContext {
  readonly strict: boolean;
  /** Inside a watermark's own process string: resize accepts `P`, reported through onPercentOfMain. */
  readonly nested: boolean;
  readonly onPercentOfMain?: (percent: number) => void;
  /** Parses a nested chain (the watermark image's own process); given by parse.ts to avoid a cycle. */
  readonly parseNested: (chain: string, ctx: ParseContext) => { readonly ops: readonly Operation[] };
}

export type ActionResult =
  | { readonly kind: 'op'; readonly op: Operation }
  | { readonly kind: 'format'; readonly format: OutputFormat }
  | { readonly kind: 'quality'; readonly quality: QualitySpec }
  | { readonly kind: 'interlace'; readonly interlace: boolean }
  | { readonly kind: 'terminal'; readonly terminal: TerminalKind }
  | { readonly kind: 'none' };

type ActionParser = (args: ActionArgs, ctx: ParseContext) => ActionResult;

const op = (o: Operation): ActionResult => ({ kind: 'op', op: o });

/** Rejects keys the action does not know (strict mode) and bare values where none are expected. */
function checkKeys(action: string, args: ActionArgs, known: readonly string[], ctx: ParseContext): void {
  if (!ctx.strict) return;
  for (const k of args.keyed.keys()) {
    if (!known.includes(k)) throw new AppError('INVALID_ARGUMENT', `The parameter ${JSON.stringify(k)} is not valid for ${action}.`);
  }
  if (args.bare.length > 0) throw new AppError('INVALID_ARGUMENT', `${action} takes key_value parameters; received ${JSON.stringify(args.bare[0])}.`);
}

/** Single-value actions (`rotate,90`): exactly one bare value (EC 0040-00000203 for several). */
function single(action: string, args: ActionArgs, missingEc?: string): string {
  if (args.bare.length > 1 || (args.bare.length === 1 && args.keyed.size > 0)) {
    throw new AppError('INVALID_ARGUMENT', `${action} takes exactly one value.`, { ec: '0040-00000203' });
  }
  const v = args.bare[0];
  if (v === undefined) {
    if (args.keyed.size > 0) throw new AppError('INVALID_ARGUMENT', `${action} takes a single value such as ${action},1.`);
    throw new AppError('MISSING_ARGUMENT', `${action} needs a value.`, missingEc === undefined ? {} : { ec: missingEc });
  }
  return v;
}

function optInt(action: string, args: ActionArgs, key: string, min: number, max: number, ec?: string): number | undefined {
  const raw = args.keyed.get(key);
  return raw === undefined ? undefined : intIn(`${action}.${key}`, raw, min, max, ec);
}

function gravity(action: string, raw: string | undefined, def: Gravity): Gravity {
  return raw === undefined ? def : oneOf(`${action}.g`, raw, GRAVITIES);
}

const resize: ActionParser = (args, ctx) => {
  const known = ['m', 'w', 'h', 'l', 's', 'limit', 'color', 'p', ...(ctx.nested ? ['P'] : [])];
  checkKeys('resize', args, known, ctx);
  if ([...args.keyed.keys()].filter((k) => known.includes(k)).length === 0) {
    throw new AppError('MISSING_ARGUMENT', 'resize needs at least one of w, h, l, s or p.', { ec: '0040-00000322' });
  }
  if (args.keyed.get('w') === '0' && args.keyed.get('h') === '0') {
    throw new AppError('INVALID_ARGUMENT', 'resize w and h cannot both be 0.', { ec: '0040-00000321' });
  }
  const m = args.keyed.get('m');
  const mode = m === undefined ? 'lfit' : oneOf('resize.m', m, ['lfit', 'mfit', 'fill', 'pad', 'fixed'] as const, '0040-00000311');
  const w = optInt('resize', args, 'w', 1, 16384, '0040-00000312');
  const h = optInt('resize', args, 'h', 1, 16384);
  const l = optInt('resize', args, 'l', 1, 16384);
  const s = optInt('resize', args, 's', 1, 16384, '0040-00000315');
  const p = optInt('resize', args, 'p', 1, 1000, '0040-00000317');
  const P = ctx.nested ? optInt('resize', args, 'P', 1, 100) : undefined;
  const limitRaw = args.keyed.get('limit');
  const limit = limitRaw === undefined ? true : flag('resize.limit', limitRaw);
  const colorRaw = args.keyed.get('color');
  const color = colorRaw === undefined ? { r: 255, g: 255, b: 255, alpha: 1 } : hexColour('resize.color', colorRaw);
  if (w === undefined && h === undefined && l === undefined && s === undefined && p === undefined && P === undefined) {
    throw new AppError('MISSING_ARGUMENT', 'resize needs at least one of w, h, l, s or p.', { ec: '0040-00000322' });
  }
  if (P !== undefined) ctx.onPercentOfMain?.(P);
  if (w === undefined && h === undefined && l === undefined && s === undefined && p === undefined) return { kind: 'none' };
  return op({
    op: 'resize',
    params: { mode, limit, color, ...(w !== undefined ? { w } : {}), ...(h !== undefined ? { h } : {}), ...(l !== undefined ? { l } : {}), ...(s !== undefined ? { s } : {}), ...(p !== undefined ? { p } : {}) },
  });
};

const crop: ActionParser = (args, ctx) => {
  checkKeys('crop', args, ['w', 'h', 'x', 'y', 'g'], ctx);
  const w = optInt('crop', args, 'w', 0, 100000, '0040-00000225');
  const h = optInt('crop', args, 'h', 0, 100000, '0040-00000226');
  const x = optInt('crop', args, 'x', 0, 100000) ?? 0;
  const y = optInt('crop', args, 'y', 0, 100000) ?? 0;
  const g = gravity('crop', args.keyed.get('g'), 'nw');
  return op({ op: 'crop', params: { x, y, g, ...(w !== undefined ? { w } : {}), ...(h !== undefined ? { h } : {}) } });
};

/** Nested actions allowed in a watermark image's own process string (spec §3.3). */
const NESTED_WATERMARK_OPS = new Set(['resize', 'crop', 'indexcrop', 'roundedCorners', 'rotate']);

function watermarkImage(encoded: string, ctx: ParseContext): WatermarkImage {
  const decoded = decodeBase64(encoded);
  const q = decoded.indexOf('?x-oss-process=');
  if (q < 0) return { key: decoded, ops: [] };
  const key = decoded.slice(0, q);
  const process = decoded.slice(q + '?x-oss-process='.length);
  if (!process.startsWith('image/')) throw new AppError('WATERMARK_ERROR', 'The watermark image process must start with "image/".');
  let percentOfMain: number | undefined;
  const nested = ctx.parseNested(process.slice('image/'.length), {
    ...ctx,
    nested: true,
    onPercentOfMain: (p) => {
      percentOfMain = p;
    },
  });
  for (const o of nested.ops) {
    if (!NESTED_WATERMARK_OPS.has(o.op)) {
      throw new AppError('WATERMARK_ERROR', `The watermark image process may only use resize, crop, indexcrop, rounded-corners and rotate; received ${o.op}.`);
    }
  }
  return percentOfMain === undefined ? { key, ops: nested.ops } : { key, ops: nested.ops, percentOfMain };
}

/** Text may be at most 64 UTF-8 bytes once decoded (UNCONFIRMED reading of the docs' limit). */
const MAX_TEXT_BYTES = 64;

function watermarkText(args: ActionArgs, encoded: string): WatermarkText {
  const text = decodeBase64(encoded);
  if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
    throw invalidParam('watermark.text', `text of at most ${MAX_TEXT_BYTES} UTF-8 bytes`, `${Buffer.byteLength(text, 'utf8')} bytes`);
  }
  const typeRaw = args.keyed.get('type');
  const colorRaw = args.keyed.get('color');
  let color = { r: 0, g: 0, b: 0, alpha: 1 };
  if (colorRaw !== undefined) {
    // Plain hex per the parameter table; base64 of hex as the docs' encoding section suggests.
    color = /^[0-9a-fA-F]{6}$/.test(colorRaw) ? hexColour('watermark.color', colorRaw) : hexColour('watermark.color', safeDecode(colorRaw));
  }
  return {
    text,
    font: typeRaw === undefined ? 'wqy-zenhei' : decodeBase64(typeRaw),
    color,
    size: optInt('watermark', args, 'size', 1, 1000) ?? 40,
    shadow: optInt('watermark', args, 'shadow', 0, 100) ?? 0,
    rotate: optInt('watermark', args, 'rotate', 0, 360) ?? 0,
    fill: args.keyed.has('fill') ? flag('watermark.fill', args.keyed.get('fill')) : false,
    padx: optInt('watermark', args, 'padx', 0, 4096) ?? 0,
    pady: optInt('watermark', args, 'pady', 0, 4096) ?? 0,
  };
}

function safeDecode(raw: string): string {
  try {
    return decodeBase64(raw);
  } catch {
    return raw;
  }
}

const watermark: ActionParser = (args, ctx) => {
  checkKeys('watermark', args, ['t', 'g', 'x', 'y', 'voffset', 'image', 'text', 'type', 'color', 'size', 'shadow', 'rotate', 'fill', 'padx', 'pady', 'order', 'align', 'interval'], ctx);
  const imageRaw = args.keyed.get('image');
  const textRaw = args.keyed.get('text');
  if (imageRaw === undefined && textRaw === undefined) {
    throw new AppError('MISSING_ARGUMENT', 'watermark needs image or text.');
  }
  const image = imageRaw === undefined ? undefined : watermarkImage(imageRaw, ctx);
  const text = textRaw === undefined ? undefined : watermarkText(args, textRaw);
  return op({
    op: 'watermark',
    params: {
      t: optInt('watermark', args, 't', 0, 100) ?? 100,
      g: gravity('watermark', args.keyed.get('g'), 'se'),
      x: optInt('watermark', args, 'x', 0, 4096) ?? 10,
      y: optInt('watermark', args, 'y', 0, 4096) ?? 10,
      voffset: optInt('watermark', args, 'voffset', -1000, 1000) ?? 0,
      order: (optInt('watermark', args, 'order', 0, 1) ?? 0) as 0 | 1,
      align: (optInt('watermark', args, 'align', 0, 2) ?? 2) as 0 | 1 | 2,
      interval: optInt('watermark', args, 'interval', 0, 1000) ?? 0,
      ...(image ? { image } : {}),
      ...(text ? { text } : {}),
    },
  });
};

const quality: ActionParser = (args, ctx) => {
  checkKeys('quality', args, ['q', 'Q'], ctx);
  const q = optInt('quality', args, 'q', 1, 100);
  const Q = optInt('quality', args, 'Q', 1, 100);
  if (q === undefined && Q === undefined) throw new AppError('MISSING_ARGUMENT', 'quality needs q or Q.');
  return { kind: 'quality', quality: Q !== undefined ? { absolute: Q } : { relative: q as number } };
};

const FORMAT_NAMES: Readonly<Record<string, OutputFormat>> = {
  jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp', bmp: 'bmp', gif: 'gif', tiff: 'tiff', heic: 'heic', avif: 'avif',
};

const format: ActionParser = (args) => {
  const v = single('format', args, '0040-00000207');
  const f = Object.hasOwn(FORMAT_NAMES, v.toLowerCase()) ? FORMAT_NAMES[v.toLowerCase()] : undefined;
  if (f === undefined) throw invalidParam('format', 'one of jpg, png, webp, bmp, gif, tiff, heic, avif', v);
  return { kind: 'format', format: f };
};

const terminal = (name: string, kind: TerminalKind): ActionParser => (args) => {
  if (args.keyed.size > 0 || args.bare.length > 0) throw new AppError('INVALID_ARGUMENT', `${name} takes no parameters.`);
  return { kind: 'terminal', terminal: kind };
};

const autoOrient: ActionParser = (args) => {
  const v = single('auto-orient', args, '0040-00000215');
  return op({ op: 'autoOrient', params: { enabled: flag('auto-orient', v, '0040-00000215') } });
};

const radiusAction = (name: 'circle' | 'rounded-corners'): ActionParser => (args, ctx) => {
  checkKeys(name, args, ['r'], ctx);
  const r = intIn(`${name}.r`, args.keyed.get('r'), 1, 4096);
  return op(name === 'circle' ? { op: 'circle', params: { r } } : { op: 'roundedCorners', params: { r } });
};

const indexcrop: ActionParser = (args, ctx) => {
  checkKeys('indexcrop', args, ['x', 'y', 'i'], ctx);
  const xRaw = args.keyed.get('x');
  const yRaw = args.keyed.get('y');
  if (xRaw === undefined && yRaw === undefined) throw new AppError('MISSING_ARGUMENT', 'indexcrop needs x or y.', { ec: '0040-00000230' });
  const x = xRaw === undefined ? undefined : intIn('indexcrop.x', xRaw, 1, 100000, '0040-00000230');
  const y = yRaw === undefined ? undefined : intIn('indexcrop.y', yRaw, 1, 100000, '0040-00000230');
  const index = optInt('indexcrop', args, 'i', 0, 100000, '0040-00000229') ?? 0;
  // When both are valid, y wins (spec §3.9).
  return op({ op: 'indexcrop', params: y !== undefined ? { axis: 'y', size: y, index } : { axis: 'x', size: x as number, index } });
};

const blur: ActionParser = (args, ctx) => {
  checkKeys('blur', args, ['r', 's'], ctx);
  // Both required (UNCONFIRMED; the docs always give both).
  if (!args.keyed.has('r') || !args.keyed.has('s')) throw new AppError('MISSING_ARGUMENT', 'blur needs both r and s.');
  return op({ op: 'blur', params: { r: intIn('blur.r', args.keyed.get('r'), 1, 50), s: intIn('blur.s', args.keyed.get('s'), 1, 50) } });
};

const rotate: ActionParser = (args) => op({ op: 'rotate', params: { angle: intIn('rotate', single('rotate', args), 0, 360) } });
const bright: ActionParser = (args) => op({ op: 'bright', params: { value: intIn('bright', single('bright', args), -100, 100) } });
const contrast: ActionParser = (args) => op({ op: 'contrast', params: { value: intIn('contrast', single('contrast', args), -100, 100) } });
const sharpen: ActionParser = (args) => op({ op: 'sharpen', params: { value: intIn('sharpen', single('sharpen', args), 50, 399) } });
const interlace: ActionParser = (args) => ({ kind: 'interlace', interlace: flag('interlace', single('interlace', args)) });

/** Every OSS action by its URL name. */
export const ACTIONS: Readonly<Record<string, ActionParser>> = {
  resize,
  crop,
  watermark,
  quality,
  format,
  info: terminal('info', 'info'),
  'auto-orient': autoOrient,
  circle: radiusAction('circle'),
  indexcrop,
  'rounded-corners': radiusAction('rounded-corners'),
  blur,
  rotate,
  interlace,
  'average-hue': terminal('average-hue', 'averageHue'),
  bright,
  sharpen,
  contrast,
};
