/**
 * flip: mirror horizontally (`h`), vertically (`v`) or both (Cloudflare `flip`, spec §2/§3).
 *
 * sharp runs flip/flop after the pre-resize extract and before resize (checked with a synthetic
 * image: `.flop().extract()` cuts the unmirrored image, `.flop().resize(cover, left)` keeps the
 * mirrored left), the slot flatten also uses; the two commute, and flatten may join any pass
 * before resize. Cloudflare flips before rotating; the planner puts a following rotate (an
 * earlier stage) into the next pass, so the order holds.
 */
import type { OpDefinition } from './types.js';
import { Stage } from './types.js';

export const flip: OpDefinition<'flip'> = {
  name: 'flip',
  summary: 'Mirror the image horizontally, vertically or both.',
  params: [
    { name: 'horizontal', type: 'boolean', default: 'false', meaning: 'mirror left–right (Cloudflare h)' },
    { name: 'vertical', type: 'boolean', default: 'false', meaning: 'mirror top–bottom (Cloudflare v)' },
  ],
  stages: () => [Stage.FLATTEN],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  apply(pass, p, state) {
    if (p.horizontal) pass.img.flop();
    if (p.vertical) pass.img.flip();
    return state;
  },
};
