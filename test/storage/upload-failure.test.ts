/**
 * Uploads that fail midway, through a listening server over real sockets (undici, one connection):
 * the client gets the error in OSS's shape, and the connection then serves the next request. Before
 * src/http/unread-body.ts a body read partly and then left alone stalled the keep-alive connection:
 * the next request on it never got an answer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'undici';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createObjectService } from '../../src/app/oss-objects.js';
import { storageFullError } from '../../src/core/errors.js';
import type { BlobStore } from '../../src/ports/blob-store.js';
import { buildServer } from '../../src/http/server.js';
import { TEST_AK, TEST_SK, v1Authorization } from '../security/harness.js';

const MAX_OBJECT = 256 * 1024;
let dir: string;
let app: FastifyInstance;
let base: string;
let connections = 0;
/**
 * How the next stream write fails: 'none' (the real file store), 'enospc' (after reading a chunk,
 * leaving the body alive), 'destroy' (after reading a chunk with `for await` over the body itself,
 * which destroys it as stream.pipeline does).
 */
let failure: 'none' | 'enospc' | 'destroy' = 'none';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halftone-upload-fail-'));
  const fs = await createFsBlobStore({ dir });
  const blobs: BlobStore = {
    ...fs,
    async write(source, options) {
      if (failure === 'none' || Buffer.isBuffer(source) || !('pipe' in source)) return fs.write(source, options);
      const body = source as Readable;
      if (failure === 'destroy') {
        for await (const _chunk of body) break;
        assert.equal(body.destroyed, true);
        throw new Error('the upload pipeline failed');
      }
      for await (const _chunk of body.iterator({ destroyOnReturn: false })) break;
      throw enospc();
    },
  };
  const meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: MAX_OBJECT, maxProcessBytes: MAX_OBJECT });
  await objects.createBucket('uploads', 'public-read-write');
  app = buildServer({
    oss: {
      objects,
      transform: async () => {
        throw new Error('not used');
      },
      address: { serviceDomains: ['localhost'], cname: {}, defaultBucket: '' },
      lookupSecret: async (id) => (id === TEST_AK ? TEST_SK : undefined),
      styleDelimiters: '',
      protectedSources: [],
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  app.server.on('connection', () => connections++);
  const addr = app.server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  base = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A chunked body of `total` bytes (no Content-Length, so the size is only found while reading). */
async function* chunked(total: number): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += 64 * 1024) yield Buffer.alloc(Math.min(64 * 1024, total - sent), 7);
}

/**
 * Sends `body` (a PUT of `key`, or a signed POST `?delete`), then GETs a stored object on the same
 * single-connection pool; `connections`: how many the server accepted for the two.
 */
async function putThenGet(key: string | { deleteMultiple: true }, body: Readable | Buffer) {
  const pool = new Pool(base, { connections: 1, headersTimeout: 5000, bodyTimeout: 5000 });
  const before = connections;
  try {
    const put = typeof key === 'string'
      ? await pool.request({ method: 'PUT', path: `/uploads/${key}`, body })
      : await pool.request({ method: 'POST', path: '/uploads/?delete', body, headers: signedDelete() });
    const putText = await put.body.text();
    const get = await pool.request({ method: 'GET', path: '/uploads/kept.txt' });
    const getText = await get.body.text();
    return { put: { status: put.statusCode, headers: put.headers, text: putText }, get: { status: get.statusCode, text: getText }, connections: connections - before };
  } finally {
    await pool.close();
  }
}

test('a stored object to read afterwards', async () => {
  failure = 'none';
  const pool = new Pool(base, { connections: 1 });
  const res = await pool.request({ method: 'PUT', path: '/uploads/kept.txt', body: 'kept' });
  await res.body.dump();
  await pool.close();
  assert.equal(res.statusCode, 200);
});

test('a chunked upload over the size cap: 400 EntityTooLarge, and the connection serves the next request', async () => {
  failure = 'none';
  const r = await putThenGet('big.bin', Readable.from(chunked(4 * MAX_OBJECT)));
  assert.equal(r.put.status, 400);
  assert.match(r.put.text, /<Code>EntityTooLarge<\/Code>/);
  assert.equal(r.get.status, 200);
  assert.equal(r.get.text, 'kept');
  assert.equal(r.connections, 1, 'both requests on one connection');
  // Nothing of the refused upload is left behind (tmp/ holds only unfinished writes).
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
});

/** Headers of a V1-signed DeleteMultipleObjects request. */
function signedDelete(): Record<string, string> {
  const headers = { 'content-type': 'application/xml', 'x-oss-date': new Date().toUTCString() };
  return { ...headers, authorization: v1Authorization({ method: 'POST', bucket: 'uploads', query: [['delete', undefined]] }, headers) };
}

test('an XML body over its limit (DeleteMultipleObjects, chunked): 400 EntityTooLarge, and the connection serves the next request', async () => {
  failure = 'none';
  const r = await putThenGet({ deleteMultiple: true }, Readable.from(chunked(3 * 1024 * 1024)));
  assert.equal(r.put.status, 400, r.put.text);
  assert.match(r.put.text, /<Code>EntityTooLarge<\/Code>/);
  assert.equal(r.get.status, 200);
  assert.equal(r.connections, 1, 'both requests on one connection');
});

test('the disk full midway: 507 InsufficientStorage, and the connection serves the next request', async () => {
  failure = 'enospc';
  const r = await putThenGet('full.bin', Buffer.alloc(200 * 1024, 1));
  assert.equal(r.put.status, 507);
  assert.match(r.put.text, /<Code>InsufficientStorage<\/Code>/);
  assert.equal(r.get.status, 200);
  assert.equal(r.connections, 1, 'both requests on one connection');
});

test('a body destroyed by a failed write: the answer closes the connection, and the next request gets a new one', async () => {
  failure = 'destroy';
  const r = await putThenGet('gone.bin', Buffer.alloc(200 * 1024, 2));
  assert.equal(r.put.status, 500);
  assert.match(r.put.text, /<Code>InternalError<\/Code>/);
  assert.equal(r.put.headers['connection'], 'close');
  assert.equal(r.get.status, 200);
  assert.equal(r.get.text, 'kept');
  assert.equal(r.connections, 2);
});

test('storage exhaustion errors map to INSUFFICIENT_STORAGE, others do not', () => {
  assert.equal(storageFullError(enospc())?.code, 'INSUFFICIENT_STORAGE');
  assert.equal(storageFullError(Object.assign(new Error('quota'), { code: 'EDQUOT' }))?.status, 507);
  assert.equal(storageFullError(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))?.code, 'INSUFFICIENT_STORAGE');
  assert.equal(storageFullError(Object.assign(new Error('denied'), { code: 'EACCES' })), undefined);
  assert.equal(storageFullError('ENOSPC'), undefined);
});
