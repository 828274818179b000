/**
 * cfResize: Cloudflare `fit` + `gravity` (spec cloudflare-transform.md §4–§5).
 *
 * All arithmetic is in {@link planCfResize}, a pure function (tests, `explain` and `format=json`
 * use it). Sizes are rounded with Math.round and are at least 1 px (spec §4: UNCONFIRMED rounding,
 * every published example agrees). Crop offsets follow the "remainder" rule of §5:
 * `off = round((scaled - target) · focal)`.
 *
 * `gravity=auto` and `gravity=face` cannot be planned from geometry: the window size is known, its
 * position depends on the pixels. Both use libvips' `attention` strategy (the most salient region
 * by luminance frequency, saturation and skin tones) — see docs/cloudflare.md for why no face
 * detector is used. Animated images use the centre instead so that the window does not jump
 * between frames.
 */
import type { CfFit, CfGravity, CfResizeParams, Rgba } from '../ir.js';
import { AppError } from '../errors.js';
import type { ImageState, OpDefinition, StageValue } from './types.js';
import { Stage } from './types.js';

/** Largest side of a Cloudflare output (spec §15.1: 12,000 px for non-AVIF). */
export const CF_MAX_SIDE = 12000;
/** Largest area of a Cloudflare output (spec §15.1: 100 megapixels). */
export const CF_MAX_PIXELS = 100_000_000;

export interface CfResizePlan {
  /** Size the pixels are scaled to (the whole image), or null when no scaling happens. */
  readonly scaleTo: { readonly width: number; readonly height: number } | null;
  /**
   * Window cut from the scaled image. `left`/`top` are null when the gravity is content-based
   * (auto/face) and are decided from the pixels at run time.
   */
  readonly crop: { readonly left: number | null; readonly top: number | null; readonly width: number; readonly height: number } | null;
  /** Bands added around the scaled image (`pad`). */
  readonly pad: { readonly top: number; readonly bottom: number; readonly left: number; readonly right: number } | null;
  readonly width: number;
  readonly height: number;
}

const px = (x: number): number => Math.max(1, Math.round(x));

/** The focal point of a gravity, or null when it depends on the pixels. */
export function focalPoint(g: CfGravity): { x: number; y: number } | null {
  return g.kind === 'point' ? { x: g.x, y: g.y } : null;
}

/** Offset of a window of `size` inside `scaled` for focal coordinate `f` (remainder rule, §5). */
export function cropOffset(scaled: number, size: number, f: number): number {
  return Math.min(scaled - size, Math.max(0, Math.round((scaled - size) * f)));
}

/**
 * Computes what `fit` does to a `W×H` image. Throws OUTPUT_TOO_LARGE past the output limits.
 * Callers (the Cloudflare dialect) pass at least one of width/height; with only one, the modes
 * that need both behave like `contain` (the dialect emits the spec's warning).
 */
export function planCfResize(p: Pick<CfResizeParams, 'fit' | 'width' | 'height' | 'gravity'>, W: number, H: number): CfResizePlan {
  const w = p.width;
  const h = p.height;
  const sx = w === undefined ? undefined : w / W;
  const sy = h === undefined ? undefined : h / H;
  const ratios = [sx, sy].filter((r): r is number => r !== undefined);
  let plan: CfResizePlan;
  if (ratios.length === 0) {
    plan = same(W, H);
  } else {
    const c = Math.min(...ratios);
    const v = Math.max(...ratios);
    const both = w !== undefined && h !== undefined;
    const fit: CfFit = !both && needsBoth(p.fit) ? 'contain' : p.fit;
    switch (fit) {
      case 'scale-down':
        plan = scaled(W, H, Math.min(c, 1));
        break;
      case 'contain':
        plan = scaled(W, H, c);
        break;
      case 'scale-up':
        plan = scaled(W, H, Math.max(c, 1));
        break;
      case 'squeeze': {
        const tw = w as number;
        const th = h as number;
        plan = { scaleTo: tw === W && th === H ? null : { width: tw, height: th }, crop: null, pad: null, width: tw, height: th };
        break;
      }
      case 'cover':
        plan = cover(W, H, w as number, h as number, v, p.gravity);
        break;
      case 'crop':
        if (v <= 1) plan = cover(W, H, w as number, h as number, v, p.gravity);
        else plan = window(W, H, Math.min(W, w as number), Math.min(H, h as number), p.gravity);
        break;
      case 'aspect-crop': {
        const tw = w as number;
        const th = h as number;
        if (v <= 1) plan = cover(W, H, tw, th, v, p.gravity);
        else if (W / H > tw / th) plan = window(W, H, Math.min(W, px((H * tw) / th)), H, p.gravity);
        else plan = window(W, H, W, Math.min(H, px((W * th) / tw)), p.gravity);
        break;
      }
      case 'pad': {
        const tw = w as number;
        const th = h as number;
        const iw = Math.min(tw, px(W * c));
        const ih = Math.min(th, px(H * c));
        const dx = tw - iw;
        const dy = th - ih;
        // Centred (spec §4.2 UNCONFIRMED: centred vs gravity-aligned); the odd pixel goes bottom/right.
        const pad = dx === 0 && dy === 0 ? null : { left: Math.floor(dx / 2), right: dx - Math.floor(dx / 2), top: Math.floor(dy / 2), bottom: dy - Math.floor(dy / 2) };
        plan = { scaleTo: iw === W && ih === H ? null : { width: iw, height: ih }, crop: null, pad, width: tw, height: th };
        break;
      }
    }
  }
  if (plan.width > CF_MAX_SIDE || plan.height > CF_MAX_SIDE || plan.width * plan.height > CF_MAX_PIXELS) {
    throw new AppError(
      'OUTPUT_TOO_LARGE',
      `The resized image would be ${plan.width}x${plan.height}; each side must be at most ${CF_MAX_SIDE} px and the area at most ${CF_MAX_PIXELS} px.`,
    );
  }
  return plan;
}

/** Modes that need both width and height (spec §4.2 note). */
export function needsBoth(fit: CfFit): boolean {
  return fit === 'cover' || fit === 'crop' || fit === 'aspect-crop' || fit === 'pad' || fit === 'squeeze';
}

function same(W: number, H: number): CfResizePlan {
  return { scaleTo: null, crop: null, pad: null, width: W, height: H };
}

function scaled(W: number, H: number, s: number): CfResizePlan {
  const width = px(W * s);
  const height = px(H * s);
  return { scaleTo: width === W && height === H ? null : { width, height }, crop: null, pad: null, width, height };
}

function cover(W: number, H: number, w: number, h: number, v: number, g: CfGravity): CfResizePlan {
  // The scaled image covers the box; max() guards against rounding one pixel short.
  const sw = Math.max(w, px(W * v));
  const sh = Math.max(h, px(H * v));
  const scaleTo = sw === W && sh === H ? null : { width: sw, height: sh };
  const f = focalPoint(g);
  const crop = sw === w && sh === h
    ? null
    : { left: f === null ? null : cropOffset(sw, w, f.x), top: f === null ? null : cropOffset(sh, h, f.y), width: w, height: h };
  return { scaleTo, crop, pad: null, width: w, height: h };
}

/** A window of `w×h` cut at the original scale. */
function window(W: number, H: number, w: number, h: number, g: CfGravity): CfResizePlan {
  if (w === W && h === H) return same(W, H);
  const f = focalPoint(g);
  return {
    scaleTo: null,
    crop: { left: f === null ? null : cropOffset(W, w, f.x), top: f === null ? null : cropOffset(H, h, f.y), width: w, height: h },
    pad: null,
    width: w,
    height: h,
  };
}

function bandColour(p: CfResizeParams, state: ImageState, outputHasAlpha: boolean): Rgba {
  const c = p.background ?? (state.hasAlpha && outputHasAlpha ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 });
  // Formats without alpha cannot show a translucent band: use the colour itself.
  return outputHasAlpha ? c : { ...c, alpha: 1 };
}

/** Animated frames are cut at the centre: a content-based window would move from frame to frame. */
function frameGravity(p: CfResizeParams, state: ImageState): CfGravity {
  return state.frames > 1 && p.gravity.kind !== 'point' ? { kind: 'point', x: 0.5, y: 0.5 } : p.gravity;
}

export const cfResize: OpDefinition<'cfResize'> = {
  name: 'cfResize',
  summary: 'Cloudflare fit (scale-down, contain, scale-up, cover, crop, aspect-crop, pad, squeeze) with gravity and focal points.',
  params: [
    { name: 'fit', type: 'enum', range: 'scale-down | contain | scale-up | cover | crop | aspect-crop | pad | squeeze', default: 'scale-down', meaning: 'how width/height are interpreted (spec §4)' },
    { name: 'width', type: 'int', range: '1–12000', meaning: 'target width in pixels (already × dpr)' },
    { name: 'height', type: 'int', range: '1–12000', meaning: 'target height in pixels (already × dpr)' },
    { name: 'gravity', type: 'point | auto | face', default: 'point 0.5x0.5', meaning: 'crop window placement: focal point (remainder rule), saliency (auto) or faces' },
    { name: 'background', type: 'rgba', default: 'white (transparent for images with alpha in formats with alpha)', meaning: 'colour of pad bands' },
  ],
  stages(p) {
    const s: StageValue[] = [Stage.RESIZE];
    if (p.fit === 'cover' || p.fit === 'crop' || p.fit === 'aspect-crop') s.push(Stage.POST_EXTRACT);
    if (p.fit === 'pad') s.push(Stage.EXTEND);
    return s;
  },
  animation: () => 'keep',
  resizeBox(p, state) {
    const plan = planCfResize({ ...p, gravity: frameGravity(p, state) }, state.width, state.height);
    if (plan.crop !== null && (plan.crop.left === null || plan.crop.top === null)) return { width: plan.crop.width, height: plan.crop.height };
    return plan.scaleTo;
  },
  geometry(p, state, env) {
    const plan = planCfResize(p, state.width, state.height);
    const translucentBands = plan.pad !== null && bandColour(p, state, env?.outputHasAlpha ?? true).alpha < 1;
    return { ...state, width: plan.width, height: plan.height, hasAlpha: state.hasAlpha || translucentBands };
  },
  apply(pass, p, state, env) {
    const gravity = frameGravity(p, state);
    const plan = planCfResize({ ...p, gravity }, state.width, state.height);
    if (plan.crop !== null && (plan.crop.left === null || plan.crop.top === null)) {
      // Content-based window: sharp scales to cover the box and picks the most salient window.
      pass.img.resize(plan.crop.width, plan.crop.height, { fit: 'cover', position: gravity.kind === 'entropy' ? 'entropy' : 'attention' });
    } else {
      if (plan.scaleTo !== null) pass.img.resize(plan.scaleTo.width, plan.scaleTo.height, { fit: 'fill' });
      if (plan.crop !== null) {
        pass.img.extract({ left: plan.crop.left as number, top: plan.crop.top as number, width: plan.crop.width, height: plan.crop.height });
      }
    }
    let hasAlpha = state.hasAlpha;
    if (plan.pad !== null) {
      const background = bandColour(p, state, env.outputHasAlpha);
      if (background.alpha < 1) hasAlpha = true;
      pass.img.extend({ ...plan.pad, background });
    }
    return { ...state, width: plan.width, height: plan.height, hasAlpha };
  },
};
