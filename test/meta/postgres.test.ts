/**
 * The PostgreSQL MetaStore: the MetaStore contract against a throw-away PostgreSQL server this test
 * starts itself (test/helpers/postgres-server.ts: initdb + pg_ctl from the Debian `postgresql`
 * package, on a loopback port, in a temp dir) and stops. Skips with a message when PostgreSQL is
 * not installed.
 */
import { after, before, describe, it } from 'node:test';
import { createPostgresMetaStore } from '../../src/adapters/meta/postgres.js';
import { pgBin, startLocalPostgres, type LocalPostgres } from '../helpers/postgres-server.js';
import { metaStoreContract } from './contract.js';

if (pgBin() === undefined) {
  describe('MetaStore contract: PostgreSQL', () => {
    it('skipped: install the Debian package `postgresql` (initdb, pg_ctl) to run it', (t) => t.skip('PostgreSQL is not installed'));
  });
} else {
  let server: LocalPostgres;
  before(async () => {
    server = await startLocalPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  let n = 0;
  metaStoreContract('PostgreSQL', async () => {
    const url = await server.createDatabase(`t${n++}`);
    return { store: await createPostgresMetaStore({ connectionString: url }), reopen: () => createPostgresMetaStore({ connectionString: url }) };
  });
}
