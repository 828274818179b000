/**
 * Redis token-bucket RateLimiter, shared by every Halftone process of a deployment (scale-out
 * mode): the same semantics as the in-memory limiter — each key has a bucket of `burst` tokens
 * refilled at `perSecond` tokens per second, a request spends one, an empty bucket answers how long
 * until the next token — computed atomically by one Lua script per `take`, on the Redis server's
 * clock (so the nodes' clocks do not matter).
 *
 * Keys are stored hashed (`<prefix>:rl:<sha256>`): API keys are secrets and must not appear in
 * Redis key names. A bucket expires once it would be full again, so memory stays bounded by the
 * keys active in the last few seconds.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';

import type { RateDecision, RateLimiter } from '../../ports/rate-limiter.js';

export interface RedisRateLimiterOptions {
  /** `redis://…` (REDIS_URL). */
  readonly url: string;
  /** Key prefix (HALFTONE_REDIS_PREFIX, default `halftone`). */
  readonly prefix?: string;
  /** Tokens added per second (the sustained request rate). */
  readonly perSecond: number;
  /** Bucket size: requests allowed at once after a quiet period (default = perSecond). */
  readonly burst?: number;
}

export interface RedisRateLimiter extends RateLimiter {
  close(): Promise<void>;
}

// KEYS[1] bucket; ARGV[1] tokens per second, ARGV[2] burst. Returns { allowed, retryAfterMs }.
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, retry }
`;

/** Creates the limiter and its Redis connection. */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const rate = options.perSecond;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`perSecond must be positive, got ${rate}`);
  const burst = options.burst ?? Math.max(1, rate);
  if (!(burst >= 1) || !Number.isFinite(burst)) throw new RangeError(`burst must be at least 1, got ${burst}`);
  const prefix = options.prefix ?? 'halftone';
  // Fail fast while Redis is unreachable: a request waits for one reconnect attempt, not twenty.
  const redis = new Redis(options.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // reconnects on its own; each take() rejects meanwhile
  redis.defineCommand('halftoneTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  const take = (redis as unknown as { halftoneTake(key: string, rate: number, burst: number): Promise<[number, number]> }).halftoneTake.bind(redis);

  return {
    async take(key: string): Promise<RateDecision> {
      const bucket = `${prefix}:rl:${createHash('sha256').update(key).digest('hex')}`;
      const [allowed, retry] = await take(bucket, rate, burst);
      return allowed === 1 ? { ok: true } : { ok: false, retryAfterMs: Math.max(1, retry) };
    },
    async close() {
      await redis.quit().catch(() => undefined);
    },
  };
}
