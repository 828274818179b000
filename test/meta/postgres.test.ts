/**
 * The PostgreSQL MetaStore: the MetaStore contract against a throw-away PostgreSQL server this test
 * starts itself (initdb + pg_ctl from the Debian `postgresql` package, on a loopback port, in a temp
 * dir) and stops. Skips with a message when PostgreSQL is not installed.
 */
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createPostgresMetaStore } from '../../src/adapters/meta/postgres.js';
import { metaStoreContract } from './contract.js';

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).sort((a, b) => Number(b) - Number(a)).find((d) => existsSync(join(root, d, 'bin', 'initdb')));
  return v === undefined ? undefined : join(root, v, 'bin');
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

const bin = pgBin();
if (bin === undefined) {
  describe('MetaStore contract: PostgreSQL', () => {
    it('skipped: install the Debian package `postgresql` (initdb, pg_ctl) to run it', (t) => t.skip('PostgreSQL is not installed'));
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-pg-'));
  const data = join(dir, 'data');
  let port = 0;
  // initdb refuses to run as root: run the server as the `postgres` user then.
  const asUser = process.getuid?.() === 0 ? (() => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    return { uid, gid };
  })() : {};
  const run = (cmd: string, args: string[]) => execFileSync(join(bin, cmd), args, { ...asUser, stdio: 'pipe', cwd: dir });

  before(async () => {
    port = await freePort();
    run('initdb', ['-D', data, '-U', 'halftone', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    run('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  });
  after(() => {
    try {
      run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  let n = 0;
  metaStoreContract('PostgreSQL', async () => {
    const db = `t${n++}`;
    const admin = new pg.Client({ connectionString: `postgres://halftone@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const url = `postgres://halftone@127.0.0.1:${port}/${db}`;
    return { store: await createPostgresMetaStore({ connectionString: url }), reopen: () => createPostgresMetaStore({ connectionString: url }) };
  });
}
