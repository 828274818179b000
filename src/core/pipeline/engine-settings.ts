/**
 * Process-wide libvips settings (docs/operations-perf.md), applied once by the composition root
 * before the first image is processed.
 *
 * - Threads per image (`sharp.concurrency`): by default they follow the load
 *   ({@link fitThreadsToLoad}). A pipeline that starts while no other sharp work is queued or
 *   running gets every core (a lone 1000 px AVIF: about 3 s with 2 threads, 5 s with 1 on a 2-core
 *   machine); any other gets 1, as sharp itself sets on glibc Linux. Admission control runs
 *   2 × cores images at once, so under load a second thread per image only competes for the same
 *   cores: on the 2-core machine it cost 5–6 % more CPU per cold 300 px JPEG, WebP and 500 px PNG.
 *   HALFTONE_VIPS_CONCURRENCY > 0 fixes the number instead.
 * - Time budget per recipe run (`HALFTONE_PIPELINE_TIMEOUT_S`, budget.ts): sharp's timeout on every
 *   pipeline of the run, so one pathological request cannot hold a pipeline slot for minutes.
 * - The operation cache stays small (set in run.ts): a server sees new inputs each time, and the
 *   result cache keeps finished variants instead.
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { setPipelineTimeout } from './budget.js';

export interface EngineSettings {
  /** libvips threads per image; 0 = follow the load ({@link fitThreadsToLoad}). */
  readonly threads: number;
  /** Time budget of one recipe run in seconds (budget.ts); 0 = none. */
  readonly timeoutSeconds: number;
}

/** Threads for a pipeline that runs alone. */
const LONE = availableParallelism();
let adaptive = false;
let current = 0;

export function configureEngine(s: EngineSettings): void {
  adaptive = s.threads <= 0;
  setThreads(adaptive ? 1 : s.threads);
  setPipelineTimeout(s.timeoutSeconds);
}

/**
 * Sets the threads per image for the pipeline about to start, when the setting follows the load:
 * every core while no other sharp task is queued or running, else 1.
 *
 * libvips reads the setting twice for a pipeline: when building it (its sequential line caches
 * are sized for that many threads reading ahead) and when running it (that many threads read).
 * A rise between the two could leave a line cache smaller than the reads ahead of it (an "out of
 * order read" error); a fall only leaves it larger than needed. So the setting only ever rises
 * while sharp has no task at all, which the main thread sees exactly: sharp counts a task as
 * queued from the JavaScript call that starts it until it runs, and as processing until its
 * result is back on this thread.
 */
export function fitThreadsToLoad(): void {
  if (!adaptive) return;
  const c = sharp.counters();
  setThreads(c.queue + c.process === 0 ? LONE : 1);
}

function setThreads(n: number): void {
  if (n === current) return;
  sharp.concurrency(n);
  current = n;
}
