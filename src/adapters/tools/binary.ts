/** Whether an external program runs (`<file> <args>` exits 0 within 10 s). Cached per command line. */
import { execFile } from 'node:child_process';

const cache = new Map<string, Promise<boolean>>();

export function binaryAvailable(file: string, args: readonly string[] = ['-version']): Promise<boolean> {
  const key = [file, ...args].join('\0');
  let p = cache.get(key);
  if (p === undefined) {
    p = new Promise((resolve) => {
      execFile(file, [...args], { timeout: 10_000, windowsHide: true, maxBuffer: 1024 * 1024 }, (err) => resolve(err === null));
    });
    cache.set(key, p);
  }
  return p;
}
