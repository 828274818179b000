/**
 * Route-level tests with inject(): real fs BlobStore + SQLite in a temp dir, and a recording
 * transform stand-in so the routing (styles, delimiters, saveas, protection, ACLs) is tested
 * independently of the image engine (which has its own suites).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createFsBlobStore } from '../adapters/storage/fs.js';
import { createSqliteMetaStore } from '../adapters/meta/sqlite.js';
import { createObjectService } from '../app/oss-objects.js';
import { AppError } from '../core/errors.js';
import { readEncoded } from '../core/codecs/source.js';
import type { MetaStore } from '../ports/meta-store.js';
import { buildServer } from './server.js';

let dir: string;
let app: FastifyInstance;
let meta: MetaStore;
const calls: string[] = [];

/** V1-signs a request the way ali-oss does (x-oss-date, Content-Type, sub-resources). */
function signed(method: string, resource: string, headers: Record<string, string> = {}): Record<string, string> {
  const date = new Date().toUTCString();
  const h: Record<string, string> = { 'x-oss-date': date, ...headers };
  const oss = Object.keys(h).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${h[k]}\n`).join('');
  const sts = `${method}\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${date}\n${oss}${resource}`;
  return { ...h, authorization: `OSS ak:${createHmac('sha1', 'sk').update(sts).digest('base64')}` };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halftone-inject-'));
  const blobs = await createFsBlobStore({ dir });
  meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  await meta.putAccessKey({ id: 'ak', secret: 'sk' });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  app = buildServer({
    oss: {
      objects,
      transform: async (source, process) => {
        calls.push(process);
        if (!(await readEncoded(source)).toString().startsWith('IMG')) throw new AppError('UNSUPPORTED_FORMAT', 'The source is not an image.');
        return { kind: 'image', data: Buffer.from(`out:${process}`), contentType: 'image/png', format: 'png', width: 1, height: 1 };
      },
      address: { serviceDomains: ['localhost'], cname: { 'img.test': 'pics' }, defaultBucket: '' },
      lookupSecret: async (id) => (await meta.getAccessKey(id))?.secret,
      styleDelimiters: '!',
      protectedSources: ['.png'],
    },
  });
  await app.inject({ method: 'PUT', url: '/pics', headers: signed('PUT', '/pics/', { 'x-oss-acl': 'public-read' }) });
  for (const key of ['a.jpg', 'b.png', 'text.txt']) {
    const body = key === 'text.txt' ? 'plain' : 'IMG-bytes';
    const r = await app.inject({ method: 'PUT', url: `/pics/${key}`, payload: body, headers: signed('PUT', `/pics/${key}`) });
    assert.equal(r.statusCode, 200);
  }
  const style = '<Style><Content>image/resize,w_10</Content></Style>';
  const r = await app.inject({ method: 'PUT', url: '/pics?style&styleName=small', payload: style, headers: signed('PUT', '/pics/?style&styleName=small', { 'content-type': 'application/xml' }) });
  assert.equal(r.statusCode, 200, r.body);
});

after(async () => {
  await app.close();
  await meta.close();
  rmSync(dir, { recursive: true, force: true });
});

test('healthz', async () => {
  const r = await app.inject({ url: '/healthz' });
  assert.equal(r.statusCode, 200);
});

test('anonymous GET on a public-read bucket, via cname and virtual host', async () => {
  assert.equal((await app.inject({ url: '/a.jpg', headers: { host: 'img.test' } })).body, 'IMG-bytes');
  assert.equal((await app.inject({ url: '/a.jpg', headers: { host: 'pics.localhost:9000' } })).body, 'IMG-bytes');
});

test('process, style/<name> and the ! delimiter reach the engine as image/... chains', async () => {
  calls.length = 0;
  const a = await app.inject({ url: '/pics/a.jpg?x-oss-process=image%2Fresize%2Cw_5' });
  assert.equal(a.headers['content-type'], 'image/png');
  assert.equal(a.headers['etag'], `"${createHash('md5').update('out:image/resize,w_5').digest('hex').toUpperCase()}"`);
  await app.inject({ url: '/pics/a.jpg?x-oss-process=style/small' });
  const d = await app.inject({ url: '/pics/a.jpg!small' });
  assert.equal(d.statusCode, 200);
  assert.deepEqual(calls, ['image/resize,w_5', 'image/resize,w_10', 'image/resize,w_10']);
  const missing = await app.inject({ url: '/pics/a.jpg?x-oss-process=style/nope' });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.body, /<Code>NoSuchStyle<\/Code>/);
});

test('engine errors are OSS XML with the catalogue status', async () => {
  const r = await app.inject({ url: '/pics/text.txt?x-oss-process=image/resize,w_5' });
  assert.equal(r.statusCode, 400);
  assert.match(r.body, /<Code>BadRequest<\/Code>/);
});

test('source protection: anonymous image/... and plain GET refused, styles allowed, signed allowed', async () => {
  const p = await app.inject({ url: '/pics/b.png?x-oss-process=image/resize,w_5' });
  assert.equal(p.statusCode, 403);
  assert.match(p.body, /<EC>0040-00000031<\/EC>/);
  assert.equal((await app.inject({ url: '/pics/b.png' })).statusCode, 403);
  assert.equal((await app.inject({ url: '/pics/b.png?x-oss-process=style/small' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/pics/b.png', headers: signed('GET', '/pics/b.png') })).statusCode, 200);
});

test('POST sys/saveas writes the processed object and answers JSON', async () => {
  const body = 'x-oss-process=' + encodeURIComponent('style/small|sys/saveas,o_' + Buffer.from('out/s.png').toString('base64url'));
  const r = await app.inject({ method: 'POST', url: '/pics/a.jpg?x-oss-process=', payload: body, headers: signed('POST', '/pics/a.jpg?x-oss-process', { 'content-type': 'image/jpeg' }) });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { bucket: '', fileSize: 'out:image/resize,w_10'.length, object: 'out/s.png', status: 'OK' });
  const saved = await app.inject({ url: '/pics/out/s.png', headers: signed('GET', '/pics/out/s.png') });
  assert.equal(saved.body, 'out:image/resize,w_10');
  assert.equal(saved.headers['content-type'], 'image/png');
  const anon = await app.inject({ method: 'POST', url: '/pics/a.jpg?x-oss-process', payload: body });
  assert.equal(anon.statusCode, 403);
  const get = await app.inject({ url: '/pics/a.jpg?x-oss-process=' + encodeURIComponent('image/resize,w_1|sys/saveas,o_eA') });
  assert.equal(get.statusCode, 400);
});

test('HEAD errors carry x-oss-err and no body', async () => {
  const r = await app.inject({ method: 'HEAD', url: '/pics/none.jpg' });
  assert.equal(r.statusCode, 404);
  assert.equal(r.body, '');
  assert.match(Buffer.from(String(r.headers['x-oss-err']), 'base64').toString(), /<Code>NoSuchKey<\/Code>/);
});
