/**
 * resize: the OSS resize action with all modes (spec oss-img.md §3.1).
 *
 * The arithmetic lives in {@link planResize}, a pure function that every test and `explain` can
 * call; apply() only turns its answer into sharp calls: an exact `resize(w, h, fit: fill)`, then
 * a post-resize extract for `fill` or an extend for `pad`.
 */
import type { ResizeParams, Rgba } from '../ir.js';
import { AppError } from '../errors.js';
import type { OpDefinition, ImageState, StageValue } from './types.js';
import { Stage } from './types.js';
import { roundHalfUp } from './geometry.js';

/** Output limits of OSS resize: each side ≤ 16,384 px, total ≤ 16,777,216 px (EC 0040-00000007). */
export const RESIZE_MAX_SIDE = 16384;
export const RESIZE_MAX_PIXELS = 16777216;

export interface ResizePlan {
  /** Size the pixels are scaled to, or null when no scaling happens (limit, or same size). */
  readonly scaleTo: { readonly width: number; readonly height: number } | null;
  /** Centre crop applied after scaling (`fill`). */
  readonly crop: { readonly left: number; readonly top: number; readonly width: number; readonly height: number } | null;
  /** Padding applied after scaling (`pad`). */
  readonly pad: { readonly top: number; readonly bottom: number; readonly left: number; readonly right: number; readonly color: Rgba } | null;
  /** Final size. */
  readonly width: number;
  readonly height: number;
}

interface Box {
  readonly bw?: number;
  readonly bh?: number;
  readonly mode: ResizeParams['mode'];
}

/** Step 2 of the spec's algorithm: the target box and the effective mode. */
function targetBox(p: ResizeParams, W: number, H: number): Box {
  const mul = p.p !== undefined && (p.w !== undefined || p.h !== undefined) ? p.p / 100 : 1;
  const w = p.w === undefined ? undefined : roundHalfUp(p.w * mul);
  const h = p.h === undefined ? undefined : roundHalfUp(p.h * mul);
  const fixedSize = p.mode === 'fixed' || p.mode === 'fill' || p.mode === 'pad';
  if (w !== undefined || h !== undefined) {
    if (w !== undefined && h !== undefined) return { bw: w, bh: h, mode: p.mode };
    // One side only: proportional for lfit/mfit, a square box for the fixed-size modes.
    if (fixedSize) return { bw: w ?? h, bh: h ?? w, mode: p.mode };
    return w !== undefined ? { bw: w, mode: p.mode } : { bh: h, mode: p.mode };
  }
  if (p.l !== undefined && p.s !== undefined) {
    // Long side l and short side s, oriented like the source.
    return W >= H ? { bw: p.l, bh: p.s, mode: p.mode } : { bw: p.s, bh: p.l, mode: p.mode };
  }
  if (p.l !== undefined) return { bw: p.l, bh: p.l, mode: p.mode };
  if (p.s !== undefined) return { bw: p.s, bh: p.s, mode: p.mode === 'lfit' ? 'mfit' : p.mode };
  // Percentage only.
  const pct = (p.p ?? 100) / 100;
  return { bw: Math.max(1, roundHalfUp(W * pct)), bh: Math.max(1, roundHalfUp(H * pct)), mode: 'fixed' };
}

/** Proportional size for scale factor chosen on one bound side (the other side is rounded). */
function proportional(W: number, H: number, box: Box, cover: boolean): { width: number; height: number; scale: number } {
  const sx = box.bw === undefined ? undefined : box.bw / W;
  const sy = box.bh === undefined ? undefined : box.bh / H;
  let useX: boolean;
  if (sx === undefined) useX = false;
  else if (sy === undefined) useX = true;
  else useX = cover ? sx >= sy : sx <= sy;
  if (useX) {
    const bw = box.bw as number;
    return { width: bw, height: Math.max(1, roundHalfUp((H * bw) / W)), scale: bw / W };
  }
  const bh = box.bh as number;
  return { width: Math.max(1, roundHalfUp((W * bh) / H)), height: bh, scale: bh / H };
}

/**
 * Computes what resize does to a `W×H` image. Pure; throws AppError OUTPUT_TOO_LARGE
 * (EC 0040-00000007) when the result exceeds the output limits.
 *
 * `neverEnlarge` forces `limit_1` (OSS never enlarges GIFs).
 */
export function planResize(p: ResizeParams, W: number, H: number, neverEnlarge = false): ResizePlan {
  const limit = p.limit || neverEnlarge;
  const box = targetBox(p, W, H);
  let plan: ResizePlan;
  if (box.mode === 'fixed') {
    const bw = box.bw as number;
    const bh = box.bh as number;
    if (limit && (bw > W || bh > H)) plan = same(W, H);
    else plan = { scaleTo: sizeOrNull(bw, bh, W, H), crop: null, pad: null, width: bw, height: bh };
  } else {
    const cover = box.mode === 'mfit' || box.mode === 'fill';
    const prop = proportional(W, H, box, cover);
    const enlarge = prop.scale > 1;
    const scaled = limit && enlarge ? { width: W, height: H } : prop;
    const scaleTo = limit && enlarge ? null : sizeOrNull(prop.width, prop.height, W, H);
    if (box.mode === 'fill') {
      // Crop to the box; under `limit` only where the box is smaller than the image.
      const bw = Math.min(box.bw as number, scaled.width);
      const bh = Math.min(box.bh as number, scaled.height);
      const crop = bw === scaled.width && bh === scaled.height
        ? null
        : { left: Math.floor((scaled.width - bw) / 2), top: Math.floor((scaled.height - bh) / 2), width: bw, height: bh };
      plan = { scaleTo, crop, pad: null, width: bw, height: bh };
    } else if (box.mode === 'pad') {
      if (limit && enlarge) {
        plan = same(W, H);
      } else {
        const bw = box.bw as number;
        const bh = box.bh as number;
        const dx = bw - scaled.width;
        const dy = bh - scaled.height;
        const pad = dx === 0 && dy === 0
          ? null
          : { left: Math.floor(dx / 2), right: dx - Math.floor(dx / 2), top: Math.floor(dy / 2), bottom: dy - Math.floor(dy / 2), color: p.color };
        plan = { scaleTo, crop: null, pad, width: bw, height: bh };
      }
    } else {
      plan = { scaleTo, crop: null, pad: null, width: scaled.width, height: scaled.height };
    }
  }
  if (plan.width > RESIZE_MAX_SIDE || plan.height > RESIZE_MAX_SIDE || plan.width * plan.height > RESIZE_MAX_PIXELS) {
    throw new AppError(
      'OUTPUT_TOO_LARGE',
      `The resized image would be ${plan.width}x${plan.height}; each side must be at most ${RESIZE_MAX_SIDE} px and the total at most ${RESIZE_MAX_PIXELS} px.`,
      { ec: '0040-00000007' },
    );
  }
  return plan;
}

function same(W: number, H: number): ResizePlan {
  return { scaleTo: null, crop: null, pad: null, width: W, height: H };
}

function sizeOrNull(w: number, h: number, W: number, H: number): { width: number; height: number } | null {
  return w === W && h === H ? null : { width: w, height: h };
}

/** Animated GIFs are never enlarged (OSS rule); the runner passes that in as `frames > 1`. */
function planFor(p: ResizeParams, state: ImageState): ResizePlan {
  return planResize(p, state.width, state.height, state.frames > 1);
}

export const resize: OpDefinition<'resize'> = {
  name: 'resize',
  summary: 'Scale the image (lfit, mfit, fill, pad, fixed; by width, height, long/short side or percent).',
  params: [
    { name: 'mode', type: 'enum', range: 'lfit | mfit | fill | pad | fixed', default: 'lfit', meaning: 'fit inside, cover, cover + centre crop, fit + pad, stretch' },
    { name: 'w', type: 'int', range: '1–16384', meaning: 'target width' },
    { name: 'h', type: 'int', range: '1–16384', meaning: 'target height' },
    { name: 'l', type: 'int', range: '1–16384', meaning: 'target length of the long side (ignored when w or h is set)' },
    { name: 's', type: 'int', range: '1–16384', meaning: 'target length of the short side (ignored when w or h is set)' },
    { name: 'p', type: 'int', range: '1–1000', meaning: 'percentage; multiplies w/h when given with them' },
    { name: 'limit', type: 'boolean', default: 'true', meaning: 'never enlarge beyond the source size' },
    { name: 'color', type: 'rgb', default: 'FFFFFF', meaning: 'padding colour for pad' },
  ],
  stages(p, state) {
    const plan = planFor(p, state);
    const stages: StageValue[] = [];
    if (plan.scaleTo) stages.push(Stage.RESIZE);
    if (plan.crop) stages.push(Stage.POST_EXTRACT);
    if (plan.pad) stages.push(Stage.EXTEND);
    // A no-op resize still claims its stage so that ordering stays easy to reason about.
    return stages.length > 0 ? stages : [Stage.RESIZE];
  },
  // OSS: resizing a GIF by percentage makes it static; by w/h keeps the animation.
  animation: (p) => (p.p !== undefined && p.w === undefined && p.h === undefined && p.l === undefined && p.s === undefined ? 'static' : 'keep'),
  resizeBox: (p, state) => planFor(p, state).scaleTo ?? null,
  geometry(p, state) {
    const plan = planFor(p, state);
    return { ...state, width: plan.width, height: plan.height, hasAlpha: state.hasAlpha };
  },
  apply(pass, p, state) {
    const plan = planFor(p, state);
    if (plan.scaleTo) {
      pass.img.resize(plan.scaleTo.width, plan.scaleTo.height, { fit: 'fill' });
    }
    if (plan.crop) {
      pass.img.extract(plan.crop);
    }
    if (plan.pad) {
      const { r, g, b, alpha } = plan.pad.color;
      pass.img.extend({ top: plan.pad.top, bottom: plan.pad.bottom, left: plan.pad.left, right: plan.pad.right, background: { r, g, b, alpha } });
    }
    return { ...state, width: plan.width, height: plan.height };
  },
};
