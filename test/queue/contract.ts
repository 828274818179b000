/**
 * The JobQueue contract: every adapter (embedded SQLite today, BullMQ in the scale-out issue) runs
 * `jobQueueContract(name, makeQueue)` from its own test file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runUntilKilled } from '../helpers/killed-child.js';
import { join } from 'node:path';
import { AppError } from '../../src/core/errors.js';
import type { JobQueue, JobRecord, Json } from '../../src/ports/job-queue.js';

export interface QueueHarnessOptions {
  readonly concurrency: number;
  /** The clock the queue must use for timestamps, backoff and retention. */
  readonly now: () => number;
  /** Must be passed to the adapter's expiry hook. */
  readonly onExpire: (job: JobRecord) => void;
}

export interface QueueHarness {
  readonly queue: JobQueue;
  /** Runs the retention sweep now (the adapter's own mechanism). */
  sweep(): Promise<void>;
  /** Frees whatever the harness created (files, connections) after `queue.close()`. */
  dispose?(): Promise<void>;
  /**
   * The queue's store as arguments of test/queue/settle-crash-child.ts (`embedded <file>`,
   * `bullmq <redis-url> <prefix>`), so a child process can open the same store.
   */
  readonly childStore: readonly string[];
  /** Another queue on the same store, as a restarted process opens it (default options). */
  reopen(): JobQueue;
}

export type MakeQueue = (options: QueueHarnessOptions) => Promise<QueueHarness>;

const SETTLED = new Set(['succeeded', 'failed', 'cancelled']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the job is settled (or `until` holds), failing after `timeoutMs`. */
export async function waitFor(
  queue: JobQueue,
  id: string,
  until: (job: JobRecord) => boolean = (j) => SETTLED.has(j.state),
  timeoutMs = 10_000,
): Promise<JobRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.get(id);
    if (job && until(job)) return job;
    if (Date.now() > deadline) assert.fail(`job ${id} did not reach the condition; last: ${JSON.stringify(job)}`);
    await sleep(10);
  }
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Runs test/queue/settle-crash-child.ts on `store` until its listener SIGKILLs it; resolves with the
 * ids its listener was called for.
 */
async function runSettleCrashChild(store: readonly string[]): Promise<string[]> {
  const out = await runUntilKilled(join(import.meta.dirname, 'settle-crash-child.ts'), store, 'settle its jobs');
  return out.split('\n').filter((l) => l.startsWith('settled ')).map((l) => l.slice(8));
}

export function jobQueueContract(name: string, makeQueue: MakeQueue): void {
  describe(`JobQueue contract: ${name}`, () => {
    async function withQueue(
      fn: (ctx: { queue: JobQueue; harness: QueueHarness; clock: { offset: number }; expired: JobRecord[] }) => Promise<void>,
      concurrency = 4,
    ): Promise<void> {
      const clock = { offset: 0 };
      const expired: JobRecord[] = [];
      const harness = await makeQueue({
        concurrency,
        now: () => Date.now() + clock.offset,
        onExpire: (job) => void expired.push(job),
      });
      try {
        await fn({ queue: harness.queue, harness, clock, expired });
      } finally {
        await harness.queue.close({ mode: 'abort' });
        await harness.dispose?.();
      }
    }

    it('runs a job to success, keeps its result and settles once', async () => {
      await withQueue(async ({ queue }) => {
        const settled: JobRecord[] = [];
        queue.onSettled((j) => settled.push(j));
        queue.register('echo', async (payload, ctx) => ({ got: payload, attempt: ctx.attempt }));
        await queue.start();
        const { id } = await queue.submit('echo', { n: 1 }, { retainMs: 5000 });
        const job = await waitFor(queue, id);
        assert.equal(job.state, 'succeeded');
        assert.equal(job.kind, 'echo');
        assert.deepEqual(job.payload, { n: 1 });
        assert.deepEqual(job.result, { got: { n: 1 }, attempt: 1 });
        assert.equal(job.progress, 100);
        assert.equal(job.attempts, 1);
        assert.equal(job.error, undefined);
        assert.ok(job.createdAt <= job.updatedAt);
        assert.equal(job.expiresAt, job.updatedAt + 5000);
        await sleep(20);
        assert.deepEqual(settled.map((j) => [j.id, j.state]), [[id, 'succeeded']]);
      });
    });

    it('submit with an existing id is idempotent; unknown ids read as undefined', async () => {
      await withQueue(async ({ queue }) => {
        const a = await queue.submit('later', { v: 1 }, { id: 'task-1' });
        const b = await queue.submit('later', { v: 2 }, { id: 'task-1' });
        assert.equal(a.id, 'task-1');
        assert.equal(b.id, 'task-1');
        const job = await queue.get('task-1');
        assert.deepEqual(job?.payload, { v: 1 });
        assert.equal(job?.state, 'queued');
        assert.equal(job?.expiresAt, undefined);
        assert.equal(await queue.get('nope'), undefined);
      });
    });

    it('counts the pending jobs of a kind: queued and running, not settled or cancelled ones', async () => {
      await withQueue(async ({ queue }) => {
        const hold = gate();
        queue.register('held', async () => {
          await hold.promise;
          return null;
        });
        await queue.start();
        assert.equal(await queue.pending('held'), 0);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await queue.submit('held', { i })).id);
        // No handler for this kind: it stays queued, and is counted under its own kind only.
        await queue.submit('unhandled', null);
        await waitFor(queue, ids[0]!, (j) => j.state === 'running');
        assert.equal(await queue.pending('held'), 3, 'one running, two queued');
        assert.equal(await queue.pending('unhandled'), 1);
        assert.equal(await queue.pending('nothing-of-this-kind'), 0);
        assert.equal(await queue.cancel(ids[2]!), true);
        assert.equal(await queue.pending('held'), 2);
        hold.open();
        for (const id of ids) await waitFor(queue, id);
        assert.equal(await queue.pending('held'), 0);
      }, 1);
    });

    it('reports progress while running', async () => {
      await withQueue(async ({ queue }) => {
        const hold = gate();
        queue.register('slow', async (_p, ctx) => {
          ctx.progress(10);
          ctx.progress(49.6);
          await hold.promise;
          return null;
        });
        await queue.start();
        const { id } = await queue.submit('slow', null);
        const running = await waitFor(queue, id, (j) => j.progress === 50);
        assert.equal(running.state, 'running');
        hold.open();
        const done = await waitFor(queue, id);
        assert.equal(done.state, 'succeeded');
        assert.equal(done.progress, 100);
      });
    });

    it('does not retry an unrecoverable (4xx) AppError', async () => {
      await withQueue(async ({ queue }) => {
        let calls = 0;
        queue.register('bad', async () => {
          calls++;
          throw new AppError('INVALID_ARGUMENT', 'Expected integer between 1 and 100 for quality but received 0', {
            details: { field: 'quality' },
          });
        });
        await queue.start();
        const { id } = await queue.submit('bad', null, { attempts: 5, backoffMs: 1 });
        const job = await waitFor(queue, id);
        assert.equal(job.state, 'failed');
        assert.deepEqual(job.error, {
          code: 'INVALID_ARGUMENT',
          message: 'Expected integer between 1 and 100 for quality but received 0',
          details: { field: 'quality' },
        });
        assert.equal(job.attempts, 1);
        await sleep(50);
        assert.equal(calls, 1);
      });
    });

    it('retries transient errors with exponential backoff, then succeeds', async () => {
      await withQueue(async ({ queue }) => {
        const starts: number[] = [];
        queue.register('flaky', async (_p, ctx) => {
          starts.push(Date.now());
          if (ctx.attempt < 3) throw new Error('connection reset (internal detail)');
          return 'ok';
        });
        await queue.start();
        const { id } = await queue.submit('flaky', null, { attempts: 3, backoffMs: 80 });
        const job = await waitFor(queue, id);
        assert.equal(job.state, 'succeeded');
        assert.equal(job.result, 'ok');
        assert.equal(job.attempts, 3);
        assert.equal(starts.length, 3);
        const [a, b, c] = starts as [number, number, number];
        assert.ok(b - a >= 75, `first retry after ${b - a} ms, expected >= 80`);
        assert.ok(c - b >= 155, `second retry after ${c - b} ms, expected >= 160`);
      });
    });

    it('fails after the last attempt of a transient error without leaking its message', async () => {
      await withQueue(async ({ queue }) => {
        let calls = 0;
        queue.register('down', async () => {
          calls++;
          throw new AppError('FETCH_ORIGIN_ERROR', 'The origin answered 503');
        });
        queue.register('crashy', async () => {
          throw new Error('/secret/path exploded');
        });
        await queue.start();
        const a = await queue.submit('down', null, { attempts: 2, backoffMs: 10 });
        const b = await queue.submit('crashy', null, { attempts: 1 });
        const jobA = await waitFor(queue, a.id);
        assert.equal(jobA.state, 'failed');
        assert.equal(jobA.attempts, 2);
        assert.equal(jobA.error?.code, 'FETCH_ORIGIN_ERROR');
        assert.equal(calls, 2);
        const jobB = await waitFor(queue, b.id);
        assert.equal(jobB.state, 'failed');
        assert.equal(jobB.error?.code, 'INTERNAL');
        assert.ok(!jobB.error?.message.includes('/secret'));
      });
    });

    it('aborts a job past its timeout and fails it with TIMEOUT, without retry', async () => {
      await withQueue(async ({ queue }) => {
        let calls = 0;
        let sawAbort: unknown;
        queue.register('hang', async (_p, ctx) => {
          calls++;
          try {
            return await abortPromise(ctx.signal);
          } catch (err) {
            sawAbort = err;
            throw err;
          }
        });
        await queue.start();
        const t0 = Date.now();
        const { id } = await queue.submit('hang', null, { timeoutMs: 100, attempts: 3, backoffMs: 1 });
        const job = await waitFor(queue, id);
        assert.equal(job.state, 'failed');
        assert.equal(job.error?.code, 'TIMEOUT');
        assert.ok(Date.now() - t0 >= 95);
        await sleep(50);
        assert.ok(sawAbort instanceof AppError && sawAbort.code === 'TIMEOUT');
        assert.equal(calls, 1);
      });
    });

    it('cancels a queued job', async () => {
      await withQueue(async ({ queue }) => {
        const settled: string[] = [];
        queue.onSettled((j) => settled.push(`${j.id}:${j.state}`));
        await queue.start();
        const { id } = await queue.submit('nobody-handles-this', { x: 1 });
        assert.equal(await queue.cancel(id), true);
        const job = await queue.get(id);
        assert.equal(job?.state, 'cancelled');
        assert.ok(job?.expiresAt !== undefined);
        assert.equal(await queue.cancel(id), false);
        assert.equal(await queue.cancel('missing'), false);
        // A cancelled job never runs, even once a handler appears.
        let ran = false;
        queue.register('nobody-handles-this', async () => {
          ran = true;
          return null;
        });
        await sleep(50);
        assert.equal(ran, false);
        assert.deepEqual(settled, [`${id}:cancelled`]);
      });
    });

    it('cancels a running job: the handler sees the abort and its result is ignored', async () => {
      await withQueue(async ({ queue }) => {
        const started = gate();
        let aborted = false;
        queue.register('long', async (_p, ctx) => {
          started.open();
          await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
          aborted = ctx.signal.aborted;
          return 'finished anyway';
        });
        await queue.start();
        const { id } = await queue.submit('long', null);
        await started.promise;
        assert.equal(await queue.cancel(id), true);
        await sleep(50);
        assert.equal(aborted, true);
        const job = await queue.get(id);
        assert.equal(job?.state, 'cancelled');
        assert.equal(job?.result, undefined);
      });
    });

    it('never runs more handlers at once than its concurrency', async () => {
      await withQueue(
        async ({ queue }) => {
          let running = 0;
          let peak = 0;
          queue.register('work', async () => {
            running++;
            peak = Math.max(peak, running);
            await sleep(30);
            running--;
            return null;
          });
          await queue.start();
          const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => queue.submit('work', i)));
          for (const { id } of ids) assert.equal((await waitFor(queue, id)).state, 'succeeded');
          assert.equal(peak, 2);
        },
        2,
      );
    });

    it('deletes settled jobs after their retention and calls the expiry hook; pending jobs stay', async () => {
      await withQueue(async ({ queue, harness, clock, expired }) => {
        queue.register('quick', async () => 'r');
        await queue.start();
        const { id } = await queue.submit('quick', null, { retainMs: 60_000 });
        const done = await waitFor(queue, id);
        const pending = await queue.submit('unhandled-kind', null, { retainMs: 1 });
        clock.offset += 30_000;
        await harness.sweep();
        assert.ok(await queue.get(id), 'kept before its retention ends');
        clock.offset += 31_000;
        await harness.sweep();
        assert.equal(await queue.get(id), undefined);
        assert.deepEqual(expired.map((j) => [j.id, j.state, j.result]), [[id, 'succeeded', 'r']]);
        assert.equal(expired[0]?.expiresAt, done.expiresAt);
        assert.equal((await queue.get(pending.id))?.state, 'queued');
      });
    });

    it('announces settlements whose listeners a crash interrupted again at the next start, once', async () => {
      await withQueue(async ({ queue, harness }) => {
        // The child settles gone (cancelled), ok and bad on this store and dies in the third
        // listener call; the first two calls never finished either (their promises never settle).
        const calledInChild = await runSettleCrashChild(harness.childStore);
        assert.deepEqual([...calledInChild].sort(), ['bad', 'gone', 'ok']);
        assert.equal((await queue.get('ok'))?.state, 'succeeded', 'the settlement was written before the crash');

        const announced: JobRecord[] = [];
        queue.onSettled((j) => void announced.push(j));
        await queue.start();
        const deadline = Date.now() + 10_000;
        while (announced.length < 3 && Date.now() < deadline) await sleep(10);
        await sleep(100);
        const byId = new Map(announced.map((j) => [j.id, j]));
        assert.deepEqual(announced.map((j) => j.id).sort(), ['bad', 'gone', 'ok'], 'each one announced once');
        assert.equal(byId.get('gone')?.state, 'cancelled');
        assert.equal(byId.get('ok')?.state, 'succeeded');
        assert.deepEqual(byId.get('ok')?.result, { done: 'ok' });
        assert.equal(byId.get('bad')?.state, 'failed');
        assert.equal(byId.get('bad')?.error?.code, 'INVALID_ARGUMENT');
        for (const j of announced) assert.deepEqual(j, await queue.get(j.id), 'the announced record is the stored one');

        // Announced now (the listeners returned): a further restart does not announce them again.
        await queue.close();
        const again = harness.reopen();
        try {
          const repeated: string[] = [];
          again.onSettled((j) => void repeated.push(j.id));
          await again.start();
          await sleep(300);
          assert.deepEqual(repeated, []);
        } finally {
          await again.close();
        }
      });
    });

    it('keeps JSON payloads and results intact', async () => {
      await withQueue(async ({ queue }) => {
        const payload: Json = { s: 'é "q"', n: 1.5, b: false, z: null, a: [1, { k: ['v'] }] };
        queue.register('json', async (p) => ({ echo: p }));
        await queue.start();
        const { id } = await queue.submit('json', payload);
        const job = await waitFor(queue, id);
        assert.deepEqual(job.payload, payload);
        assert.deepEqual(job.result, { echo: payload });
      });
    });
  });
}
