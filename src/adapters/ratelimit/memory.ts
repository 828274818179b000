/**
 * In-memory token-bucket RateLimiter: each key has a bucket of `burst` tokens refilled at
 * `perSecond` tokens per second; a request spends one token. Buckets idle long enough to be full
 * again are forgotten, so memory stays bounded by the keys active in the last few seconds.
 */
import type { RateDecision, RateLimiter } from '../../ports/rate-limiter.js';

export interface MemoryRateLimiterOptions {
  /** Tokens added per second (the sustained request rate). */
  readonly perSecond: number;
  /** Bucket size: requests allowed at once after a quiet period (default = perSecond). */
  readonly burst?: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createMemoryRateLimiter(options: MemoryRateLimiterOptions): RateLimiter {
  const rate = options.perSecond;
  if (!(rate > 0)) throw new RangeError(`perSecond must be positive, got ${rate}`);
  const burst = options.burst ?? Math.max(1, rate);
  const now = options.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  let lastPrune = now();
  const fullAfterMs = (burst / rate) * 1000;

  function prune(t: number): void {
    if (t - lastPrune < fullAfterMs + 1000) return;
    lastPrune = t;
    for (const [k, b] of buckets) if (t - b.at >= fullAfterMs) buckets.delete(k);
  }

  return {
    async take(key: string): Promise<RateDecision> {
      const t = now();
      prune(t);
      const b = buckets.get(key) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / rate) * 1000) };
    },
  };
}
