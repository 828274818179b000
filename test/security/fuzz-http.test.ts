/**
 * HTTP-level fuzz against a spawned server (fixed seed): random methods, paths (OSS objects and
 * buckets, Cloudflare transformations of a stored image, hosted-image delivery, the Images REST
 * API, garbage), queries (x-oss-process chains, sub-resources, response overrides), headers
 * (authorizations, ranges, conditionals, metadata, virtual hosts) and small bodies. No answer may
 * be a 5xx other than the documented refusals (501 not implemented / unsupported option / no
 * encoder, 503 overloaded, 508 request loop), and the server must be up at the end. Remote sources are limited to
 * the allowed loopback origin (HALFTONE_ANY_PUBLIC_ORIGIN=false): nothing leaves loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import fc from 'fast-check';
import sharp from 'sharp';
import { CF_KEYS } from '../../src/dialects/cloudflare/parse.js';
import { ACTIONS } from '../../src/dialects/oss/actions.js';
import { healthy, oss, record, startSuite, stopSuite, type SuiteContext } from './harness.js';
import { FUZZ_SEED, HTTP_FUZZ_RUNS } from './fuzz-config.js';

/** 5xx statuses that are documented refusals, not failures. */
const DOCUMENTED_5XX = new Set([501, 503, 508]);
let ctx: SuiteContext;
const statuses: Record<string, number> = {};
const fiveXX: string[] = [];

before(async () => {
  ctx = await startSuite({ HALFTONE_ANY_PUBLIC_ORIGIN: 'false', HALFTONE_OSS_STYLE_DELIMITERS: '!' });
  const png = await sharp({ create: { width: 40, height: 30, channels: 4, background: '#3a6' } }).png().toBuffer();
  for (const key of ['a.png', 'dir/b.png']) assert.equal((await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, key, body: png })).status, 200);
  ctx.origin.files.set('o.png', png);
  assert.equal((await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, query: [['style', undefined], ['styleName', 's']], body: '<Style><Content>image/resize,w_10</Content></Style>' })).status, 200);
});
after(async () => {
  await record('fuzz-http', { seed: FUZZ_SEED, requests: HTTP_FUZZ_RUNS, statuses, documented5xx: fiveXX });
  await stopSuite(ctx);
});

/** Percent-encodes what Node's client refuses in a request path. */
const pathSafe = (s: string) => s.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c).replace(/%25/g, '%'));
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '');

const junk = fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom('..', '%', '%zz', '%00', '//', '\\', '%2e%2e', '~', '?', '#', '&', '=', ';', ',', 'ключ', '\u202e'));
const ossChain = fc.array(fc.tuple(fc.constantFrom(...Object.keys(ACTIONS)), fc.array(fc.tuple(fc.constantFrom('w', 'h', 'l', 'm', 'p', 'x', 'y', 'r', 'g', 't', 'q', 'Q', 'color', 'text', 'image', 'size', 'limit', 'value'), fc.oneof(fc.integer({ min: -10, max: 40000 }).map(String), junk)), { maxLength: 3 }))
  .map(([n, a]) => [n, ...a.map(([k, v]) => `${k}_${v}`)].join(',')), { maxLength: 4 }).map((a) => `image/${a.join('/')}`);
const cfSeg = fc.array(fc.tuple(fc.constantFrom(...CF_KEYS), fc.oneof(fc.integer({ min: -5, max: 20000 }).map(String), fc.constantFrom('auto', 'cover', 'pad', 'face', 'avif', 'webp', 'json', '#f00', 'rgb(1,2,3)', '0.5x0.5'), junk)), { minLength: 1, maxLength: 5 })
  .map((a) => a.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join(','));

const path = (bucket: string, origin: string) => fc.oneof(
  fc.constantFrom(`/${bucket}/a.png`, `/${bucket}/dir/b.png`, `/${bucket}/`, `/${bucket}/a.png!s`, '/', '/healthz', `/${bucket}/missing.png`),
  junk.map((j) => `/${bucket}/${j}`),
  fc.tuple(cfSeg, fc.constantFrom(`${bucket}/a.png`, `${origin}/o.png`, `${origin}/missing.png`, 'http://127.0.0.2/x.png', 'nosuchbucket/a.png', 'file:///etc/passwd')).map(([s, src]) => `/cdn-cgi/image/${s}/${src}`),
  fc.tuple(fc.oneof(fc.uuid(), junk), fc.oneof(fc.constantFrom('public', 'w=10', 'width=10,fit=cover'), junk)).map(([id, v]) => `/cdn-cgi/imagedelivery/halftone/${id}/${v}`),
  fc.oneof(fc.constantFrom('', '/v1', '/v2', '/v1/stats', '/v1/keys', '/v1/variants', '/v2/direct_upload'), junk.map((j) => `/v1/${j}`)).map((p) => `/client/v4/accounts/halftone/images${p}`),
  // Compression task API, Abstract API (second wave of issue 10).
  fc.oneof(fc.constantFrom('', '/', '/00000000-0000-4000-8000-000000000000', '/constructor', '/__proto__', '/../x'), junk.map((j) => `/${j}`)).map((p) => `/api/tasks/visual/imgcompress${p}`),
  fc.oneof(fc.constantFrom('/v1/url/', '/v1/url', '/v1/upload/', '/v1/upload', '/v1/constructor', '/v1/__proto__/'), junk.map((j) => `/v1/${j}`)),
  junk.map((j) => `/${j}`),
);
const query = fc.array(fc.oneof(
  ossChain.map((c) => `x-oss-process=${encodeURIComponent(c)}`),
  fc.constantFrom('x-oss-async-process', 'x-oss-async-task&taskId=MediaConvert-x', 'taskId=constructor', 'api_key=security-suite-token', 'api_key=__proto__', 'sync=1'),
  fc.constantFrom('x-oss-process=style/s', 'x-oss-process=image/info', 'x-oss-process', 'acl', 'uploads', 'uploadId=X', 'partNumber=1', 'append&position=0', 'style&styleName=s', 'delete', 'objectMeta', 'list-type=2', 'max-keys=0', 'max-keys=99999', 'continuation-token=%%%'),
  fc.tuple(fc.constantFrom('response-content-type', 'response-content-disposition', 'OSSAccessKeyId', 'Expires', 'Signature', 'x-oss-signature-version', 'x-oss-credential', 'prefix', 'marker', 'delimiter', 'sig', 'exp'), junk).map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
  junk.map((j) => encodeURIComponent(j)),
), { maxLength: 4 }).map((q) => (q.length === 0 ? '' : `?${q.join('&')}`));
const headers = fc.record({
  authorization: fc.oneof(fc.constantFrom('OSS testAccessKeyId:AAAA', 'OSS4-HMAC-SHA256 Credential=testAccessKeyId/20261123/halftone/oss/aliyun_v4_request,Signature=00', 'Bearer security-suite-token', 'Bearer nope'), junk),
  date: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()), junk),
  range: fc.oneof(fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=99999-', 'bytes=5-1', 'bytes=0-0,2-3'), junk),
  'if-match': junk, 'if-none-match': fc.constantFrom('*', '"x"'), 'if-modified-since': junk,
  'content-md5': junk, 'content-type': fc.constantFrom('image/png', 'application/xml', 'multipart/form-data; boundary=x', 'application/json', 'text/plain'),
  'x-oss-meta-a': junk, 'x-oss-copy-source': fc.constantFrom('/hostile/a.png', '/nosuch/a.png', '/hostile/%zz', 'garbage'),
  'x-oss-object-acl': fc.constantFrom('private', 'public-read', 'bogus'), 'x-oss-acl': fc.constantFrom('private', 'bogus'),
  accept: fc.constantFrom('image/avif,image/webp,*/*', 'text/html', '*/*'),
  host: fc.constantFrom('hostile.localhost', 'nosuch.localhost', '127.0.0.1', 'x..y', ''),
  'x-api-key': fc.oneof(fc.constantFrom('security-suite-token', 'constructor', '__proto__'), junk),
  via: fc.constantFrom('1.1 proxy', '1.1 proxy', '1.1 proxy', '1.1 image-resizing'),
}, { requiredKeys: [] });

function send(port: number, method: string, p: string, h: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: p, headers: { ...h, 'content-length': String(body.length) }, timeout: 60000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

test(`HTTP fuzz: ${HTTP_FUZZ_RUNS} random requests, no undocumented 5xx, server up`, async () => {
  await fc.assert(fc.asyncProperty(
    fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'),
    path(ctx.bucket, ctx.origin.url), query, headers, fc.uint8Array({ maxLength: 512 }),
    async (method, p, q, h, body) => {
      const hs: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) hs[k] = headerSafe(v);
      if (hs['host'] === '') delete hs['host'];
      const target = pathSafe(p + q);
      let status: number;
      try {
        status = await send(ctx.server.port, method, target, hs, Buffer.from(body));
      } catch (err) {
        // Node's own parser may close the connection on a request it refuses (e.g. a bad Host);
        // the server must still be up.
        assert.ok(await healthy(ctx), `server down after ${method} ${target}: ${(err as Error).message}`);
        statuses['connection closed'] = (statuses['connection closed'] ?? 0) + 1;
        return;
      }
      statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      if (status >= 500) {
        assert.ok(DOCUMENTED_5XX.has(status), `${status} for ${method} ${target} ${JSON.stringify(hs)}`);
        fiveXX.push(`${status} ${method} ${target.slice(0, 40)}`);
      }
    },
  ), { numRuns: HTTP_FUZZ_RUNS, seed: FUZZ_SEED, endOnFailure: true });
  assert.ok(await healthy(ctx), 'server up after the fuzz');
});

test('regressions: non-Latin-1 option names (Warning header) and prototype names are not a 500', async () => {
  // The fuzz may have deleted or replaced the seeded objects (the bucket is public-read-write).
  const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#123' } }).png().toBuffer();
  assert.equal((await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, key: 'regress.png', body: png })).status, 200);
  const res = await fetch(`${ctx.server.url}/cdn-cgi/image/${encodeURIComponent('ключ')}=1,width=10/${ctx.bucket}/regress.png`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('warning') ?? '', /cf-images 299/);
  for (const name of ['valueOf', '__proto__', 'constructor']) {
    const oss1 = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'regress.png', query: [['x-oss-process', `image/${name}`]] });
    assert.equal(oss1.status, 400, `image/${name}: ${oss1.body.toString()}`);
    const oss2 = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'regress.png', query: [['x-oss-process', `image/format,${name}`]] });
    assert.equal(oss2.status, 400, `image/format,${name}`);
    const cf = await fetch(`${ctx.server.url}/cdn-cgi/image/${name}=1,width=10/${ctx.bucket}/regress.png`);
    assert.equal(cf.status, 200, `cf ${name}`);
  }
});
