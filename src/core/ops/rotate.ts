/**
 * rotate: clockwise rotation by 0–360° (spec oss-img.md §3.12).
 *
 * Multiples of 90 are exact pixel moves. Other angles enlarge the canvas to the rotated bounding box
 * `ceil(W|cos θ| + H|sin θ|) × ceil(W|sin θ| + H|cos θ|)` (the spec's recommended size; OSS does not
 * document it). libvips sizes the rotated canvas by rounding instead of ceil (checked by a sweep in
 * test/ops), so when ceil is one pixel larger, the missing column/row is added on the right/bottom
 * with the same background (sharp's extend stage, which runs after rotate in one pipeline).
 * The uncovered area is transparent when the output keeps alpha, white otherwise (JPEG).
 */
import type { Rgba } from '../ir.js';
import { TRANSPARENT, WHITE } from '../ir.js';
import type { OpDefinition, ImageState, StageSlot } from './types.js';
import { Stage } from './types.js';

/** Normalised clockwise angle in [0, 360). */
function norm(angle: number): number {
  return ((angle % 360) + 360) % 360;
}

// Floating point noise (e.g. 400·cos 60° = 200.00000000000003) must not add a pixel.
const EPS = 1e-9;

/** The bounding box of a W×H image rotated by `angle` (the spec's ceil formula). */
export function rotatedSize(angle: number, W: number, H: number): { width: number; height: number } {
  const a = norm(angle);
  if (a === 0 || a === 180) return { width: W, height: H };
  if (a === 90 || a === 270) return { width: H, height: W };
  const t = (a * Math.PI) / 180;
  const c = Math.abs(Math.cos(t));
  const s = Math.abs(Math.sin(t));
  return { width: Math.ceil(W * c + H * s - EPS), height: Math.ceil(W * s + H * c - EPS) };
}

/** The canvas libvips' rotate produces (rounded instead of ceil). */
export function libvipsRotatedSize(angle: number, W: number, H: number): { width: number; height: number } {
  const a = norm(angle);
  if (a % 90 === 0) return rotatedSize(a, W, H);
  const t = (a * Math.PI) / 180;
  const c = Math.abs(Math.cos(t));
  const s = Math.abs(Math.sin(t));
  return { width: Math.round(W * c + H * s), height: Math.round(W * s + H * c) };
}

/** Pixels to add on the right and bottom after libvips' rotate to reach {@link rotatedSize}. */
export function rotatePadding(angle: number, W: number, H: number): { right: number; bottom: number } {
  const want = rotatedSize(angle, W, H);
  const got = libvipsRotatedSize(angle, W, H);
  return { right: Math.max(0, want.width - got.width), bottom: Math.max(0, want.height - got.height) };
}

function background(outputHasAlpha: boolean): Rgba {
  return outputHasAlpha ? TRANSPARENT : WHITE;
}

function after(state: ImageState, angle: number, outputHasAlpha: boolean): ImageState {
  const { width, height } = rotatedSize(angle, state.width, state.height);
  const odd = norm(angle) % 90 !== 0;
  // A transparent background adds an alpha channel (sharp's ApplyAlpha); white does not.
  return { ...state, width, height, hasAlpha: state.hasAlpha || (odd && outputHasAlpha) };
}

export const rotate: OpDefinition<'rotate'> = {
  name: 'rotate',
  summary: 'Rotate clockwise by 0–360 degrees; other angles grow the canvas to ceil of the rotated bounding box.',
  params: [{ name: 'angle', type: 'int', range: '0–360', default: '0', meaning: 'clockwise degrees' }],
  stages(p, state): readonly StageSlot[] {
    const pad = rotatePadding(p.angle, state.width, state.height);
    return pad.right > 0 || pad.bottom > 0 ? [Stage.ROTATE, Stage.EXTEND] : [Stage.ROTATE];
  },
  animation: () => 'keep',
  geometry: (p, state, env) => after(state, p.angle, env?.outputHasAlpha ?? true),
  apply(pass, p, state, env) {
    const a = norm(p.angle);
    if (a !== 0) {
      const bg = background(env.outputHasAlpha);
      pass.img.rotate(a, { background: bg });
      const pad = rotatePadding(a, state.width, state.height);
      if (pad.right > 0 || pad.bottom > 0) {
        pass.img.extend({ top: 0, left: 0, right: pad.right, bottom: pad.bottom, background: bg });
      }
    }
    return after(state, p.angle, env.outputHasAlpha);
  },
};
