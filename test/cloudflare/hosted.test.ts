/**
 * Hosted images over real sockets (issue 5 acceptance): upload → variant → signed URL round trip,
 * wrong or expired signatures refused, deleting an image makes its URLs 404; the REST API subset
 * (auth, envelope, list, patch, blob, variants, config, keys, stats) and flexible variants.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createObjectService } from '../../src/app/oss-objects.js';
import { DEFAULT_CF_CONFIG, transformCloudflare } from '../../src/app/cloudflare-transform.js';
import { createHostedImages, signDeliveryPath } from '../../src/app/hosted-images.js';
import { buildServer } from '../../src/http/server.js';
import { ossRoutesForTests } from './harness.js';
import type { MetaStore } from '../../src/ports/meta-store.js';

const TOKEN = 'Sekret-Token-1';
const HASH = 'AbC123hash';
let dir: string;
let meta: MetaStore;
let app: FastifyInstance;
let base: string;
let photo: Buffer;

const api = (path: string) => `${base}/client/v4/accounts/acc1/images${path}`;
const auth = { authorization: `Bearer ${TOKEN}` };

async function upload(fields: Record<string, string>, file?: Buffer): Promise<{ status: number; body: { success: boolean; result: Record<string, unknown>; errors: Array<{ code: number }> } }> {
  const form = new FormData();
  if (file !== undefined) form.append('file', new Blob([file]), 'photo.jpg');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const res = await fetch(api('/v1'), { method: 'POST', headers: auth, body: form });
  return { status: res.status, body: (await res.json()) as never };
}

async function json(method: string, path: string, body?: unknown) {
  const res = await fetch(api(path), { method, headers: { ...auth, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as { success: boolean; result: Record<string, unknown>; errors: Array<{ code: number }> } };
}

async function deliver(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/cdn-cgi/imagedelivery/${path}`, { headers });
  const data = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, data, text: data.toString('utf8') };
}

before(async () => {
  photo = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 20, b: 60 } } }).jpeg().toBuffer();
  dir = mkdtempSync(join(tmpdir(), 'halftone-hosted-'));
  const blobs = await createFsBlobStore({ dir });
  meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: 64 << 20, maxProcessBytes: 64 << 20 });
  const images = createHostedImages({ objects, documents: meta, accountHash: HASH });
  const cf = { objects, config: DEFAULT_CF_CONFIG };
  app = buildServer({
    oss: ossRoutesForTests(objects),
    images: { images, transform: (req) => transformCloudflare(req, cf), accountHash: HASH, accountId: 'acc1', apiKeys: [TOKEN] },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(async () => {
  await app.close();
  await meta.close();
  rmSync(dir, { recursive: true, force: true });
});

test('API auth: missing/wrong token 401, wrong account 403, envelope shape', async () => {
  const none = await fetch(api('/v1/stats'));
  assert.equal(none.status, 401);
  assert.deepEqual(await none.json(), { result: null, success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [] });
  assert.equal((await fetch(api('/v1/stats'), { headers: { authorization: 'Bearer sekret-token-1' } })).status, 401);
  assert.equal((await fetch(`${base}/client/v4/accounts/other/images/v1/stats`, { headers: auth })).status, 403);
});

test('upload → public variant (format auto) → named variant → flexible variants → delete', async () => {
  const up = await upload({ metadata: '{"owner":"me"}' }, photo);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  const img = up.body.result;
  const id = img['id'] as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(img['filename'], 'photo.jpg');
  assert.deepEqual(img['meta'], { owner: 'me' });
  assert.deepEqual(img['metadata'], { owner: 'me' });
  assert.equal(img['requireSignedURLs'], false);
  assert.deepEqual(img['variants'], [`${base}/cdn-cgi/imagedelivery/${HASH}/${id}/public`]);

  const pub = await deliver(`${HASH}/${id}/public`, { accept: 'image/webp,*/*' });
  assert.equal(pub.status, 200, pub.text);
  assert.equal(pub.headers.get('content-type'), 'image/webp');
  assert.match(String(pub.headers.get('vary')), /Accept/);
  assert.equal(pub.headers.get('cache-control'), 'public, max-age=172800, stale-while-revalidate=7200');
  assert.deepEqual([(await sharp(pub.data).metadata()).width, (await sharp(pub.data).metadata()).height], [400, 300]);

  const created = await json('POST', '/v1/variants', { id: 'thumb', options: { fit: 'cover', width: 100, height: 80, metadata: 'none' }, neverRequireSignedURLs: false });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const thumb = await deliver(`${HASH}/${id}/thumb`);
  assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
  const tm = await sharp(thumb.data).metadata();
  assert.deepEqual([tm.width, tm.height], [100, 80]);
  const listed = await json('GET', '/v1/variants');
  assert.deepEqual(Object.keys(listed.body.result['variants'] as object).sort(), ['public', 'thumb']);
  assert.equal((await json('DELETE', '/v1/variants/public')).status, 400, 'public always exists');

  const flexOff = await deliver(`${HASH}/${id}/w=50,sharpen=1`);
  assert.equal(flexOff.status, 403);
  assert.equal(flexOff.text, 'ERROR 9429: Flexible variants are not enabled for this account');
  assert.equal((await json('PATCH', '/v1/config', { flexible_variants: true })).status, 200);
  const flex = await deliver(`${HASH}/${id}/w=50,sharpen=1`);
  assert.equal(flex.status, 200, flex.text);
  assert.equal((await sharp(flex.data).metadata()).width, 50);

  assert.equal((await deliver(`wrong/${id}/public`)).headers.get('cf-resized'), 'err=9427');
  assert.equal((await deliver(`${HASH}/${id}/nosuchvariant`)).status, 403);

  assert.equal((await json('DELETE', `/v1/${id}`)).status, 200);
  const gone = await deliver(`${HASH}/${id}/public`);
  assert.equal(gone.status, 404);
  assert.equal(gone.text, 'ERROR 9431: Image not found');
  const details = await json('GET', `/v1/${id}`);
  assert.equal(details.status, 404);
  assert.equal(details.body.errors[0]?.code, 5404);
});

test('signed URLs (spec §16.3): valid signature with exp passes; wrong, expired or missing is 403 / 9425', async () => {
  const up = await upload({ requireSignedURLs: 'true' }, photo);
  const id = up.body.result['id'] as string;
  assert.equal(up.body.result['requireSignedURLs'], true);
  const keys = (await json('GET', '/v1/keys')).body.result['keys'] as Array<{ name: string; value: string }>;
  const key = keys[0]!.value;
  const path = `/cdn-cgi/imagedelivery/${HASH}/${id}/public`;
  const sign = (exp: number) => {
    const q = `exp=${exp}`;
    return `${q}&sig=${signDeliveryPath(`${path}?${q}`, key)}`;
  };
  const future = Math.floor(Date.now() / 1000) + 3600;
  const okRes = await fetch(`${base}${path}?${sign(future)}`);
  assert.equal(okRes.status, 200);
  assert.equal(okRes.headers.get('cache-control'), 'private, max-age=3600');
  const cases = [
    '',
    `?exp=${future}`,
    `?exp=${future}&sig=${'0'.repeat(64)}`,
    `?${sign(Math.floor(Date.now() / 1000) - 10)}`,
    `?${sign(future).replace(/exp=\d+/, `exp=${future + 1}`)}`,
  ];
  for (const q of cases) {
    const res = await fetch(`${base}${path}${q}`);
    assert.equal(res.status, 403, q);
    assert.equal(await res.text(), 'ERROR 9425: Image access denied', q);
  }
  // A key created later signs too; a deleted key no longer does.
  const rotated = (await fetch(api('/v1/keys/second'), { method: 'PUT', headers: auth }).then((r) => r.json())) as { result: { keys: Array<{ name: string; value: string }> } };
  const second = rotated.result.keys.find((k) => k.name === 'second')!.value;
  const q2 = `exp=${future}`;
  const url2 = `${base}${path}?${q2}&sig=${signDeliveryPath(`${path}?${q2}`, second)}`;
  assert.equal((await fetch(url2)).status, 200);
  await fetch(api('/v1/keys/second'), { method: 'DELETE', headers: auth });
  assert.equal((await fetch(url2)).status, 403);
  // Flexible variants never work on private images; neverRequireSignedURLs variants always do.
  await json('PATCH', '/v1/config', { flexible_variants: true });
  assert.equal((await deliver(`${HASH}/${id}/w=10`)).status, 403);
  await json('POST', '/v1/variants', { id: 'open', options: { fit: 'scale-down', width: 64 }, neverRequireSignedURLs: true });
  assert.equal((await deliver(`${HASH}/${id}/open`)).status, 200);
  // Making the image public through PATCH lifts the requirement.
  const patched = await json('PATCH', `/v1/${id}`, { requireSignedURLs: false, metadata: { a: 1 } });
  assert.equal(patched.body.result['requireSignedURLs'], false);
  assert.deepEqual(patched.body.result['meta'], { a: 1 });
  assert.equal((await deliver(`${HASH}/${id}/public`)).status, 200);
});

test('custom IDs with slashes, list v2 with cursor, stats, blob, validation errors', async () => {
  const up = await upload({ id: 'folder/cat' }, photo);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal((await deliver(`${HASH}/folder/cat/public`)).status, 200);
  const blob = await fetch(api('/v1/folder/cat/blob'), { headers: auth });
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), photo);
  assert.equal(blob.headers.get('content-type'), 'image/jpeg');
  assert.equal((await upload({ id: 'folder/cat' }, photo)).status, 409);
  assert.equal((await upload({ id: 'x', requireSignedURLs: 'true' }, photo)).status, 400);
  for (let i = 0; i < 12; i++) await upload({ id: `many-${String(i).padStart(2, '0')}` }, photo);
  const first = await json('GET', '/v2?per_page=10');
  const imgs = first.body.result['images'] as Array<{ id: string }>;
  assert.equal(imgs.length, 10);
  const token = first.body.result['continuation_token'] as string;
  assert.equal(typeof token, 'string');
  const second = await json('GET', `/v2?per_page=10&continuation_token=${encodeURIComponent(token)}`);
  const ids = [...imgs, ...(second.body.result['images'] as Array<{ id: string }>)].map((i) => i.id);
  assert.equal(new Set(ids).size, ids.length);
  const stats = await json('GET', '/v1/stats');
  assert.deepEqual(stats.body.result, { count: { allowed: 100000, current: ids.length } });
  const notImage = await upload({}, Buffer.from('not an image'));
  assert.equal(notImage.status, 415);
  assert.equal(notImage.body.errors[0]?.code, 5455);
  const raw = await fetch(api('/v1'), { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: photo });
  assert.equal(raw.status, 415);
  assert.equal((await upload({ url: 'http://example.invalid/a.jpg' }, photo)).status, 400, 'file and url are exclusive');
  assert.equal((await json('POST', '/v1/variants', { id: 'bad', options: { fit: 'squeeze' } })).status, 400);
  assert.equal((await json('PATCH', '/v1/config', { browser_ttl: 10 })).status, 400);
});

test('direct creator upload: one-time URL without credentials, used once', async () => {
  const form = new FormData();
  form.append('metadata', '{"from":"browser"}');
  // A file sent to direct_upload is not an upload: skipped unread, the fields still count.
  form.append('file', new Blob([photo]), 'stray.jpg');
  const created = (await (await fetch(api('/v2/direct_upload'), { method: 'POST', headers: auth, body: form })).json()) as { success: boolean; result: { id: string; uploadURL: string } };
  assert.equal(created.success, true);
  const { id, uploadURL } = created.result;
  assert.equal(uploadURL, `${base}/cdn-cgi/imageupload/${HASH}/${id}`);
  assert.equal((await json('GET', `/v1/${id}`)).status, 404, 'a draft is not listed until uploaded');
  const send = async () => {
    const f = new FormData();
    f.append('file', new Blob([photo]), 'mine.jpg');
    return fetch(uploadURL, { method: 'POST', body: f });
  };
  const first = await send();
  assert.equal(first.status, 200);
  const img = ((await first.json()) as { result: { id: string; meta: unknown; filename: string } }).result;
  assert.equal(img.id, id);
  assert.deepEqual(img.meta, { from: 'browser' });
  assert.equal(img.filename, 'mine.jpg');
  assert.equal((await send()).status, 403, 'the URL works once');
  assert.equal((await deliver(`${HASH}/${id}/public`)).status, 200);
  const late = new FormData();
  late.append('expiry', new Date(Date.now() + 60_000).toISOString());
  assert.equal((await fetch(api('/v2/direct_upload'), { method: 'POST', headers: auth, body: late })).status, 400, 'expiry under 2 minutes');
});
