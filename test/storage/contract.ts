/**
 * The BlobStore contract: every adapter (fs, S3) runs `blobStoreContract(name, makeStore)` from its
 * own test file. It checks the port's promises: ids chosen by the store, exact bytes and MD5,
 * size limits that abort without leaving a blob, atomic visibility, concat, range reads, remove
 * and list.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { isAppError } from '../../src/core/errors.js';
import type { BlobStore } from '../../src/ports/blob-store.js';

export interface StoreHarness {
  readonly store: BlobStore;
  /** Frees whatever the harness created (directories, clients). */
  dispose?(): Promise<void>;
}

export type MakeStore = () => Promise<StoreHarness>;

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

async function listAll(store: BlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of store.list()) ids.push(id);
  return ids.sort();
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `total` random bytes in `chunk`-sized pieces, and the bytes it yields. */
function randomStream(total: number, chunk = 64 * 1024): { stream: Readable; bytes: Buffer } {
  const bytes = randomBytes(total);
  const pieces: Buffer[] = [];
  for (let off = 0; off < total; off += chunk) pieces.push(bytes.subarray(off, off + chunk));
  return { stream: Readable.from(pieces), bytes };
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAppError(err), `expected AppError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

export function blobStoreContract(name: string, makeStore: MakeStore): void {
  describe(`BlobStore contract: ${name}`, () => {
    async function withStore(fn: (store: BlobStore) => Promise<void>): Promise<void> {
      const harness = await makeStore();
      try {
        await fn(harness.store);
      } finally {
        await harness.dispose?.();
      }
    }

    it('writes a buffer and reads back the same bytes, size and MD5 under a fresh opaque id', async () => {
      await withStore(async (store) => {
        const data = Buffer.from('hello, halftone');
        const a = await store.write(data);
        const b = await store.write(data);
        assert.match(a.id, /^[0-9a-f]{32}$/);
        assert.notEqual(a.id, b.id, 'every write gets its own id');
        assert.equal(a.size, data.length);
        assert.deepEqual(a.md5, md5(data));
        assert.deepEqual(await store.readAll(a.id), data);
        assert.deepEqual(await drain(store.read(a.id)), data);
        assert.deepEqual(await listAll(store), [a.id, b.id].sort());
      });
    });

    it('entries: every blob with the time it was written', async () => {
      await withStore(async (store) => {
        // S3 LastModified has second precision.
        const before = Math.floor(Date.now() / 1000) * 1000 - 1000;
        const a = await store.write(Buffer.from('one'));
        const b = await store.write(Buffer.from('two'));
        const after = Date.now() + 1000;
        const seen: { id: string; lastModified: number }[] = [];
        for await (const e of store.entries()) seen.push(e);
        assert.deepEqual(seen.map((e) => e.id).sort(), [a.id, b.id].sort());
        for (const e of seen) assert.ok(e.lastModified >= before && e.lastModified <= after, `${e.lastModified} not in [${before}, ${after}]`);
      });
    });

    it('writes an empty blob', async () => {
      await withStore(async (store) => {
        const r = await store.write(Buffer.alloc(0), { expectedBytes: 0 });
        assert.equal(r.size, 0);
        assert.deepEqual(r.md5, md5(Buffer.alloc(0)));
        assert.equal((await store.readAll(r.id)).length, 0);
      });
    });

    it('streams a large body (12 MiB, several multipart parts where the store has them)', async () => {
      await withStore(async (store) => {
        const { stream, bytes } = randomStream(12 * 1024 * 1024 + 123);
        const r = await store.write(stream, { maxBytes: bytes.length, expectedBytes: bytes.length });
        assert.equal(r.size, bytes.length);
        assert.deepEqual(r.md5, md5(bytes));
        assert.ok((await store.readAll(r.id)).equals(bytes));
      });
    });

    it('aborts a body over maxBytes with ENTITY_TOO_LARGE and leaves no blob', async () => {
      await withStore(async (store) => {
        await rejectsWithCode(store.write(Buffer.alloc(11), { maxBytes: 10 }), 'ENTITY_TOO_LARGE');
        await rejectsWithCode(store.write(randomStream(6 * 1024 * 1024).stream, { maxBytes: 6 * 1024 * 1024 - 1 }), 'ENTITY_TOO_LARGE');
        const ok = await store.write(Buffer.alloc(10), { maxBytes: 10 });
        assert.deepEqual(await listAll(store), [ok.id]);
      });
    });

    it('aborts a body of the wrong length with INCOMPLETE_BODY and leaves no blob', async () => {
      await withStore(async (store) => {
        await rejectsWithCode(store.write(Buffer.alloc(9), { expectedBytes: 10 }), 'INCOMPLETE_BODY');
        await rejectsWithCode(store.write(randomStream(6 * 1024 * 1024).stream, { expectedBytes: 6 * 1024 * 1024 + 1 }), 'INCOMPLETE_BODY');
        await rejectsWithCode(store.write(Readable.from([Buffer.alloc(8), Buffer.alloc(8)]), { expectedBytes: 10 }), 'INCOMPLETE_BODY');
        assert.deepEqual(await listAll(store), []);
      });
    });

    it('a source stream that fails mid-way fails the write and leaves no blob', async () => {
      await withStore(async (store) => {
        const src = new PassThrough();
        const writing = store.write(src);
        src.write(randomBytes(6 * 1024 * 1024));
        setTimeout(() => src.destroy(new Error('client went away')), 20);
        await assert.rejects(writing, /client went away/);
        assert.deepEqual(await listAll(store), []);
      });
    });

    it('a blob is invisible while it is being written and visible once complete', async () => {
      await withStore(async (store) => {
        const src = new PassThrough();
        const writing = store.write(src);
        src.write(randomBytes(1024));
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await listAll(store), [], 'nothing listed mid-write');
        src.end(randomBytes(1024));
        const r = await writing;
        assert.deepEqual(await listAll(store), [r.id]);
        assert.equal(r.size, 2048);
      });
    });

    it('concatenates existing blobs into a new one; the sources stay', async () => {
      await withStore(async (store) => {
        const parts = [randomBytes(6 * 1024 * 1024), Buffer.from('tiny'), randomBytes(100_000)];
        const ids = [];
        for (const p of parts) ids.push((await store.write(p)).id);
        const all = Buffer.concat(parts);
        const whole = await store.write({ concat: ids });
        assert.equal(whole.size, all.length);
        assert.deepEqual(whole.md5, md5(all));
        assert.ok((await store.readAll(whole.id)).equals(all));
        const copy = await store.write({ concat: [ids[1]!] });
        assert.notEqual(copy.id, ids[1]);
        assert.deepEqual(await store.readAll(copy.id), parts[1]);
        assert.deepEqual(await listAll(store), [...ids, whole.id, copy.id].sort());
        await rejectsWithCode(store.write({ concat: ids }, { maxBytes: all.length - 1 }), 'ENTITY_TOO_LARGE');
        assert.equal((await listAll(store)).length, 5);
      });
    });

    it('concat of a missing blob fails and leaves no blob', async () => {
      await withStore(async (store) => {
        const a = await store.write(Buffer.from('a'));
        await assert.rejects(store.write({ concat: [a.id, 'f'.repeat(32)] }));
        assert.deepEqual(await listAll(store), [a.id]);
      });
    });

    it('reads inclusive byte ranges', async () => {
      await withStore(async (store) => {
        const data = randomBytes(1000);
        const { id } = await store.write(data);
        assert.deepEqual(await drain(store.read(id, { start: 0, end: 0 })), data.subarray(0, 1));
        assert.deepEqual(await drain(store.read(id, { start: 10, end: 19 })), data.subarray(10, 20));
        assert.deepEqual(await drain(store.read(id, { start: 990, end: 999 })), data.subarray(990));
      });
    });

    it('removes blobs (missing ones silently); reading a removed blob fails', async () => {
      await withStore(async (store) => {
        const a = await store.write(Buffer.from('a'));
        const b = await store.write(Buffer.from('b'));
        await store.remove(a.id);
        await store.remove(a.id);
        await store.remove('0'.repeat(32));
        assert.deepEqual(await listAll(store), [b.id]);
        await assert.rejects(store.readAll(a.id));
        await assert.rejects(drain(store.read(a.id)));
      });
    });

    it('refuses ids it could not have made (no key or path is built from them)', async () => {
      await withStore(async (store) => {
        await assert.rejects(store.readAll('../../etc/passwd'));
        await assert.rejects(async () => store.remove('a/b'));
      });
    });

    it('lists many blobs', async () => {
      await withStore(async (store) => {
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) ids.push((await store.write(Buffer.from(String(i)))).id);
        assert.deepEqual(await listAll(store), ids.sort());
      });
    });
  });
}
