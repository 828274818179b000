import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsBlobStore } from '../adapters/storage/fs.js';
import { createSqliteMetaStore } from '../adapters/meta/sqlite.js';
import { isAppError } from '../core/errors.js';
import { checkObjectKey, createObjectService } from './oss-objects.js';

const dir = mkdtempSync(join(tmpdir(), 'halftone-app-'));
const meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
after(() => {
  meta.close();
  rmSync(dir, { recursive: true, force: true });
});

const put = (key: string) => ({ bucket: 'bk1', key, body: Buffer.from(key), contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' as const });

test('listing: prefixes, delimiters, paging through markers returns every entry once', async () => {
  const svc = createObjectService({ blobs: await createFsBlobStore({ dir }), meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  svc.createBucket('bk1', 'private');
  const keys = ['a/1', 'a/2', 'a/b/1', 'a/b/2', 'a/c/1', 'b', 'z/猫.jpg', 'z/x'];
  for (const k of keys) await svc.putObject(put(k));
  const top = svc.listObjects('bk1', { prefix: '', delimiter: '/', after: '', maxKeys: 100 });
  assert.deepEqual(top.prefixes, ['a/', 'z/']);
  assert.deepEqual(top.objects.map((o) => o.key), ['b']);
  const inA = svc.listObjects('bk1', { prefix: 'a/', delimiter: '/', after: '', maxKeys: 100 });
  assert.deepEqual([inA.objects.map((o) => o.key), inA.prefixes], [['a/1', 'a/2'], ['a/b/', 'a/c/']]);
  for (const delimiter of ['', '/']) {
    for (const maxKeys of [1, 2, 3]) {
      const seen: string[] = [];
      let after = '';
      for (;;) {
        const page = svc.listObjects('bk1', { prefix: '', delimiter, after, maxKeys });
        seen.push(...page.objects.map((o) => o.key), ...page.prefixes);
        if (!page.truncated) break;
        after = page.next!;
      }
      const expected = delimiter === '' ? keys : ['a/', 'b', 'z/'];
      assert.deepEqual(seen.sort(), [...expected].sort(), `delimiter ${delimiter} maxKeys ${maxKeys}`);
    }
  }
});

test('append positions, overwrite frees the old blob, bucket must be empty to delete', async () => {
  const svc = createObjectService({ blobs: await createFsBlobStore({ dir }), meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  svc.createBucket('bk2', 'private');
  const base = { bucket: 'bk2', key: 'log', contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' as const };
  await svc.appendObject({ ...base, body: Buffer.from('ab'), position: 0 });
  const r = await svc.appendObject({ ...base, body: Buffer.from('cd'), position: 2 });
  assert.equal(r.size, 4);
  await assert.rejects(svc.appendObject({ ...base, body: Buffer.from('x'), position: 1 }), (e: unknown) => isAppError(e) && e.code === 'POSITION_NOT_EQUAL_TO_LENGTH');
  const first = await svc.putObject({ ...base, key: 'o', body: Buffer.from('1') });
  await svc.putObject({ ...base, key: 'o', body: Buffer.from('2') });
  assert.equal(meta.isBlobReferenced(first.blobId), false);
  assert.throws(() => svc.deleteBucket('bk2'), (e: unknown) => isAppError(e) && e.code === 'BUCKET_NOT_EMPTY');
  await svc.deleteObjects('bk2', ['log', 'o']);
  svc.deleteBucket('bk2');
});

test('key rules', () => {
  for (const bad of ['', '../x', 'a/../b', 'a/..', './x', '/x', '\\x', 'a\0b', 'k'.repeat(1024), 'é'.repeat(512)]) {
    assert.throws(() => checkObjectKey(bad), (e: unknown) => isAppError(e) && e.code === 'INVALID_OBJECT_NAME', JSON.stringify(bad.slice(0, 20)));
  }
  for (const ok of ['a', 'a..b', '...', 'dir/a b+c.jpg', '图片/猫.jpg', 'k'.repeat(1023)]) checkObjectKey(ok);
});
