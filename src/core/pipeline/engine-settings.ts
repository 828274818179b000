/**
 * Process-wide libvips settings (docs/operations-perf.md), applied once by the composition root
 * before the first image is processed.
 *
 * - Threads per image (`sharp.concurrency`): sharp defaults to 1 on glibc Linux without jemalloc,
 *   which leaves cores idle for encoders that parallelise well (a 1000 px AVIF took about 5 s with
 *   1 thread and about 3 s with 2 on a 2-core machine). Halftone defaults to 2 threads per image:
 *   admission control already runs several images at once (2 × cores), so more threads per image
 *   would only multiply the threads on many-core machines.
 * - Time budget per recipe run (`HALFTONE_PIPELINE_TIMEOUT_S`, budget.ts): sharp's timeout on every
 *   pipeline of the run, so one pathological request cannot hold a pipeline slot for minutes.
 * - The operation cache stays small (set in run.ts): a server sees new inputs each time, and the
 *   result cache keeps finished variants instead.
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { setPipelineTimeout } from './budget.js';

export interface EngineSettings {
  /** libvips threads per image; 0 = 2 (or 1 on a single core). */
  readonly threads: number;
  /** Time budget of one recipe run in seconds (budget.ts); 0 = none. */
  readonly timeoutSeconds: number;
}

export function configureEngine(s: EngineSettings): void {
  sharp.concurrency(s.threads > 0 ? s.threads : Math.min(2, availableParallelism()));
  setPipelineTimeout(s.timeoutSeconds);
}

/** What libvips runs with now (for logs and the benchmark report). */
export function engineThreads(): number {
  return sharp.concurrency();
}
