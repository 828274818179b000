/**
 * Starts the built Halftone server (dist/main.js) as a child process on an ephemeral loopback
 * port with a temporary data dir, for end-to-end tests over real sockets.
 *
 * The build is refreshed when any src/ file is newer than dist/main.js.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAUNCH_ENV } from '../../src/config/allocator.js';

const root = new URL('../..', import.meta.url).pathname;
export const TEST_AK = 'testAccessKeyId';
export const TEST_SK = 'testAccessKeySecret';

function newestMtime(dir: string): number {
  let max = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const st = statSync(full);
    max = Math.max(max, st.isDirectory() ? newestMtime(full) : name.endsWith('.ts') ? st.mtimeMs : 0);
  }
  return max;
}

let built = false;
/** Runs `tsc -p tsconfig.json` if dist/main.js is missing or older than the sources. */
export function ensureBuilt(): void {
  if (built) return;
  let distTime = 0;
  try {
    distTime = statSync(join(root, 'dist/main.js')).mtimeMs;
  } catch {
    distTime = 0;
  }
  if (distTime < newestMtime(join(root, 'src'))) {
    // tsc emits even when unrelated files have type errors; only a missing output is fatal.
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'ignore' });
    statSync(join(root, 'dist/main.js'));
  }
  built = true;
}

export interface RunningServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the server printed. */
  output(): string;
  /** Graceful stop (SIGTERM); removes the data dir unless `keepDataDir`. */
  stop(opts?: { keepDataDir?: boolean }): Promise<void>;
  /** SIGKILL, as in a crash; the data dir is kept. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Reuse an existing data dir (restart after a crash); otherwise a temp dir is created. */
  readonly dataDir?: string;
  readonly env?: Record<string, string>;
}

/** Starts the server and resolves once it listens. */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  ensureBuilt();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'halftone-test-'));
  const child = spawn(process.execPath, [join(root, 'dist/main.js')], {
    cwd: root,
    env: {
      PATH: process.env['PATH'] ?? '',
      // As npm start runs it (package.json's start script).
      ...LAUNCH_ENV,
      PORT: '0',
      HALFTONE_HOST: '127.0.0.1',
      HALFTONE_DATA_DIR: dataDir,
      HALFTONE_ACCESS_KEY_ID: TEST_AK,
      HALFTONE_ACCESS_KEY_SECRET: TEST_SK,
      // Request logs off in tests; warnings and errors still reach output().
      HALFTONE_LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    port, url: `http://127.0.0.1:${port}`, dataDir, child,
    output: () => out,
    async stop(o = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (!o.keepDataDir && opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
