/**
 * What every JobQueue adapter decides the same way (src/ports/job-queue.ts semantics): how a thrown
 * value becomes a job's error and whether it may be retried, and how numeric options are checked.
 */
import { AppError, isAppError } from '../../core/errors.js';
import type { JobError } from '../../ports/job-queue.js';

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
