/**
 * blur: Gaussian blur (spec §3.11). sharp derives the kernel radius from sigma, so `s` is the
 * sigma and `r` only bounds the request (validated by the dialect); pixels will not match OSS
 * exactly, which the spec accepts.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const blur: OpDefinition<'blur'> = {
  name: 'blur',
  summary: 'Gaussian blur with standard deviation s (radius r is derived by libvips).',
  params: [
    { name: 'r', type: 'int', range: '1–50', meaning: 'blur radius (accepted; libvips derives the kernel from s)' },
    { name: 's', type: 'int', range: '1–50', meaning: 'standard deviation of the Gaussian' },
  ],
  stages: () => [Stage.BLUR],
  animation: () => 'static',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    pass.img.blur(Math.max(0.3, p.s));
    return state;
  },
};
