/**
 * File-system TaskInputs: one file per name under `<dataDir>/task-inputs`, written to a temp file
 * and renamed into place.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskInputs } from '../../ports/task-inputs.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new RangeError(`invalid task input name ${JSON.stringify(name)}`);
  return name;
}

export async function createFsTaskInputs(options: { readonly dataDir: string }): Promise<TaskInputs> {
  const dir = join(options.dataDir, 'task-inputs');
  await mkdir(dir, { recursive: true });
  // Temp files of writes a crash interrupted.
  for (const n of await readdir(dir)) if (n.startsWith('.tmp-')) await rm(join(dir, n), { force: true });
  return {
    async put(name, bytes) {
      const tmp = join(dir, `.tmp-${randomUUID()}`);
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, join(dir, checkName(name)));
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },
    async get(name) {
      try {
        return await readFile(join(dir, checkName(name)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async remove(name) {
      await rm(join(dir, checkName(name)), { force: true });
    },
    async list() {
      return (await readdir(dir)).filter((n) => !n.startsWith('.tmp-'));
    },
  };
}
