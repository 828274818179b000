/**
 * The BullMQ queue: the JobQueue contract on a throw-away redis-server (loopback), plus crash
 * recovery across processes (a worker SIGKILLed mid-job) and abort-close.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { JobRecord } from '../../src/ports/job-queue.js';
import { createBullMQQueue } from '../../src/adapters/queue/bullmq.js';
import { redisSkip, startLocalRedis, type LocalRedis } from '../helpers/redis-server.js';
import { jobQueueContract, waitFor } from './contract.js';

const skip = redisSkip();
let redis: LocalRedis | undefined;
before(async () => {
  if (!skip) redis = await startLocalRedis();
});
after(async () => {
  await redis?.stop();
});

let n = 0;
const freshPrefix = () => `t${n++}`;

if (skip) {
  describe('BullMQ queue', () => {
    it('needs redis-server', { skip }, () => {});
  });
} else {
  jobQueueContract('BullMQ (redis-server)', async ({ concurrency, now, onExpire }) => {
    const prefix = freshPrefix();
    const queue = createBullMQQueue({ url: redis!.url, prefix, concurrency, now, onExpire, progressIntervalMs: 50 });
    return {
      queue,
      sweep: async () => void (await queue.sweep()),
      childStore: ['bullmq', redis!.url, prefix],
      reopen: () => createBullMQQueue({ url: redis!.url, prefix, concurrency }),
    };
  });
}

/** Starts a worker child on `prefix`, resolves once `runningLines` handlers started, then SIGKILLs it. */
async function runWorkerAndKill(prefix: string, runningLines: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'bullmq-crash-child.ts'), redis!.url, prefix], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start jobs: ${out} ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').filter((l) => l.startsWith('running ')).length >= runningLines) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`worker exited early: ${err}`)));
  });
  // Let the progress write land, then kill without any chance to clean up.
  await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  return out.split('\n').filter((l) => l.startsWith('running ')).map((l) => l.slice(8));
}

describe('BullMQ queue across processes', { skip }, () => {
  const fast = { lockDurationMs: 1000, stalledIntervalMs: 500 };

  it('a job whose worker is SIGKILLed mid-job completes on another worker, exactly once', async () => {
    const prefix = freshPrefix();
    const queue = createBullMQQueue({ url: redis!.url, prefix, concurrency: 2, ...fast });
    try {
      await queue.submit('slow', { n: 1 }, { id: 'job-0', attempts: 3 });
      const started = await runWorkerAndKill(prefix, 1);
      assert.deepEqual(started, ['job-0']);
      const before = await queue.get('job-0');
      assert.equal(before?.state, 'running', 'left running by the crash');
      assert.equal(before?.progress, 30, 'progress was persisted before the crash');
      assert.equal(before?.attempts, 1);
      const runs: string[] = [];
      const settled: JobRecord[] = [];
      queue.onSettled((j) => settled.push(j));
      queue.register('slow', async (_p, ctx) => {
        runs.push(`${ctx.id}#${ctx.attempt}`);
        return 'survivor';
      });
      await queue.start();
      const job = await waitFor(queue, 'job-0', undefined, 20_000);
      assert.equal(job.state, 'succeeded');
      assert.equal(job.result, 'survivor');
      assert.equal(job.attempts, 2, 'the interrupted run counts as an attempt');
      await new Promise((r) => setTimeout(r, 1500)); // two more stalled checks: nothing runs again
      assert.deepEqual(runs, ['job-0#2']);
      assert.deepEqual(settled.map((j) => [j.id, j.state]), [['job-0', 'succeeded']]);
    } finally {
      await queue.close({ mode: 'abort' });
    }
  });

  it('20 jobs survive a worker SIGKILLed with two running: each completes once, none lost or stuck', async () => {
    const prefix = freshPrefix();
    const queue = createBullMQQueue({ url: redis!.url, prefix, concurrency: 4, ...fast });
    try {
      for (let i = 0; i < 20; i++) await queue.submit('slow', { i }, { id: `job-${i}`, attempts: 3 });
      const started = await runWorkerAndKill(prefix, 2);
      assert.equal(started.length, 2);
      const runs = new Map<string, number>();
      queue.register('slow', async (_p, ctx) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 5));
        return ctx.attempt;
      });
      await queue.start();
      for (let i = 0; i < 20; i++) {
        const job = await waitFor(queue, `job-${i}`, undefined, 20_000);
        assert.equal(job.state, 'succeeded', `job-${i}`);
        assert.equal(job.result, started.includes(`job-${i}`) ? 2 : 1, `job-${i} attempt`);
      }
      assert.equal(runs.size, 20);
      assert.ok([...runs.values()].every((c) => c === 1));
    } finally {
      await queue.close({ mode: 'abort' });
    }
  });

  it('a job interrupted on its last attempt fails instead of running again', async () => {
    const prefix = freshPrefix();
    const queue = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1, ...fast });
    try {
      await queue.submit('slow', null, { id: 'last', attempts: 1 });
      await runWorkerAndKill(prefix, 1);
      let ran = false;
      queue.register('slow', async () => {
        ran = true;
        return null;
      });
      await queue.start();
      const job = await waitFor(queue, 'last', undefined, 20_000);
      assert.equal(job.state, 'failed');
      assert.equal(job.error?.code, 'INTERNAL');
      assert.ok(job.expiresAt !== undefined);
      assert.equal(ran, false);
    } finally {
      await queue.close({ mode: 'abort' });
    }
  });

  it('close({ mode: "abort" }) aborts handlers and returns their jobs to the queue without using an attempt', async () => {
    const prefix = freshPrefix();
    const q1 = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    let sawAbort = false;
    q1.register('slow', async (_p, ctx) => {
      await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
      sawAbort = true;
      return 'ignored';
    });
    await q1.submit('slow', null, { id: 'j' });
    await q1.start();
    await waitFor(q1, 'j', (j) => j.state === 'running');
    await q1.close({ mode: 'abort' });
    assert.equal(sawAbort, true);

    const q2 = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    try {
      const job = await q2.get('j');
      assert.equal(job?.state, 'queued');
      assert.equal(job?.attempts, 0);
      q2.register('slow', async (_p, ctx) => ctx.attempt);
      await q2.start();
      const done = await waitFor(q2, 'j');
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, 1);
    } finally {
      await q2.close();
    }
  });

  it('falsy results (0, false, empty string) are kept, in the record and in onSettled', async () => {
    const queue = createBullMQQueue({ url: redis!.url, prefix: freshPrefix(), concurrency: 2 });
    try {
      const settled = new Map<string, unknown>();
      queue.onSettled((j) => settled.set(j.id, j.result));
      queue.register('falsy', async (p) => p);
      await queue.start();
      for (const [id, value] of [['zero', 0], ['no', false], ['empty', '']] as const) {
        await queue.submit('falsy', value, { id });
        assert.equal((await waitFor(queue, id)).result, value);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(Object.fromEntries(settled), { zero: 0, no: false, empty: '' });
    } finally {
      await queue.close();
    }
  });

  it('start announces the settled ids left unannounced, keeps pending ones and drops ids of jobs that are gone', async () => {
    const prefix = freshPrefix();
    const direct = new Redis(redis!.url);
    const first = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    const second = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    try {
      // A settled job, a job still waiting and an id whose job no longer exists, all left in the
      // set as a process that died before its listeners finished would leave them.
      first.register('quick', async () => 'r');
      await first.start();
      await first.submit('quick', null, { id: 'settled' });
      await waitFor(first, 'settled');
      await first.close();
      await second.submit('later', null, { id: 'waiting' });
      await direct.sadd(`${prefix}:unannounced`, 'settled', 'waiting', 'vanished');

      const announced: string[] = [];
      second.onSettled((j) => void announced.push(`${j.id}:${j.state}`));
      await second.start();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(announced, ['settled:succeeded']);
      assert.deepEqual((await direct.smembers(`${prefix}:unannounced`)).sort(), ['waiting'], 'announced and vanished ids are removed');
      // The waiting job settles later and is announced then, once; the set is empty afterwards.
      second.register('later', async () => 'l');
      await waitFor(second, 'waiting');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(announced, ['settled:succeeded', 'waiting:succeeded']);
      assert.deepEqual(await direct.smembers(`${prefix}:unannounced`), []);
    } finally {
      await first.close();
      await second.close();
      direct.disconnect();
    }
  });

  it('a job cancelled on one process is aborted on the worker process that runs it', async () => {
    const prefix = freshPrefix();
    const worker = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    const client = createBullMQQueue({ url: redis!.url, prefix, concurrency: 1 });
    try {
      let aborted = false;
      const settledOnWorker: string[] = [];
      const settledOnClient: string[] = [];
      worker.onSettled((j) => settledOnWorker.push(j.state));
      client.onSettled((j) => settledOnClient.push(j.state));
      worker.register('long', async (_p, ctx) => {
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
        aborted = true;
        return 'late';
      });
      await worker.start();
      const { id } = await client.submit('long', null);
      await waitFor(client, id, (j) => j.state === 'running');
      assert.equal(await client.cancel(id), true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(aborted, true);
      assert.equal((await worker.get(id))?.state, 'cancelled');
      assert.deepEqual(settledOnClient, ['cancelled']);
      assert.deepEqual(settledOnWorker, [], 'reported once, by the cancelling process');
    } finally {
      await worker.close({ mode: 'abort' });
      await client.close();
    }
  });
});
