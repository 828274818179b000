/**
 * cfBlur: Cloudflare `blur` radius 1–250 as a Gaussian with sigma = radius / 2 (Cloudflare does
 * not publish its kernel; a Gaussian's visible reach is about 2 sigma, so the radius reads as the
 * distance over which detail is smeared).
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const cfBlur: OpDefinition<'cfBlur'> = {
  name: 'cfBlur',
  summary: 'Gaussian blur of radius 1–250 (sigma = radius / 2).',
  params: [{ name: 'radius', type: 'float', range: '0–250', default: '0', meaning: 'blur radius in pixels; 0 = none' }],
  stages: () => [Stage.BLUR],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    if (p.radius > 0) pass.img.blur(Math.max(0.3, p.radius / 2));
    return state;
  },
};
