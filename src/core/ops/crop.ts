/**
 * crop: cut a rectangle anchored at a gravity with offsets (spec oss-img.md §3.2).
 */
import type { CropParams } from '../ir.js';
import { AppError } from '../errors.js';
import type { OpDefinition, ImageState } from './types.js';
import { Stage } from './types.js';
import { anchorOrigin } from './geometry.js';

export interface CropRect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The rectangle OSS cuts from a `W×H` image: origin from the gravity table, plus (x, y), clipped at
 * the image edge. A start point outside the image is a 400 BadRequest, as OSS answers.
 * `w`/`h` of 0 or absent mean "to the edge".
 */
export function cropRect(p: CropParams, W: number, H: number): CropRect {
  const w = p.w === undefined || p.w === 0 ? W : p.w;
  const h = p.h === undefined || p.h === 0 ? H : p.h;
  const origin = anchorOrigin(p.g, W, H, Math.min(w, W), Math.min(h, H));
  const left = origin.x + p.x;
  const top = origin.y + p.y;
  if (left < 0 || top < 0 || left >= W || top >= H) {
    throw new AppError('BAD_REQUEST', "Advance cut's position is out of image.");
  }
  return { left, top, width: Math.min(w, W - left), height: Math.min(h, H - top) };
}

function cropped(state: ImageState, r: CropRect): ImageState {
  return { ...state, width: r.width, height: r.height };
}

export const crop: OpDefinition<'crop'> = {
  name: 'crop',
  summary: 'Cut a rectangle of w×h at gravity g, offset by x/y, clipped at the image edge.',
  params: [
    { name: 'w', type: 'int', range: '0–image width', default: 'to the edge', meaning: 'crop width' },
    { name: 'h', type: 'int', range: '0–image height', default: 'to the edge', meaning: 'crop height' },
    { name: 'x', type: 'int', default: '0', meaning: 'horizontal offset added to the origin' },
    { name: 'y', type: 'int', default: '0', meaning: 'vertical offset added to the origin' },
    { name: 'g', type: 'enum', range: 'nw north ne west center east sw south se', default: 'nw', meaning: 'where the origin is placed' },
  ],
  stages: () => [[Stage.PRE_EXTRACT, Stage.POST_EXTRACT]],
  animation: () => 'keep',
  geometry: (p, state) => cropped(state, cropRect(p, state.width, state.height)),
  apply(pass, p, state) {
    const r = cropRect(p, state.width, state.height);
    if (r.width !== state.width || r.height !== state.height) pass.img.extract(r);
    return cropped(state, r);
  },
};
