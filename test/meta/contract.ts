/**
 * The MetaStore contract: every adapter (SQLite today, PostgreSQL for scale-out) runs
 * `metaStoreContract(name, makeStore)` from its own test file. Each test gets a fresh, empty store;
 * `reopen` (when the adapter has durable storage) opens a second handle on the same data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BucketRecord, MetaStore, ObjectRecord, PartRecord, StyleRecord, UploadRecord } from '../../src/ports/meta-store.js';

export interface MetaHarness {
  readonly store: MetaStore;
  /** A second store on the same data (another node); closed by the test. */
  reopen(): Promise<MetaStore>;
  /** Frees whatever the harness created after `store.close()`. */
  dispose?(): Promise<void>;
}

export type MakeStore = () => Promise<MetaHarness>;

const bucket = (name: string, over: Partial<BucketRecord> = {}): BucketRecord => ({ name, acl: 'private', createdAt: 1_000, storageClass: 'Standard', ...over });
const object = (b: string, key: string, blobId: string, over: Partial<ObjectRecord> = {}): ObjectRecord => ({
  bucket: b, key, blobId, size: 3, etag: '"ABC"', contentType: 'image/png',
  headers: { 'cache-control': 'no-cache' }, meta: { author: 'ünï' }, acl: 'default', type: 'Normal', lastModified: 2_000, ...over,
});
const upload = (id: string, b: string, key: string, initiated = 3_000): UploadRecord => ({
  id, bucket: b, key, initiated, template: { contentType: 'image/jpeg', headers: { 'content-disposition': 'inline' }, meta: { a: '1' }, acl: 'public-read' },
});
const part = (uploadId: string, partNumber: number, blobId: string): PartRecord => ({ uploadId, partNumber, blobId, size: 5, etag: `"E${partNumber}"`, lastModified: 4_000 });
const style = (b: string, name: string, content: string, t: number): StyleRecord => ({ bucket: b, name, content, createdAt: t, modifiedAt: t });

export function metaStoreContract(name: string, make: MakeStore): void {
  describe(`MetaStore contract: ${name}`, () => {
    /** Runs `body` on a fresh store and always closes it. */
    const withStore = async (body: (s: MetaStore, h: MetaHarness) => Promise<void>) => {
      const h = await make();
      try {
        await body(h.store, h);
      } finally {
        await h.store.close();
        await h.dispose?.();
      }
    };

    it('buckets: create once, get, list by name, set ACL', () => withStore(async (s) => {
      assert.equal(await s.getBucket('b1'), undefined);
      assert.equal(await s.createBucket(bucket('b2', { acl: 'public-read', storageClass: 'IA' })), true);
      assert.equal(await s.createBucket(bucket('b1')), true);
      assert.equal(await s.createBucket(bucket('b1', { acl: 'public-read-write' })), false, 'a taken name is refused');
      assert.deepEqual(await s.getBucket('b1'), bucket('b1'), 'the refused create changed nothing');
      assert.deepEqual(await s.getBucket('b2'), bucket('b2', { acl: 'public-read', storageClass: 'IA' }));
      assert.deepEqual((await s.listBuckets()).map((b) => b.name), ['b1', 'b2']);
      assert.equal(await s.setBucketAcl('b1', 'public-read-write'), true);
      assert.equal((await s.getBucket('b1'))?.acl, 'public-read-write');
      assert.equal(await s.setBucketAcl('nope', 'private'), false);
      assert.equal(await s.getBucket('nope'), undefined);
    }));

    it('deleteBucketIfEmpty: refuses with objects or uploads, drops styles, reports a missing bucket', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      assert.equal(await s.deleteBucketIfEmpty('nope'), 'no-such-bucket');
      await s.putObject(object('b1', 'k', 'blob1'));
      assert.equal(await s.deleteBucketIfEmpty('b1'), 'not-empty');
      await s.deleteObject('b1', 'k');
      await s.createUpload(upload('u1', 'b1', 'k'));
      assert.equal(await s.deleteBucketIfEmpty('b1'), 'not-empty');
      assert.notEqual(await s.getBucket('b1'), undefined);
      await s.deleteUpload('u1');
      assert.equal(await s.putStyle(style('b1', 'st', 'image/resize,w_10', 1), 50), true);
      assert.equal(await s.deleteBucketIfEmpty('b1'), 'deleted');
      assert.equal(await s.getBucket('b1'), undefined);
      await s.createBucket(bucket('b1'));
      assert.deepEqual(await s.listStyles('b1'), [], 'a recreated bucket does not inherit old styles');
    }));

    it('objects: put returns the replaced blob, get round-trips every field, delete returns the blob', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      const o1 = object('b1', 'dir/ä.png', 'blob1', { headers: { 'content-encoding': 'gzip', 'cache-control': 'max-age=1' }, meta: {}, acl: 'public-read', type: 'Appendable', size: 0 });
      assert.equal(await s.putObject(o1), undefined);
      assert.deepEqual(await s.getObject('b1', 'dir/ä.png'), o1);
      assert.equal(await s.getObject('b1', 'other'), undefined);
      assert.equal(await s.getObject('b2', 'dir/ä.png'), undefined);
      const o2 = object('b1', 'dir/ä.png', 'blob2', { type: 'Multipart', size: 12_345_678_901 });
      assert.equal(await s.putObject(o2), 'blob1');
      assert.deepEqual(await s.getObject('b1', 'dir/ä.png'), o2);
      assert.equal(await s.putObject({ ...o2, acl: 'private' }), undefined, 'same blob: nothing to free');
      assert.equal(await s.deleteObject('b1', 'dir/ä.png'), 'blob2');
      assert.equal(await s.deleteObject('b1', 'dir/ä.png'), undefined);
      assert.equal(await s.getObject('b1', 'dir/ä.png'), undefined);
    }));

    it('putObjectIf: writes only when the current blob matches (absent = undefined)', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      const a = object('b1', 'k', 'blobA', { type: 'Appendable' });
      assert.equal(await s.putObjectIf(a, 'someone'), false, 'no row, but a blob was expected');
      assert.equal(await s.getObject('b1', 'k'), undefined);
      assert.equal(await s.putObjectIf(a, undefined), true);
      assert.equal(await s.putObjectIf({ ...a, blobId: 'blobX' }, undefined), false, 'a row exists now');
      const b = { ...a, blobId: 'blobB', size: 6 };
      assert.equal(await s.putObjectIf(b, 'blobZ'), false);
      assert.deepEqual(await s.getObject('b1', 'k'), a, 'a failed precondition changes nothing');
      assert.equal(await s.putObjectIf(b, 'blobA'), true);
      assert.deepEqual(await s.getObject('b1', 'k'), b);
    }));

    it('putObjectIf: of concurrent writers with the same expectation exactly one wins', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      await s.putObject(object('b1', 'k', 'blob0'));
      const results = await Promise.all([1, 2, 3, 4, 5].map((i) => s.putObjectIf(object('b1', 'k', `blob${i}`), 'blob0')));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true) + 1;
      assert.equal((await s.getObject('b1', 'k'))?.blobId, `blob${winner}`);
    }));

    it('setObjectAcl: changes only the ACL; false for a missing object', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      const o = object('b1', 'k', 'blob1');
      await s.putObject(o);
      assert.equal(await s.setObjectAcl('b1', 'k', 'public-read'), true);
      assert.deepEqual(await s.getObject('b1', 'k'), { ...o, acl: 'public-read' });
      assert.equal(await s.setObjectAcl('b1', 'missing', 'private'), false);
      assert.equal(await s.getObject('b1', 'missing'), undefined);
    }));

    it('listObjects: prefix, exclusive start, limit, UTF-8 byte order, per bucket', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      await s.createBucket(bucket('b2'));
      // UTF-8 byte order puts 'ｚ' (U+FF5A: EF BD 9A) before '😀' (F0 9F 98 80); UTF-16 code-unit order
      // (JavaScript's default sort) would put '😀' (D83D DE00) first.
      const keys = ['a/1', 'a/2', 'a/b/3', 'a%', 'a_', 'A', 'é', '中', 'ｚ', '😀', 'b'];
      for (const k of keys) await s.putObject(object('b1', k, `blob-${k}`));
      await s.putObject(object('b2', 'a/1', 'other'));
      const all = (await s.listObjects({ bucket: 'b1', prefix: '', after: '', limit: 100 })).map((o) => o.key);
      const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(all, byteOrder);
      assert.deepEqual(all.slice(-2), ['ｚ', '😀'], 'UTF-8 byte order, not UTF-16 code units');
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a/', after: '', limit: 100 })).map((o) => o.key), ['a/1', 'a/2', 'a/b/3']);
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a_', after: '', limit: 100 })).map((o) => o.key), ['a_'], 'prefix "_" is literal');
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a%', after: '', limit: 100 })).map((o) => o.key), ['a%'], 'prefix "%" is literal');
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a/', after: 'a/1', limit: 100 })).map((o) => o.key), ['a/2', 'a/b/3']);
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: '', after: 'a/2', limit: 2 })).map((o) => o.key), byteOrder.slice(byteOrder.indexOf('a/2') + 1, byteOrder.indexOf('a/2') + 3));
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a/', after: 'zzz', limit: 100 })), []);
      assert.deepEqual((await s.listObjects({ bucket: 'b1', prefix: 'a/', after: 'a', limit: 100 })).map((o) => o.key), ['a/1', 'a/2', 'a/b/3'], 'after below the prefix');
      assert.deepEqual((await s.listObjects({ bucket: 'b2', prefix: '', after: '', limit: 100 })).map((o) => o.blobId), ['other']);
      assert.deepEqual(await s.listObjects({ bucket: 'b3', prefix: '', after: '', limit: 100 }), []);
      const full = await s.listObjects({ bucket: 'b1', prefix: '中', after: '', limit: 1 });
      assert.deepEqual(full, [object('b1', '中', 'blob-中')], 'rows come back complete');
    }));

    it('styles: limit per bucket counts new names only; replace keeps createdAt', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      assert.equal(await s.putStyle(style('b1', 'small', 'image/resize,w_10', 10), 2), true);
      assert.equal(await s.putStyle(style('b1', 'big', 'image/resize,w_99', 11), 2), true);
      assert.equal(await s.putStyle(style('b1', 'third', 'image/resize,w_1', 12), 2), false, 'the bucket is full');
      assert.equal(await s.getStyle('b1', 'third'), undefined);
      assert.equal(await s.putStyle(style('b1', 'small', 'image/resize,w_20', 20), 2), true, 'replacing is allowed when full');
      assert.deepEqual(await s.getStyle('b1', 'small'), { bucket: 'b1', name: 'small', content: 'image/resize,w_20', createdAt: 10, modifiedAt: 20 });
      assert.equal(await s.putStyle(style('b2', 'small', 'image/rotate,90', 30), 2), true, 'the limit is per bucket');
      assert.deepEqual((await s.listStyles('b1')).map((x) => x.name), ['big', 'small']);
      assert.deepEqual(await s.listStyles('b3'), []);
      assert.equal(await s.deleteStyle('b1', 'big'), true);
      assert.equal(await s.deleteStyle('b1', 'big'), false);
      assert.equal(await s.getStyle('b1', 'big'), undefined);
      assert.equal((await s.getStyle('b2', 'small'))?.content, 'image/rotate,90');
    }));

    it('styles: concurrent puts of new names never exceed the limit', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.putStyle(style('b1', `s${i}`, 'image/resize,w_1', i), 3)));
      assert.equal(results.filter(Boolean).length, 3);
      assert.equal((await s.listStyles('b1')).length, 3);
    }));

    it('uploads and parts: create, get, list order, putPart replaces, parts ordered, delete frees blobs', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      const u1 = upload('u1', 'b1', 'k2', 5);
      await s.createUpload(u1);
      await s.createUpload(upload('u2', 'b1', 'k1', 9));
      await s.createUpload(upload('u3', 'b1', 'k2', 1));
      await s.createUpload(upload('u4', 'b2', 'k1', 1));
      await assert.rejects(s.createUpload(upload('u1', 'b1', 'other')), 'a duplicate upload id is an error');
      assert.deepEqual(await s.getUpload('u1'), u1);
      assert.equal(await s.getUpload('none'), undefined);
      assert.deepEqual((await s.listUploads('b1')).map((u) => u.id), ['u2', 'u3', 'u1'], 'by key, then initiation');
      assert.deepEqual(await s.listUploads('b3'), []);
      assert.deepEqual(await s.putPart(part('u1', 2, 'p2')), { ok: true, replaced: undefined });
      assert.deepEqual(await s.putPart(part('u1', 10, 'p10')), { ok: true, replaced: undefined });
      assert.deepEqual(await s.putPart(part('u1', 1, 'p1')), { ok: true, replaced: undefined });
      assert.deepEqual(await s.putPart(part('u1', 2, 'p2b')), { ok: true, replaced: 'p2' });
      assert.deepEqual(await s.putPart(part('u1', 2, 'p2b')), { ok: true, replaced: undefined }, 'same blob: nothing to free');
      assert.deepEqual(await s.listParts('u1'), [part('u1', 1, 'p1'), part('u1', 2, 'p2b'), part('u1', 10, 'p10')]);
      assert.deepEqual(await s.listParts('u2'), []);
      assert.deepEqual(await s.putPart(part('none', 1, 'px')), { ok: false }, 'no upload, no part');
      assert.deepEqual(await s.listParts('none'), []);
      assert.equal(await s.isBlobReferenced('px'), false);
      assert.deepEqual([...(await s.deleteUpload('u1'))].sort(), ['p1', 'p10', 'p2b']);
      assert.equal(await s.getUpload('u1'), undefined);
      assert.deepEqual(await s.listParts('u1'), []);
      assert.deepEqual(await s.deleteUpload('u1'), []);
      assert.deepEqual(await s.putPart(part('u1', 3, 'late')), { ok: false }, 'a part for an aborted upload is refused');
    }));

    it('completeUpload: one transaction; undefined when the upload is gone or a part changed', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      await s.putObject(object('b1', 'k', 'old'));
      await s.createUpload(upload('u1', 'b1', 'k'));
      await s.putPart(part('u1', 1, 'p1'));
      await s.putPart(part('u1', 2, 'p2'));
      await s.putPart(part('u1', 3, 'p3'));
      const o = object('b1', 'k', 'whole', { type: 'Multipart', size: 10 });
      assert.equal(await s.completeUpload('u1', o, new Map([[1, 'p1'], [2, 'other']])), undefined, 'part 2 has another blob');
      assert.equal(await s.completeUpload('u1', o, new Map([[1, 'p1'], [4, 'p4']])), undefined, 'part 4 is missing');
      assert.equal((await s.getObject('b1', 'k'))?.blobId, 'old', 'a refused completion changes nothing');
      assert.equal((await s.listParts('u1')).length, 3);
      const freed = await s.completeUpload('u1', o, new Map([[1, 'p1'], [2, 'p2']]));
      assert.deepEqual([...(freed ?? [])].sort(), ['old', 'p1', 'p2', 'p3'], 'unlisted parts are freed too');
      assert.deepEqual(await s.getObject('b1', 'k'), o);
      assert.equal(await s.getUpload('u1'), undefined);
      assert.deepEqual(await s.listParts('u1'), []);
      assert.equal(await s.completeUpload('u1', o), undefined, 'already completed');
      await s.createUpload(upload('u2', 'b1', 'fresh'));
      await s.putPart(part('u2', 1, 'q1'));
      assert.deepEqual(await s.completeUpload('u2', object('b1', 'fresh', 'w2')), ['q1'], 'no expectation, no old object');
    }));

    it('completeUpload: racing completion and abort — exactly one wins', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      await s.createUpload(upload('u1', 'b1', 'k'));
      await s.putPart(part('u1', 1, 'p1'));
      const [done, aborted] = await Promise.all([s.completeUpload('u1', object('b1', 'k', 'whole')), s.deleteUpload('u1')]);
      if (done !== undefined) {
        assert.deepEqual(aborted, []);
        assert.equal((await s.getObject('b1', 'k'))?.blobId, 'whole');
      } else {
        assert.deepEqual(aborted, ['p1']);
        assert.equal(await s.getObject('b1', 'k'), undefined);
      }
      assert.equal(await s.getUpload('u1'), undefined);
    }));

    it('access keys: put replaces the secret, get', () => withStore(async (s) => {
      assert.equal(await s.getAccessKey('ak'), undefined);
      await s.putAccessKey({ id: 'ak', secret: 's1' });
      await s.putAccessKey({ id: 'ak', secret: 's2' });
      assert.deepEqual(await s.getAccessKey('ak'), { id: 'ak', secret: 's2' });
    }));

    it('documents: versions start at 1; putDocumentIf is a compare-and-set', () => withStore(async (s) => {
      assert.equal(await s.getDocument('d'), undefined);
      assert.equal(await s.putDocumentIf('d', 'v1', 1), false, 'no such version yet');
      assert.equal(await s.putDocumentIf('d', 'v1', 0), true);
      assert.equal(await s.putDocumentIf('d', 'other', 0), false, 'already exists');
      assert.deepEqual(await s.getDocument('d'), { value: 'v1', version: 1 });
      assert.equal(await s.putDocumentIf('d', 'v2', 1), true);
      assert.equal(await s.putDocumentIf('d', 'lost', 1), false, 'stale version');
      assert.deepEqual(await s.getDocument('d'), { value: 'v2', version: 2 });
      assert.equal(await s.getDocument('e'), undefined, 'documents are independent');
    }));

    it('documents: concurrent read-modify-writes with retry lose nothing', () => withStore(async (s) => {
      const add = async (item: number) => {
        for (;;) {
          const cur = await s.getDocument('list');
          const items = cur === undefined ? [] : JSON.parse(cur.value) as number[];
          if (await s.putDocumentIf('list', JSON.stringify([...items, item]), cur?.version ?? 0)) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => add(i)));
      const doc = await s.getDocument('list');
      assert.deepEqual((JSON.parse(doc!.value) as number[]).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
      assert.equal(doc!.version, 20);
    }));

    it('isBlobReferenced: objects and parts, not after removal', () => withStore(async (s) => {
      await s.createBucket(bucket('b1'));
      await s.putObject(object('b1', 'k', 'ob'));
      await s.createUpload(upload('u1', 'b1', 'k'));
      await s.putPart(part('u1', 1, 'pb'));
      assert.equal(await s.isBlobReferenced('ob'), true);
      assert.equal(await s.isBlobReferenced('pb'), true);
      assert.equal(await s.isBlobReferenced('nothing'), false);
      await s.deleteObject('b1', 'k');
      await s.deleteUpload('u1');
      assert.equal(await s.isBlobReferenced('ob'), false);
      assert.equal(await s.isBlobReferenced('pb'), false);
    }));

    it('a second store on the same data sees every write (another node)', () => withStore(async (s, h) => {
      const other = await h.reopen();
      try {
        await s.createBucket(bucket('b1'));
        await s.putObject(object('b1', 'k', 'blob1'));
        await s.putStyle(style('b1', 'st', 'image/resize,w_1', 1), 50);
        await s.createUpload(upload('u1', 'b1', 'k'));
        await s.putAccessKey({ id: 'ak', secret: 'sk' });
        assert.deepEqual(await other.getBucket('b1'), bucket('b1'));
        assert.equal((await other.getObject('b1', 'k'))?.blobId, 'blob1');
        assert.equal((await other.getStyle('b1', 'st'))?.content, 'image/resize,w_1');
        assert.equal((await other.getUpload('u1'))?.key, 'k');
        assert.equal((await other.getAccessKey('ak'))?.secret, 'sk');
        assert.equal(await s.putDocumentIf('doc', 'mine', 0), true);
        assert.equal(await other.putDocumentIf('doc', 'theirs', 0), false, 'one node creates the document');
        assert.equal(await other.putDocumentIf('doc', 'theirs', 1), true);
        assert.deepEqual(await s.getDocument('doc'), { value: 'theirs', version: 2 });
        assert.equal(await other.putObjectIf(object('b1', 'k', 'blob2'), 'blob1'), true);
        assert.equal(await s.putObjectIf(object('b1', 'k', 'blob3'), 'blob1'), false, 'the other node won');
        assert.equal((await s.getObject('b1', 'k'))?.blobId, 'blob2');
      } finally {
        await other.close();
      }
    }));
  });
}
