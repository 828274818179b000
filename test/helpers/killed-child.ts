/**
 * Crash tests: runs a TypeScript child script until it SIGKILLs itself (at the point the test
 * wants a crash) and resolves with its stdout. Fails when the child exits any other way, or has
 * not died within 30 s (`what` names what it was meant to do first).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export async function runUntilKilled(script: string, args: readonly string[], what: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not ${what}: ${out} ${err}`));
    }, 30_000);
    child.on('exit', (_code, sig) => {
      clearTimeout(timer);
      resolve(sig);
    });
  });
  assert.equal(signal, 'SIGKILL', `the child should die in its listener: ${out} ${err}`);
  return out;
}
