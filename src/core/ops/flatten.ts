/**
 * flatten: merge transparency onto a background colour.
 *
 * Inserted by the planner when the source has alpha and the output format has none (OSS: "transparent
 * areas become white", never black). sharp flattens before resizing, hence the early stage.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const flatten: OpDefinition<'flatten'> = {
  name: 'flatten',
  summary: 'Merge the alpha channel onto a background colour.',
  params: [{ name: 'background', type: 'rgba', default: 'white', meaning: 'colour placed under transparent pixels' }],
  stages: () => [Stage.FLATTEN],
  animation: () => 'keep',
  geometry: (_p, state) => ({ ...state, hasAlpha: false }),
  apply(pass, p, state) {
    if (state.hasAlpha) {
      const { r, g, b } = p.background;
      pass.img.flatten({ background: { r, g, b } });
    }
    return { ...state, hasAlpha: false };
  },
};
