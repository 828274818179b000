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
after(async () => {
  await meta.close();
  rmSync(dir, { recursive: true, force: true });
});

const put = (key: string) => ({ bucket: 'bk1', key, body: Buffer.from(key), contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' as const });

test('listing: prefixes, delimiters, paging through markers returns every entry once', async () => {
  const svc = createObjectService({ blobs: await createFsBlobStore({ dir }), meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  await svc.createBucket('bk1', 'private');
  const keys = ['a/1', 'a/2', 'a/b/1', 'a/b/2', 'a/c/1', 'b', 'z/猫.jpg', 'z/x'];
  for (const k of keys) await svc.putObject(put(k));
  const top = await svc.listObjects('bk1', { prefix: '', delimiter: '/', after: '', maxKeys: 100 });
  assert.deepEqual(top.prefixes, ['a/', 'z/']);
  assert.deepEqual(top.objects.map((o) => o.key), ['b']);
  const inA = await svc.listObjects('bk1', { prefix: 'a/', delimiter: '/', after: '', maxKeys: 100 });
  assert.deepEqual([inA.objects.map((o) => o.key), inA.prefixes], [['a/1', 'a/2'], ['a/b/', 'a/c/']]);
  for (const delimiter of ['', '/']) {
    for (const maxKeys of [1, 2, 3]) {
      const seen: string[] = [];
      let after = '';
      for (;;) {
        const page = await svc.listObjects('bk1', { prefix: '', delimiter, after, maxKeys });
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
  await svc.createBucket('bk2', 'private');
  const base = { bucket: 'bk2', key: 'log', contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' as const };
  await svc.appendObject({ ...base, body: Buffer.from('ab'), position: 0 });
  const r = await svc.appendObject({ ...base, body: Buffer.from('cd'), position: 2 });
  assert.equal(r.size, 4);
  await assert.rejects(svc.appendObject({ ...base, body: Buffer.from('x'), position: 1 }), (e: unknown) => isAppError(e) && e.code === 'POSITION_NOT_EQUAL_TO_LENGTH');
  const first = await svc.putObject({ ...base, key: 'o', body: Buffer.from('1') });
  await svc.putObject({ ...base, key: 'o', body: Buffer.from('2') });
  assert.equal(await meta.isBlobReferenced(first.blobId), false);
  await assert.rejects(svc.deleteBucket('bk2'), (e: unknown) => isAppError(e) && e.code === 'BUCKET_NOT_EMPTY');
  await svc.deleteObjects('bk2', ['log', 'o']);
  await svc.deleteBucket('bk2');
});

test('key rules', () => {
  for (const bad of ['', '../x', 'a/../b', 'a/..', './x', '/x', '\\x', 'a\0b', 'k'.repeat(1024), 'é'.repeat(512)]) {
    assert.throws(() => checkObjectKey(bad), (e: unknown) => isAppError(e) && e.code === 'INVALID_OBJECT_NAME', JSON.stringify(bad.slice(0, 20)));
  }
  for (const ok of ['a', 'a..b', '...', 'dir/a b+c.jpg', '图片/猫.jpg', 'k'.repeat(1023)]) checkObjectKey(ok);
});

test('interleavings: a part re-uploaded or an abort landing between check and commit is never lost or orphaned', async () => {
  const fs = await createFsBlobStore({ dir });
  // While a multipart completion assembles the parts, run `during` (another request's writes).
  let during: (() => Promise<void>) | undefined;
  const blobs = {
    ...fs,
    async write(...args: Parameters<typeof fs.write>) {
      const r = await fs.write(...args);
      const f = during;
      during = undefined;
      if (f !== undefined && typeof args[0] === 'object' && 'concat' in args[0]) await f();
      return r;
    },
  };
  const svc = createObjectService({ blobs, meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  await svc.createBucket('bk3', 'private');
  const up = await svc.initiateUpload('bk3', 'mp', { contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' });
  const p1 = await svc.uploadPart('bk3', 'mp', up.id, 1, Buffer.from('old'), undefined, undefined);
  during = async () => void (await svc.uploadPart('bk3', 'mp', up.id, 1, Buffer.from('new'), undefined, undefined));
  await assert.rejects(svc.completeUpload('bk3', 'mp', up.id, [{ partNumber: 1, etag: p1.etag }]), (e: unknown) => isAppError(e) && e.code === 'INVALID_PART');
  assert.equal(await svc.findObject('bk3', 'mp'), undefined, 'no object built from replaced bytes');
  const parts = await svc.listParts('bk3', 'mp', up.id);
  assert.equal(parts.length, 1);
  const rec = await svc.completeUpload('bk3', 'mp', up.id, [{ partNumber: 1, etag: parts[0]!.etag }]);
  assert.equal((await svc.loadObject('bk3', 'mp')).data.toString(), 'new');
  assert.equal(await meta.isBlobReferenced(p1.blobId), false);
  assert.equal(rec.size, 3);
  // A part arriving after its upload was completed is refused and its bytes are not kept.
  await assert.rejects(svc.uploadPart('bk3', 'mp', up.id, 2, Buffer.from('late'), undefined, undefined), (e: unknown) => isAppError(e) && e.code === 'NO_SUCH_UPLOAD');
  assert.equal(await svc.collectGarbage(), 0, 'every blob written is referenced or was removed');
  // Bucket delete: missing vs not empty are told apart by the one port call.
  await assert.rejects(svc.deleteBucket('no-such'), (e: unknown) => isAppError(e) && e.code === 'NO_SUCH_BUCKET');
  await assert.rejects(svc.deleteBucket('bk3'), (e: unknown) => isAppError(e) && e.code === 'BUCKET_NOT_EMPTY');
  await assert.rejects(svc.setObjectAcl('bk3', 'missing', 'private'), (e: unknown) => isAppError(e) && e.code === 'NO_SUCH_KEY');
});
