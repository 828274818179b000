/** Starts `halftone worker` (bin/halftone.js, built first) as a child process for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt } from './server.js';

const root = new URL('../..', import.meta.url).pathname;

export interface RunningWorker {
  readonly child: ChildProcess;
  /** Everything the worker printed. */
  output(): string;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** Starts `halftone worker` with exactly `env` (plus PATH) and resolves once it says it runs jobs. */
export async function startWorker(env: Record<string, string>): Promise<RunningWorker> {
  ensureBuilt();
  const child = spawn(process.execPath, [join(root, 'bin/halftone.js'), 'worker'], {
    cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
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
