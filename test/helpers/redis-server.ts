/**
 * A throw-away Redis for tests: Debian's `redis-server` on 127.0.0.1 and a free ephemeral port,
 * no persistence, working dir in a temp dir. `findRedisServer()` says whether it is installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_MISSING = 'redis-server is not installed (Debian package redis-server)';

/** True when `redis-server` is on the PATH. */
export function findRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The `skip` option of Redis tests: a message when redis-server is missing, except in CI (.ci/run installs it). */
export function redisSkip(): string | false {
  return findRedisServer() || process.env['CI'] === 'true' ? false : REDIS_MISSING;
}

export interface LocalRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start: ${out}`));
    }, 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited: ${out}`));
    });
  });
}

/** Starts redis-server on loopback (retrying if another process took the port meanwhile). */
export async function startLocalRedis(): Promise<LocalRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'halftone-redis-'));
  let lastErr: unknown;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    try {
      const child = await launch(port, dir);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async stop() {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastErr = err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastErr;
}
