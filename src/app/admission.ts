/**
 * Admission control for image processing: at most `concurrency` transformations run at once and
 * at most `maxQueue` wait; a request beyond that is refused at once with OVERLOADED (503), so a
 * flood of requests cannot pile up source buffers in memory without bound.
 */
import { AppError } from '../core/errors.js';

export interface Admission {
  /** Runs `fn` when a slot is free; throws OVERLOADED when the queue is full. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly queued: number;
}

export function createAdmission(opts: { concurrency: number; maxQueue: number }): Admission {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active--;
    const next = waiting.shift();
    if (next !== undefined) {
      active++;
      next();
    }
  };
  return {
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (active >= opts.concurrency) {
        if (waiting.length >= opts.maxQueue) {
          throw new AppError('OVERLOADED', 'Too many images are being processed; retry shortly.', { details: { active, queued: waiting.length } });
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else active++;
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}
