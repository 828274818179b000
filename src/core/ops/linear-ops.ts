/** Transfer functions of bright and contrast, as `a·x + b` on 0–255 colour channels (alpha untouched). */
import type { PassBuilder } from './types.js';

/**
 * Makes sure linear() sees 0–255 samples. sharp keeps 16-bit sources (PNG/TIFF, rgb16/grey16) in
 * 16 bits through the pipeline and then applies linear() to 0–65535 values (unless a composite
 * earlier in the pass already converted to 8-bit sRGB), so an offset of v·2.55 or a pivot of 128
 * would be wrong. For such inputs the pass is run in 8-bit sRGB from its start (sharp's
 * pipelineColourspace); the output is 8-bit anyway.
 */
export async function ensure8Bit(pass: PassBuilder): Promise<void> {
  const m = await pass.img.metadata();
  if (m.depth === 'ushort') pass.img.pipelineColourspace('srgb');
}

/** bright: additive offset of v·2.55 (v in −100…100). */
export function brightLinear(v: number): { a: number; b: number } {
  return { a: 1, b: (v * 255) / 100 };
}

/** contrast: the classic factor 259(c+255)/(255(259−c)) with c = v·2.55, pivoting on 128. */
export function contrastLinear(v: number): { a: number; b: number } {
  const c = (v * 255) / 100;
  const f = (259 * (c + 255)) / (255 * (259 - c));
  return { a: f, b: 128 * (1 - f) };
}
