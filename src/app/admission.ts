/**
 * Admission control for pixel work: at most `maxActive` pipelines run at once, at most `maxQueue`
 * wait (first come, first served), and beyond that a request is refused at once with OVERLOADED
 * (503 + Retry-After in each dialect's shape) instead of piling up in memory.
 *
 * A memory budget is considered too: a pipeline is admitted only while the process RSS plus the
 * estimated working memory of the pipelines already admitted (not yet visible in RSS) plus its own
 * estimate stays within the budget. When nothing runs, the head of the queue is always admitted, so
 * a request whose estimate alone exceeds the budget still completes (source limits bound it).
 *
 * A caller may pass a {@link LazySignal} (its client went away): while it waits in the queue, an
 * abort takes it out and rejects with CLIENT_CLOSED, so no pipeline runs for a response nobody
 * reads. Work already admitted runs to the end (libvips cannot be interrupted; the result cache
 * keeps it).
 */
import { AppError } from '../core/errors.js';
import type { OutputFormat, SourceInfo } from '../core/ir.js';
import { decodedSize } from '../core/pipeline/decoded-size.js';
import type { Plan } from '../core/pipeline/plan.js';

/**
 * An AbortSignal made only when a consumer needs one (a request that has to wait): a Node
 * AbortController costs tens of µs of main-thread time, which most requests, admitted at once,
 * would pay for nothing. Calling it again returns the same signal.
 */
export type LazySignal = () => AbortSignal;

export interface AdmissionOptions {
  /** Pipelines running at once (≥ 1). */
  readonly maxActive: number;
  /** Requests waiting for a slot (≥ 0); more are refused. */
  readonly maxQueue: number;
  /** Process memory budget in bytes (RSS); 0 = no memory check. */
  readonly memoryBudgetBytes: number;
  /** Seconds sent in Retry-After with a refusal. */
  readonly retryAfterSeconds?: number;
  /** Current resident set size (defaults to {@link sampledRss}). */
  readonly rss?: () => number;
}

export interface AdmissionStats {
  readonly active: number;
  readonly queued: number;
  readonly admitted: number;
  /** Refused because the queue was full. */
  readonly refused: number;
  /** Admissions that had to wait (for a slot or for memory). */
  readonly waited: number;
  /** Requests whose client went away before they were admitted (taken out of the queue). */
  readonly abandoned: number;
  readonly maxActive: number;
  readonly maxQueue: number;
  readonly memoryBudgetBytes: number;
  /** Highest RSS seen at an admission decision. */
  readonly peakRssBytes: number;
}

export interface Admission {
  /**
   * Runs `work` once admitted; throws AppError OVERLOADED (details.retryAfter) when refused, and
   * CLIENT_CLOSED when `signal` aborts before the work was admitted (asked for only if it waits).
   */
  run<T>(estimateBytes: number, work: () => Promise<T>, signal?: LazySignal): Promise<T>;
  stats(): AdmissionStats;
}

interface Waiter {
  readonly estimate: number;
  readonly start: () => void;
}

/** How long the default RSS reading is reused. */
const RSS_SAMPLE_MS = 10;

/**
 * process.memoryUsage.rss(), read at most every RSS_SAMPLE_MS: it is a /proc read that took about
 * 0.2 ms on the event loop of a busy 2-core machine, and admission asks on every decision. The
 * pipelines admitted in between are covered by their reservations.
 */
export function sampledRss(read: () => number = () => process.memoryUsage.rss(), now: () => number = () => performance.now()): () => number {
  let value = 0;
  let at = -Infinity;
  return () => {
    const t = now();
    if (t - at >= RSS_SAMPLE_MS) {
      value = read();
      at = t;
    }
    return value;
  };
}

export function createAdmission(opts: AdmissionOptions): Admission {
  const rss = opts.rss ?? sampledRss();
  const retryAfter = opts.retryAfterSeconds ?? 1;
  const queue: Waiter[] = [];
  let active = 0;
  let reserved = 0;
  let admitted = 0;
  let refused = 0;
  let waited = 0;
  let abandoned = 0;
  let peakRss = 0;

  function fits(estimate: number): boolean {
    if (active >= opts.maxActive) return false;
    if (active === 0 || opts.memoryBudgetBytes <= 0) return true;
    const now = rss();
    peakRss = Math.max(peakRss, now);
    return now + reserved + estimate <= opts.memoryBudgetBytes;
  }

  function pump(): void {
    while (queue.length > 0 && fits(queue[0]!.estimate)) queue.shift()!.start();
  }

  function take(estimate: number): void {
    active++;
    reserved += estimate;
    admitted++;
  }

  async function run<T>(estimate: number, work: () => Promise<T>, lazySignal?: LazySignal): Promise<T> {
    if (queue.length === 0 && fits(estimate)) take(estimate);
    else if (queue.length >= opts.maxQueue) {
      refused++;
      throw new AppError('OVERLOADED', 'The server is busy processing other images; retry later.', { details: { retryAfter } });
    } else {
      const signal = lazySignal?.();
      if (signal?.aborted === true) {
        abandoned++;
        throw clientClosed();
      }
      await new Promise<void>((resolve, reject) => {
        const leave = () => {
          const at = queue.indexOf(waiter);
          if (at < 0) return;
          queue.splice(at, 1);
          abandoned++;
          reject(clientClosed());
          // The head may have changed, and with it whether it fits.
          pump();
        };
        // The slot is taken by pump() before the waiter resumes, so no other request can race for it.
        const waiter: Waiter = {
          estimate,
          start: () => {
            signal?.removeEventListener('abort', leave);
            waited++;
            take(estimate);
            resolve();
          },
        };
        signal?.addEventListener('abort', leave, { once: true });
        queue.push(waiter);
      });
    }
    try {
      return await work();
    } finally {
      active--;
      reserved -= estimate;
      pump();
    }
  }

  return {
    run,
    stats: () => ({
      active, queued: queue.length, admitted, refused, waited, abandoned,
      maxActive: opts.maxActive, maxQueue: opts.maxQueue, memoryBudgetBytes: opts.memoryBudgetBytes, peakRssBytes: peakRss,
    }),
  };
}

function clientClosed(): AppError {
  return new AppError('CLIENT_CLOSED', 'The client closed the connection before its image was processed.');
}

/**
 * Working memory a pipeline is expected to need, from the header probe: the decoded source (RGBA,
 * every frame kept by animations; at the shrink-on-load size when the decoder shrinks, see
 * core/pipeline/decoded-size.ts), libjpeg's coefficient buffer for a progressive JPEG (which it
 * keeps whole whatever the shrink: 2 bytes per coefficient, 3 components counted at full
 * resolution), plus the output; AVIF/HEIC encoders hold many times the output.
 */
export function estimatePipelineBytes(info: SourceInfo, planned?: { readonly plan: Plan; readonly format: OutputFormat }): number {
  const decoded = planned === undefined ? info : decodedSize(info, planned.plan);
  const coefficients = info.progressive === true ? info.width * info.height * 6 : 0;
  const src = decoded.width * decoded.height * 4 * Math.max(1, info.frames) + coefficients;
  if (planned === undefined) return src;
  const out = planned.plan.result;
  const heavy = planned.format === 'avif' || planned.format === 'heic' ? 16 : 2;
  return src + out.width * out.height * 4 * heavy;
}
