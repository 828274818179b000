/**
 * Hot response cache (src/http/hot-cache.ts) over real sockets: the composed server listens on
 * loopback; setup writes go through `inject` (signed), reads through HTTP so that hits are answered
 * before routing. Every change to what the normal path answers must show on the next request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { request } from 'undici';
import { imagesApi, photo, startPerfHarness, type PerfHarness } from './harness.js';
import { signDeliveryPath } from '../../src/app/hosted-images.js';

const OSS_URL = '/pics/a.jpg?x-oss-process=image/resize,w_120';
const CF_URL = '/cdn-cgi/image/width=120,format=webp/pics/a.jpg';
const CF_AUTO_URL = '/cdn-cgi/image/width=120,format=auto/pics/a.jpg';
const QUIET = { HALFTONE_LOG_LEVEL: 'warn' };

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

async function served(h: PerfHarness): Promise<{ base: string; get: (url: string, headers?: Record<string, string>, method?: 'GET' | 'HEAD') => Promise<Res> }> {
  const address = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    base: address,
    async get(url, headers = {}, method = 'GET') {
      const res = await request(address + url, { method, headers });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    },
  };
}

async function metric(get: (url: string) => Promise<Res>, name: string, labels = ''): Promise<number> {
  const text = (await get('/metrics')).body.toString();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== '' && !labels.split(',').every((l) => line.includes(l))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const hits = (get: (url: string) => Promise<Res>) => metric(get, 'halftone_hot_cache_requests_total', 'result="hit"');

/** Headers without the per-request ones. */
function stable(r: Res): Record<string, unknown> {
  const { date: _d, 'x-request-id': _a, 'x-oss-request-id': _b, ...rest } = r.headers;
  return rest;
}

async function width(body: Buffer): Promise<number | undefined> {
  return (await sharp(body).metadata()).width;
}

test('a hit is answered exactly like the miss that filled it (GET, HEAD, 304; OSS and Cloudflare) and is counted', async () => {
  const h = await startPerfHarness(QUIET);
  try {
    const s = await served(h);
    const src = await photo(400, 300);
    await h.put('pics', 'a.jpg', src);
    for (const url of [OSS_URL, CF_URL, CF_AUTO_URL]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const h0 = await hits(s.get);
        const labels = `route="${url === OSS_URL ? '/*' : '/cdn-cgi/image/*'}",method="${method}",status="200"`;
        const reqs0 = await metric(s.get, 'halftone_http_requests_total', labels);
        const miss = await s.get(url, {}, method);
        const hit = await s.get(url, {}, method);
        assert.equal(await hits(s.get), h0 + 1, `${method} ${url}: the second request is a hit`);
        assert.equal(await metric(s.get, 'halftone_http_requests_total', labels), reqs0 + 2, 'hits count as requests');
        assert.equal(hit.status, 200);
        assert.deepEqual(stable(hit), stable(miss), `${method} ${url}: same headers`);
        assert.ok(hit.body.equals(miss.body), 'same bytes');
        if (method === 'GET') assert.ok(hit.body.length > 0);
        assert.notEqual(hit.headers['x-request-id'], miss.headers['x-request-id'], 'a fresh request id');
        assert.match(String(hit.headers['x-request-id']), /^[0-9A-F]{24}$/);
        if (url === OSS_URL) assert.equal(hit.headers['x-oss-request-id'], hit.headers['x-request-id']);
        assert.ok(hit.headers['date'] !== undefined);
      }
    }
    // If-None-Match: the hit's 304 equals the route's 304. The route's comes first: an overwrite
    // with the same bytes drops the entry without changing the ETag.
    for (const url of [OSS_URL, CF_URL]) {
      const full = await s.get(url);
      const etag = String(full.headers['etag']);
      await h.put('pics', 'a.jpg', src);
      const h0 = await hits(s.get);
      const routed = await s.get(url, { 'if-none-match': etag });
      assert.equal(await hits(s.get), h0, 'the entry was dropped by the overwrite');
      await s.get(url);
      const fromHot = await s.get(url, { 'if-none-match': etag });
      assert.equal(await hits(s.get), h0 + 1);
      assert.equal(routed.status, 304);
      assert.equal(fromHot.status, 304);
      assert.deepEqual(stable(fromHot), stable(routed), `${url}: same 304`);
      assert.equal(fromHot.body.length, 0);
      const other = await s.get(url, { 'if-none-match': '"not-this-one"' });
      assert.equal(other.status, 200);
      assert.ok(other.body.equals(full.body));
    }
    // format=auto: the answer depends on Accept; each Accept class gets its own entry.
    const webp = await s.get(CF_AUTO_URL, { accept: 'image/webp,*/*' });
    const jpeg = await s.get(CF_AUTO_URL, { accept: 'image/jpeg' });
    const webp2 = await s.get(CF_AUTO_URL, { accept: 'image/webp,*/*' });
    const jpeg2 = await s.get(CF_AUTO_URL, { accept: 'image/jpeg' });
    assert.equal(webp.headers['content-type'], 'image/webp');
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    assert.equal(webp2.headers['content-type'], 'image/webp');
    assert.equal(jpeg2.headers['content-type'], 'image/jpeg');
    assert.ok(webp2.body.equals(webp.body) && jpeg2.body.equals(jpeg.body));
  } finally {
    await h.close();
  }
});

test('every change to the bucket is seen by the next request', async () => {
  const h = await startPerfHarness(QUIET);
  try {
    const s = await served(h);
    const ok = async (signed: Promise<{ status: number; body: Buffer }>) => {
      const r = await signed;
      assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.body.toString()}`);
      return r;
    };
    /** Fills both dialects' entries and checks they are hits. */
    const warm = async () => {
      for (const url of [OSS_URL, CF_URL]) {
        await s.get(url);
        const h0 = await hits(s.get);
        const r = await s.get(url);
        assert.equal(r.status, 200);
        assert.equal(await hits(s.get), h0 + 1, `${url} is a hit`);
        assert.equal(await width(r.body), 120);
      }
    };
    const heights = async () => Promise.all([OSS_URL, CF_URL].map(async (u) => {
      const r = await s.get(u);
      assert.equal(r.status, 200, `${u}: ${r.status} ${r.body.toString()}`);
      return (await sharp(r.body).metadata()).height;
    }));

    await h.put('pics', 'a.jpg', await photo(400, 300));
    await warm();
    // Overwrite with another aspect ratio.
    await h.put('pics', 'a.jpg', await photo(400, 400, 2));
    assert.deepEqual(await heights(), [120, 120]);

    // Object ACL private: anonymous readers are refused.
    await ok(h.signed('PUT', '/pics/a.jpg?acl', undefined, { 'x-oss-object-acl': 'private' }));
    assert.equal((await s.get(OSS_URL)).status, 403);
    assert.equal((await s.get(CF_URL)).status, 403);
    await ok(h.signed('PUT', '/pics/a.jpg?acl', undefined, { 'x-oss-object-acl': 'default' }));
    await warm();

    // Bucket ACL private.
    await ok(h.signed('PUT', '/pics/?acl', undefined, { 'x-oss-acl': 'private' }));
    assert.equal((await s.get(OSS_URL)).status, 403);
    assert.equal((await s.get(CF_URL)).status, 403);
    await ok(h.signed('PUT', '/pics/?acl', undefined, { 'x-oss-acl': 'public-read' }));
    await warm();

    // Copy another object onto the key.
    await h.put('pics', 'wide.jpg', await photo(400, 200, 3));
    await ok(h.signed('PUT', '/pics/a.jpg', undefined, { 'x-oss-copy-source': '/pics/wide.jpg' }));
    assert.deepEqual(await heights(), [60, 60]);
    await warm();

    // Multipart upload completed onto the key.
    const tall = await photo(200, 400, 4);
    const init = await ok(h.signed('POST', '/pics/a.jpg?uploads'));
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.body.toString())![1]!;
    const part = await h.signed('PUT', `/pics/a.jpg?partNumber=1&uploadId=${uploadId}`, tall);
    assert.equal(part.status, 200);
    const etag = String(part.headers['etag']);
    await ok(h.signed('POST', `/pics/a.jpg?uploadId=${uploadId}`, Buffer.from(
      `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`)));
    assert.deepEqual(await heights(), [240, 240]);
    await warm();

    // A write by another connection to the same database (another process: a CLI on the data dir).
    const db = new Database(join(h.dataDir, 'meta.sqlite'));
    try {
      db.prepare("UPDATE objects SET acl = 'private' WHERE bucket = 'pics' AND key = 'a.jpg'").run();
    } finally {
      db.close();
    }
    assert.equal((await s.get(OSS_URL)).status, 403);
    assert.equal((await s.get(CF_URL)).status, 403);
    await ok(h.signed('PUT', '/pics/a.jpg?acl', undefined, { 'x-oss-object-acl': 'default' }));
    await warm();

    // Styles: a style's content changes, then the style is deleted.
    const styleUrl = '/pics/a.jpg?x-oss-process=style/small';
    const putStyle = (w: number) => ok(h.signed('PUT', '/pics/?style&styleName=small', Buffer.from(`<Style><Content>image/resize,w_${w}</Content></Style>`)));
    await putStyle(50);
    await s.get(styleUrl);
    assert.equal(await width((await s.get(styleUrl)).body), 50);
    await putStyle(70);
    assert.equal(await width((await s.get(styleUrl)).body), 70);
    await ok(h.signed('DELETE', '/pics/?style&styleName=small'));
    assert.equal((await s.get(styleUrl)).status, 404);

    // Delete the object, then the bucket.
    await warm();
    await ok(h.signed('DELETE', '/pics/a.jpg'));
    assert.equal((await s.get(OSS_URL)).status, 404);
    assert.equal((await s.get(CF_URL)).status, 404);
    await ok(h.signed('DELETE', '/pics/wide.jpg'));
    await ok(h.signed('DELETE', '/pics/'));
    const gone = await s.get(OSS_URL);
    assert.equal(gone.status, 404);
    assert.match(gone.body.toString(), /NoSuchBucket/);
  } finally {
    await h.close();
  }
});

test('requests that could get another answer bypass the hot cache', async () => {
  const h = await startPerfHarness(QUIET);
  try {
    const s = await served(h);
    await h.put('pics', 'a.jpg', await photo(400, 300));
    await s.get(OSS_URL);
    const h0 = await hits(s.get);
    // A bad signature is refused, although the anonymous answer is cached.
    const badHeader = await s.get(OSS_URL, { authorization: 'OSS perfTestKey:bm90LXRoZS1zaWduYXR1cmU=', date: new Date().toUTCString() });
    assert.equal(badHeader.status, 403);
    const badUrl = await s.get(`${OSS_URL}&OSSAccessKeyId=perfTestKey&Expires=9999999999&Signature=bm90LXRoZS1zaWduYXR1cmU%3D`);
    assert.equal(badUrl.status, 403);
    // Range and other conditionals are the route's.
    const ims = await s.get(OSS_URL, { 'if-modified-since': new Date(Date.now() + 3600_000).toUTCString() });
    assert.equal(ims.status, 304);
    const ifMatch = await s.get(OSS_URL, { 'if-match': '"nope"' });
    assert.equal(ifMatch.status, 412);
    assert.equal(await hits(s.get), h0, 'none of these was a hit');
    // A signed GET still works (served by the route).
    const signed = await h.signed('GET', '/pics/a.jpg?x-oss-process=image/resize,w_120');
    assert.equal(signed.status, 200);
  } finally {
    await h.close();
  }
});

test('hosted delivery: public answers are hot hits; variant edits, signed-URL changes and deletes are seen at once; private answers are never kept', async () => {
  const h = await startPerfHarness({ ...QUIET, HALFTONE_API_KEYS: 'tok-1' });
  try {
    const s = await served(h);
    const api = (method: string, path: string, body?: { json?: unknown; file?: Buffer }) => imagesApi(h, 'tok-1', method, path, body);
    const up = await api('POST', '/v1', { file: await photo(400, 300) });
    const id = String(up.result['id']);
    const url = `/cdn-cgi/imagedelivery/halftone/${id}/public`;
    const webp = { accept: 'image/webp' };
    const miss = await s.get(url, webp);
    assert.equal(miss.status, 200);
    const h0 = await hits(s.get);
    const hit = await s.get(url, webp);
    assert.equal(await hits(s.get), h0 + 1, 'the repeat is a hit');
    assert.deepEqual(stable(hit), stable(miss));
    assert.ok(hit.body.equals(miss.body));
    assert.equal(hit.headers['content-type'], 'image/webp');
    const nm = await s.get(url, { ...webp, 'if-none-match': String(miss.headers['etag']) });
    assert.equal(nm.status, 304);
    assert.equal(await hits(s.get), h0 + 2, 'If-None-Match is answered by the hot cache too');
    // Another Accept is another answer (format=auto varies on Accept).
    const jpeg = await s.get(url, { accept: 'image/jpeg' });
    assert.equal(jpeg.headers['content-type'], 'image/jpeg');
    assert.equal(await hits(s.get), h0 + 2);

    // Editing the variant (an account document, no object) is seen by the next request.
    assert.equal((await api('PATCH', '/v1/variants/public', { json: { options: { fit: 'scale-down', width: 50, height: 50, metadata: 'none' } } })).status, 200);
    const edited = await s.get(url, webp);
    assert.equal(await width(edited.body), 50);
    assert.equal(await hits(s.get), h0 + 2, 'the edited variant came from the route');
    assert.equal(await width((await s.get(url, webp)).body), 50);
    assert.equal(await hits(s.get), h0 + 3, 'and is then kept');

    // Requiring signed URLs: the next unsigned request is refused.
    assert.equal((await api('PATCH', `/v1/${id}`, { json: { requireSignedURLs: true } })).status, 200);
    const refused = await s.get(url, webp);
    assert.equal(refused.status, 403);
    assert.equal(await hits(s.get), h0 + 3);
    // A signed answer of a private image is never kept.
    const key = ((await api('GET', '/v1/keys')).result['keys'] as Array<{ value: string }>)[0]!.value;
    const q = `exp=${Math.floor(Date.now() / 1000) + 3600}`;
    const signedUrl = `${url}?${q}&sig=${signDeliveryPath(`${url}?${q}`, key)}`;
    assert.equal((await s.get(signedUrl, webp)).status, 200);
    assert.equal((await s.get(signedUrl, webp)).status, 200);
    assert.equal(await hits(s.get), h0 + 3, 'signed answers come from the route every time');
    // A neverRequireSignedURLs variant of a private image is public: its answer is kept.
    assert.equal((await api('POST', '/v1/variants', { json: { id: 'open', options: { fit: 'scale-down', width: 64 }, neverRequireSignedURLs: true } })).status, 200);
    const openUrl = `/cdn-cgi/imagedelivery/halftone/${id}/open`;
    assert.equal((await s.get(openUrl, webp)).status, 200);
    assert.equal((await s.get(openUrl, webp)).status, 200);
    assert.equal(await hits(s.get), h0 + 4, 'the public variant of a private image is kept');
    // Deleting the image: the next request is a 404.
    assert.equal((await api('DELETE', `/v1/${id}`)).status, 200);
    assert.equal((await s.get(openUrl, webp)).status, 404);
    assert.equal((await s.get(url, webp)).status, 404);
    assert.equal(await hits(s.get), h0 + 4);
  } finally {
    await h.close();
  }
});

test('the hot cache stays within its byte bound', async () => {
  const bound = 64 * 1024;
  const h = await startPerfHarness({ ...QUIET, HALFTONE_HOT_CACHE_BYTES: String(bound) });
  try {
    const s = await served(h);
    await h.put('pics', 'a.jpg', await photo(400, 300));
    let stored = 0;
    for (let w = 100; w < 400; w += 10) {
      const url = `/pics/a.jpg?x-oss-process=image/resize,w_${w}`;
      const r = await s.get(url);
      assert.equal(r.status, 200);
      stored += r.body.length;
      const bytes = await metric(s.get, 'halftone_hot_cache_bytes');
      assert.ok(bytes > 0 && bytes <= bound, `${bytes} bytes held, bound ${bound}`);
    }
    assert.ok(stored > 2 * bound, 'the run stored more than the bound');
    // The first variant was evicted: asking again is not a hit.
    const h0 = await hits(s.get);
    await s.get('/pics/a.jpg?x-oss-process=image/resize,w_100');
    assert.equal(await hits(s.get), h0);
  } finally {
    await h.close();
  }
});

test('HALFTONE_HOT_CACHE_BYTES=0 turns the hot cache off', async () => {
  const h = await startPerfHarness({ ...QUIET, HALFTONE_HOT_CACHE_BYTES: '0' });
  try {
    const s = await served(h);
    await h.put('pics', 'a.jpg', await photo(200, 100));
    await s.get(OSS_URL);
    assert.equal((await s.get(OSS_URL)).status, 200);
    assert.doesNotMatch((await s.get('/metrics')).body.toString(), /halftone_hot_cache/);
  } finally {
    await h.close();
  }
});
