/**
 * cfTrim: Cloudflare `trim` (spec cloudflare-transform.md §9), before rotation and resizing.
 *
 * Fixed forms (per side in pixels or fractions, `trim.width`/`trim.height` windows) are a plain
 * extract whose geometry is exact. Border detection asks libvips for the bounding box of the pixels
 * that differ from the border colour (sharp `trim()` on a clone of the pipeline so far), then
 * extracts that box widened by `keep`. Its size is only known from the pixels: geometry() reports
 * the untrimmed size as an upper bound and callers that need the exact size read the output.
 */
import type { CfTrimLength, CfTrimParams } from '../ir.js';
import { AppError } from '../errors.js';
import type { ImageState, OpDefinition } from './types.js';
import { Stage } from './types.js';

function length(l: CfTrimLength, dim: number): number {
  return l.unit === 'px' ? l.value : Math.round(l.value * dim);
}

/** The rectangle kept by a fixed trim of a `W×H` image. Throws BAD_REQUEST when nothing is left. */
export function trimRect(p: Extract<CfTrimParams, { kind: 'sides' }>, W: number, H: number): { left: number; top: number; width: number; height: number } {
  const left = Math.min(W, length(p.left, W));
  const top = Math.min(H, length(p.top, H));
  const right = length(p.right, W);
  const bottom = length(p.bottom, H);
  let width = W - left - right;
  let height = H - top - bottom;
  if (p.width !== undefined) width = Math.min(p.width, W - left);
  if (p.height !== undefined) height = Math.min(p.height, H - top);
  if (width < 1 || height < 1) {
    throw new AppError('BAD_REQUEST', `trim would remove the whole ${W}x${H} image.`);
  }
  return { left, top, width, height };
}

/** sharp's trim threshold from Cloudflare's tolerance (255 = must match exactly, 0 = need not match). */
export function trimThreshold(tolerance: number): number {
  return Math.max(0, Math.min(255, 255 - tolerance));
}

export const cfTrim: OpDefinition<'cfTrim'> = {
  name: 'cfTrim',
  summary: 'Cloudflare trim: remove pixels per side (px or fraction), keep a window, or cut a uniform border.',
  params: [
    { name: 'kind', type: 'enum', range: 'sides | border', meaning: 'fixed amounts, or border detection' },
    { name: 'top/right/bottom/left', type: 'px | fraction', range: '≥0 px or 0–1', default: '0', meaning: 'amount removed from that side (sides)' },
    { name: 'width/height', type: 'int', range: '≥1', meaning: 'keep at most this many pixels from the left/top (sides)' },
    { name: 'color', type: 'rgba', default: 'top-left pixel', meaning: 'border colour (border)' },
    { name: 'tolerance', type: 'int', range: '0–255', default: '245', meaning: '255 = must match exactly, 0 = need not match (border)' },
    { name: 'keep', type: 'int', range: '≥0', default: '0', meaning: 'pixels of the detected border to keep (border)' },
  ],
  stages: () => [Stage.PRE_EXTRACT],
  animation: (p) => (p.kind === 'sides' ? 'keep' : 'static'),
  geometry(p, state) {
    if (p.kind === 'border') return state;
    const r = trimRect(p, state.width, state.height);
    return { ...state, width: r.width, height: r.height };
  },
  async apply(pass, p, state) {
    if (p.kind === 'sides') {
      const r = trimRect(p, state.width, state.height);
      if (r.width !== state.width || r.height !== state.height) pass.img.extract(r);
      return { ...state, width: r.width, height: r.height };
    }
    const options = {
      threshold: trimThreshold(p.tolerance),
      ...(p.color === undefined ? {} : { background: { r: p.color.r, g: p.color.g, b: p.color.b, alpha: p.color.alpha } }),
    };
    let box: { left: number; top: number; width: number; height: number };
    try {
      // The clone carries the pipeline so far (orientation); only its trim box is used.
      const { info } = await pass.img.clone().trim(options).toBuffer({ resolveWithObject: true });
      box = { left: -(info.trimOffsetLeft ?? 0), top: -(info.trimOffsetTop ?? 0), width: info.width, height: info.height };
    } catch {
      // libvips refuses to trim an image that is all border: keep it whole.
      return state;
    }
    const left = Math.max(0, box.left - p.keep);
    const top = Math.max(0, box.top - p.keep);
    const width = Math.min(state.width - left, box.left + box.width + p.keep - left);
    const height = Math.min(state.height - top, box.top + box.height + p.keep - top);
    if (width === state.width && height === state.height) return state;
    pass.img.extract({ left, top, width, height });
    return { ...state, width, height };
  },
};
