/**
 * The embedded SQLite queue: the JobQueue contract, plus durability across a SIGKILL and a restart.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createEmbeddedQueue } from '../../src/adapters/queue/embedded.js';
import type { JobRecord } from '../../src/ports/job-queue.js';
import { jobQueueContract, waitFor } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'halftone-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `q${n++}.sqlite`);

jobQueueContract('embedded (SQLite)', async ({ concurrency, now, onExpire }) => {
  const file = freshFile();
  const queue = createEmbeddedQueue({ file, concurrency, now, onExpire, progressIntervalMs: 50 });
  return {
    queue,
    sweep: async () => void (await queue.sweep()),
    childStore: ['embedded', file],
    reopen: () => createEmbeddedQueue({ file, concurrency }),
  };
});

/** Starts the child, resolves once `runningLines` handlers have started, then SIGKILLs it. */
async function runChildAndKill(file: string, count: number, runningLines: number): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-child.ts'), file, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start jobs: ${out} ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').filter((l) => l.startsWith('running ')).length >= runningLines) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`child exited early: ${err}`)));
  });
  // Let a progress write land, then kill without any chance to clean up.
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  return out.split('\n').filter((l) => l.startsWith('running ')).map((l) => l.slice(8));
}

describe('embedded queue durability', () => {
  it('a job running when the process is SIGKILLed completes exactly once after reopening', async () => {
    const file = freshFile();
    const started = await runChildAndKill(file, 1, 1);
    assert.deepEqual(started, ['job-0']);

    const queue = createEmbeddedQueue({ file, concurrency: 2 });
    try {
      const before = await queue.get('job-0');
      assert.equal(before?.state, 'running', 'left running by the crash');
      assert.equal(before?.progress, 30, 'progress was persisted before the crash');
      assert.equal(before?.attempts, 1);
      const runs: string[] = [];
      const settled: JobRecord[] = [];
      queue.onSettled((j) => settled.push(j));
      queue.register('slow', async (_p, ctx) => {
        runs.push(`${ctx.id}#${ctx.attempt}`);
        return 'parent';
      });
      await queue.start();
      const job = await waitFor(queue, 'job-0');
      assert.equal(job.state, 'succeeded');
      assert.equal(job.result, 'parent');
      assert.equal(job.attempts, 2, 'the interrupted run counts as an attempt');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(runs, ['job-0#2']);
      assert.deepEqual(settled.map((j) => j.id), ['job-0']);
    } finally {
      await queue.close();
    }
  });

  it('20 jobs survive a SIGKILL with some running: every one completes once, none is lost or stuck', async () => {
    const file = freshFile();
    const started = await runChildAndKill(file, 20, 2);
    assert.equal(started.length, 2);

    const queue = createEmbeddedQueue({ file, concurrency: 4 });
    try {
      const runs = new Map<string, number>();
      queue.register('slow', async (_p, ctx) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 5));
        return ctx.attempt;
      });
      await queue.start();
      for (let i = 0; i < 20; i++) {
        const job = await waitFor(queue, `job-${i}`);
        assert.equal(job.state, 'succeeded', `job-${i}`);
        assert.equal(job.result, started.includes(`job-${i}`) ? 2 : 1, `job-${i} attempt`);
      }
      assert.equal(runs.size, 20);
      assert.ok([...runs.values()].every((c) => c === 1));
    } finally {
      await queue.close();
    }
  });

  it('a job interrupted on its last attempt fails instead of staying stuck', async () => {
    const file = freshFile();
    const first = createEmbeddedQueue({ file, concurrency: 1, abortGraceMs: 50 });
    const hold = new Promise<never>(() => {});
    first.register('slow', async () => hold);
    await first.submit('slow', null, { id: 'last', attempts: 1 });
    await first.start();
    await waitFor(first, 'last', (j) => j.state === 'running');
    // Simulate the crash: abandon the first instance without closing it (its handler never returns).
    const second = createEmbeddedQueue({ file, concurrency: 1 });
    try {
      await second.start();
      const job = await second.get('last');
      assert.equal(job?.state, 'failed');
      assert.equal(job?.error?.code, 'INTERNAL');
      assert.ok(job?.expiresAt !== undefined);
    } finally {
      await second.close();
      await first.close({ mode: 'abort' }).catch(() => {});
    }
  });

  it('close({ mode: "abort" }) aborts handlers and returns their jobs to the queue without using an attempt', async () => {
    const file = freshFile();
    const q1 = createEmbeddedQueue({ file, concurrency: 1 });
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

    const q2 = createEmbeddedQueue({ file, concurrency: 1 });
    try {
      const job = await q2.get('j');
      assert.equal(job?.state, 'queued');
      assert.equal(job?.attempts, 0);
      q2.register('slow', async () => 'done');
      await q2.start();
      assert.equal((await waitFor(q2, 'j')).result, 'done');
    } finally {
      await q2.close();
    }
  });

  it('close() waits for running handlers to finish', async () => {
    const file = freshFile();
    const q1 = createEmbeddedQueue({ file, concurrency: 1, progressIntervalMs: 0 });
    q1.register('slow', async (_p, ctx) => {
      ctx.progress(40);
      await new Promise((r) => setTimeout(r, 100));
      return 'ok';
    });
    await q1.submit('slow', null, { id: 'w' });
    await q1.start();
    await waitFor(q1, 'w', (j) => j.state === 'running');
    await q1.close();
    const q2 = createEmbeddedQueue({ file, concurrency: 1 });
    try {
      const job = await q2.get('w');
      assert.equal(job?.state, 'succeeded');
      await assert.rejects(q1.submit('slow', null));
    } finally {
      await q2.close();
    }
  });

  it('opens a queue file from before at-least-once listeners: its settled jobs count as announced', async () => {
    const file = freshFile();
    // The jobs table as the previous version created it (no `unannounced` column).
    const old = new Database(file);
    old.exec(`CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, state TEXT NOT NULL,
      payload TEXT NOT NULL, result TEXT, error TEXT, progress INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, backoff_ms INTEGER NOT NULL,
      timeout_ms INTEGER, retain_ms INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL, expires_at INTEGER)`);
    const t = Date.now();
    old.prepare(`INSERT INTO jobs (id, kind, state, payload, result, progress, attempts, max_attempts, backoff_ms,
      retain_ms, run_at, created_at, updated_at, expires_at) VALUES ('done', 'quick', 'succeeded', 'null', '1', 100, 1, 3, 1000,
      3600000, ?, ?, ?, ?)`).run(t, t, t, t + 3_600_000);
    old.close();

    const queue = createEmbeddedQueue({ file, concurrency: 1 });
    try {
      const settled: string[] = [];
      queue.onSettled((j) => void settled.push(j.id));
      queue.register('quick', async () => 2);
      await queue.start();
      assert.equal((await queue.get('done'))?.result, 1);
      assert.deepEqual(settled, [], 'settled under the old version: not announced again');
      // New settlements are flagged and announced as usual.
      await queue.submit('quick', null, { id: 'new' });
      await waitFor(queue, 'new');
      assert.deepEqual(settled, ['new']);
    } finally {
      await queue.close();
    }
  });

  it('sweeps expired jobs at start-up', async () => {
    const file = freshFile();
    let offset = 0;
    const now = () => Date.now() + offset;
    const q1 = createEmbeddedQueue({ file, concurrency: 1, now });
    q1.register('quick', async () => 1);
    await q1.start();
    await q1.submit('quick', null, { id: 'old', retainMs: 1000 });
    await waitFor(q1, 'old');
    await q1.close();
    offset = 2000;
    const expired: string[] = [];
    const q2 = createEmbeddedQueue({ file, concurrency: 1, now, onExpire: (j) => void expired.push(j.id) });
    try {
      await q2.start();
      assert.deepEqual(expired, ['old']);
      assert.equal(await q2.get('old'), undefined);
    } finally {
      await q2.close();
    }
  });
});
