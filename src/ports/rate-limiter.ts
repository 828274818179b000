/**
 * RateLimiter: per-key request budgets (the compression task API's "QPS 2" per API key).
 *
 * Async so that a shared adapter (Redis, for several Halftone processes behind one balancer) can
 * implement it with the same semantics as the in-memory token bucket: each `take` spends one token
 * of `key`'s bucket or, when the bucket is empty, says how long until the next token.
 */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface RateLimiter {
  /** Spends one request of `key`'s budget. */
  take(key: string): Promise<RateDecision>;
}
