/**
 * Admission control: unit behaviour (slots, FIFO queue, refusal, memory budget) and the refusal
 * shapes of both dialects through the composed server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { createAdmission, sampledRss } from '../../src/app/admission.js';
import { createVariants } from '../../src/app/variants.js';
import { isAppError } from '../../src/core/errors.js';
import { photo, startPerfHarness } from './harness.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('admission: slots, FIFO queue, refusal with retryAfter beyond the queue', async () => {
  const a = createAdmission({ maxActive: 2, maxQueue: 2, memoryBudgetBytes: 0, retryAfterSeconds: 3 });
  const gates = Array.from({ length: 4 }, deferred);
  const order: number[] = [];
  const runs = gates.map((g, i) => a.run(0, async () => {
    order.push(i);
    await g.promise;
    return i;
  }));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(a.stats().active, 2);
  assert.deepEqual(a.stats().queued, 2);
  await assert.rejects(a.run(0, async () => 9), (e: unknown) => isAppError(e) && e.code === 'OVERLOADED' && e.details?.['retryAfter'] === 3);
  gates[1]!.resolve();
  await runs[1];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [0, 1, 2]);
  for (const g of gates) g.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  assert.deepEqual(order, [0, 1, 2, 3]);
  const s = a.stats();
  assert.equal(s.active, 0);
  assert.equal(s.refused, 1);
  assert.equal(s.admitted, 4);
});

test('sampledRss reads the RSS again only after 10 ms', () => {
  let reads = 0;
  let t = 1000;
  const rss = sampledRss(() => ++reads * 100, () => t);
  assert.equal(rss(), 100);
  t += 9;
  assert.equal(rss(), 100, 'reused within 10 ms');
  t += 1;
  assert.equal(rss(), 200, 'read again at 10 ms');
  assert.equal(reads, 2);
});

test('admission: the memory budget holds back a pipeline until memory is released; a lone one always runs', async () => {
  let rss = 500;
  const a = createAdmission({ maxActive: 8, maxQueue: 8, memoryBudgetBytes: 1000, rss: () => rss });
  const g1 = deferred();
  const first = a.run(400, async () => g1.promise);
  // 500 (rss) + 400 (reserved) + 200 > 1000: waits although slots are free.
  let secondRan = false;
  const second = a.run(200, async () => {
    secondRan = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(secondRan, false);
  assert.equal(a.stats().queued, 1);
  rss = 300;
  g1.resolve();
  await first;
  await second;
  assert.equal(secondRan, true);
  // Alone, even an estimate above the budget runs (source limits bound it).
  assert.equal(await a.run(10_000, async () => 'ok'), 'ok');
});

test('coalescing: concurrent identical gets share one computation, failures are not cached', async () => {
  const v = createVariants(undefined);
  let runs = 0;
  const gate = deferred();
  const compute = async () => {
    runs++;
    await gate.promise;
    return { data: Buffer.from('x'), meta: {} };
  };
  const all = Array.from({ length: 10 }, () => v.get('k', 't', compute));
  gate.resolve();
  await Promise.all(all);
  assert.equal(runs, 1);
  assert.equal(v.stats().coalesced, 9);
  await assert.rejects(v.get('bad', 't', async () => {
    throw new Error('boom');
  }));
  assert.equal((await v.get('bad', 't', async () => ({ data: Buffer.from('y'), meta: {} }))).data.toString(), 'y');
});

test('overload: excess concurrent requests get the dialect\'s 503 with Retry-After and nothing else fails', async () => {
  const h = await startPerfHarness({ HALFTONE_MAX_PIPELINES: '1', HALFTONE_MAX_QUEUE: '1', HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0' });
  try {
    await h.put('pics', 'a.jpg', await photo(1200, 900));
    // Distinct widths: distinct variants, so nothing is coalesced.
    const oss = await Promise.all(Array.from({ length: 12 }, (_, i) => h.get(`/pics/a.jpg?x-oss-process=image/resize,w_${100 + i}`)));
    const cf = await Promise.all(Array.from({ length: 12 }, (_, i) => h.get(`/cdn-cgi/image/width=${100 + i}/pics/a.jpg`)));
    for (const [name, res] of [['oss', oss], ['cf', cf]] as const) {
      const statuses = res.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200 || s === 503), `${name}: ${statuses.join(',')}`);
      assert.ok(statuses.includes(200), `${name}: some succeed`);
      assert.ok(statuses.includes(503), `${name}: some are refused`);
      for (const r of res.filter((x) => x.status === 503)) {
        assert.match(String(r.headers['retry-after']), /^\d+$/);
        if (name === 'oss') {
          assert.match(r.body.toString(), /<Code>ServiceUnavailable<\/Code>/);
          assert.equal(r.headers['content-type'], 'application/xml');
        } else {
          assert.equal(r.headers['cf-resized'], 'err=9527');
          assert.match(r.body.toString(), /^ERROR 9527: /);
        }
      }
    }
    assert.ok(h.composed.perfStats().admission.refused > 0);
  } finally {
    await h.close();
  }
});

/** A lazy signal over `c` that records whether it was asked for. */
function lazy(c: AbortController): { get: () => AbortSignal; asked: () => boolean } {
  let asked = false;
  return { get: () => ((asked = true), c.signal), asked: () => asked };
}

test('admission: a waiter whose signal aborts leaves the queue with CLIENT_CLOSED and never runs; admitted work runs on', async () => {
  const a = createAdmission({ maxActive: 1, maxQueue: 4, memoryBudgetBytes: 0 });
  const gate = deferred();
  const ran: string[] = [];
  const holder = lazy(new AbortController());
  const first = a.run(0, async () => {
    ran.push('first');
    await gate.promise;
    return 'first';
  }, holder.get);
  assert.equal(holder.asked(), false, 'admitted at once: no signal is made');
  const leavingController = new AbortController();
  const leaving = lazy(leavingController);
  const second = a.run(0, async () => {
    ran.push('second');
    return 'second';
  }, leaving.get);
  assert.equal(leaving.asked(), true, 'a waiter follows its signal');
  const third = a.run(0, async () => {
    ran.push('third');
    return 'third';
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(a.stats().queued, 2);
  leavingController.abort();
  await assert.rejects(second, (e: unknown) => isAppError(e) && e.code === 'CLIENT_CLOSED');
  assert.equal(a.stats().queued, 1);
  // Already aborted when it would have to wait: refused without queueing.
  await assert.rejects(a.run(0, async () => 'late', () => AbortSignal.abort()), (e: unknown) => isAppError(e) && e.code === 'CLIENT_CLOSED');
  assert.equal(a.stats().queued, 1);
  gate.resolve();
  assert.equal(await first, 'first');
  assert.equal(await third, 'third');
  assert.deepEqual(ran, ['first', 'third']);
  const s = a.stats();
  assert.equal(s.abandoned, 2);
  assert.equal(s.admitted, 2);
  assert.equal(s.waited, 1, 'only admitted waiters count as waited');
  assert.equal(s.queued, 0);
});

test('coalescing: the computation is abandoned only when every caller waiting for it has gone', async () => {
  const v = createVariants(undefined);
  const gate = deferred();
  let seen: AbortSignal | undefined;
  const compute = async (signal: () => AbortSignal) => {
    seen = signal();
    await gate.promise;
    return { data: Buffer.from('x'), meta: {} };
  };
  const a = new AbortController();
  const b = new AbortController();
  const pa = v.get('k', 't', compute, () => a.signal);
  const pb = v.get('k', 't', compute, () => b.signal);
  await new Promise((r) => setImmediate(r));
  a.abort();
  assert.equal(seen?.aborted, false, 'one caller left, the other still waits');
  b.abort();
  assert.equal(seen?.aborted, true, 'both left');
  gate.resolve();
  await Promise.all([pa, pb]);
  // A caller without a signal keeps the computation alive whatever the others do.
  const gate2 = deferred();
  const c = new AbortController();
  const pc = v.get('k2', 't', async (signal) => {
    seen = signal();
    await gate2.promise;
    return { data: Buffer.from('y'), meta: {} };
  }, () => c.signal);
  const pd = v.get('k2', 't', async () => ({ data: Buffer.from('never'), meta: {} }));
  await new Promise((r) => setImmediate(r));
  c.abort();
  assert.equal(seen?.aborted, false);
  gate2.resolve();
  assert.equal((await pd).data.toString(), 'y');
  await pc;
  // Lazy: a computation that never asks for its signal never asks its callers for theirs.
  const d = lazy(new AbortController());
  await v.get('k3', 't', async () => ({ data: Buffer.from('z'), meta: {} }), d.get);
  assert.equal(d.asked(), false);
  // A caller that joins after the computation asked is followed at once; one already gone counts out.
  const gate4 = deferred();
  const early = new AbortController();
  const late = new AbortController();
  late.abort();
  const p4 = v.get('k4', 't', async (signal) => {
    seen = signal();
    await gate4.promise;
    return { data: Buffer.from('w'), meta: {} };
  }, () => early.signal);
  await new Promise((r) => setImmediate(r));
  const p5 = v.get('k4', 't', async () => ({ data: Buffer.from('never'), meta: {} }), () => late.signal);
  assert.equal(seen?.aborted, false);
  early.abort();
  assert.equal(seen?.aborted, true);
  gate4.resolve();
  await Promise.all([p4, p5]);
});

test('a client that disconnects while its request waits for a pipeline is dropped from the queue (OSS and Cloudflare)', async () => {
  const h = await startPerfHarness({ HALFTONE_MAX_PIPELINES: '1', HALFTONE_MAX_QUEUE: '8', HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0', HALFTONE_HOT_CACHE_BYTES: '0' });
  try {
    await h.put('pics', 'big.jpg', await photo(3000, 2400));
    await h.put('pics', 'small.jpg', await photo(400, 300));
    const address = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const stats = () => h.composed.perfStats().admission;
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(ok(), `${what}: ${JSON.stringify(stats())}`);
    };
    // The one slot: a slow AVIF encode.
    const occupant = fetch(`${address}/pics/big.jpg?x-oss-process=image/resize,w_2400/format,avif`);
    await until('the occupant runs', () => stats().active === 1);
    const waiting = [
      `/pics/small.jpg?x-oss-process=image/resize,w_101`,
      `/pics/small.jpg?x-oss-process=image/resize,w_102`,
      `/cdn-cgi/image/width=103/pics/small.jpg`,
    ].map((path) => {
      const req = httpGet(`${address}${path}`);
      req.on('error', () => undefined);
      return req;
    });
    await until('three requests queue', () => stats().queued === 3);
    for (const req of waiting) req.destroy();
    await until('the queue empties without running them', () => stats().queued === 0 && stats().abandoned === 3);
    const res = await occupant;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/avif');
    await res.arrayBuffer();
    assert.equal(stats().admitted, 1, 'only the occupant ran');
    // The server goes on serving, and the metrics say what happened.
    const after = await fetch(`${address}/pics/small.jpg?x-oss-process=image/resize,w_104`);
    assert.equal(after.status, 200);
    await after.arrayBuffer();
    const metrics = await (await fetch(`${address}/metrics`)).text();
    assert.match(metrics, /halftone_pipeline_decisions_total\{outcome="abandoned"\} 3\n/);
    assert.match(metrics, /halftone_pipeline_decisions_total\{outcome="admitted"\} 2\n/);
  } finally {
    await h.close();
  }
});
