/** bright: brighten (v > 0) or darken (v < 0) by an additive offset of v·2.55 (spec §3.15). */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';
import { brightLinear, ensure8Bit } from './linear-ops.js';

export const bright: OpDefinition<'bright'> = {
  name: 'bright',
  summary: 'Brightness: add v·2.55 to every colour channel (v in −100…100).',
  params: [{ name: 'value', type: 'int', range: '−100–100', meaning: '<0 darker, >0 brighter' }],
  stages: () => [Stage.LINEAR],
  animation: () => 'static',
  geometry: (_p, state) => state,
  async apply(pass, p, state) {
    const { a, b } = brightLinear(p.value);
    // sharp applies a scalar linear to the colour channels and leaves alpha alone.
    if (p.value !== 0) {
      await ensure8Bit(pass);
      pass.img.linear(a, b);
    }
    return state;
  },
};
