/**
 * Embedded JobQueue: jobs persisted in their own SQLite file (better-sqlite3, WAL, one transaction
 * per state change), run in this process with bounded concurrency.
 *
 * One process owns a queue file: start-up treats every `running` row as interrupted by a crash and
 * puts it back in the queue (the interrupted run counted as an attempt), or fails it when no attempt
 * is left, so no job is lost and none stays stuck. The scale-out mode uses BullMQ instead.
 *
 * Settled listeners are at-least-once: the write that settles a job also sets its `unannounced`
 * flag, which is cleared once every listener finished (see `callListeners`); start-up, after the
 * recovery above, announces the rows still flagged — settlements whose listeners a crash cut short.
 *
 * The file is separate from the metadata database on purpose: job rows churn (progress, sweeps)
 * and the queue must be swappable for BullMQ without touching the MetaStore.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { AppError } from '../../core/errors.js';
import type {
  CloseOptions,
  JobContext,
  JobError,
  JobHandler,
  JobQueue,
  JobRecord,
  JobState,
  Json,
  SettledListener,
  SubmitOptions,
} from '../../ports/job-queue.js';
import { callListeners, classify, positiveInt, waitAtMost } from './policy.js';

export interface EmbeddedQueueOptions {
  /** SQLite file path (`:memory:` works for tests that need no restart). */
  readonly file: string;
  /** Most handlers running at once. */
  readonly concurrency: number;
  /** Clock, injectable for tests (default `Date.now`). Timers still run in real time. */
  readonly now?: () => number;
  /** How often settled jobs past their retention are deleted (default 60 s); also run at start. */
  readonly sweepIntervalMs?: number;
  /** Called before a expired job is deleted, so its result files can be removed. Errors are ignored. */
  readonly onExpire?: (job: JobRecord) => void | Promise<void>;
  /** Least time between two progress writes of one job (default 500 ms); reads see it at once. */
  readonly progressIntervalMs?: number;
  /** In `close({ mode: 'abort' })`, how long to wait for aborted handlers to return (default 5 s). */
  readonly abortGraceMs?: number;
}

/** The embedded queue also exposes `sweep()`, for tests and for an operator command. */
export interface EmbeddedJobQueue extends JobQueue {
  /** Deletes settled jobs past their `expiresAt`; returns how many were deleted. */
  sweep(): Promise<number>;
  /** Jobs waiting or running, per kind and state (for the metrics gauge; empty once closed). */
  active(): { kind: string; state: 'queued' | 'running'; count: number }[];
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_BACKOFF_MS = 1000;
const DEFAULT_RETAIN_MS = 60 * 60 * 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT,
  error TEXT,
  progress INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  backoff_ms INTEGER NOT NULL,
  timeout_ms INTEGER,
  retain_ms INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  unannounced INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, run_at, seq);
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
`;

/**
 * Brings a queue file written by an older version up to SCHEMA. `unannounced` (added with
 * at-least-once listeners): rows settled before it existed had their listeners called by the old
 * version, so they count as announced (the column's default, 0).
 */
function migrate(db: Database.Database): void {
  const columns = new Set(db.prepare<[], { name: string }>('PRAGMA table_info(jobs)').all().map((c) => c.name));
  if (!columns.has('unannounced')) db.exec('ALTER TABLE jobs ADD COLUMN unannounced INTEGER NOT NULL DEFAULT 0');
  db.exec('CREATE INDEX IF NOT EXISTS jobs_unannounced ON jobs (seq) WHERE unannounced = 1');
}

interface Row {
  seq: number;
  id: string;
  kind: string;
  state: JobState;
  payload: string;
  result: string | null;
  error: string | null;
  progress: number;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  timeout_ms: number | null;
  retain_ms: number;
  run_at: number;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  unannounced: number;
}

interface Active {
  readonly controller: AbortController;
  progress: number;
  lastWrite: number;
  flushTimer: NodeJS.Timeout | undefined;
  /** Set once the job's outcome is decided elsewhere (cancel, timeout, abort-close). */
  settled: boolean;
  done: Promise<void>;
}

function toRecord(row: Row): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    payload: JSON.parse(row.payload) as Json,
    progress: row.progress,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    ...(row.result === null ? {} : { result: JSON.parse(row.result) as Json }),
    ...(row.error === null ? {} : { error: JSON.parse(row.error) as JobError }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
  };
}



/** Creates the embedded queue; the database is opened (and created) here, jobs run after `start()`. */
export function createEmbeddedQueue(options: EmbeddedQueueOptions): EmbeddedJobQueue {
  const now = options.now ?? Date.now;
  const concurrency = positiveInt('concurrency', options.concurrency, 1, 1);
  const sweepIntervalMs = positiveInt('sweepIntervalMs', options.sweepIntervalMs, 60_000, 1);
  const progressIntervalMs = positiveInt('progressIntervalMs', options.progressIntervalMs, 500, 0);
  const abortGraceMs = positiveInt('abortGraceMs', options.abortGraceMs, 5000, 0);

  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  migrate(db);

  const q = {
    insert: db.prepare(
      `INSERT OR IGNORE INTO jobs (id, kind, state, payload, max_attempts, backoff_ms, timeout_ms, retain_ms,
         run_at, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    get: db.prepare<[string], Row>('SELECT * FROM jobs WHERE id = ?'),
    nextReady: (kinds: string[]) =>
      db.prepare<unknown[], Row>(
        `SELECT * FROM jobs WHERE state = 'queued' AND run_at <= ? AND kind IN (${kinds.map(() => '?').join(',')})
         ORDER BY run_at, seq LIMIT 1`,
      ),
    nextWake: (kinds: string[]) =>
      db.prepare<unknown[], { run_at: number | null }>(
        `SELECT MIN(run_at) AS run_at FROM jobs WHERE state = 'queued' AND kind IN (${kinds.map(() => '?').join(',')})`,
      ),
    claim: db.prepare(
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'queued'`,
    ),
    // Every write that settles a job flags it unannounced in the same statement: a crash before
    // its listeners finished leaves the flag for start-up to find.
    succeed: db.prepare(
      `UPDATE jobs SET state = 'succeeded', result = ?, error = NULL, progress = 100, updated_at = ?,
         expires_at = ? + retain_ms, unannounced = 1 WHERE id = ? AND state = 'running'`,
    ),
    fail: db.prepare(
      `UPDATE jobs SET state = 'failed', error = ?, updated_at = ?, expires_at = ? + retain_ms, unannounced = 1
         WHERE id = ? AND state = 'running'`,
    ),
    retry: db.prepare(
      `UPDATE jobs SET state = 'queued', error = ?, run_at = ?, updated_at = ? WHERE id = ? AND state = 'running'`,
    ),
    requeueRefund: db.prepare(
      `UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), run_at = ?, updated_at = ?
         WHERE id = ? AND state = 'running'`,
    ),
    cancel: db.prepare(
      `UPDATE jobs SET state = 'cancelled', updated_at = ?, expires_at = ? + retain_ms, unannounced = 1
         WHERE id = ? AND state IN ('queued', 'running')`,
    ),
    progress: db.prepare(`UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND state = 'running'`),
    recoverRequeue: db.prepare(
      `UPDATE jobs SET state = 'queued', run_at = ?, updated_at = ? WHERE state = 'running' AND attempts < max_attempts`,
    ),
    recoverFail: db.prepare(
      `UPDATE jobs SET state = 'failed', error = ?, updated_at = ?, expires_at = ? + retain_ms, unannounced = 1
         WHERE state = 'running' AND attempts >= max_attempts`,
    ),
    unannounced: db.prepare<[], Row>('SELECT * FROM jobs WHERE unannounced = 1 ORDER BY seq'),
    announced: db.prepare('UPDATE jobs SET unannounced = 0 WHERE id = ?'),
    expired: db.prepare<[number], Row>(
      `SELECT * FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at`,
    ),
    remove: db.prepare('DELETE FROM jobs WHERE id = ? AND expires_at IS NOT NULL'),
    pending: db.prepare<[string], { count: number }>(
      `SELECT COUNT(*) AS count FROM jobs WHERE state IN ('queued', 'running') AND kind = ?`,
    ),
    active: db.prepare<[], { kind: string; state: 'queued' | 'running'; count: number }>(
      `SELECT kind, state, COUNT(*) AS count FROM jobs WHERE state IN ('queued', 'running') GROUP BY kind, state`,
    ),
  };

  const handlers = new Map<string, JobHandler>();
  const active = new Map<string, Active>();
  const listeners = new Set<SettledListener>();
  /**
   * Announcements in this instance whose listeners returned promises still pending, by job id:
   * start() leaves these to finish, close() waits a while for them.
   */
  const announcing = new Map<string, Promise<void>>();
  let started = false;
  let closing = false;
  let closed = false;
  let wakeTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<number> | undefined;

  function assertOpen(): void {
    if (closing || closed) throw new AppError('INTERNAL', 'The job queue is closed');
  }

  /** Tells the listeners that the job settled; clears its flag once they all finished. */
  function emitSettled(id: string): void {
    const row = q.get.get(id);
    if (row) announce(row);
  }

  function announce(row: Row): void {
    const done = callListeners(listeners, toRecord(row));
    if (done === true) {
      q.announced.run(row.id);
    } else if (done !== false) {
      const tracked: Promise<void> = done
        .then((ok) => {
          // A queue closed meanwhile leaves the flag: the next start announces the job again.
          if (ok && !closed) q.announced.run(row.id);
        })
        .catch(() => undefined) // a failed clear only means one more announcement
        .finally(() => {
          if (announcing.get(row.id) === tracked) announcing.delete(row.id);
        });
      announcing.set(row.id, tracked);
    }
  }

  function writeProgress(id: string, entry: Active): void {
    if (entry.flushTimer) clearTimeout(entry.flushTimer);
    entry.flushTimer = undefined;
    if (closed || entry.settled) return;
    entry.lastWrite = now();
    q.progress.run(entry.progress, entry.lastWrite, id);
  }

  const claim = db.transaction((kinds: string[]): Row | undefined => {
    const row = q.nextReady(kinds).get(now(), ...kinds);
    if (!row) return undefined;
    q.claim.run(now(), row.id);
    return q.get.get(row.id);
  });

  function pump(): void {
    if (!started || closing || closed) return;
    const kinds = [...handlers.keys()];
    if (kinds.length === 0) return;
    while (active.size < concurrency) {
      const row = claim(kinds);
      if (!row) break;
      run(row);
    }
    scheduleWake(kinds);
  }

  function scheduleWake(kinds: string[]): void {
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeTimer = undefined;
    if (active.size >= concurrency) return; // a finishing job pumps again
    const next = q.nextWake(kinds).get(...kinds)?.run_at;
    if (next === null || next === undefined) return;
    // Capped so that a clock moved by a test (or NTP) is noticed within a second.
    const delay = Math.min(Math.max(next - now(), 0), 1000);
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      pump();
    }, delay);
  }

  function run(row: Row): void {
    const handler = handlers.get(row.kind);
    if (!handler) return;
    const controller = new AbortController();
    const entry: Active = {
      controller,
      progress: row.progress,
      lastWrite: 0,
      flushTimer: undefined,
      settled: false,
      done: Promise.resolve(),
    };
    active.set(row.id, entry);
    const id = row.id;
    const ctx: JobContext = {
      signal: controller.signal,
      id,
      attempt: row.attempts,
      progress(percent: number) {
        if (entry.settled || closed || !Number.isFinite(percent)) return;
        entry.progress = Math.round(Math.min(100, Math.max(0, percent)));
        const wait = entry.lastWrite + progressIntervalMs - now();
        if (wait <= 0) writeProgress(id, entry);
        else if (!entry.flushTimer) entry.flushTimer = setTimeout(() => writeProgress(id, entry), wait);
      },
    };

    let timeout: NodeJS.Timeout | undefined;
    if (row.timeout_ms !== null) {
      const limit = row.timeout_ms;
      timeout = setTimeout(() => {
        if (entry.settled || closed) return;
        const err = new AppError('TIMEOUT', `The job took longer than its ${limit} ms budget`);
        settle(id, entry, () => q.fail.run(JSON.stringify(classify(err).error), now(), now(), id));
        controller.abort(err);
      }, limit);
    }

    entry.done = (async () => {
      let outcome: { ok: true; value: Json } | { ok: false; err: unknown };
      try {
        const value = await handler(JSON.parse(row.payload) as Json, ctx);
        outcome = { ok: true, value: value === undefined ? null : value };
      } catch (err) {
        outcome = { ok: false, err };
      }
      if (timeout) clearTimeout(timeout);
      if (entry.flushTimer) clearTimeout(entry.flushTimer);
      if (!entry.settled && !closed) {
        if (outcome.ok) {
          const result = JSON.stringify(outcome.value);
          settle(id, entry, () => q.succeed.run(result, now(), now(), id));
        } else {
          const { error, retry } = classify(outcome.err);
          if (retry && row.attempts < row.max_attempts) {
            entry.settled = true;
            const delay = row.backoff_ms * 2 ** (row.attempts - 1);
            q.retry.run(JSON.stringify(error), now() + delay, now(), id);
          } else {
            settle(id, entry, () => q.fail.run(JSON.stringify(error), now(), now(), id));
          }
        }
      }
      active.delete(id);
      pump();
    })();
  }

  /** Marks the outcome decided, writes it, and tells the listeners when the write took effect. */
  function settle(id: string, entry: Active, write: () => Database.RunResult): void {
    entry.settled = true;
    if (write().changes > 0) emitSettled(id);
  }

  async function sweep(): Promise<number> {
    if (sweeping) return sweeping;
    sweeping = (async () => {
      let deleted = 0;
      for (const row of q.expired.all(now())) {
        if (options.onExpire) {
          try {
            await options.onExpire(toRecord(row));
          } catch {
            // The job row goes anyway: a failing hook must not keep expired tasks forever.
          }
        }
        if (closed) break;
        deleted += q.remove.run(row.id).changes;
      }
      return deleted;
    })();
    try {
      return await sweeping;
    } finally {
      sweeping = undefined;
    }
  }

  return {
    active() {
      return closed ? [] : q.active.all();
    },
    async submit(kind: string, payload: Json, opts: SubmitOptions = {}) {
      assertOpen();
      if (typeof kind !== 'string' || kind.length === 0) {
        throw new AppError('INVALID_ARGUMENT', 'Expected a non-empty string for job kind');
      }
      const id = opts.id ?? randomUUID();
      const attempts = positiveInt('attempts', opts.attempts, DEFAULT_ATTEMPTS, 1);
      const backoffMs = positiveInt('backoffMs', opts.backoffMs, DEFAULT_BACKOFF_MS, 0);
      const timeoutMs = opts.timeoutMs === undefined ? null : positiveInt('timeoutMs', opts.timeoutMs, 0, 1);
      const retainMs = positiveInt('retainMs', opts.retainMs, DEFAULT_RETAIN_MS, 0);
      const t = now();
      q.insert.run(id, kind, JSON.stringify(payload ?? null), attempts, backoffMs, timeoutMs, retainMs, t, t, t);
      pump();
      return { id };
    },

    async pending(kind: string) {
      assertOpen();
      return q.pending.get(kind)?.count ?? 0;
    },
    async get(id: string) {
      if (closed) throw new AppError('INTERNAL', 'The job queue is closed');
      const row = q.get.get(id);
      if (!row) return undefined;
      const record = toRecord(row);
      const entry = active.get(id);
      // Progress is persisted throttled; readers in this process see the latest value at once.
      if (entry && !entry.settled && row.state === 'running') return { ...record, progress: entry.progress };
      return record;
    },

    async cancel(id: string) {
      if (closed) throw new AppError('INTERNAL', 'The job queue is closed');
      const t = now();
      if (q.cancel.run(t, t, id).changes === 0) return false;
      const entry = active.get(id);
      if (entry) {
        entry.settled = true;
        entry.controller.abort(new Error('The job was cancelled'));
      }
      emitSettled(id);
      return true;
    },

    register(kind: string, handler: JobHandler) {
      assertOpen();
      if (handlers.has(kind)) throw new Error(`Job kind ${kind} already has a handler`);
      handlers.set(kind, handler);
      pump();
    },

    async start() {
      assertOpen();
      if (started) return;
      const t = now();
      db.transaction(() => {
        q.recoverRequeue.run(t, t);
        const error: JobError = { code: 'INTERNAL', message: 'The job was interrupted and has no attempt left' };
        q.recoverFail.run(JSON.stringify(error), t, t);
      })();
      // Jobs the recovery just failed, and settlements whose listeners a crash (or a close that
      // did not wait for them) cut short; announced before the sweep, so not lost to expiry now.
      for (const row of q.unannounced.all()) if (!announcing.has(row.id)) announce(row);
      started = true;
      await sweep();
      sweepTimer = setInterval(() => void sweep(), sweepIntervalMs);
      sweepTimer.unref();
      pump();
    },

    async close(closeOptions: CloseOptions = {}) {
      if (closed) return;
      closing = true;
      if (wakeTimer) clearTimeout(wakeTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      const running = [...active.entries()];
      if (closeOptions.mode === 'abort') {
        const t = now();
        for (const [id, entry] of running) {
          if (entry.settled) continue;
          entry.settled = true;
          q.requeueRefund.run(t, t, id);
          entry.controller.abort(new Error('The job queue is shutting down'));
        }
        await waitAtMost(Promise.all(running.map(([, e]) => e.done)), abortGraceMs);
      } else {
        await Promise.all(running.map(([, e]) => e.done));
      }
      if (sweeping) await sweeping.catch(() => 0);
      // Listeners still working get the same grace as aborted handlers; the jobs of those that do
      // not finish stay flagged and are announced again by the next start.
      if (announcing.size > 0) await waitAtMost(Promise.all(announcing.values()), abortGraceMs);
      closed = true;
      db.close();
    },

    onSettled(listener: SettledListener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    sweep,
  };
}
