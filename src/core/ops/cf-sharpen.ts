/**
 * cfSharpen: Cloudflare `sharpen` strength 0–10 as a one-pixel unsharp mask (sigma 1) whose gains
 * grow with the strength: flat areas v/2, edges v. Strength 2 equals sharp's default sharpen; 1 is
 * the mild value Cloudflare recommends after downscaling.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const cfSharpen: OpDefinition<'cfSharpen'> = {
  name: 'cfSharpen',
  summary: 'Unsharp mask of strength 0–10 (sigma 1, gains v/2 and v).',
  params: [{ name: 'value', type: 'float', range: '0–10', default: '0', meaning: 'strength; 1 recommended after downscaling' }],
  stages: () => [Stage.SHARPEN],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    if (p.value > 0) pass.img.sharpen({ sigma: 1, m1: p.value / 2, m2: p.value });
    return state;
  },
};
