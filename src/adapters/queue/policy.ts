/**
 * What every JobQueue adapter decides the same way (src/ports/job-queue.ts semantics): how a thrown
 * value becomes a job's error and whether it may be retried, how numeric options are checked, and
 * when a settled job's listeners count as finished.
 */
import { AppError, isAppError } from '../../core/errors.js';
import type { JobError, JobRecord, SettledListener } from '../../ports/job-queue.js';

/** `value` as an integer ≥ `min`, `fallback` when undefined; INVALID_ARGUMENT otherwise. */
export function positiveInt(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new AppError('INVALID_ARGUMENT', `Expected integer >= ${min} for ${name} but received ${value}`);
  }
  return value;
}

/**
 * What a thrown value becomes in the job record, and whether it may be retried: 4xx AppErrors
 * (bad input) and TIMEOUT are final; anything else is transient.
 */
export function classify(err: unknown): { error: JobError; retry: boolean } {
  if (isAppError(err)) {
    return {
      error: { code: err.code, message: err.publicMessage, ...(err.details === undefined ? {} : { details: err.details }) },
      retry: !(err.status >= 400 && err.status < 500) && err.code !== 'TIMEOUT',
    };
  }
  // Unknown errors may carry internal detail (paths, URLs): the record shows a generic message.
  return { error: { code: 'INTERNAL', message: 'The job failed unexpectedly' }, retry: true };
}

/**
 * Calls every settled listener with `record`, each shielded from the others' failures. Resolves to
 * true when all of them finished (returned, or fulfilled the promise they returned), false when one
 * threw or rejected (the adapter then leaves the job to be announced again at the next start). The
 * answer is synchronous when no listener returned a promise, so the adapter can mark the job
 * announced without waiting a tick.
 */
export function callListeners(listeners: Iterable<SettledListener>, record: JobRecord): boolean | Promise<boolean> {
  let ok = true;
  const pending: PromiseLike<void>[] = [];
  for (const listener of [...listeners]) {
    try {
      const returned: unknown = listener(record);
      if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<void>).then === 'function') {
        pending.push(returned as PromiseLike<void>);
      }
    } catch {
      ok = false; // A listener's failure must not affect the queue or the other listeners.
    }
  }
  if (pending.length === 0) return ok;
  return Promise.allSettled(pending).then((results) => ok && results.every((r) => r.status === 'fulfilled'));
}

/**
 * Waits for `work` at most `ms` (close()'s grace for aborted handlers and unfinished listeners),
 * leaving no timer behind; a rejection of `work` within the time is passed on.
 */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
