/**
 * The Redis token-bucket rate limiter on a throw-away redis-server (loopback): burst, refill,
 * retry hints, independent keys, one budget shared by two limiter instances (two nodes), and no
 * API key in Redis key names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createRedisRateLimiter, type RedisRateLimiter } from '../../src/adapters/ratelimit/redis.js';
import { redisSkip, startLocalRedis, type LocalRedis } from '../helpers/redis-server.js';

const skip = redisSkip();

describe('Redis rate limiter', { skip }, () => {
  let redis: LocalRedis;
  const limiters: RedisRateLimiter[] = [];
  let n = 0;
  const make = (perSecond: number, burst?: number, prefix = `rl${n++}`) => {
    const l = createRedisRateLimiter({ url: redis.url, prefix, perSecond, ...(burst === undefined ? {} : { burst }) });
    limiters.push(l);
    return l;
  };
  before(async () => {
    redis = await startLocalRedis();
  });
  after(async () => {
    for (const l of limiters) await l.close();
    await redis?.stop();
  });

  it('allows a burst, then refuses with the time until the next token, then allows again', async () => {
    const l = make(4, 3);
    for (let i = 0; i < 3; i++) assert.deepEqual(await l.take('key-a'), { ok: true }, `request ${i}`);
    const denied = await l.take('key-a');
    assert.equal(denied.ok, false);
    const wait = denied.ok ? 0 : denied.retryAfterMs;
    assert.ok(wait >= 1 && wait <= 250, `retry after ${wait} ms (one token per 250 ms)`);
    await new Promise((r) => setTimeout(r, wait + 20));
    assert.deepEqual(await l.take('key-a'), { ok: true });
  });

  it('keeps one bucket per key', async () => {
    const l = make(1, 1);
    assert.deepEqual(await l.take('a'), { ok: true });
    assert.equal((await l.take('a')).ok, false);
    assert.deepEqual(await l.take('b'), { ok: true });
  });

  it('two limiters on the same Redis and prefix share the budget (two nodes)', async () => {
    const prefix = `shared${n++}`;
    const nodeA = make(0.5, 4, prefix);
    const nodeB = make(0.5, 4, prefix);
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await nodeA.take('k')).ok);
    for (let i = 0; i < 3; i++) results.push((await nodeB.take('k')).ok);
    assert.deepEqual(results, [true, true, true, true, false, false]);
  });

  it('concurrent takes never spend more than the bucket holds', async () => {
    const l = make(1, 5);
    const all = await Promise.all(Array.from({ length: 20 }, () => l.take('burst')));
    assert.equal(all.filter((d) => d.ok).length, 5);
  });

  it('stores hashed keys that expire, never the API key itself', async () => {
    const prefix = `hashed${n++}`;
    const l = make(10, 2, prefix);
    await l.take('secret-api-key');
    const r = new Redis(redis.url);
    try {
      const keys = await r.keys(`${prefix}:*`);
      assert.equal(keys.length, 1);
      assert.match(keys[0]!, new RegExp(`^${prefix}:rl:[0-9a-f]{64}$`));
      const ttl = await r.pttl(keys[0]!);
      assert.ok(ttl > 0 && ttl <= 1200, `ttl ${ttl}`);
    } finally {
      r.disconnect();
    }
  });

  it('rejects (does not hang) while Redis is unreachable', async () => {
    const l = createRedisRateLimiter({ url: 'redis://127.0.0.1:1', perSecond: 1 });
    try {
      await assert.rejects(l.take('k'));
    } finally {
      await l.close();
    }
  });
});
