/**
 * rotate: clockwise rotation by 0–360° (spec §3.12). Multiples of 90 are exact; other angles
 * enlarge the canvas to the rotated bounding box, which libvips rounds to the nearest pixel
 * (round(W·|cos θ| + H·|sin θ|) × round(W·|sin θ| + H·|cos θ|); the spec's ceil is UNCONFIRMED and
 * Halftone reports what libvips produces). The uncovered area is transparent when the output
 * keeps alpha, white otherwise.
 */
import type { OpDefinition, ImageState } from './types.js';
import { Stage } from './types.js';

export function rotatedSize(angle: number, W: number, H: number): { width: number; height: number } {
  const a = ((angle % 360) + 360) % 360;
  if (a === 0 || a === 180) return { width: W, height: H };
  if (a === 90 || a === 270) return { width: H, height: W };
  const t = (a * Math.PI) / 180;
  const c = Math.abs(Math.cos(t));
  const s = Math.abs(Math.sin(t));
  return { width: Math.round(W * c + H * s), height: Math.round(W * s + H * c) };
}

function after(state: ImageState, angle: number, outputHasAlpha: boolean): ImageState {
  const { width, height } = rotatedSize(angle, state.width, state.height);
  const odd = angle % 90 !== 0;
  return { ...state, width, height, hasAlpha: state.hasAlpha || (odd && outputHasAlpha) };
}

export const rotate: OpDefinition<'rotate'> = {
  name: 'rotate',
  summary: 'Rotate clockwise by 0–360 degrees; other than multiples of 90 the canvas grows to fit.',
  params: [{ name: 'angle', type: 'int', range: '0–360', default: '0', meaning: 'clockwise degrees' }],
  stages: () => [Stage.ROTATE],
  animation: () => 'keep',
  geometry: (p, state, env) => after(state, p.angle, env?.outputHasAlpha ?? true),
  apply(pass, p, state, env) {
    const a = p.angle % 360;
    if (a !== 0) {
      const background = env.outputHasAlpha ? { r: 0, g: 0, b: 0, alpha: 0 } : { r: 255, g: 255, b: 255, alpha: 1 };
      pass.img.rotate(a, { background });
    }
    return after(state, p.angle, env.outputHasAlpha);
  },
};
