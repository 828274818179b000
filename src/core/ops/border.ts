/**
 * border: a solid frame around the image (Cloudflare `border`, added after resizing; widths are
 * already multiplied by dpr by the dialect).
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const border: OpDefinition<'border'> = {
  name: 'border',
  summary: 'Add a solid border of the given widths and colour.',
  params: [
    { name: 'color', type: 'rgba', meaning: 'border colour' },
    { name: 'top/right/bottom/left', type: 'int', range: '0–2000', meaning: 'border width on each side in pixels' },
  ],
  stages: () => [Stage.EXTEND],
  animation: () => 'keep',
  geometry: (p, state, env) => ({
    ...state,
    width: state.width + p.left + p.right,
    height: state.height + p.top + p.bottom,
    hasAlpha: state.hasAlpha || ((env?.outputHasAlpha ?? true) && p.color.alpha < 1),
  }),
  apply(pass, p, state, env) {
    const color = env.outputHasAlpha ? p.color : { ...p.color, alpha: 1 };
    if (p.top + p.right + p.bottom + p.left > 0) {
      pass.img.extend({ top: p.top, right: p.right, bottom: p.bottom, left: p.left, background: color });
    }
    return {
      ...state,
      width: state.width + p.left + p.right,
      height: state.height + p.top + p.bottom,
      hasAlpha: state.hasAlpha || color.alpha < 1,
    };
  },
};
