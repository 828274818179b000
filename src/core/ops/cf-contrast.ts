/**
 * cfContrast: Cloudflare `contrast` multiplier, as `a·x + b` pivoting on mid-grey 128
 * (a = value, b = 128·(1 − value)); 1 = unchanged, 0.5 = flatter, 2 = stronger. Alpha untouched.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const cfContrast: OpDefinition<'cfContrast'> = {
  name: 'cfContrast',
  summary: 'Multiply contrast around mid-grey (1 = unchanged).',
  params: [{ name: 'value', type: 'float', range: '>0–255', default: '1', meaning: 'contrast multiplier' }],
  stages: () => [Stage.LINEAR],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    if (p.value !== 1) pass.img.linear(p.value, 128 * (1 - p.value));
    return state;
  },
};
