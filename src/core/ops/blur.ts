/**
 * blur: Gaussian blur (spec oss-img.md §3.11) with standard deviation `s` and kernel half-width `r`
 * (the ImageMagick-style "radius × sigma" the OSS parameters describe; bounds 1–50 are checked by
 * the dialect). libvips builds the kernel from sigma and cuts it where the Gaussian falls below
 * `minAmplitude`, so `r` is turned into that cut-off: exp(−(r+½)² / 2s²), the Gaussian's value just
 * past the r-th tap. A small r with a large s therefore gives a narrow, almost box-like blur (as in
 * ImageMagick); a large r changes little beyond libvips' own cut-off. Pixels do not match OSS
 * exactly, which the spec accepts. Size unchanged.
 */
import type { BlurParams } from '../ir.js';
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

/** sharp's accepted range for `minAmplitude`. */
const MIN_AMPLITUDE_FLOOR = 0.001;

/** The sharp blur options for OSS `r`/`s`. */
export function blurOptions(p: BlurParams): { sigma: number; minAmplitude: number } {
  const sigma = Math.max(0.3, p.s);
  const cut = Math.exp(-((p.r + 0.5) ** 2) / (2 * sigma * sigma));
  return { sigma, minAmplitude: Math.min(1, Math.max(MIN_AMPLITUDE_FLOOR, cut)) };
}

export const blur: OpDefinition<'blur'> = {
  name: 'blur',
  summary: 'Gaussian blur with standard deviation s, kernel cut at half-width r.',
  params: [
    { name: 'r', type: 'int', range: '1–50', meaning: 'kernel half-width in pixels (bigger = blurrier, up to what s allows)' },
    { name: 's', type: 'int', range: '1–50', meaning: 'standard deviation of the Gaussian (bigger = blurrier)' },
  ],
  stages: () => [Stage.BLUR],
  animation: () => 'static',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    pass.img.blur(blurOptions(p));
    return state;
  },
};
