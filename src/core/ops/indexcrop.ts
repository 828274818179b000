/**
 * indexcrop: cut the image into strips of `size` along an axis and keep strip `index` (spec §3.9).
 * The last strip is the remainder; an index past the last strip returns the image unchanged.
 */
import type { IndexCropParams } from '../ir.js';
import type { OpDefinition, ImageState } from './types.js';
import { Stage } from './types.js';

export function indexCropRect(p: IndexCropParams, W: number, H: number): { left: number; top: number; width: number; height: number } | null {
  const total = p.axis === 'x' ? W : H;
  const pieces = Math.ceil(total / p.size);
  if (p.index >= pieces) return null;
  const start = p.index * p.size;
  const len = Math.min(p.size, total - start);
  return p.axis === 'x' ? { left: start, top: 0, width: len, height: H } : { left: 0, top: start, width: W, height: len };
}

function after(state: ImageState, p: IndexCropParams): ImageState {
  const r = indexCropRect(p, state.width, state.height);
  return r ? { ...state, width: r.width, height: r.height } : state;
}

export const indexcrop: OpDefinition<'indexcrop'> = {
  name: 'indexcrop',
  summary: 'Cut into strips of x (or y) pixels and keep strip i; past the last strip, the image is unchanged.',
  params: [
    { name: 'axis', type: 'enum', range: 'x | y', meaning: 'strip direction (y wins when both are given)' },
    { name: 'size', type: 'int', range: '≥ 1', meaning: 'strip width (x) or height (y)' },
    { name: 'index', type: 'int', default: '0', meaning: '0-based strip to keep' },
  ],
  stages: () => [[Stage.PRE_EXTRACT, Stage.POST_EXTRACT]],
  animation: () => 'static',
  geometry: (p, state) => after(state, p),
  apply(pass, p, state) {
    const r = indexCropRect(p, state.width, state.height);
    if (r && (r.width !== state.width || r.height !== state.height)) pass.img.extract(r);
    return after(state, p);
  },
};
