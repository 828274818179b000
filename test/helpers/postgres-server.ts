/**
 * A throw-away PostgreSQL for tests: initdb + pg_ctl from the Debian `postgresql` package, in a
 * temp dir, listening on 127.0.0.1 and a free ephemeral port (fsync off, trust auth for the
 * `halftone` role). As root the server runs as the `postgres` user (initdb refuses root).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const POSTGRES_MISSING = 'PostgreSQL is not installed (Debian package postgresql: initdb, pg_ctl)';

/** The bin dir of the newest installed PostgreSQL, or undefined. */
export function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a)).find((d) => existsSync(join(root, d, 'bin', 'initdb')));
  return v === undefined ? undefined : join(root, v, 'bin');
}

/** The `skip` option of PostgreSQL tests: a message when it is missing. */
export function postgresSkip(): string | false {
  return pgBin() === undefined ? POSTGRES_MISSING : false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LocalPostgres {
  readonly port: number;
  /** `postgres://halftone@127.0.0.1:<port>/<db>` */
  url(db: string): string;
  /** Creates database `db` (a plain identifier) and returns its URL. */
  createDatabase(db: string): Promise<string>;
  /** Fast shutdown (`-m immediate`), then the data dir is removed. */
  stop(): Promise<void>;
}

/** initdb in a temp dir and start the server on loopback. */
export async function startLocalPostgres(): Promise<LocalPostgres> {
  const bin = pgBin();
  if (bin === undefined) throw new Error(POSTGRES_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'halftone-pg-'));
  const data = join(dir, 'data');
  const asUser = process.getuid?.() === 0 ? (() => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    return { uid, gid };
  })() : {};
  const run = (cmd: string, args: string[]) => execFileSync(join(bin, cmd), args, { ...asUser, stdio: 'pipe', cwd: dir });
  const port = await freePort();
  try {
    run('initdb', ['-D', data, '-U', 'halftone', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    run('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = (db: string) => `postgres://halftone@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    async createDatabase(db) {
      const admin = new pg.Client({ connectionString: url('postgres') });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${db}`);
      } finally {
        await admin.end();
      }
      return url(db);
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
