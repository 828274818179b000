/** Small pure helpers shared by the geometry of several operations. */
import type { Gravity } from '../ir.js';

/** Round half up, as the OSS documentation's examples do (66.5 → 67, 133.5 → 134). */
export function roundHalfUp(x: number): number {
  return Math.floor(x + 0.5);
}

/**
 * Top-left origin of a `w×h` box anchored at `g` inside a `W×H` image, before offsets.
 * Halves are floored (OSS says "centred" without a rounding rule; see spec oss-img.md §3.2).
 */
export function anchorOrigin(g: Gravity, W: number, H: number, w: number, h: number): { x: number; y: number } {
  const cx = Math.floor(W / 2 - w / 2);
  const cy = Math.floor(H / 2 - h / 2);
  switch (g) {
    case 'nw': return { x: 0, y: 0 };
    case 'north': return { x: cx, y: 0 };
    case 'ne': return { x: W - w, y: 0 };
    case 'west': return { x: 0, y: cy };
    case 'center': return { x: cx, y: cy };
    case 'east': return { x: W - w, y: cy };
    case 'sw': return { x: 0, y: H - h };
    case 'south': return { x: cx, y: H - h };
    case 'se': return { x: W - w, y: H - h };
  }
}
