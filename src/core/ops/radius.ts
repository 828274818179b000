/** Shared by circle and rounded-corners: the transparency (or white) mask drawn as SVG. */
import type { OverlayOptions } from 'sharp';

/**
 * An overlay that makes everything outside `shape` transparent (output keeps alpha: `dest-in`
 * with the shape) or white (output has no alpha: white everywhere but the shape, drawn over).
 */
export function outsideShapeOverlay(width: number, height: number, shape: string, outputHasAlpha: boolean): OverlayOptions {
  if (outputHasAlpha) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shape.replace('/>', ' fill="#fff"/>')}</svg>`;
    return { input: Buffer.from(svg), blend: 'dest-in', left: 0, top: 0 };
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><mask id="m"><rect width="100%" height="100%" fill="#fff"/>${shape.replace('/>', ' fill="#000"/>')}</mask><rect width="100%" height="100%" fill="#fff" mask="url(#m)"/></svg>`;
  return { input: Buffer.from(svg), blend: 'over', left: 0, top: 0 };
}

/**
 * A radius reduced to half the shorter side (floored), as OSS does: 400×267 with r 4096 → 133.
 * 0 only when the shorter side is 1 px.
 */
export function clampRadius(r: number, width: number, height: number): number {
  return Math.max(0, Math.min(r, Math.floor(Math.min(width, height) / 2)));
}
