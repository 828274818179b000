/** The in-memory token bucket behind the task API's per-key rate limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryRateLimiter } from '../../src/adapters/ratelimit/memory.js';

test('2 per second: two pass, the third waits until the next token, keys are independent', async () => {
  let t = 1_000_000;
  const rl = createMemoryRateLimiter({ perSecond: 2, now: () => t });
  assert.deepEqual(await rl.take('a'), { ok: true });
  assert.deepEqual(await rl.take('a'), { ok: true });
  assert.deepEqual(await rl.take('a'), { ok: false, retryAfterMs: 500 });
  assert.deepEqual(await rl.take('b'), { ok: true });
  t += 250;
  assert.deepEqual(await rl.take('a'), { ok: false, retryAfterMs: 250 });
  t += 250;
  assert.deepEqual(await rl.take('a'), { ok: true });
  assert.equal((await rl.take('a')).ok, false);
  // A quiet period refills at most to the burst size.
  t += 60_000;
  assert.equal((await rl.take('a')).ok, true);
  assert.equal((await rl.take('a')).ok, true);
  assert.equal((await rl.take('a')).ok, false);
});

test('a sustained rate above the limit is held to the limit', async () => {
  let t = 0;
  const rl = createMemoryRateLimiter({ perSecond: 5, now: () => t });
  let passed = 0;
  for (let i = 0; i < 1000; i++) {
    if ((await rl.take('k')).ok) passed++;
    t += 10; // 100 requests per second for 10 s
  }
  assert.ok(passed >= 50 && passed <= 56, `passed ${passed}`);
});

test('invalid rates are refused', () => {
  assert.throws(() => createMemoryRateLimiter({ perSecond: 0 }), RangeError);
});
