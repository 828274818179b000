/**
 * The backlog gate (src/app/job-backlog.ts) is exact within one process: room is reserved before
 * a job is stored and held until its submission settles, so concurrent submissions cannot pass
 * the cap between the count and the submit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBacklogGate } from '../../src/app/job-backlog.js';
import { isAppError } from '../../src/core/errors.js';

/** A queue whose pending count takes a while to read and can be changed meanwhile. */
function slowQueue(initial: number) {
  const q = { count: initial, reads: 0, pending: async () => { q.reads++; const n = q.count; await new Promise((r) => setTimeout(r, 5)); return n; } };
  return q;
}

test('concurrent reservations never pass the cap; given-back room is free again', async () => {
  const q = slowQueue(1);
  const gate = createBacklogGate(q, 'k', 3, 'jobs');
  const tries = await Promise.allSettled(Array.from({ length: 6 }, () => gate.reserve()));
  const granted = tries.filter((t) => t.status === 'fulfilled');
  assert.equal(granted.length, 2, 'pending 1 + 2 reservations = the cap of 3');
  for (const t of tries) if (t.status === 'rejected') assert.ok(isAppError(t.reason) && t.reason.code === 'OVERLOADED' && t.reason.details?.['retryAfter'] === 5);
  // One reservation is given back without a submit: room for exactly one more.
  (granted[0] as PromiseFulfilledResult<{ done(): void }>).value.done();
  (granted[0] as PromiseFulfilledResult<{ done(): void }>).value.done(); // idempotent
  const again = await Promise.allSettled([gate.reserve(), gate.reserve()]);
  assert.deepEqual(again.map((t) => t.status), ['fulfilled', 'rejected']);
});

test('a submission that settles while another reservation counts is counted (errs toward refusing)', async () => {
  const q = slowQueue(0);
  const gate = createBacklogGate(q, 'k', 2, 'jobs');
  const first = await gate.reserve();
  // The second starts counting (pending 0, read before the first job is queued)...
  const second = gate.reserve();
  // ...and the first job is queued and its room given back while that read is under way.
  q.count = 1;
  first.done();
  const room = await second;
  // pending (0, stale) + reserved (0) + settled during the read (1) = 1 < 2: granted; a third is not.
  await assert.rejects(gate.reserve(), (err: unknown) => isAppError(err) && err.code === 'OVERLOADED');
  room.done();
});

test('no cap: nothing is counted', async () => {
  const q = slowQueue(1000);
  const gate = createBacklogGate(q, 'k', 0, 'jobs');
  (await gate.reserve()).done();
  assert.equal(q.reads, 0);
});
