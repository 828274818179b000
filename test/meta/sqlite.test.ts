/**
 * The SQLite MetaStore: the MetaStore contract, on a fresh database file per test; `reopen` opens
 * a second connection on the same file (as a second process would).
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { metaStoreContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'halftone-meta-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

metaStoreContract('SQLite', async () => {
  const file = join(dir, `m${n++}.sqlite`);
  return { store: createSqliteMetaStore({ file }), reopen: async () => createSqliteMetaStore({ file }) };
});
