/**
 * The SQLite MetaStore's change clock (MetaStore.changes, used by the hot response cache): every
 * write moves its bucket past every earlier reading of `now()`, other buckets stay, and a commit
 * by a second connection on the same file (another process) moves every bucket within 1 ms.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import type { ObjectRecord } from '../../src/ports/meta-store.js';

const dir = mkdtempSync(join(tmpdir(), 'halftone-meta-clock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const obj = (bucket: string, key: string, blobId: string): ObjectRecord => ({
  bucket, key, blobId, size: 1, etag: '"E"', contentType: 'image/jpeg', headers: {}, meta: {}, acl: 'default', type: 'Normal', lastModified: 1,
});

test('SQLite change clock: writes move their bucket only; another connection moves every bucket', async () => {
  const file = join(dir, 'm.sqlite');
  const store = createSqliteMetaStore({ file });
  const other = createSqliteMetaStore({ file });
  try {
    const clock = store.changes!;
    assert.ok(clock !== undefined);
    await store.createBucket({ name: 'a', acl: 'public-read', createdAt: 1, storageClass: 'Standard' });
    await store.createBucket({ name: 'b', acl: 'public-read', createdAt: 1, storageClass: 'Standard' });
    const writes: [string, () => Promise<unknown>][] = [
      ['putObject', () => store.putObject(obj('a', 'k', 'b1'))],
      ['putObjectIf', () => store.putObjectIf(obj('a', 'k', 'b2'), 'b1')],
      ['setObjectAcl', () => store.setObjectAcl('a', 'k', 'private')],
      ['setBucketAcl', () => store.setBucketAcl('a', 'private')],
      ['putStyle', () => store.putStyle({ bucket: 'a', name: 's', content: 'image/resize,w_1', createdAt: 1, modifiedAt: 1 }, 10)],
      ['deleteStyle', () => store.deleteStyle('a', 's')],
      ['completeUpload', async () => {
        await store.createUpload({ id: 'u1', bucket: 'a', key: 'k', initiated: 1, template: { contentType: 'image/jpeg', headers: {}, meta: {}, acl: 'default' } });
        return store.completeUpload('u1', obj('a', 'k', 'b3'));
      }],
      ['deleteObject', () => store.deleteObject('a', 'k')],
      ['deleteBucketIfEmpty', () => store.deleteBucketIfEmpty('a')],
      ['createBucket', () => store.createBucket({ name: 'a', acl: 'private', createdAt: 2, storageClass: 'Standard' })],
    ];
    for (const [name, write] of writes) {
      const t = clock.now();
      const bBefore = clock.changedAt('b');
      assert.ok(clock.changedAt('a') <= t, `${name}: unchanged before the write`);
      await write();
      assert.ok(clock.changedAt('a') > t, `${name}: bucket a changed`);
      assert.equal(clock.changedAt('b'), bBefore, `${name}: bucket b untouched`);
      assert.ok(clock.changedAt('a') <= clock.now());
    }
    // Reads change nothing.
    const t = clock.now();
    await store.getObject('a', 'k');
    await store.listStyles('a');
    assert.equal(clock.now(), t);
    assert.ok(clock.changedAt('a') <= t);
    // A document write (hosted-images variants and settings) belongs to no bucket: every bucket changes.
    const beforeDoc = clock.now();
    assert.equal(await store.putDocumentIf('images', '{}', 0), true);
    assert.ok(clock.changedAt('a') > beforeDoc && clock.changedAt('b') > beforeDoc, 'a document write changes every bucket');
    assert.ok(clock.changedAt('b') <= clock.now());
    // A commit by another connection (another process on the same file) changes every bucket.
    const t2 = clock.now();
    await other.putObject(obj('b', 'x', 'b9'));
    // PRAGMA data_version is read at most once per millisecond: the commit shows within 1 ms.
    await new Promise((r) => setTimeout(r, 2));
    assert.ok(clock.changedAt('a') > t2, 'external write seen for a');
    assert.ok(clock.changedAt('b') > t2, 'external write seen for b');
  } finally {
    await other.close();
    await store.close();
  }
});
