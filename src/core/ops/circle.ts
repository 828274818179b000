/**
 * circle: cut the circle of radius r inscribed at the image centre (spec §3.8). The output is the
 * 2r×2r square around it (the spec's recommendation); outside the circle is transparent when the
 * output keeps alpha and white otherwise. r is reduced to half the shorter side.
 */
import type { OpDefinition, ImageState } from './types.js';
import { Stage } from './types.js';
import { clampRadius, outsideShapeOverlay } from './radius.js';

export function circleRect(r: number, W: number, H: number): { left: number; top: number; size: number; r: number } {
  const rr = clampRadius(r, W, H);
  // A 1-px-wide image has no circle of radius ≥ 1: keep one pixel rather than an empty image.
  const size = Math.max(1, 2 * rr);
  return { left: Math.floor((W - size) / 2), top: Math.floor((H - size) / 2), size, r: rr };
}

function after(state: ImageState, size: number, outputHasAlpha: boolean): ImageState {
  return { ...state, width: size, height: size, hasAlpha: outputHasAlpha || state.hasAlpha };
}

export const circle: OpDefinition<'circle'> = {
  name: 'circle',
  summary: 'Cut the inscribed circle of radius r from the centre; the output is a 2r×2r square.',
  params: [{ name: 'r', type: 'int', range: '1–4096', meaning: 'radius; reduced to half the shorter side' }],
  stages: () => [[Stage.PRE_EXTRACT, Stage.POST_EXTRACT], Stage.COMPOSITE],
  animation: () => 'static',
  geometry: (p, state, env) => after(state, circleRect(p.r, state.width, state.height).size, env?.outputHasAlpha ?? true),
  apply(pass, p, state, env) {
    const c = circleRect(p.r, state.width, state.height);
    if (c.size !== state.width || c.size !== state.height) pass.img.extract({ left: c.left, top: c.top, width: c.size, height: c.size });
    pass.overlays.push(outsideShapeOverlay(c.size, c.size, `<circle cx="${c.size / 2}" cy="${c.size / 2}" r="${c.size / 2}"/>`, env.outputHasAlpha));
    return after(state, c.size, env.outputHasAlpha);
  },
};
