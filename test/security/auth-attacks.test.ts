/**
 * Authentication and access-control attacks through the real server (issue 10): tampered V1/V4
 * signatures, presigned URLs replayed after expiry, clock-skew limits on x-oss-date / Date, CR/LF
 * injection through keys, metadata and response-* overrides, ACL bypass attempts through styles,
 * style delimiters and source protection, saveas into another bucket, copy from a private bucket,
 * and the Images REST API without or with wrong bearer tokens. Loopback only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import sharp from 'sharp';
import { v1Sign, v1StringToSign, v4CanonicalRequest, v4Sign } from '../../src/http/oss/auth.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { TEST_AK, TEST_SK, oss, ossPath, record, type Res } from './harness.js';

let server: RunningServer;
let jpeg: Buffer;
const tried: string[] = [];
const TOKEN = 'images-api-token-0123456789';

const code = (r: Res) => /<Code>([^<]+)<\/Code>/.exec(r.body.toString())?.[1];
function expectOss(r: Res, status: number, c: string, what: string): void {
  tried.push(what);
  assert.equal(r.status, status, `${what}: ${r.status} ${r.body.toString().slice(0, 300)}`);
  assert.equal(code(r), c, what);
}
async function get(url: string, init: RequestInit = {}): Promise<Res> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

before(async () => {
  server = await startServer({ env: { HALFTONE_OSS_STYLE_DELIMITERS: '!', HALFTONE_OSS_SOURCE_PROTECTION: '.jpg', HALFTONE_API_KEYS: TOKEN } });
  jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#36c' } }).jpeg().toBuffer();
  for (const [bucket, acl] of [['priv', 'private'], ['pub', 'public-read'], ['open', 'public-read-write']] as const) {
    assert.equal((await oss(server, { method: 'PUT', bucket, headers: { 'x-oss-acl': acl } })).status, 200);
    for (const key of ['a.jpg', 'a.png']) assert.equal((await oss(server, { method: 'PUT', bucket, key, body: jpeg })).status, 200);
    const style = await oss(server, { method: 'PUT', bucket, query: [['style', undefined], ['styleName', 's']], body: '<Style><Content>image/resize,w_16</Content></Style>' });
    assert.equal(style.status, 200, style.body.toString());
  }
});
after(async () => {
  await record('auth-attacks', { attacks: tried.length, tried });
  await server.stop();
});

test('tampered V1 and V4 header signatures are refused', async () => {
  // V1: flip one character of a correct signature, sign with the wrong secret, unknown key.
  const date = new Date().toUTCString();
  const sts = v1StringToSign({ method: 'GET', bucket: 'priv', key: 'a.png', headers: { 'x-oss-date': date, 'content-type': '' }, query: [] }, date);
  const good = v1Sign(TEST_SK, sts);
  const send = (authz: string) => get(`${server.url}/priv/a.png`, { headers: { 'x-oss-date': date, authorization: authz } });
  assert.equal((await send(`OSS ${TEST_AK}:${good}`)).status, 200);
  const flipped = good[0] === 'A' ? `B${good.slice(1)}` : `A${good.slice(1)}`;
  expectOss(await send(`OSS ${TEST_AK}:${flipped}`), 403, 'SignatureDoesNotMatch', 'V1 header signature with one character flipped');
  expectOss(await send(`OSS ${TEST_AK}:${v1Sign('wrong-secret', sts)}`), 403, 'SignatureDoesNotMatch', 'V1 signed with a wrong secret');
  expectOss(await send(`OSS nobody:${good}`), 403, 'InvalidAccessKeyId', 'V1 unknown access key id');
  expectOss(await send(`OSS ${TEST_AK}:`), 400, 'InvalidArgument', 'V1 empty signature');
  // Signature valid for another key / method must not transfer.
  expectOss(await get(`${server.url}/priv/a.jpg`, { headers: { 'x-oss-date': date, authorization: `OSS ${TEST_AK}:${good}` } }), 403, 'SignatureDoesNotMatch', 'V1 signature replayed on another key');
  expectOss(await get(`${server.url}/priv/a.png`, { method: 'DELETE', headers: { 'x-oss-date': date, authorization: `OSS ${TEST_AK}:${good}` } }), 403, 'SignatureDoesNotMatch', 'V1 GET signature replayed as DELETE');

  // V4
  const now = new Date();
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = ts.slice(0, 8);
  const h4 = { 'x-oss-date': ts, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD' };
  const canonical = v4CanonicalRequest({ method: 'GET', bucket: 'priv', key: 'a.png', headers: h4, query: [] }, []);
  const scope = `${day}/halftone/oss/aliyun_v4_request`;
  const sig = v4Sign(TEST_SK, day, 'halftone', `OSS4-HMAC-SHA256\n${ts}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`);
  const send4 = (s: string, ak = TEST_AK) => get(`${server.url}/priv/a.png`, { headers: { ...h4, authorization: `OSS4-HMAC-SHA256 Credential=${ak}/${scope},Signature=${s}` } });
  assert.equal((await send4(sig)).status, 200);
  expectOss(await send4(sig.replace(/.$/, (c) => (c === '0' ? '1' : '0'))), 403, 'SignatureDoesNotMatch', 'V4 header signature with one hex digit flipped');
  expectOss(await send4(sig.slice(0, 32)), 403, 'SignatureDoesNotMatch', 'V4 truncated signature');
  expectOss(await send4(sig, 'nobody'), 403, 'InvalidAccessKeyId', 'V4 unknown access key id');
});

test('presigned URLs stop working after expiry (V1 replay, V4 expired)', async () => {
  const presignV1 = (expires: number) => {
    const sts = v1StringToSign({ method: 'GET', bucket: 'priv', key: 'a.png', headers: {}, query: [] }, String(expires));
    return `${server.url}/priv/a.png?OSSAccessKeyId=${TEST_AK}&Expires=${expires}&Signature=${encodeURIComponent(v1Sign(TEST_SK, sts))}`;
  };
  const url = presignV1(Math.floor(Date.now() / 1000) + 2);
  assert.equal((await get(url)).status, 200, 'fresh presigned URL works');
  await new Promise((r) => setTimeout(r, 3100));
  expectOss(await get(url), 403, 'AccessDenied', 'V1 presigned URL replayed after expiry');
  expectOss(await get(presignV1(Math.floor(Date.now() / 1000) - 60)), 403, 'AccessDenied', 'V1 presigned URL already expired');
  const u = new URL(presignV1(Math.floor(Date.now() / 1000) + 3600));
  u.searchParams.set('Expires', String(Math.floor(Date.now() / 1000) + 7200));
  expectOss(await get(u.href), 403, 'SignatureDoesNotMatch', 'V1 presigned URL with Expires extended by the client');

  const presignV4 = (dateMs: number, expires: number) => {
    const ts = new Date(dateMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = ts.slice(0, 8);
    const query: [string, string][] = [
      ['x-oss-credential', `${TEST_AK}/${day}/halftone/oss/aliyun_v4_request`], ['x-oss-date', ts], ['x-oss-expires', String(expires)],
      ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
    ];
    const canonical = v4CanonicalRequest({ method: 'GET', bucket: 'priv', key: 'a.png', headers: {}, query }, []);
    const sig = v4Sign(TEST_SK, day, 'halftone', `OSS4-HMAC-SHA256\n${ts}\n${day}/halftone/oss/aliyun_v4_request\n${createHash('sha256').update(canonical).digest('hex')}`);
    return server.url + ossPath('priv', 'a.png', [...query, ['x-oss-signature', sig]]);
  };
  assert.equal((await get(presignV4(Date.now(), 60))).status, 200, 'fresh V4 presigned URL works');
  expectOss(await get(presignV4(Date.now() - 120_000, 60)), 403, 'AccessDenied', 'V4 presigned URL replayed after expiry');
  expectOss(await get(presignV4(Date.now() + 3600_000, 60)), 403, 'RequestTimeTooSkewed', 'V4 presigned URL dated an hour in the future');
});

test('clock skew beyond 15 minutes is refused for x-oss-date and Date', async () => {
  for (const [offsetMin, ok] of [[-16, false], [16, false], [-14, true], [14, true]] as const) {
    for (const header of ['x-oss-date', 'date'] as const) {
      const date = new Date(Date.now() + offsetMin * 60_000).toUTCString();
      const res = await oss(server, { method: 'GET', bucket: 'priv', key: 'a.png', headers: { [header]: date } });
      if (ok) assert.equal(res.status, 200, `${header} ${offsetMin} min`);
      else expectOss(res, 403, 'RequestTimeTooSkewed', `${header} skewed by ${offsetMin} min`);
    }
  }
  expectOss(await oss(server, { method: 'GET', bucket: 'priv', key: 'a.png', headers: { 'x-oss-date': 'not a date' } }), 403, 'RequestTimeTooSkewed', 'unparseable x-oss-date');
});

/** Sends raw bytes and returns what the server answered (the connection is closed after). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', (e) => (out === '' ? reject(e) : resolve(out)));
    s.setTimeout(10000, () => s.destroy());
    s.write(text, 'latin1');
  });
}

test('CR/LF injection through keys, metadata and response overrides never reaches the response headers', async () => {
  // A key holding CR/LF: stored and served, but never echoed into a header.
  const evilKey = 'x\r\nSet-Cookie: pwned=1';
  const put = await oss(server, { method: 'PUT', bucket: 'open', key: evilKey, body: 'hi' });
  tried.push('object key containing CR/LF + Set-Cookie');
  assert.ok(put.status === 200 || put.status === 400, `PUT evil key: ${put.status}`);
  const back = await oss(server, { method: 'GET', bucket: 'open', key: evilKey });
  assert.equal(back.headers.get('set-cookie'), null);
  assert.ok(back.status < 500);
  // Response overrides with CR/LF: refused or dropped, never a 5xx, never an injected header.
  for (const [name, value] of [['response-content-disposition', 'attachment\r\nSet-Cookie: pwned=1'], ['response-content-type', 'text/html\nX-Injected: 1'], ['response-cache-control', 'no-cache\r\n\r\n<script>']]) {
    for (const bucket of ['pub', 'priv']) {
      const res = await oss(server, { method: 'GET', bucket, key: 'a.png', query: [[name!, value!]], anonymous: bucket === 'pub' });
      tried.push(`${name} override containing CR/LF (${bucket === 'pub' ? 'anonymous' : 'signed'})`);
      assert.ok(res.status < 500, `${name}: ${res.status} ${res.body.toString()}`);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.equal(res.headers.get('x-injected'), null);
      const proc = await oss(server, { method: 'GET', bucket, key: 'a.png', query: [['x-oss-process', 'image/resize,w_8'], [name!, value!]], anonymous: bucket === 'pub' });
      assert.ok(proc.status < 500, `${name} on processed GET: ${proc.status} ${proc.body.toString()}`);
      assert.equal(proc.headers.get('set-cookie'), null);
    }
  }
  // Metadata with a bare CR or an obs-fold continuation: the HTTP parser refuses the request.
  for (const header of ['x-oss-meta-a: one\rSet-Cookie: pwned=1', 'x-oss-meta-a: one\r\n Set-Cookie: pwned=1']) {
    const answer = await raw(server.port, `PUT /open/meta.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n${header}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
    tried.push(`metadata header smuggling: ${JSON.stringify(header)}`);
    assert.match(answer, /^HTTP\/1\.1 400/, answer.slice(0, 200));
  }
  assert.equal((await oss(server, { method: 'HEAD', bucket: 'open', key: 'meta.txt' })).status, 404, 'no object from a refused request');
  assert.equal((await get(`${server.url}/healthz`)).status, 200);
});

test('styles, delimiters and source protection do not bypass ACLs', async () => {
  const anon = (bucket: string, key: string, query: [string, string | undefined][] = []) => oss(server, { method: 'GET', bucket, key, query, anonymous: true });
  expectOss(await anon('priv', 'a.png'), 403, 'AccessDenied', 'anonymous GET of a private object');
  expectOss(await anon('priv', 'a.png', [['x-oss-process', 'style/s']]), 403, 'AccessDenied', 'anonymous style on a private object');
  expectOss(await anon('priv', 'a.png', [['x-oss-process', 'image/resize,w_8']]), 403, 'AccessDenied', 'anonymous process on a private object');
  expectOss(await anon('priv', 'a.png!s'), 403, 'AccessDenied', 'anonymous style delimiter on a private object');
  // Protected sources (.jpg): anonymous users only through a style.
  expectOss(await anon('pub', 'a.jpg'), 403, 'AccessDenied', 'anonymous raw GET of a protected source');
  expectOss(await anon('pub', 'a.JPG'), 403, 'AccessDenied', 'protected source suffix in another case');
  expectOss(await anon('pub', 'a.jpg', [['x-oss-process', 'image/resize,w_8']]), 403, 'AccessDenied', 'anonymous non-style process of a protected source');
  expectOss(await anon('pub', 'a.jpg', [['x-oss-process', '']]), 403, 'AccessDenied', 'anonymous empty process of a protected source');
  expectOss(await anon('pub', 'a.jpg', [['x-oss-process', ' style/s']]), 403, 'AccessDenied', 'anonymous " style/" (leading space) on a protected source');
  expectOss(await anon('pub', 'a.jpg', [['x-oss-process', 'style/s/../../image/resize,w_64']]), 404, 'NoSuchStyle', 'style name with path segments');
  expectOss(await anon('pub', 'a.jpg', [['x-oss-process', 'style/nope']]), 404, 'NoSuchStyle', 'unknown style on a protected source');
  assert.equal((await anon('pub', 'a.jpg', [['x-oss-process', 'style/s']])).status, 200, 'style is the allowed channel');
  assert.equal((await anon('pub', 'a.jpg!s')).status, 200, 'delimiter is the allowed channel');
  // POST process on a protected source without a style.
  const post = (bucket: string, key: string, body: string, anonymous = true) => oss(server, { method: 'POST', bucket, key, query: [['x-oss-process', undefined]], body, anonymous });
  expectOss(await post('pub', 'a.jpg', 'x-oss-process=image/resize,w_8'), 403, 'AccessDenied', 'anonymous POST process of a protected source');
});

test('saveas into another bucket and copy from a private bucket need the rights', async () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const post = (bucket: string, key: string, body: string, anonymous: boolean) => oss(server, { method: 'POST', bucket, key, query: [['x-oss-process', undefined]], body, anonymous });
  expectOss(await post('pub', 'a.png', `x-oss-process=image/resize,w_8|sys/saveas,o_${b64('stolen.png')},b_${b64('priv')}`, true), 403, 'AccessDenied', 'anonymous saveas from a public bucket into a private bucket');
  expectOss(await post('pub', 'a.png', `x-oss-process=image/resize,w_8|sys/saveas,o_${b64('stolen.png')}`, true), 403, 'AccessDenied', 'anonymous saveas into the (read-only) source bucket');
  expectOss(await post('priv', 'a.png', `x-oss-process=image/resize,w_8|sys/saveas,o_${b64('leak.png')},b_${b64('open')}`, true), 403, 'AccessDenied', 'anonymous saveas from a private bucket into a public-read-write bucket');
  expectOss(await post('open', 'a.png', `x-oss-process=image/resize,w_8|sys/saveas,o_${b64('../priv/x.png')}`, true), 400, 'InvalidObjectName', 'saveas target with a ".." segment');
  expectOss(await post('open', 'a.png', `x-oss-process=image/resize,w_8|sys/saveas,o_${b64('x.png')},b_${b64('nosuchbucket')}`, false), 404, 'NoSuchBucket', 'saveas into a missing bucket');
  assert.equal((await oss(server, { method: 'HEAD', bucket: 'priv', key: 'stolen.png' })).status, 404);
  assert.equal((await oss(server, { method: 'HEAD', bucket: 'open', key: 'leak.png' })).status, 404);
  // Copy: anonymous copy from a private bucket into a public-read-write one.
  const copy = await oss(server, { method: 'PUT', bucket: 'open', key: 'copied.png', headers: { 'x-oss-copy-source': '/priv/a.png' }, anonymous: true });
  expectOss(copy, 403, 'AccessDenied', 'anonymous CopyObject from a private bucket');
  assert.equal((await oss(server, { method: 'HEAD', bucket: 'open', key: 'copied.png' })).status, 404);
  // Anonymous multipart on a public-read-write bucket is refused (signed only).
  expectOss(await oss(server, { method: 'POST', bucket: 'open', key: 'mp.bin', query: [['uploads', undefined]], anonymous: true }), 403, 'AccessDenied', 'anonymous InitiateMultipartUpload');
  // Anonymous ACL change.
  expectOss(await oss(server, { method: 'PUT', bucket: 'priv', query: [['acl', undefined]], headers: { 'x-oss-acl': 'public-read-write' }, anonymous: true }), 403, 'AccessDenied', 'anonymous PutBucketAcl');
  expectOss(await oss(server, { method: 'PUT', bucket: 'open', key: 'a.png', query: [['acl', undefined]], headers: { 'x-oss-object-acl': 'public-read' }, anonymous: true }), 403, 'AccessDenied', 'anonymous PutObjectAcl');
  expectOss(await oss(server, { method: 'PUT', bucket: 'open', key: 'new.png', headers: { 'x-oss-object-acl': 'public-read' }, body: 'x', anonymous: true }), 403, 'AccessDenied', 'anonymous PUT that sets an object ACL');
  expectOss(await oss(server, { method: 'PUT', bucket: 'pub', query: [['style', undefined], ['styleName', 'evil']], body: '<Style><Content>image/resize,w_9000</Content></Style>', anonymous: true }), 403, 'AccessDenied', 'anonymous PutStyle');
});

test('Images REST API refuses missing and wrong bearer tokens', async () => {
  const url = `${server.url}/client/v4/accounts/halftone/images/v1`;
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['empty bearer token', { authorization: 'Bearer ' }],
    ['wrong bearer token', { authorization: 'Bearer wrong' }],
    ['token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
    ['token with another case', { authorization: `Bearer ${TOKEN.toUpperCase()}` }],
    ['Basic scheme with the token', { authorization: `Basic ${TOKEN}` }],
    ['OSS access key as bearer', { authorization: `Bearer ${TEST_SK}` }],
  ];
  for (const [what, headers] of cases) {
    for (const [method, path] of [['GET', ''], ['POST', ''], ['DELETE', '/someid']] as const) {
      const res = await get(url + path, { method, headers });
      tried.push(`Images API ${method}: ${what}`);
      assert.equal(res.status, 401, `${what} ${method}: ${res.status}`);
      const json = JSON.parse(res.body.toString()) as { success: boolean; errors: { code: number }[] };
      assert.equal(json.success, false);
      assert.equal(json.errors[0]?.code, 10000);
    }
  }
  assert.equal((await get(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, 'the right token works');
  const other = await get(`${server.url}/client/v4/accounts/otheraccount/images/v1`, { headers: { authorization: `Bearer ${TOKEN}` } });
  tried.push('Images API with the right token on another account');
  assert.equal(other.status, 403);
});

test('regression: stored metadata a header cannot carry (hosted upload file name with CR/LF or Cyrillic) is percent-encoded, not a 500', async () => {
  for (const [id, filename] of [['crlf-name', 'a\r\nSet-Cookie: pwned=1.png'], ['cyrillic-name', 'фото.png']] as const) {
    const form = new FormData();
    form.set('file', new Blob([jpeg]), filename);
    form.set('id', id);
    const up = await get(`${server.url}/client/v4/accounts/halftone/images/v1`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form });
    assert.equal(up.status, 200, up.body.toString());
    tried.push(`hosted upload whose file name holds ${id === 'crlf-name' ? 'CR/LF + Set-Cookie' : 'non-Latin-1 text'}, then OSS GET of the stored object`);
    for (const method of ['GET', 'HEAD']) {
      const res = await oss(server, { method, bucket: 'halftone-images', key: `images/${id}` });
      assert.equal(res.status, 200, `${method} ${id}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.equal(decodeURIComponent(res.headers.get('x-oss-meta-filename') ?? ''), filename);
    }
  }
});
