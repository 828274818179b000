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
 *
 * Sources that are read into memory before their pipeline (objects of a store without local files,
 * such as S3; remote downloads) are held against the same budget with a {@link MemoryHold}: their
 * bytes are reserved before they are read, waiting in a queue of their own (bounded by the same
 * `maxQueue`) while they do not fit, so that many concurrent requests for large sources cannot
 * outgrow the budget before admission sees them. A hold waits only while it holds nothing; bytes
 * beyond what it reserved (a download without Content-Length) are taken at once or refused with
 * OVERLOADED, because holders that waited while holding could wait for each other for ever.
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
  /** Bytes currently held for sources read into memory ({@link MemoryHold}). */
  readonly heldBytes: number;
  /** Holds waiting for memory. */
  readonly holdQueued: number;
}

/**
 * Bytes of the memory budget held for a source read into memory, from before it is read until the
 * request ends (`release`). Pipelines admitted meanwhile see the held bytes as reserved.
 */
export interface MemoryHold {
  /**
   * Holds `bytes` more. While nothing is held yet it waits (first come, first served) until they
   * fit: OVERLOADED when the wait queue is full, CLIENT_CLOSED when `signal` aborts meanwhile.
   * Once something is held it behaves as {@link grow}.
   */
  reserve(bytes: number, signal?: AbortSignal): Promise<void>;
  /** Holds `bytes` more at once, or throws OVERLOADED when they do not fit (never waits). */
  grow(bytes: number): void;
  /**
   * Gives back everything held and ends the hold (idempotent): a reservation still waiting resumes
   * without holding anything, and later calls hold nothing (a download shared with other requests
   * may outlive the request that started it).
   */
  release(): void;
  /** Bytes held now. */
  readonly bytes: number;
}

export interface Admission {
  /**
   * Runs `work` once admitted; throws AppError OVERLOADED (details.retryAfter) when refused, and
   * CLIENT_CLOSED when `signal` aborts before the work was admitted (asked for only if it waits).
   */
  run<T>(estimateBytes: number, work: () => Promise<T>, signal?: LazySignal): Promise<T>;
  /** A hold for source bytes read into memory (see {@link MemoryHold}). */
  hold(): MemoryHold;
  stats(): AdmissionStats;
}

/**
 * The `reserve` callback that holds a source's bytes under `hold` before they are read (none
 * without a hold); a wait is abandoned (CLIENT_CLOSED) when the client leaves.
 */
export function heldBy(hold: MemoryHold | undefined, signal: LazySignal | undefined): ((bytes: number) => Promise<void>) | undefined {
  return hold === undefined ? undefined : (bytes) => hold.reserve(bytes, signal?.());
}

/**
 * Runs `work` with a {@link MemoryHold} of `admission` (none without admission control) and
 * releases it when `work` settles.
 */
export async function withHold<T>(admission: Admission | undefined, work: (hold: MemoryHold | undefined) => Promise<T>): Promise<T> {
  if (admission === undefined) return work(undefined);
  const hold = admission.hold();
  try {
    return await work(hold);
  } finally {
    hold.release();
  }
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
  /** Source holds waiting for memory (they take no pipeline slot). */
  const holdQueue: Waiter[] = [];
  let held = 0;
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
    // Holds first: a pipeline is admitted whenever none runs, so pipelines always go on, while a
    // hold served second could wait behind a stream of pipelines when the RSS is over the budget.
    while (holdQueue.length > 0 && memoryFits(holdQueue[0]!.estimate, 0)) holdQueue.shift()!.start();
    while (queue.length > 0 && fits(queue[0]!.estimate)) queue.shift()!.start();
  }

  function take(estimate: number): void {
    active++;
    reserved += estimate;
    admitted++;
  }

  /** Whether `bytes` more of held source memory fit, for a hold that already holds `mine`. */
  function memoryFits(bytes: number, mine: number): boolean {
    if (opts.memoryBudgetBytes <= 0) return true;
    // Nothing but this hold's own bytes is reserved: go on (source size caps bound it).
    if (active === 0 && reserved === mine) return true;
    const now = rss();
    peakRss = Math.max(peakRss, now);
    return now + reserved + bytes <= opts.memoryBudgetBytes;
  }

  function overloaded(): AppError {
    refused++;
    return new AppError('OVERLOADED', 'The server is busy processing other images; retry later.', { details: { retryAfter } });
  }

  /**
   * Waits in `q` until pump() starts the waiter (which runs `start` before the caller resumes, so
   * no other request can race for what it was given); refused when `q` is full, CLIENT_CLOSED when
   * `signal` aborts first. `onQueued` receives a function that takes the waiter out of the queue
   * and resumes the caller without starting it.
   */
  function enqueue(q: Waiter[], estimate: number, signal: AbortSignal | undefined, start: () => void, onQueued?: (cancel: () => void) => void): Promise<void> {
    if (q.length >= opts.maxQueue) return Promise.reject(overloaded());
    if (signal?.aborted === true) {
      abandoned++;
      return Promise.reject(clientClosed());
    }
    return new Promise<void>((resolve, reject) => {
      const remove = (): boolean => {
        const at = q.indexOf(waiter);
        if (at < 0) return false;
        q.splice(at, 1);
        signal?.removeEventListener('abort', leave);
        // The head may have changed, and with it whether it fits.
        pump();
        return true;
      };
      const leave = () => {
        if (!remove()) return;
        abandoned++;
        reject(clientClosed());
      };
      const waiter: Waiter = {
        estimate,
        start: () => {
          signal?.removeEventListener('abort', leave);
          waited++;
          start();
          resolve();
        },
      };
      signal?.addEventListener('abort', leave, { once: true });
      q.push(waiter);
      onQueued?.(() => {
        if (remove()) resolve();
      });
    });
  }

  async function run<T>(estimate: number, work: () => Promise<T>, lazySignal?: LazySignal): Promise<T> {
    if (queue.length === 0 && fits(estimate)) take(estimate);
    else await enqueue(queue, estimate, lazySignal?.(), () => take(estimate));
    try {
      return await work();
    } finally {
      active--;
      reserved -= estimate;
      pump();
    }
  }

  function hold(): MemoryHold {
    let mine = 0;
    let released = false;
    let cancelWait: (() => void) | undefined;
    const add = (bytes: number): void => {
      mine += bytes;
      held += bytes;
      reserved += bytes;
    };
    const h: MemoryHold = {
      get bytes() {
        return mine;
      },
      async reserve(bytes: number, signal?: AbortSignal) {
        if (released || !(bytes > 0)) return;
        if (mine > 0) return h.grow(bytes);
        if (holdQueue.length === 0 && memoryFits(bytes, 0)) return add(bytes);
        try {
          await enqueue(holdQueue, bytes, signal, () => add(bytes), (cancel) => (cancelWait = cancel));
        } finally {
          cancelWait = undefined;
        }
      },
      grow(bytes: number) {
        if (released || !(bytes > 0)) return;
        if (!memoryFits(bytes, mine)) throw overloaded();
        add(bytes);
      },
      release() {
        if (released) return;
        released = true;
        cancelWait?.();
        if (mine === 0) return;
        held -= mine;
        reserved -= mine;
        mine = 0;
        pump();
      },
    };
    return h;
  }

  return {
    run,
    hold,
    stats: () => ({
      active, queued: queue.length, admitted, refused, waited, abandoned,
      maxActive: opts.maxActive, maxQueue: opts.maxQueue, memoryBudgetBytes: opts.memoryBudgetBytes, peakRssBytes: peakRss,
      heldBytes: held, holdQueued: holdQueue.length,
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
 * keeps whole whatever the shrink: 2 bytes per coefficient, each component at its sampling
 * resolution, core/codecs/jpeg-coefficients.ts; 3 components at full resolution when the probe
 * could not tell), plus the output; AVIF/HEIC encoders hold many times the output.
 */
export function estimatePipelineBytes(info: SourceInfo, planned?: { readonly plan: Plan; readonly format: OutputFormat }): number {
  const decoded = planned === undefined ? info : decodedSize(info, planned.plan);
  const coefficients = info.progressive === true ? info.coefficientBytes ?? info.width * info.height * 6 : 0;
  const src = decoded.width * decoded.height * 4 * Math.max(1, info.frames) + coefficients;
  if (planned === undefined) return src;
  const out = planned.plan.result;
  const heavy = planned.format === 'avif' || planned.format === 'heic' ? 16 : 2;
  return src + out.width * out.height * 4 * heavy;
}
