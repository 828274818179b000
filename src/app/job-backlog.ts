/**
 * A cap on the backlog of background jobs of one kind (HALFTONE_MAX_JOB_BACKLOG): new work is
 * refused with OVERLOADED (503 + Retry-After in each dialect) while that many jobs of the kind are
 * queued or running, instead of letting stored inputs and queue rows grow without bound when
 * clients submit faster than the jobs run.
 *
 * Room is reserved before the new job is stored (a compression task's upload is read in between)
 * and the reservation lasts until its submission has settled, so concurrent submissions to one
 * process cannot pass the cap: each counts the queue's pending jobs, the reservations still
 * unsubmitted, and the submissions that settled while it was counting (which the count may or may
 * not include; counting them errs toward refusing). Several processes sharing one queue (BullMQ)
 * do not see each other's reservations, so there the cap may be passed by a few.
 */
import { AppError } from '../core/errors.js';
import type { JobQueue } from '../ports/job-queue.js';

/** Seconds suggested in Retry-After: jobs take seconds, not milliseconds. */
export const BACKLOG_RETRY_AFTER_S = 5;

/** Room for one job, held until {@link BacklogRoom.done} is called (idempotent). */
export interface BacklogRoom {
  /** Gives the room back once the job's submission has settled (or was never made). */
  done(): void;
}

export interface BacklogGate {
  /** Reserves room for one job of the kind, or throws OVERLOADED when the backlog is full. */
  reserve(): Promise<BacklogRoom>;
}

const NO_ROOM_NEEDED: BacklogRoom = { done: () => undefined };

/** The backlog gate of `kind` on `queue`; `max` 0 = no cap. */
export function createBacklogGate(queue: Pick<JobQueue, 'pending'>, kind: string, max: number, what: string): BacklogGate {
  let reserved = 0;
  /** Reservations given back so far (a job submitted, or none made). */
  let settled = 0;
  return {
    async reserve() {
      if (max <= 0) return NO_ROOM_NEEDED;
      const before = settled;
      const pending = await queue.pending(kind);
      const count = pending + reserved + (settled - before);
      if (count >= max) {
        throw new AppError('OVERLOADED', `Too many ${what} are waiting to be processed (${count}); retry later.`, { details: { retryAfter: BACKLOG_RETRY_AFTER_S } });
      }
      reserved++;
      let open = true;
      return {
        done() {
          if (!open) return;
          open = false;
          reserved--;
          settled++;
        },
      };
    },
  };
}
