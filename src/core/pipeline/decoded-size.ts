/**
 * The size at which libvips decodes a source for a plan: JPEG and WebP decoders can shrink while
 * loading ("shrink-on-load"), so a 6000×4000 JPEG resized to 320 px wide is decoded at 750×500,
 * not at full size. Admission control estimates a pipeline's working memory from this.
 *
 * sharp pre-shrinks only when the first thing its pipeline does is a resize (src/pipeline.cc,
 * `shouldPreShrink`): no extract before it, no trim, no gamma, no colourspace pipeline, no
 * orientation or rotation applied before it. EXIF auto-orientation is applied after the resize
 * (with the resize target turned for 90°/270° orientations), unless the pipeline also extracts:
 * sharp then orients first (`orientBefore`), whether the extract comes before or after the resize.
 * This module recognises the plans for which that certainly holds and answers the full size for
 * every other one, so the estimate errs high.
 */
import type { SourceInfo } from '../ir.js';
import { OPS } from '../ops/index.js';
import { Stage, type ImageState, type OpDefinition } from '../ops/types.js';
import type { Plan } from './plan.js';

export interface DecodedSize {
  readonly width: number;
  readonly height: number;
}

/** Steps that may precede the resize without disabling shrink-on-load. */
const BEFORE_RESIZE = new Set(['autoOrient', 'flatten']);
/** Steps that disable shrink-on-load anywhere in the pass (sharp applies them around the resize). */
const DISABLES = new Set(['gamma', 'cfTrim']);

/** The decoded size of `info` when the plan runs on it (the stored size when no shrink applies). */
export function decodedSize(info: SourceInfo, plan: Plan): DecodedSize {
  const full = { width: info.width, height: info.height };
  const pass = plan.passes[0];
  if (pass === undefined || info.frames > 1 || (info.format !== 'jpeg' && info.format !== 'webp')) return full;
  const oriented = pass.autoOrient && info.orientation > 1;
  // sharp orients before resizing (and so cannot pre-shrink) when the pipeline also extracts.
  if (oriented && pass.steps.some((s) => s.stages.includes(Stage.PRE_EXTRACT) || s.stages.includes(Stage.POST_EXTRACT))) return full;
  if (pass.steps.some((s) => DISABLES.has(s.op.op))) return full;
  const first = pass.steps.find((s) => !BEFORE_RESIZE.has(s.op.op));
  if (first === undefined) return full;
  const def = OPS[first.op.op] as unknown as OpDefinition<typeof first.op.op>;
  const box = def.resizeBox?.(first.op.params as never, first.before as ImageState) ?? null;
  if (box === null || box.width <= 0 || box.height <= 0) return full;
  // The box is in displayed orientation; orientations 5–8 turn the image by 90° or 270°, and sharp
  // turns the resize target with it, so the stored width meets the box's height.
  const turned = oriented && info.orientation >= 5;
  const shrink = turned ? Math.min(info.width / box.height, info.height / box.width) : Math.min(info.width / box.width, info.height / box.height);
  if (info.format === 'webp') {
    // webpload's scale: libwebp decodes straight to the scaled size.
    return shrink > 1 ? { width: Math.ceil(info.width / shrink), height: Math.ceil(info.height / shrink) } : full;
  }
  const factor = jpegShrinkOnLoad(shrink);
  return { width: Math.ceil(info.width / factor), height: Math.ceil(info.height / factor) };
}

/**
 * sharp's JPEG shrink-on-load factor (with its default fastShrinkOnLoad): the largest of 8, 4, 2
 * that the common shrink reaches, halved when the shrink is exactly that integer (libjpeg rounding).
 */
export function jpegShrinkOnLoad(shrink: number): number {
  let factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (factor > 1 && Math.trunc(shrink) === factor) factor /= 2;
  return factor;
}
