/**
 * The eight resize strategies of the Abstract-style API (spec abstract-api.md §5) as pure geometry:
 * from the upright source size W×H and the request, the crop / resize / pad steps and the exact
 * output size. No pixels here; core/compress/optimise.ts executes the steps.
 *
 * Decisions where the spec is open (docs/abstract-api.md repeats them): rounding is Math.round with
 * a 1 px minimum; portrait, landscape and auto never enlarge (the source size is kept); exact, fit,
 * square, fill and crop `scale` may enlarge; auto is rule A ("fit inside the box"); an anchored crop
 * window larger than the source is clamped to it; a custom region is intersected with the image
 * (empty → validation error); fill centres the image (the extra pixel of an odd band goes to the
 * bottom / right); square honours `crop_mode` when sent (default centre).
 */
import type { Rgba } from '../../core/ir.js';
import type { GeometryPlan, GeometryStep } from '../../core/compress/optimise.js';
import { AbstractValidationError } from './validation.js';

export const STRATEGIES = ['exact', 'portrait', 'landscape', 'auto', 'fit', 'crop', 'square', 'fill'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Relative focal point of a crop window: (0,0) top-left … (1,1) bottom-right. */
export interface FocalPoint {
  readonly x: number;
  readonly y: number;
}

export const CENTRE: FocalPoint = { x: 0.5, y: 0.5 };

/** `crop_mode` values (spec §5.7); anything else means centre. */
const CROP_MODES: Readonly<Record<string, FocalPoint>> = {
  n: { x: 0.5, y: 0 }, t: { x: 0.5, y: 0 },
  nw: { x: 0, y: 0 }, tl: { x: 0, y: 0 },
  ne: { x: 1, y: 0 }, tr: { x: 1, y: 0 },
  w: { x: 0, y: 0.5 }, l: { x: 0, y: 0.5 },
  c: CENTRE,
  e: { x: 1, y: 0.5 }, r: { x: 1, y: 0.5 },
  se: { x: 1, y: 1 }, br: { x: 1, y: 1 },
  sw: { x: 0, y: 1 }, bl: { x: 0, y: 1 },
  s: { x: 0.5, y: 1 }, b: { x: 0.5, y: 1 },
};

/** The focal point of a `crop_mode` value; absent or unknown values are the centre (DOC). */
export function cropModePoint(mode: unknown): FocalPoint {
  if (typeof mode !== 'string') return CENTRE;
  // Own names only: `constructor` or `__proto__` would find Object's and give a NaN focal point.
  const name = mode.trim().toLowerCase();
  return Object.hasOwn(CROP_MODES, name) ? CROP_MODES[name]! : CENTRE;
}

/** A validated `resize` object. */
export interface AbstractResize {
  readonly strategy: Strategy;
  readonly width?: number;
  readonly height?: number;
  readonly size?: number;
  /** From `crop_mode` (fit, crop, square); the centre when absent or unknown. */
  readonly focal: FocalPoint;
  /** Percent applied to the crop result (crop only). */
  readonly scale?: number;
  readonly x?: number;
  readonly y?: number;
  readonly background: Rgba;
}

const px = (v: number): number => Math.max(1, Math.round(v));

function need(v: number | undefined, field: string): number {
  if (v === undefined) throw new AbstractValidationError({ resize: { [field]: ['This is a required argument.'] } });
  return v;
}

/** Height follows the width (never enlarging). */
function landscape(W: number, H: number, w: number): GeometryPlan {
  if (w >= W) return { steps: [], width: W, height: H };
  const h = px((H * w) / W);
  return { steps: [{ op: 'resize', width: w, height: h }], width: w, height: h };
}

/** Width follows the height (never enlarging). */
function portrait(W: number, H: number, h: number): GeometryPlan {
  if (h >= H) return { steps: [], width: W, height: H };
  const w = px((W * h) / H);
  return { steps: [{ op: 'resize', width: w, height: h }], width: w, height: h };
}

function resizeTo(steps: GeometryStep[], fromW: number, fromH: number, w: number, h: number): void {
  if (w !== fromW || h !== fromH) steps.push({ op: 'resize', width: w, height: h });
}

/** The geometry of `r` applied to an upright W×H source. Throws AbstractValidationError. */
export function planResize(W: number, H: number, r: AbstractResize): GeometryPlan {
  switch (r.strategy) {
    case 'exact': {
      const w = need(r.width, 'width');
      const h = need(r.height, 'height');
      const steps: GeometryStep[] = [];
      resizeTo(steps, W, H, w, h);
      return { steps, width: w, height: h };
    }
    case 'portrait':
      return portrait(W, H, need(r.height, 'height'));
    case 'landscape':
      return landscape(W, H, need(r.width, 'width'));
    case 'auto': {
      const w = need(r.width, 'width');
      const h = need(r.height, 'height');
      // Rule A: W/H ≥ w/h (compared without division) → the width binds.
      return W * h >= w * H ? landscape(W, H, w) : portrait(W, H, h);
    }
    case 'fit': {
      const w = need(r.width, 'width');
      const h = need(r.height, 'height');
      const v = Math.max(w / W, h / H);
      const sw = Math.max(w, px(W * v));
      const sh = Math.max(h, px(H * v));
      const steps: GeometryStep[] = [];
      resizeTo(steps, W, H, sw, sh);
      if (sw !== w || sh !== h) {
        steps.push({ op: 'extract', left: Math.round((sw - w) * r.focal.x), top: Math.round((sh - h) * r.focal.y), width: w, height: h });
      }
      return { steps, width: w, height: h };
    }
    case 'crop':
      return crop(W, H, r);
    case 'square': {
      const size = need(r.size, 'size');
      const side = Math.min(W, H);
      const steps: GeometryStep[] = [];
      if (W !== H) steps.push({ op: 'extract', left: Math.round((W - side) * r.focal.x), top: Math.round((H - side) * r.focal.y), width: side, height: side });
      resizeTo(steps, side, side, size, size);
      return { steps, width: size, height: size };
    }
    case 'fill': {
      const w = need(r.width, 'width');
      const h = need(r.height, 'height');
      const c = Math.min(w / W, h / H);
      const iw = Math.min(w, px(W * c));
      const ih = Math.min(h, px(H * c));
      const steps: GeometryStep[] = [];
      resizeTo(steps, W, H, iw, ih);
      if (iw !== w || ih !== h) {
        const left = Math.floor((w - iw) / 2);
        const top = Math.floor((h - ih) / 2);
        steps.push({ op: 'extend', top, bottom: h - ih - top, left, right: w - iw - left, background: r.background });
      }
      return { steps, width: w, height: h };
    }
  }
}

function crop(W: number, H: number, r: AbstractResize): GeometryPlan {
  const w = need(r.width, 'width');
  const h = need(r.height, 'height');
  let left: number;
  let top: number;
  let cw: number;
  let ch: number;
  if (r.x !== undefined || r.y !== undefined) {
    // Custom region: intersect with the image; crop_mode is ignored.
    const x0 = Math.max(0, r.x ?? 0);
    const y0 = Math.max(0, r.y ?? 0);
    const x1 = Math.min(W, (r.x ?? 0) + w);
    const y1 = Math.min(H, (r.y ?? 0) + h);
    if (x1 <= x0 || y1 <= y0) {
      throw new AbstractValidationError({ resize: { x: [`The crop region lies outside the ${W}x${H} image.`] } });
    }
    left = x0;
    top = y0;
    cw = x1 - x0;
    ch = y1 - y0;
  } else {
    // Anchored window cut from the unscaled source, clamped to it.
    cw = Math.min(w, W);
    ch = Math.min(h, H);
    left = Math.round((W - cw) * r.focal.x);
    top = Math.round((H - ch) * r.focal.y);
  }
  const steps: GeometryStep[] = [];
  if (cw !== W || ch !== H) steps.push({ op: 'extract', left, top, width: cw, height: ch });
  let outW = cw;
  let outH = ch;
  if (r.scale !== undefined && r.scale !== 100) {
    outW = px((cw * r.scale) / 100);
    outH = px((ch * r.scale) / 100);
    resizeTo(steps, cw, ch, outW, outH);
  }
  return { steps, width: outW, height: outH };
}
