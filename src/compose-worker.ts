/**
 * Composition root of `halftone worker`: exactly what running background jobs needs — the shared
 * queue's consumer, the blob store and MetaStore (S3 + the configured MetaStore), task inputs and
 * result files, the image engine, ffmpeg, the webhook sender and the SSRF-safe fetcher for URL
 * tasks — and nothing else: no HTTP server, result cache, rate limiter, hosted images or
 * Cloudflare/OSS routes. The parts are the server's own (src/compose-shared.ts), so a worker runs
 * the same handlers a serving node with HALFTONE_RUN_JOBS=true does.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHttpFetcher } from './adapters/source/http.js';
import { lockDataDir } from './adapters/storage/data-dir-lock.js';
import { resolveCredentials } from './config/credentials.js';
import { load, type Config } from './config/schema.js';
import { composeJobUseCases, composeQueue, composeStores } from './compose-shared.js';
import type { JobQueue } from './ports/job-queue.js';
import { allocatorInfo, reportAllocator } from './config/allocator.js';

export interface ComposedWorker {
  readonly queue: JobQueue;
  /** Running jobs finish (`wait`) or go back to the queue (`abort`); then everything is closed. */
  close(mode: 'wait' | 'abort'): Promise<void>;
}

/** Builds the worker from a loaded config and starts consuming jobs. */
export async function composeWorker(config: Config, log: (line: string) => void = console.log): Promise<ComposedWorker> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const dirLock = lockDataDir(dataDir, 'worker');
  // The same access key as the nodes (HALFTONE_ACCESS_KEY_*): it derives the result-URL signing key.
  const creds = await resolveCredentials(dataDir, config.accessKeyId, config.accessKeySecret);
  const stores = await composeStores(config, dataDir, { id: creds.accessKeyId, secret: creds.accessKeySecret });
  const fetcher = createHttpFetcher({ version: '0.1.0', allowedOrigins: config.allowedOrigins, anyPublicOrigin: config.anyPublicOrigin === 'true' });
  // The image engine with the configured libvips threads, before the first job.
  await (await import('./core/pipeline/engine-settings.js')).configureEngine({ threads: config.vipsConcurrency, timeoutSeconds: config.pipelineTimeoutS });
  const { queue, expireHooks } = await composeQueue(config, dataDir);
  await composeJobUseCases({ ...config, runJobs: 'true' }, dataDir, { queue, expireHooks, stores, fetcher, log });
  await queue.start();
  return {
    queue,
    async close(mode) {
      await queue.close({ mode });
      await fetcher.close?.();
      await stores.close();
      dirLock.release();
    },
  };
}

/**
 * `halftone worker`: runs the background jobs of a shared (BullMQ) queue, never listening.
 * SIGTERM/SIGINT let running jobs finish, then exit (after at most HALFTONE_SHUTDOWN_GRACE_MS).
 */
export async function runWorker(env: Record<string, string | undefined> = process.env, log: (line: string) => void = console.log): Promise<number> {
  const loaded = load({ ...env, HALFTONE_RUN_JOBS: 'true' });
  if (!loaded.ok) {
    console.error('halftone: invalid configuration:');
    for (const e of loaded.errors) console.error(`  - ${e}`);
    return 2;
  }
  if (loaded.config.queue !== 'bullmq') {
    console.error('halftone: worker needs HALFTONE_QUEUE=bullmq (and REDIS_URL): the embedded queue is a SQLite file run by one process, the server itself; a second process on the same data dir would run its jobs twice.');
    return 2;
  }
  if (loaded.config.storage !== 's3') {
    // A worker on an fs data dir would not share task files with the nodes, and its start-up
    // blob collection could remove a blob another process on the same dir is writing.
    console.error('halftone: worker needs HALFTONE_STORAGE=s3 (and HALFTONE_S3_*): task inputs, results and objects must be in storage every node shares.');
    return 2;
  }
  if (loaded.config.meta !== 'postgres') {
    // Object metadata in a SQLite file of the worker's own would hide every object the nodes
    // wrote: video jobs would not find their source.
    console.error('halftone: worker needs HALFTONE_META=postgres (and DATABASE_URL): object metadata must be in the MetaStore every node shares.');
    return 2;
  }
  const worker = await composeWorker(loaded.config, log);
  log(`halftone: worker running background jobs from ${loaded.config.queue} (prefix ${loaded.config.redisPrefix})`);
  reportAllocator(allocatorInfo(), log);
  return new Promise<number>((done) => {
    const stop = () => {
      setTimeout(() => done(1), loaded.config.shutdownGraceMs).unref();
      worker.close('wait').then(() => done(0), (err: unknown) => {
        console.error('halftone: worker shutdown failed:', err);
        done(1);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
