/**
 * gamma: raise normalised colour values to a power (Cloudflare `gamma`, newest DOC wording:
 * values below 1 lighten the midtones, above 1 darken them; 1 = unchanged). Alpha is untouched.
 *
 * sharp's `gamma(in, out)` applies `x^in`-style encoding before resize and `x^(1/out)` after, each
 * limited to 1–3, so one call can express any exponent in [1/3, 3]: `gamma(p, 1)` for p ≥ 1 and
 * `gamma(1, 1/p)` for p < 1. Because the two halves sit at different places of sharp's pipeline,
 * the operation runs in a pass of its own, where their position does not matter.
 */
import type { OpDefinition } from './types.js';

export const GAMMA_MIN = 1 / 3;
export const GAMMA_MAX = 3;

export const gamma: OpDefinition<'gamma'> = {
  name: 'gamma',
  summary: 'Power curve on colour values: out = in^value (value in 1/3…3; <1 lightens, >1 darkens).',
  params: [{ name: 'value', type: 'float', range: '0.334–3', default: '1', meaning: 'exponent; 1 = unchanged' }],
  stages: () => 'exclusive',
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    const v = Math.min(GAMMA_MAX, Math.max(GAMMA_MIN, p.value));
    if (v > 1) pass.img.gamma(v, 1);
    else if (v < 1) pass.img.gamma(1, 1 / v);
    return state;
  },
};
