/** Negative paths of the OSS service over real sockets (issue 4 acceptance). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { client, type OssClient } from './oss-client.js';

let server: RunningServer;
let oss: OssClient;

/** A raw HTTP request (fetch would normalise `../`); path is sent byte for byte. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function code(xml: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];
}

before(async () => {
  server = await startServer();
  oss = client({ bucket: 'negbucket', endpoint: server.url });
  await oss.putBucket('negbucket');
  await oss.put('private.txt', Buffer.from('secret'));
  await oss.put('notimage.jpg', Buffer.from('this is not a jpeg'));
});

after(async () => {
  await server?.stop();
});

test('wrong secret → 403 SignatureDoesNotMatch', async () => {
  const bad = client({ bucket: 'negbucket', endpoint: server.url, accessKeySecret: 'wrong' });
  await assert.rejects(bad.get('private.txt'), { status: 403, code: 'SignatureDoesNotMatch' });
  const badV4 = client({ bucket: 'negbucket', endpoint: server.url, accessKeySecret: 'wrong', authorizationV4: true });
  await assert.rejects(badV4.get('private.txt'), { status: 403, code: 'SignatureDoesNotMatch' });
});

test('unknown access key → 403 InvalidAccessKeyId with EC', async () => {
  const bad = client({ bucket: 'negbucket', endpoint: server.url, accessKeyId: 'nobody' });
  await assert.rejects(bad.get('private.txt'), { status: 403, code: 'InvalidAccessKeyId', ecCode: '0002-00000902' });
});

test('expired presigned URL → 403 AccessDenied', async () => {
  const c = client({ bucket: 'negbucket', endpoint: `http://localhost:${server.port}`, sldEnable: true });
  const url: string = c.signatureUrl('private.txt', { expires: -60 });
  const res = await fetch(url.replace('localhost', '127.0.0.1'));
  assert.equal(res.status, 403);
  const text = await res.text();
  assert.equal(code(text), 'AccessDenied');
  assert.match(text, /expired/);
  // and a valid one works
  const ok = await fetch((c.signatureUrl('private.txt', { expires: 60 }) as string).replace('localhost', '127.0.0.1'));
  assert.equal(await ok.text(), 'secret');
});

test('anonymous on a private object → 403 AccessDenied; HEAD carries x-oss-err', async () => {
  const res = await raw('GET', '/negbucket/private.txt');
  assert.equal(res.status, 403);
  assert.equal(code(res.body), 'AccessDenied');
  assert.match(String(res.headers['x-oss-request-id']), /^[0-9A-F]{24}$/);
  const head = await raw('HEAD', '/negbucket/private.txt');
  assert.equal(head.status, 403);
  assert.equal(code(Buffer.from(String(head.headers['x-oss-err']), 'base64').toString()), 'AccessDenied');
  const put = await raw('PUT', '/negbucket/anon.txt', { 'content-length': '1' }, Buffer.from('x'));
  assert.equal(put.status, 403);
});

test('missing key → 404 NoSuchKey (XML with Key and EC)', async () => {
  await assert.rejects(oss.get('missing.txt'), { status: 404, code: 'NoSuchKey', ecCode: '0026-00000001' });
  await assert.rejects(oss.head('missing.txt'), { status: 404 });
});

test('bad Content-MD5 → 400 InvalidDigest and the object is not written', async () => {
  await assert.rejects(
    oss.put('md5.txt', Buffer.from('hello'), { headers: { 'Content-MD5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
    { status: 400, code: 'InvalidDigest' },
  );
  await assert.rejects(oss.head('md5.txt'), { status: 404 });
});

test('dangerous keys get InvalidObjectName and touch nothing outside the data dir', async () => {
  const parent = dirname(server.dataDir);
  const before = readdirSync(parent).sort();
  const longKey = 'k'.repeat(1024);
  for (const p of ['/negbucket/../evil.txt', '/negbucket/%2e%2e/evil.txt', '/negbucket/a/%2E%2E/%2e%2e/evil.txt', '/negbucket/evil%00.txt', `/negbucket/${longKey}`, '/negbucket/./x']) {
    const res = await raw('PUT', p, { 'content-length': '4' }, Buffer.from('evil'));
    assert.equal(res.status, 400, p);
    assert.equal(code(res.body), 'InvalidObjectName', p);
  }
  // The SDK's URL layer normalises `../` away, so the signed key no longer matches: refused too.
  await assert.rejects(oss.put('../evil2.txt', Buffer.from('x')), (e: { status: number }) => e.status === 403 || e.status === 400);
  await assert.rejects(oss.head('evil2.txt'), { status: 404 });
  await assert.rejects(oss.put(longKey, Buffer.from('x')), { status: 400, code: 'InvalidObjectName' });
  assert.equal((await oss.put('k'.repeat(1023), Buffer.from('x'))).res.status, 200);
  assert.deepEqual(readdirSync(parent).sort(), before);
  assert.ok(!readdirSync(server.dataDir).some((n) => n.includes('evil')));
});

test('malformed percent-encoding → 400 InvalidURI', async () => {
  const res = await raw('GET', '/negbucket/%E0%A4%A');
  assert.equal(res.status, 400);
  assert.equal(code(res.body), 'InvalidURI');
});

test('bucket errors: NoSuchBucket, BucketAlreadyExists, BucketNotEmpty, InvalidBucketName', async () => {
  const other = client({ bucket: 'nosuchbucket', endpoint: server.url });
  await assert.rejects(other.get('x.txt'), { status: 404, code: 'NoSuchBucket' });
  await assert.rejects(oss.putBucket('negbucket'), { status: 409, code: 'BucketAlreadyExists' });
  await assert.rejects(oss.deleteBucket('negbucket'), { status: 409, code: 'BucketNotEmpty' });
  const res = await raw('PUT', '/Bad_Bucket');
  assert.equal(code(res.body), 'InvalidBucketName');
});

test('unsatisfiable range → 416 InvalidRange', async () => {
  await assert.rejects(oss.get('private.txt', { headers: { Range: 'bytes=100-200' } }), { status: 416, code: 'InvalidRange' });
});

test('multipart: unknown upload id, wrong part ETag', async () => {
  await assert.rejects(oss.uploadPart('mp.bin', 'NOSUCHUPLOAD', 1, Buffer.alloc(10)), { status: 404, code: 'NoSuchUpload' });
  const init = await oss.initMultipartUpload('mp.bin');
  const part = await oss.uploadPart('mp.bin', init.uploadId, 1, Buffer.alloc(10));
  assert.ok(part.etag);
  await assert.rejects(oss.completeMultipartUpload('mp.bin', init.uploadId, [{ number: 1, etag: '"00000000000000000000000000000000"' }]), { status: 400, code: 'InvalidPart' });
  await oss.abortMultipartUpload('mp.bin', init.uploadId);
  await assert.rejects(oss.head('mp.bin'), { status: 404 });
});

test('an image action on a non-image object → OSS 400 error', async () => {
  await assert.rejects(oss.get('notimage.jpg', { process: 'image/resize,w_10' }), (e: { status: number; code: string }) => e.status === 400 && typeof e.code === 'string' && e.code !== 'InternalError');
});

test('style errors: bad name, bad content, unknown style', async () => {
  const { bucketRequest } = await import('./oss-client.js');
  await assert.rejects(bucketRequest(oss, 'PUT', 'negbucket', { style: '', styleName: 'Images!tyle' }, '<Style><Content>image/resize,p_50</Content></Style>'), { status: 400, code: 'InvalidArgument' });
  await assert.rejects(bucketRequest(oss, 'PUT', 'negbucket', { style: '', styleName: 'ok' }, '<Style><Content>image/resize,p_50;rm</Content></Style>'), { status: 400, code: 'BadRequest' });
  await assert.rejects(bucketRequest(oss, 'GET', 'negbucket', { style: '', styleName: 'nope' }), { status: 404, code: 'NoSuchStyle' });
});
