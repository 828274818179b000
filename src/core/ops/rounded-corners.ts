/**
 * rounded-corners: round the four corners with radius r (spec §3.10); size unchanged; corners
 * transparent when the output keeps alpha, white otherwise; r reduced to half the shorter side.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';
import { clampRadius, outsideShapeOverlay } from './radius.js';

export const roundedCorners: OpDefinition<'roundedCorners'> = {
  name: 'roundedCorners',
  summary: 'Round the corners with radius r (size unchanged).',
  params: [{ name: 'r', type: 'int', range: '1–4096', meaning: 'corner radius; reduced to half the shorter side' }],
  stages: () => [Stage.COMPOSITE],
  animation: () => 'static',
  geometry: (_p, state, env) => ({ ...state, hasAlpha: (env?.outputHasAlpha ?? true) || state.hasAlpha }),
  apply(pass, p, state, env) {
    const r = clampRadius(p.r, state.width, state.height);
    const shape = `<rect x="0" y="0" width="${state.width}" height="${state.height}" rx="${r}" ry="${r}"/>`;
    pass.overlays.push(outsideShapeOverlay(state.width, state.height, shape, env.outputHasAlpha));
    return { ...state, hasAlpha: env.outputHasAlpha || state.hasAlpha };
  },
};
