/**
 * Admission control's memory holds for sources read into memory before their pipeline (objects of
 * a store without local files, remote downloads): reservation against the budget, waiting in their
 * own bounded queue, refusal, abandonment, release, and how pipelines see held bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmission, withHold } from '../../src/app/admission.js';
import { isAppError } from '../../src/core/errors.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));
const overloaded = (e: unknown) => isAppError(e) && e.code === 'OVERLOADED' && e.details?.['retryAfter'] === 2;

test('a hold that fits is granted at once and counted until released', async () => {
  const a = createAdmission({ maxActive: 2, maxQueue: 2, memoryBudgetBytes: 1000, rss: () => 100 });
  const h = a.hold();
  await h.reserve(300);
  h.grow(100);
  assert.equal(h.bytes, 400);
  assert.equal(a.stats().heldBytes, 400);
  h.release();
  h.release();
  assert.equal(h.bytes, 0);
  assert.equal(a.stats().heldBytes, 0);
});

test('a hold that does not fit waits (first come, first served) until memory is released; a full queue refuses', async () => {
  const a = createAdmission({ maxActive: 2, maxQueue: 1, memoryBudgetBytes: 1000, rss: () => 100, retryAfterSeconds: 2 });
  const first = a.hold();
  await first.reserve(600);
  const second = a.hold();
  let granted = false;
  const waiting = second.reserve(500).then(() => (granted = true));
  await tick();
  assert.equal(granted, false, '100 + 600 + 500 > 1000');
  assert.equal(a.stats().holdQueued, 1);
  // The queue of holds is bounded like the pipeline queue.
  await assert.rejects(a.hold().reserve(10), overloaded);
  first.release();
  await waiting;
  assert.equal(granted, true);
  assert.equal(second.bytes, 500);
  assert.equal(a.stats().holdQueued, 0);
  assert.equal(a.stats().waited, 1);
  assert.equal(a.stats().refused, 1);
  second.release();
});

test('alone, a hold is granted whatever its size (source caps bound it), so nothing can wait for ever', async () => {
  const a = createAdmission({ maxActive: 1, maxQueue: 1, memoryBudgetBytes: 1, rss: () => 500 });
  const h = a.hold();
  await h.reserve(10_000);
  h.grow(10_000);
  assert.equal(h.bytes, 20_000);
  h.release();
});

test('grow never waits: it refuses with OVERLOADED when the bytes do not fit beside other holders', async () => {
  const a = createAdmission({ maxActive: 2, maxQueue: 2, memoryBudgetBytes: 1000, rss: () => 100, retryAfterSeconds: 2 });
  const other = a.hold();
  await other.reserve(500);
  const h = a.hold();
  h.grow(300);
  assert.throws(() => h.grow(200), overloaded);
  assert.equal(h.bytes, 300, 'a refused grow holds nothing more');
  // A reserve once something is held grows (and refuses) instead of waiting while holding.
  await assert.rejects(h.reserve(200), overloaded);
  other.release();
  h.grow(200);
  assert.equal(h.bytes, 500);
  h.release();
  assert.equal(a.stats().heldBytes, 0);
});

test('a waiting hold whose signal aborts leaves the queue with CLIENT_CLOSED and holds nothing', async () => {
  const a = createAdmission({ maxActive: 1, maxQueue: 4, memoryBudgetBytes: 1000, rss: () => 100 });
  const first = a.hold();
  await first.reserve(800);
  const c = new AbortController();
  const h = a.hold();
  const waiting = h.reserve(500, c.signal);
  await tick();
  assert.equal(a.stats().holdQueued, 1);
  c.abort();
  await assert.rejects(waiting, (e: unknown) => isAppError(e) && e.code === 'CLIENT_CLOSED');
  assert.equal(a.stats().holdQueued, 0);
  assert.equal(a.stats().abandoned, 1);
  assert.equal(h.bytes, 0);
  // An already aborted signal is refused before it queues.
  await assert.rejects(a.hold().reserve(500, c.signal), (e: unknown) => isAppError(e) && e.code === 'CLIENT_CLOSED');
  first.release();
  assert.equal(a.stats().heldBytes, 0);
});

test('releasing a hold ends it: a waiting reservation resumes holding nothing, later bytes are not counted', async () => {
  const a = createAdmission({ maxActive: 1, maxQueue: 4, memoryBudgetBytes: 1000, rss: () => 100 });
  const first = a.hold();
  await first.reserve(800);
  const h = a.hold();
  const waiting = h.reserve(500);
  await tick();
  // The request that started a download shared with others ended.
  h.release();
  await waiting;
  assert.equal(a.stats().holdQueued, 0);
  h.grow(10_000);
  await h.reserve(10_000);
  assert.equal(h.bytes, 0);
  first.release();
  assert.equal(a.stats().heldBytes, 0);
});

test('pipelines see held bytes as reserved; held bytes wait for pipelines; withHold releases on failure', async () => {
  const a = createAdmission({ maxActive: 4, maxQueue: 4, memoryBudgetBytes: 1000, rss: () => 100 });
  const gate = deferred();
  // A pipeline of 300 runs alone.
  const running = a.run(300, () => gate.promise);
  // 100 + 300 + 500 fits; a pipeline of 200 on top does not, and waits although slots are free.
  const h = a.hold();
  await h.reserve(500);
  let ran = false;
  const pipeline = a.run(200, async () => {
    ran = true;
  });
  await tick();
  assert.equal(ran, false);
  // Another hold of 200 waits too, until the pipeline of 300 ends.
  const h2 = a.hold();
  let granted = false;
  const reserved = h2.reserve(200).then(() => (granted = true));
  await tick();
  assert.equal(granted, false);
  gate.resolve();
  await running;
  await pipeline;
  await reserved;
  assert.equal(ran, true);
  assert.equal(granted, true);
  h.release();
  h2.release();
  // withHold gives the bytes back however the work ends.
  await assert.rejects(withHold(a, async (hold) => {
    await hold!.reserve(700);
    assert.equal(a.stats().heldBytes, 700);
    throw new Error('decode failed');
  }), /decode failed/);
  assert.equal(a.stats().heldBytes, 0);
  assert.equal(await withHold(undefined, async (hold) => hold), undefined, 'no admission control: no hold');
});

test('with the RSS over the budget, a waiting hold is served before the next pipeline, so holds are not starved', async () => {
  const a = createAdmission({ maxActive: 4, maxQueue: 4, memoryBudgetBytes: 1000, rss: () => 2000 });
  const g1 = deferred();
  const g2 = deferred();
  const p1 = a.run(100, () => g1.promise);
  const h = a.hold();
  let granted = false;
  const waiting = h.reserve(50).then(() => (granted = true));
  let p2Ran = false;
  const p2 = a.run(100, async () => {
    p2Ran = true;
    await g2.promise;
  });
  await tick();
  assert.equal(granted, false);
  assert.equal(p2Ran, false);
  g1.resolve();
  await p1;
  await tick();
  // Both go on: the hold first (nothing else held), then the pipeline (none runs).
  assert.equal(granted, true);
  assert.equal(p2Ran, true);
  await waiting;
  g2.resolve();
  await p2;
  h.release();
});
