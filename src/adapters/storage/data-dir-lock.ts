/**
 * One process per data dir. The embedded stores assume a single owner: a second server or worker
 * on the same directory would take the first one's running jobs for crashed ones and run them
 * again, and `doctor --repair` would remove the first one's in-flight writes as orphans.
 *
 * The owner holds an exclusive SQLite lock on `<dataDir>/halftone.lock` for its lifetime
 * (`locking_mode = EXCLUSIVE`: the lock taken by the first write is kept until the connection
 * closes). It is a POSIX advisory lock, which the operating system releases when the process ends
 * however it ends, SIGKILL included, so a crash never leaves a stale lock behind. Who holds it is
 * written next to it (`halftone.lock.owner`) for the refusal message.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface DataDirLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

/** Thrown when another live process holds the data dir. */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string, readonly owner: string | undefined) {
    super(`the data dir ${dataDir} is in use by another Halftone process${owner === undefined ? '' : ` (${owner})`}: stop it first, or give this one its own HALFTONE_DATA_DIR`);
    this.name = 'DataDirInUseError';
  }
}

/** Takes the data dir for this process (`what`: "server", "worker", "doctor --repair"), or throws DataDirInUseError. */
export function lockDataDir(dataDir: string, what: string): DataDirLock {
  const file = join(dataDir, 'halftone.lock');
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
    let owner: string | undefined;
    try {
      owner = readFileSync(`${file}.owner`, 'utf8').trim() || undefined;
    } catch {
      owner = undefined;
    }
    throw new DataDirInUseError(dataDir, owner);
  }
  writeFileSync(`${file}.owner`, `${what}, pid ${process.pid}, since ${new Date().toISOString()}\n`);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
