/** contrast: more (v > 0) or less (v < 0) contrast around mid-grey (spec §3.17). */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';
import { contrastLinear, ensure8Bit } from './linear-ops.js';

export const contrast: OpDefinition<'contrast'> = {
  name: 'contrast',
  summary: 'Contrast: scale colour channels around 128 by 259(c+255)/(255(259−c)), c = v·2.55.',
  params: [{ name: 'value', type: 'int', range: '−100–100', meaning: '<0 less contrast, >0 more' }],
  stages: () => [Stage.LINEAR],
  animation: () => 'static',
  geometry: (_p, state) => state,
  async apply(pass, p, state) {
    const { a, b } = contrastLinear(p.value);
    if (p.value !== 0) {
      await ensure8Bit(pass);
      pass.img.linear(a, b);
    }
    return state;
  },
};
