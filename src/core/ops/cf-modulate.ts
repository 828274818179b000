/**
 * cfModulate: Cloudflare `brightness` and `saturation` multipliers (1 = unchanged; saturation 0 =
 * greyscale), through sharp's modulate (lightness and chroma scaled in LCh).
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const cfModulate: OpDefinition<'cfModulate'> = {
  name: 'cfModulate',
  summary: 'Multiply brightness and saturation (1 = unchanged; saturation 0 = greyscale).',
  params: [
    { name: 'brightness', type: 'float', range: '>0–255', default: '1', meaning: 'brightness multiplier' },
    { name: 'saturation', type: 'float', range: '0–255', default: '1', meaning: 'saturation multiplier; 0 = greyscale' },
  ],
  stages: () => [Stage.MODULATE],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    if (p.brightness !== 1 || p.saturation !== 1) pass.img.modulate({ brightness: p.brightness, saturation: p.saturation });
    return state;
  },
};
