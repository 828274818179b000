/**
 * JobQueue: durable background jobs (compression tasks, video → animation, webhooks).
 *
 * The port is shaped after BullMQ so that the scale-out adapter can implement it with the same
 * semantics as the embedded SQLite adapter; every adapter runs `test/queue/contract.ts`.
 *
 * Semantics every implementation must keep:
 * - `submit` persists the job before resolving; with an explicit `id` that already exists, the call
 *   is idempotent and returns that id (BullMQ's custom jobId behaviour).
 * - Jobs of a kind run only once a handler is registered for the kind and the queue is started.
 *   Each kind has exactly one handler (DESIGN convention 7).
 * - A handler that throws an `AppError` whose status is 4xx fails the job at once (bad input is
 *   not retried). Any other error is transient: the job is retried after
 *   `backoffMs * 2^(attempt-1)` until `attempts` attempts have been made, then fails.
 * - A running attempt longer than `timeoutMs` is aborted through its `signal` and the job fails
 *   with code `TIMEOUT` (not retried: the cap is the processing budget of the job).
 * - `cancel` of a queued job settles it as `cancelled`; of a running job it also aborts the
 *   handler's `signal`, and whatever the handler returns afterwards is ignored.
 * - A job interrupted by a crash is not lost: it runs again (the interrupted run counts as an
 *   attempt), or fails when no attempt is left.
 * - A settled job is kept `retainMs` after it settled (its `expiresAt`), then deleted; jobs that
 *   are still queued or running never expire.
 * - `onSettled` listeners are called once per settled job in the normal case. The settlement is
 *   written first; a job whose settlement was written but whose listeners had not all finished
 *   when the process ended (a crash, or a close that did not wait for them) is announced again by
 *   the next `start()` of any process sharing the store, unless it expired first. Register
 *   listeners before `start()` to receive those announcements. A listener has finished when it
 *   returned, or, when it returns a promise, when that promise fulfilled; one that throws or
 *   rejects leaves the job to be announced again at the next start. Delivery is therefore
 *   at-least-once and listeners must be idempotent (the record announced again is the stored
 *   one, equal to the first announcement's).
 */
import type { ErrorCode } from '../core/errors.js';

/** Any JSON value: payloads and results cross process boundaries (SQLite, Redis). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Why a job failed; `code` is from the error catalogue, `message` is safe to show to clients. */
export interface JobError {
  readonly code: ErrorCode;
  readonly message: string;
  /** `AppError.details`, when the handler threw an AppError that carries some (safe to show). */
  readonly details?: Record<string, unknown>;
}

/** A snapshot of one job. Times are epoch milliseconds. */
export interface JobRecord {
  readonly id: string;
  readonly kind: string;
  readonly state: JobState;
  readonly payload: Json;
  /** 0–100, as last reported by the handler (100 once succeeded). */
  readonly progress: number;
  /** Attempts started so far (a run interrupted by a crash counts). */
  readonly attempts: number;
  /** The most attempts the job may take. */
  readonly maxAttempts: number;
  /** The handler's return value, once `succeeded`. */
  readonly result?: Json;
  /** Once `failed`; also the last transient error while a retry is pending. */
  readonly error?: JobError;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When a settled job will be deleted; undefined while queued or running. */
  readonly expiresAt?: number;
}

export interface SubmitOptions {
  /** Custom job id (idempotent submit); a random UUID otherwise. */
  readonly id?: string;
  /** Most attempts, including the first (default 3). */
  readonly attempts?: number;
  /** Base delay before the first retry; doubled for every further retry (default 1000 ms). */
  readonly backoffMs?: number;
  /** Time budget per attempt; none by default. */
  readonly timeoutMs?: number;
  /** How long a settled job is kept (default 1 hour). */
  readonly retainMs?: number;
}

export interface JobContext {
  /** Aborted on cancel, timeout or a shutdown that aborts; `signal.reason` says which. */
  readonly signal: AbortSignal;
  /** Reports progress, 0–100 (clamped and rounded). Cheap: adapters throttle persistence. */
  progress(percent: number): void;
  readonly id: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/**
 * Told about a settled job. Listeners are called synchronously, one after the other. What one
 * returns is ignored unless it is a promise: that promise is not awaited by the job's processing,
 * only by the bookkeeping that marks the job as announced (see {@link JobQueue.onSettled}).
 * (`unknown` rather than `void | Promise<void>`, so that expression-bodied listeners such as
 * `(j) => list.push(j)` stay valid.)
 */
export type SettledListener = (job: JobRecord) => unknown;

/** Exactly one handler per job kind. Throw an `AppError` with a 4xx status for bad input. */
export type JobHandler = (payload: Json, ctx: JobContext) => Promise<Json>;

export interface CloseOptions {
  /**
   * `wait` (default): stop taking jobs and wait for running handlers to finish.
   * `abort`: abort running handlers; their jobs go back to the queue without using an attempt.
   */
  readonly mode?: 'wait' | 'abort';
}

export interface JobQueue {
  submit(kind: string, payload: Json, options?: SubmitOptions): Promise<{ id: string }>;
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Jobs of `kind` not settled yet: queued (retries waiting for their backoff included) or
   * running. The backlog that the cap on new work (HALFTONE_MAX_JOB_BACKLOG) looks at.
   */
  pending(kind: string): Promise<number>;
  /** True when the job was queued or running and is now cancelled; false otherwise. */
  cancel(id: string): Promise<boolean>;
  /** Registers the one handler of `kind` (throws if the kind already has one). */
  register(kind: string, handler: JobHandler): void;
  /** Starts taking jobs (recovers interrupted ones first). */
  start(): Promise<void>;
  /** Graceful shutdown; see {@link CloseOptions}. The queue cannot be used afterwards. */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Calls `listener` when a job reaches succeeded, failed or cancelled; returns an unsubscribe.
   * Once per job normally, again after a crash interrupted the listeners (at the next `start()`,
   * see the header): the listener must be idempotent, and should be registered before `start()`.
   * A listener with asynchronous work returns its promise, so the job counts as announced only
   * once that work is done.
   */
  onSettled(listener: SettledListener): () => void;
}
