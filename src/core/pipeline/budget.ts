/**
 * The time budget of one recipe run (HALFTONE_PIPELINE_TIMEOUT_S, docs/operations-perf.md).
 *
 * libvips cannot be interrupted from outside, but sharp can ask it to stop a pipeline after a
 * number of seconds (`timeout()`, checked as libvips computes). A recipe runs as one or more sharp
 * pipelines (passes, frames, overlays); each is given the whole seconds left until the run's
 * deadline, and a pipeline that would start after the deadline is not started. A pathological
 * request (a huge blur, an AVIF of a maximal image) thereby gives its pipeline slot back instead of
 * holding it for minutes.
 */
import type { Sharp } from 'sharp';
import { AppError } from '../errors.js';

let defaultSeconds = 0;

/** Sets the budget of every run from now on; 0 = no budget. */
export function setPipelineTimeout(seconds: number): void {
  defaultSeconds = seconds > 0 ? seconds : 0;
}

export interface Budget {
  /** `performance.now()` by which the run must finish; Infinity without a budget. */
  readonly deadline: number;
}

export function startBudget(seconds: number = defaultSeconds): Budget {
  return { deadline: seconds > 0 ? performance.now() + seconds * 1000 : Number.POSITIVE_INFINITY };
}

/** Milliseconds left (Infinity without a budget); throws TIMEOUT when none are. */
export function remainingMs(budget: Budget): number {
  const left = budget.deadline - performance.now();
  if (left <= 0) throw timedOut();
  return left;
}

/** Gives a sharp pipeline the whole seconds left of the run (at least 1). */
export function budgeted(img: Sharp, budget: Budget): Sharp {
  if (budget.deadline === Number.POSITIVE_INFINITY) return img;
  return img.timeout({ seconds: Math.max(1, Math.ceil(remainingMs(budget) / 1000)) });
}

/** sharp's error for a pipeline libvips stopped at its timeout ("timeout: 38% complete"). */
export function isSharpTimeout(err: unknown): boolean {
  return err instanceof Error && /^timeout: \d+% complete/.test(err.message);
}

export function timedOut(cause?: unknown): AppError {
  return new AppError('TIMEOUT', "Image processing took longer than the server's time budget.", cause === undefined ? {} : { cause });
}
