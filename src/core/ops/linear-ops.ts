/** Transfer functions of bright and contrast, as `a·x + b` on 0–255 colour channels (alpha untouched). */

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
