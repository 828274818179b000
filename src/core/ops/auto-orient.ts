/**
 * auto-orient: apply the EXIF Orientation tag so the image is upright.
 *
 * OSS evaluates auto-orient before the rest of the chain wherever it is written (spec §1.3), so
 * the OSS parser always puts it first. run.ts passes `autoOrient: true` to sharp's constructor for
 * the first pass (sharp then rotates/flips as early as the rest of the pass needs and swaps resize
 * targets accordingly); apply() here only records the new geometry.
 */
import type { OpDefinition, ImageState } from './types.js';
import { Stage } from './types.js';

/** Orientations 5–8 swap width and height. */
export function orientationSwapsAxes(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

function oriented(enabled: boolean, state: ImageState): ImageState {
  if (!enabled || state.orientation === 1) return state;
  const swap = orientationSwapsAxes(state.orientation);
  return {
    ...state,
    width: swap ? state.height : state.width,
    height: swap ? state.width : state.height,
    orientation: 1,
  };
}

export const autoOrient: OpDefinition<'autoOrient'> = {
  name: 'autoOrient',
  summary: 'Rotate/flip the image upright according to its EXIF Orientation tag (applied before the chain).',
  params: [{ name: 'enabled', type: 'boolean', default: 'false', meaning: 'true: apply EXIF orientation; false: keep stored pixels' }],
  stages: () => [Stage.ORIENT],
  animation: () => 'keep',
  geometry: (p, state) => oriented(p.enabled, state),
  apply: (_pass, p, state) => oriented(p.enabled, state),
};
