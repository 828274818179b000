/** Starts `halftone worker` (bin/halftone.js, built first) as a child process for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { LAUNCH_ENV } from '../../src/config/allocator.js';
import type { LocalRedis } from './redis-server.js';
import type { LocalS3 } from './s3-server.js';
import { ensureBuilt, TEST_AK, TEST_SK } from './server.js';

const root = new URL('../..', import.meta.url).pathname;

export interface RunningWorker {
  readonly child: ChildProcess;
  /** Everything the worker printed. */
  output(): string;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** Starts `halftone worker` with exactly `env` (plus PATH and the allocator setting deployments use) and resolves once it says it runs jobs. */
export async function startWorker(env: Record<string, string>): Promise<RunningWorker> {
  ensureBuilt();
  const child = spawn(process.execPath, [join(root, 'bin/halftone.js'), 'worker'], {
    cwd: root, env: { PATH: process.env['PATH'] ?? '', ...LAUNCH_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 20000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker running background jobs')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${out}`));
    });
  });
  return { child, output: () => out, exited };
}

/**
 * Settings of a scale-out process (node or worker) on the loopback services: S3 storage, BullMQ
 * on Redis under `redisPrefix`, PostgreSQL metadata, the test credentials and API key.
 */
export function scaleOutEnv(s: { s3: LocalS3; redis: LocalRedis; databaseUrl: string; redisPrefix: string; apiKey: string }): Record<string, string> {
  return {
    HALFTONE_ACCESS_KEY_ID: TEST_AK,
    HALFTONE_ACCESS_KEY_SECRET: TEST_SK,
    HALFTONE_LOG_LEVEL: 'warn',
    HALFTONE_STORAGE: 's3',
    HALFTONE_S3_ENDPOINT: s.s3.endpoint,
    HALFTONE_S3_REGION: s.s3.region,
    HALFTONE_S3_BUCKET: s.s3.bucket,
    HALFTONE_S3_ACCESS_KEY_ID: s.s3.accessKeyId,
    HALFTONE_S3_SECRET_ACCESS_KEY: s.s3.secretAccessKey,
    HALFTONE_S3_FORCE_PATH_STYLE: 'true',
    HALFTONE_QUEUE: 'bullmq',
    REDIS_URL: s.redis.url,
    HALFTONE_REDIS_PREFIX: s.redisPrefix,
    HALFTONE_META: 'postgres',
    DATABASE_URL: s.databaseUrl,
    HALFTONE_API_KEYS: s.apiKey,
    HALFTONE_TASK_RATE_LIMIT: '1000',
    HALFTONE_JOB_CONCURRENCY: '1',
  };
}
