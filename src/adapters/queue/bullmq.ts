/**
 * BullMQ JobQueue (the scale-out mode): jobs live in Redis, any number of processes submit, read
 * and cancel them, and every process that registers handlers and starts is a worker.
 *
 * Mapping onto BullMQ (same semantics as the embedded queue, see src/ports/job-queue.ts):
 * - One BullMQ queue per job kind, so a kind's jobs wait until some process has its handler. A
 *   hash `<prefix>:kinds` maps job id → kind (for `get`/`cancel` by id). Custom ids are BullMQ
 *   custom job ids (adding an existing id is a no-op).
 * - Retry policy is decided here, from `attemptsStarted` (which counts runs interrupted by a crash
 *   too): a 4xx AppError, a TIMEOUT, or a transient error on the last attempt is thrown as
 *   `UnrecoverableError`; other errors are thrown as plain errors and BullMQ retries them after
 *   `backoffMs * 2^(attempt-1)` (a custom backoff strategy). The job error is stored JSON-encoded
 *   in BullMQ's `failedReason`.
 * - Crash recovery is BullMQ's stalled-job check: a job whose worker died loses its lock after
 *   `lockDurationMs` and goes back to the wait list; the next run that finds no attempt left fails
 *   the job (code INTERNAL) without calling the handler.
 * - Cancellation: a Lua script writes a `cancelled` record (`<prefix>:cancelled:<id>`) unless the
 *   job has finished; a queued job is then removed from BullMQ, a running one is aborted through
 *   a Redis pub/sub message to the process that runs it (which also checks the record before and
 *   after the handler, so a lost message only delays the abort). The record wins over BullMQ's
 *   state when reading.
 * - Retention: a settled job gets a score `expiresAt` in the sorted set `<prefix>:expiry`; the sweep
 *   (every process runs one) leases due ids with a Lua script, so one process at a time calls the
 *   expiry hook and deletes the job (a process dying mid-sweep lets the lease lapse: the hook may
 *   then run twice, never zero times).
 * - `onSettled` listeners run in the process where the job settled (the worker that finished it,
 *   or the process that cancelled it), so each settlement is normally reported once across the
 *   cluster. At-least-once across crashes: the settling process adds the id to the set
 *   `<prefix>:unannounced` before it hands the outcome to BullMQ (the worker, in a Lua script that
 *   skips cancelled jobs) or in the cancel script itself, and removes it once its listeners
 *   finished. `start()` announces the ids left in the set whose jobs are settled (a process died
 *   in between), leaves those still queued or running (a crash before BullMQ moved the job: it
 *   runs again and settles normally) and drops ids whose job is gone. A process starting while
 *   another one is between settling and the end of its listeners announces that job too: once
 *   per settlement is the normal case, not a guarantee.
 *
 * Deviations from the embedded queue: `concurrency` applies per job kind (one BullMQ worker per
 * kind); timestamps come from the machines' clocks (`now` is used for retention only); progress
 * updates do not move `updatedAt`.
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
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

export interface BullMQQueueOptions {
  /** `redis://[user:pass@]host:port[/db]` (REDIS_URL). */
  readonly url: string;
  /** Key prefix in Redis (default `halftone`); processes sharing jobs use the same prefix. */
  readonly prefix?: string;
  /** Most handlers of one kind running at once in this process. */
  readonly concurrency: number;
  /** Clock for retention (default `Date.now`). */
  readonly now?: () => number;
  /** How often this process sweeps settled jobs past their retention (default 60 s). */
  readonly sweepIntervalMs?: number;
  /** Called before an expired job is deleted, so its result files can be removed. Errors are ignored. */
  readonly onExpire?: (job: JobRecord) => void | Promise<void>;
  /** Least time between two progress writes of one job (default 500 ms). */
  readonly progressIntervalMs?: number;
  /** In `close({ mode: 'abort' })`, how long to wait for aborted handlers to return (default 5 s). */
  readonly abortGraceMs?: number;
  /** A running job's lock lifetime: a crashed worker's job is recovered after about this long (default 30 s). */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose lock lapsed (default: `lockDurationMs`). */
  readonly stalledIntervalMs?: number;
}

/** The BullMQ queue also exposes `sweep()`, like the embedded one. */
export interface BullMQJobQueue extends JobQueue {
  /** Deletes settled jobs past their `expiresAt`; returns how many were deleted. */
  sweep(): Promise<number>;
}

const DEFAULT_ATTEMPTS = 3;
const DEFAULT_BACKOFF_MS = 1000;
const DEFAULT_RETAIN_MS = 60 * 60 * 1000;
const BACKOFF_TYPE = 'halftone';
/** How long a sweeping process holds the due ids it took. */
const SWEEP_LEASE_MS = 60_000;

/** What is stored in BullMQ's job data. */
interface JobData {
  readonly payload: Json;
  readonly backoffMs: number;
  readonly timeoutMs: number | null;
  readonly retainMs: number;
}

interface Active {
  readonly controller: AbortController;
  readonly job: Job<JobData>;
  progress: number;
  lastWrite: number;
  flushTimer: NodeJS.Timeout | undefined;
  /** Why the handler was stopped, once it was. */
  stop: 'cancel' | 'timeout' | 'shutdown' | undefined;
  done: Promise<void>;
}

// Sets the cancelled record unless the job is missing, finished or already cancelled; flags the
// job unannounced in the same step.
const CANCEL_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'finishedOn') == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[3])
return 1
`;

// Flags a job unannounced before its outcome goes to BullMQ, unless it was cancelled (the
// cancelling process announces it); 1 when flagged.
const MARK_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

// Schedules the expiry of a job that finished, unless it was cancelled; 1 when scheduled.
const SETTLE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1
`;

// Leases up to ARGV[3] ids due at ARGV[1] until ARGV[2].
const LEASE_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
`;



const INTERRUPTED: JobError = { code: 'INTERNAL', message: 'The job was interrupted and has no attempt left' };

/** BullMQ's `failedReason` holds the JobError as JSON; anything else (BullMQ's own reasons) is INTERNAL. */
function parseReason(reason: string | undefined): JobError | undefined {
  if (reason === undefined || reason === null || reason === '') return undefined;
  try {
    const parsed = JSON.parse(reason) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string' && typeof parsed.message === 'string') return parsed as JobError;
  } catch {
    // not ours
  }
  return INTERRUPTED;
}

const STATES: Record<string, JobState> = {
  waiting: 'queued',
  delayed: 'queued',
  prioritized: 'queued',
  'waiting-children': 'queued',
  active: 'running',
  completed: 'succeeded',
  failed: 'failed',
};

/** Creates the queue and its Redis connections; jobs run after `start()`. */
export function createBullMQQueue(options: BullMQQueueOptions): BullMQJobQueue {
  const now = options.now ?? Date.now;
  const prefix = options.prefix ?? 'halftone';
  const concurrency = positiveInt('concurrency', options.concurrency, 1, 1);
  const sweepIntervalMs = positiveInt('sweepIntervalMs', options.sweepIntervalMs, 60_000, 1);
  const progressIntervalMs = positiveInt('progressIntervalMs', options.progressIntervalMs, 500, 0);
  const abortGraceMs = positiveInt('abortGraceMs', options.abortGraceMs, 5000, 0);
  const lockDuration = positiveInt('lockDurationMs', options.lockDurationMs, 30_000, 1);
  const stalledInterval = positiveInt('stalledIntervalMs', options.stalledIntervalMs, lockDuration, 1);

  // BullMQ needs `maxRetriesPerRequest: null` on connections it blocks on.
  const redis = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: false });
  let subscriber: Redis | undefined;
  const kindsKey = `${prefix}:kinds`;
  const expiryKey = `${prefix}:expiry`;
  const unannouncedKey = `${prefix}:unannounced`;
  const cancelChannel = `${prefix}:cancel`;
  const cancelledKey = (id: string) => `${prefix}:cancelled:${id}`;

  const queues = new Map<string, Queue>();
  const workers = new Map<string, Worker>();
  const handlers = new Map<string, JobHandler>();
  const active = new Map<string, Active>();
  const listeners = new Set<SettledListener>();
  /**
   * Announcements in this process whose listeners (or the removal from the unannounced set) are
   * still pending, by job id: start() leaves these to finish, close() waits a while for them.
   */
  const announcing = new Map<string, Promise<void>>();
  let started = false;
  let closing = false;
  let closed = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<number> | undefined;

  function assertOpen(): void {
    if (closing || closed) throw new AppError('INTERNAL', 'The job queue is closed');
  }

  function queueOf(kind: string): Queue {
    let q = queues.get(kind);
    if (!q) {
      q = new Queue(kind, { connection: redis, prefix });
      queues.set(kind, q);
    }
    return q;
  }

  /** Tells the listeners that the job settled; takes it out of the unannounced set once they all finished. */
  function announce(record: JobRecord): void {
    const done = callListeners(listeners, record);
    const tracked: Promise<void> = Promise.resolve(done)
      .then(async (ok) => {
        // A queue closed meanwhile leaves the id: the next start announces the job again.
        if (ok && !closed) await redis.srem(unannouncedKey, record.id);
      })
      .catch(() => undefined) // a failed removal only means one more announcement
      .finally(() => {
        if (announcing.get(record.id) === tracked) announcing.delete(record.id);
      });
    announcing.set(record.id, tracked);
  }

  /** Flags the job unannounced unless it was cancelled; true when flagged. */
  async function markUnannounced(id: string): Promise<boolean> {
    return (await redis.eval(MARK_SCRIPT, 2, cancelledKey(id), unannouncedKey, id)) === 1;
  }

  /**
   * Announces the settled jobs left in the unannounced set by a process that ended before their
   * listeners finished. Jobs still queued or running stay in the set (their settlement will
   * announce them); ids whose job is gone (expired) are dropped.
   */
  async function announceLeftovers(): Promise<void> {
    for (const id of await redis.smembers(unannouncedKey)) {
      if (announcing.has(id)) continue; // settled by this process before start(), still announcing
      const record = await read(id);
      if (record === undefined) await redis.srem(unannouncedKey, id);
      else if (record.state !== 'queued' && record.state !== 'running') announce(record);
    }
  }

  function toRecord(job: Job<JobData>, bullState: string): JobRecord | undefined {
    const state = STATES[bullState];
    if (state === undefined) return undefined;
    const data = job.data;
    const settled = state === 'succeeded' || state === 'failed';
    const updatedAt = job.finishedOn ?? job.processedOn ?? job.timestamp;
    const error = state === 'succeeded' ? undefined : parseReason(job.failedReason);
    const progress = state === 'succeeded' ? 100 : typeof job.progress === 'number' ? job.progress : 0;
    return {
      id: job.id as string,
      kind: job.name,
      state,
      payload: data.payload,
      progress,
      attempts: job.attemptsStarted,
      maxAttempts: job.opts.attempts ?? 1,
      ...(state === 'succeeded' ? { result: (job.returnvalue ?? null) as Json } : {}),
      ...(error === undefined ? {} : { error }),
      createdAt: job.timestamp,
      updatedAt,
      ...(settled ? { expiresAt: updatedAt + data.retainMs } : {}),
    };
  }

  async function read(id: string): Promise<JobRecord | undefined> {
    const cancelled = await redis.get(cancelledKey(id));
    if (cancelled !== null) return JSON.parse(cancelled) as JobRecord;
    const kind = await redis.hget(kindsKey, id);
    if (kind === null) return undefined;
    let job = (await Job.fromId(queueOf(kind), id)) as Job<JobData> | undefined;
    if (!job) return undefined;
    const state = await job.getState();
    if ((state === 'completed' || state === 'failed') && job.finishedOn === undefined) {
      // It finished between the two reads: read the finished job again (stable from now on).
      job = (await Job.fromId(queueOf(kind), id)) as Job<JobData> | undefined;
      if (!job) return undefined;
    }
    return toRecord(job, state);
  }

  function writeProgress(entry: Active): void {
    if (entry.flushTimer) clearTimeout(entry.flushTimer);
    entry.flushTimer = undefined;
    if (entry.stop !== undefined || closed) return;
    entry.lastWrite = Date.now();
    entry.job.updateProgress(entry.progress).catch(() => undefined);
  }

  async function isCancelled(id: string): Promise<boolean> {
    return (await redis.exists(cancelledKey(id))) === 1;
  }

  const fail = (error: JobError) => new UnrecoverableError(JSON.stringify(error));
  const CANCELLED: JobError = { code: 'INTERNAL', message: 'The job was cancelled' };

  function processorFor(kind: string) {
    return async (job: Job<JobData>, token?: string): Promise<Json> => {
      const id = job.id as string;
      const handler = handlers.get(kind) as JobHandler;
      const maxAttempts = job.opts.attempts ?? 1;
      const attempt = job.attemptsStarted;
      // Tracked before any await, so that close() and cancel messages see every job BullMQ marked active.
      const controller = new AbortController();
      const entry: Active = {
        controller,
        job,
        progress: typeof job.progress === 'number' ? job.progress : 0,
        lastWrite: 0,
        flushTimer: undefined,
        stop: undefined,
        done: Promise.resolve(),
      };
      let finished!: () => void;
      entry.done = new Promise<void>((r) => (finished = r));
      active.set(id, entry);
      // Fetched while close({ mode: 'abort' }) was pausing the worker: straight back to the queue.
      if (closing) entry.stop = 'shutdown';
      const stopped = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      });
      stopped.catch(() => undefined);
      let timeout: NodeJS.Timeout | undefined;
      const limit = job.data.timeoutMs;
      if (limit !== null) {
        timeout = setTimeout(() => {
          if (entry.stop !== undefined) return;
          entry.stop = 'timeout';
          controller.abort(new AppError('TIMEOUT', `The job took longer than its ${limit} ms budget`));
        }, limit);
      }
      const ctx: JobContext = {
        signal: controller.signal,
        id,
        attempt,
        progress(percent: number) {
          if (entry.stop !== undefined || closed || !Number.isFinite(percent)) return;
          entry.progress = Math.round(Math.min(100, Math.max(0, percent)));
          const wait = entry.lastWrite + progressIntervalMs - Date.now();
          if (wait <= 0) writeProgress(entry);
          else if (!entry.flushTimer) entry.flushTimer = setTimeout(() => writeProgress(entry), wait);
        },
      };
      try {
        if (await isCancelled(id)) {
          entry.stop ??= 'cancel';
          throw new Error('The job was cancelled');
        }
        if (entry.stop === undefined && attempt > maxAttempts) throw fail(INTERRUPTED);
        if (entry.stop !== undefined) throw controller.signal.reason ?? new Error('The job queue is shutting down');
        const value = await Promise.race([handler(job.data.payload, ctx), stopped]);
        // Flagged before BullMQ records the outcome (the return), so a crash in between cannot
        // lose the announcement; false when the job was cancelled meanwhile.
        if (entry.stop === undefined && (await markUnannounced(id))) return value === undefined ? null : value;
        throw controller.signal.reason;
      } catch (err) {
        if (entry.stop === 'shutdown') {
          // Back to the wait list without using an attempt (close({ mode: 'abort' })).
          await job.moveToWait(token);
          await redis.hincrby(queueOf(kind).toKey(id), 'ats', -1);
          throw new WaitingError();
        }
        if (entry.stop === 'cancel' || (await isCancelled(id))) throw fail(CANCELLED);
        // A final failure is flagged before it goes to BullMQ, like a success. A Redis error here
        // must not turn it into a retry (BullMQ could not record the failure either then).
        if (err instanceof UnrecoverableError) {
          await markUnannounced(id).catch(() => false);
          throw err;
        }
        const { error, retry } = classify(err);
        if (retry && attempt < maxAttempts) throw new Error(JSON.stringify(error));
        await markUnannounced(id).catch(() => false);
        throw fail(error);
      } finally {
        if (timeout) clearTimeout(timeout);
        if (entry.flushTimer) clearTimeout(entry.flushTimer);
        active.delete(id);
        finished();
      }
    };
  }

  /**
   * A job finished in this process: schedule its expiry and tell the listeners, unless it was
   * cancelled (the cancelling process reported that). One round trip; the record is built from
   * the job BullMQ just finished (with the handler's own return value: BullMQ's local copy turns
   * falsy results into undefined). It equals what `read` builds from Redis, so a job announced
   * again after a crash is announced with the same record.
   */
  async function settledHere(job: Job<JobData>, outcome: { result: Json } | undefined): Promise<void> {
    const id = job.id as string;
    const base = toRecord(job, outcome ? 'completed' : 'failed');
    if (!base || base.expiresAt === undefined) return;
    const record: JobRecord = outcome ? { ...base, result: outcome.result } : base;
    if ((await redis.eval(SETTLE_SCRIPT, 2, cancelledKey(id), expiryKey, base.expiresAt, id)) !== 1) return;
    announce(record);
  }

  function startWorker(kind: string): void {
    if (workers.has(kind)) return;
    const worker = new Worker<JobData, Json>(kind, processorFor(kind), {
      connection: redis,
      prefix,
      concurrency,
      lockDuration,
      stalledInterval,
      // Attempts (including interrupted runs) are enforced by the processor instead.
      maxStalledCount: 1_000_000,
      settings: {
        backoffStrategy: (_made, _type, _err, job) => {
          // BullMQ passes the Job (typed as MinimalJob, without `attemptsStarted`).
          const full = job as unknown as { data?: JobData; attemptsStarted?: number } | undefined;
          return (full?.data?.backoffMs ?? DEFAULT_BACKOFF_MS) * 2 ** Math.max((full?.attemptsStarted ?? 1) - 1, 0);
        },
      },
    });
    worker.on('completed', (job, result) => void settledHere(job, { result: result ?? null }).catch(() => undefined));
    worker.on('failed', (job) => {
      if (job?.finishedOn !== undefined) void settledHere(job, undefined).catch(() => undefined);
    });
    worker.on('error', () => undefined); // connection errors are retried by ioredis
    workers.set(kind, worker);
  }

  async function subscribe(): Promise<void> {
    subscriber = redis.duplicate();
    subscriber.on('message', (_channel: string, id: string) => {
      const entry = active.get(id);
      if (!entry || entry.stop !== undefined) return;
      entry.stop = 'cancel';
      entry.controller.abort(new Error('The job was cancelled'));
    });
    await subscriber.subscribe(cancelChannel);
  }

  async function sweep(): Promise<number> {
    if (sweeping) return sweeping;
    sweeping = (async () => {
      let deleted = 0;
      for (;;) {
        if (closed) break;
        const t = now();
        const ids = (await redis.eval(LEASE_SCRIPT, 1, expiryKey, t, t + SWEEP_LEASE_MS, 100)) as string[];
        if (ids.length === 0) break;
        for (const id of ids) {
          const record = await read(id);
          if (record && options.onExpire) {
            try {
              await options.onExpire(record);
            } catch {
              // The job goes anyway: a failing hook must not keep expired tasks forever.
            }
          }
          const kind = await redis.hget(kindsKey, id);
          if (kind !== null && (await queueOf(kind).remove(id)) === 0 && (await Job.fromId(queueOf(kind), id)) !== undefined) {
            continue; // still locked by a worker (a cancelled job winding down): try again after the lease
          }
          await redis.multi().del(cancelledKey(id)).hdel(kindsKey, id).zrem(expiryKey, id).srem(unannouncedKey, id).exec();
          if (record) deleted++;
        }
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
      if (await isCancelled(id)) return { id };
      await redis.hsetnx(kindsKey, id, kind);
      const owner = (await redis.hget(kindsKey, id)) ?? kind;
      const data: JobData = { payload: payload ?? null, backoffMs, timeoutMs, retainMs };
      // An existing id is a no-op in BullMQ (its first payload stays).
      await queueOf(owner).add(owner, data, {
        jobId: id,
        attempts,
        backoff: { type: BACKOFF_TYPE, delay: backoffMs },
        removeOnComplete: false,
        removeOnFail: false,
      });
      return { id };
    },

    async pending(kind: string) {
      if (closed) throw new AppError('INTERNAL', 'The job queue is closed');
      // Retries wait as delayed jobs; prioritized jobs wait in their own set (a paused queue keeps
      // its jobs in the waiting list).
      const counts = await queueOf(kind).getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },

    async get(id: string) {
      if (closed) throw new AppError('INTERNAL', 'The job queue is closed');
      const record = await read(id);
      const entry = active.get(id);
      // Progress is persisted throttled; readers in this process see the latest value at once.
      if (record && entry && entry.stop === undefined && record.state === 'running') return { ...record, progress: entry.progress };
      return record;
    },

    async cancel(id: string) {
      if (closed) throw new AppError('INTERNAL', 'The job queue is closed');
      const kind = await redis.hget(kindsKey, id);
      if (kind === null) return false;
      const queue = queueOf(kind);
      const job = (await Job.fromId(queue, id)) as Job<JobData> | undefined;
      if (!job) return false;
      const before = toRecord(job, await job.getState());
      if (!before || (before.state !== 'queued' && before.state !== 'running')) return false;
      const t = now();
      const record: JobRecord = { ...before, state: 'cancelled', updatedAt: t, expiresAt: t + job.data.retainMs };
      const set = await redis.eval(CANCEL_SCRIPT, 4, queue.toKey(id), cancelledKey(id), expiryKey, unannouncedKey, JSON.stringify(record), record.expiresAt as number, id);
      if (set !== 1) return false;
      // Queued: drop it from BullMQ (fails harmlessly when a worker locked it meanwhile).
      // Running: the process that runs it aborts the handler.
      await queue.remove(id).catch(() => 0);
      await redis.publish(cancelChannel, id);
      announce(record);
      return true;
    },

    register(kind: string, handler: JobHandler) {
      assertOpen();
      if (handlers.has(kind)) throw new Error(`Job kind ${kind} already has a handler`);
      handlers.set(kind, handler);
      if (started) startWorker(kind);
    },

    async start() {
      assertOpen();
      if (started) return;
      started = true;
      await subscribe();
      // Before this process's workers run, so none of the ids found is one they are settling.
      // Listeners registered before start() receive these.
      await announceLeftovers();
      for (const kind of handlers.keys()) startWorker(kind);
      await sweep();
      sweepTimer = setInterval(() => void sweep().catch(() => 0), sweepIntervalMs);
      sweepTimer.unref();
    },

    async close(closeOptions: CloseOptions = {}) {
      if (closed) return;
      closing = true;
      if (sweepTimer) clearInterval(sweepTimer);
      const running = [...active.values()];
      if (closeOptions.mode === 'abort') {
        // Paused first, so a worker does not fetch the jobs it is about to put back.
        await Promise.all([...workers.values()].map((w) => w.pause(true)));
        for (const entry of running) {
          if (entry.stop !== undefined) continue;
          entry.stop = 'shutdown';
          entry.controller.abort(new Error('The job queue is shutting down'));
        }
        // Closing waits for every job the workers hold, including ones fetched just before the
        // pause (their processor puts them back at once); handlers that ignore the abort are given
        // `abortGraceMs`, then abandoned (BullMQ's stalled check recovers their jobs).
        const workersClosed = Promise.all([...workers.values()].map((w) => w.close())).then(() => undefined);
        workersClosed.catch(() => undefined);
        await waitAtMost(workersClosed, abortGraceMs);
      } else {
        await Promise.all([...workers.values()].map((w) => w.close()));
      }
      if (sweeping) await sweeping.catch(() => 0);
      // Listeners still working get the same grace as aborted handlers; the ids of those that do
      // not finish stay in the unannounced set and are announced again by the next start.
      if (announcing.size > 0) await waitAtMost(Promise.all(announcing.values()), abortGraceMs);
      closed = true;
      await Promise.all([...queues.values()].map((q) => q.close()));
      await subscriber?.quit().catch(() => undefined);
      await redis.quit().catch(() => undefined);
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

