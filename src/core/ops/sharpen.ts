/**
 * sharpen: unsharp mask (spec §3.16). OSS's transfer function is undocumented; Halftone maps the
 * strength v (50–399, 100 recommended) to a Gaussian sigma of v/100 (0.5–3.99 px) with sharp's
 * default flat/jagged gains, so 100 is a mild one-pixel sharpen and 399 clearly over-sharpens.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const sharpen: OpDefinition<'sharpen'> = {
  name: 'sharpen',
  summary: 'Unsharp mask with sigma v/100 (v in 50…399).',
  params: [{ name: 'value', type: 'int', range: '50–399', meaning: 'strength; 100 recommended' }],
  stages: () => [Stage.SHARPEN],
  animation: () => 'static',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    pass.img.sharpen({ sigma: p.value / 100 });
    return state;
  },
};
