/**
 * Use case: readiness (`GET /readyz`). Each check reports `ok` with a short detail; a failing
 * *required* check makes the server not ready (503), an optional one (ffmpeg, the HEIC encoder)
 * is reported but only degrades the features that need it.
 */
import type { BlobStore } from '../ports/blob-store.js';
import type { JobQueue } from '../ports/job-queue.js';

export interface ReadinessCheck {
  readonly name: string;
  /** false: reported, never fails readiness. */
  readonly required: boolean;
  /** Resolves with a detail on success; throws (or resolves `{ ok: false }`) on failure. */
  run(): Promise<{ readonly ok: boolean; readonly detail: string }>;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'not-ready';
  readonly checks: Record<string, { readonly ok: boolean; readonly required: boolean; readonly detail: string; readonly ms: number }>;
}

/** Each check gets this long before it counts as failed. */
const CHECK_TIMEOUT_MS = 5000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs every check concurrently. */
export async function checkReadiness(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (c) => {
    const t0 = performance.now();
    let ok: boolean;
    let detail: string;
    try {
      ({ ok, detail } = await withTimeout(c.run(), CHECK_TIMEOUT_MS));
    } catch (err) {
      ok = false;
      detail = err instanceof Error ? err.message : String(err);
    }
    return [c.name, { ok, required: c.required, detail, ms: Math.round(performance.now() - t0) }] as const;
  }));
  const status = results.every(([, r]) => r.ok || !r.required) ? 'ready' : 'not-ready';
  return { status, checks: Object.fromEntries(results) };
}

/** Storage: writes a small probe blob, reads it back, compares and removes it. */
export function storageCheck(blobs: BlobStore): ReadinessCheck {
  return {
    name: 'storage', required: true,
    async run() {
      const probe = Buffer.from(`readyz ${Date.now()} ${Math.random()}`);
      const { id } = await blobs.write(probe);
      try {
        const back = await blobs.readAll(id);
        return back.equals(probe) ? { ok: true, detail: 'probe blob written and read back' } : { ok: false, detail: 'probe blob read back differently' };
      } finally {
        await blobs.remove(id);
      }
    },
  };
}

/** Job queue: a lookup of a job id that never exists must answer (the store is open and readable). */
export function queueCheck(queue: Pick<JobQueue, 'get'>): ReadinessCheck {
  return {
    name: 'queue', required: true,
    async run() {
      await queue.get('readyz-probe');
      return { ok: true, detail: 'job store answers' };
    },
  };
}

/** An optional external tool, reported with what it enables and how to install it. */
export function toolCheck(name: string, available: () => Promise<boolean>, enables: string, install: string): ReadinessCheck {
  return {
    name, required: false,
    async run() {
      return (await available()) ? { ok: true, detail: `available (${enables})` } : { ok: false, detail: `not available: ${enables} disabled; ${install}` };
    },
  };
}
