/**
 * A cap on the backlog of background jobs of one kind (HALFTONE_MAX_JOB_BACKLOG): new work is
 * refused with OVERLOADED (503 + Retry-After in each dialect) while that many jobs of the kind are
 * queued or running, instead of letting stored inputs and queue rows grow without bound when
 * clients submit faster than the jobs run. The cap is checked before the new job is stored, so
 * concurrent submissions may pass it by a few (a soft cap).
 */
import { AppError } from '../core/errors.js';
import type { JobQueue } from '../ports/job-queue.js';

/** Seconds suggested in Retry-After: jobs take seconds, not milliseconds. */
export const BACKLOG_RETRY_AFTER_S = 5;

/** Throws OVERLOADED when `kind` has `max` or more pending jobs; `max` 0 = no cap. */
export async function assertBacklogRoom(queue: Pick<JobQueue, 'pending'>, kind: string, max: number, what: string): Promise<void> {
  if (max <= 0) return;
  const pending = await queue.pending(kind);
  if (pending >= max) {
    throw new AppError('OVERLOADED', `Too many ${what} are waiting to be processed (${pending}); retry later.`, { details: { retryAfter: BACKLOG_RETRY_AFTER_S } });
  }
}
