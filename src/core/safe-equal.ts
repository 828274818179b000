/**
 * Constant-time string comparison for secrets (signatures, bearer tokens). Both sides are hashed
 * to equal-length digests first, so neither the content nor the length of the expected value
 * leaks through timing; `crypto.timingSafeEqual` does the comparison.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** True when `a` and `b` are the same string; time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  // The digest comparison is constant-time; the final string check only runs on a digest match.
  return timingSafeEqual(digest(a), digest(b)) && a === b;
}

/** True when `candidate` equals any of `secrets`; every entry is compared (no early exit). */
export function safeIncludes(secrets: readonly string[], candidate: string): boolean {
  let hit = false;
  for (const s of secrets) hit = safeEqual(s, candidate) || hit;
  return hit;
}
