/**
 * The real ali-oss SDK against the running server over loopback sockets, in the spec's three
 * recipes (IP endpoint, cname, path-style) and with V4 signing (issue 4 acceptance).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { request as httpRequest } from 'node:http';
import { startServer, type RunningServer } from '../helpers/server.js';
import { bucketRequest, client, type OssClient } from './oss-client.js';

const JPEG = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads the dimensions from a JPEG/PNG/WebP header without sharp (kept independent of the engine). */
/**
 * GET a URL over 127.0.0.1 while keeping its Host header (the cname recipe addresses the bucket
 * by host name, and the signature covers it).
 */
function getKeepingHost(url: string): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function imageSize(b: Buffer): { width: number; height: number } {
  if (b[0] === 0x89 && b.toString('latin1', 1, 4) === 'PNG') return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i < b.length) {
      const marker = b[i + 1]!;
      const len = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
  }
  throw new Error('unknown image format');
}

let server: RunningServer;
let cnameServer: RunningServer;
let ip: OssClient; // recipe A
let path: OssClient; // recipe C
let v4: OssClient; // recipe C + V4
let cname: OssClient; // recipe B

before(async () => {
  server = await startServer();
  cnameServer = await startServer({ env: { HALFTONE_OSS_CNAME: 'localhost=cnamebucket', HALFTONE_OSS_STYLE_DELIMITERS: '!' } });
  ip = client({ bucket: 'examplebucket', endpoint: server.url });
  path = client({ bucket: 'examplebucket', endpoint: `http://localhost:${server.port}`, sldEnable: true });
  v4 = client({ bucket: 'v4bucket', endpoint: `http://localhost:${server.port}`, sldEnable: true, authorizationV4: true, region: 'oss-cn-hangzhou' });
  cname = client({ bucket: 'cnamebucket', endpoint: `http://localhost:${cnameServer.port}`, cname: true });
  await ip.putBucket('examplebucket');
  await v4.putBucket('v4bucket');
  // The cname host addresses one bucket; create it through the IP recipe on the same server.
  await client({ bucket: 'cnamebucket', endpoint: cnameServer.url }).putBucket('cnamebucket');
});

after(async () => {
  await server?.stop();
  await cnameServer?.stop();
});

describe('recipe A: IP endpoint (virtual-host Host header)', () => {
  test('put / get / head / delete with meta and an unusual key', async () => {
    const key = 'dir/a b+c 图片.jpg';
    const put = await ip.put(key, Buffer.from('hello image'), { meta: { foo: 'bar' }, headers: { 'Cache-Control': 'no-cache' } });
    assert.equal(put.res.status, 200);
    assert.equal(put.res.headers.etag, `"${md5(Buffer.from('hello image')).toUpperCase()}"`);
    const got = await ip.get(key);
    assert.equal(got.content.toString(), 'hello image');
    assert.equal(got.res.headers['cache-control'], 'no-cache');
    const head = await ip.head(key);
    assert.deepEqual(head.meta, { foo: 'bar' });
    assert.equal(head.res.headers['content-length'], '11');
    await ip.delete(key);
    await assert.rejects(ip.head(key), (e: { status: number; name: string }) => e.status === 404 && e.name === 'NoSuchKeyError');
  });

  test('putStream (chunked, no Content-MD5) and getStream', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await ip.putStream('stream.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    const res = await ip.getStream('stream.bin');
    assert.equal(md5(await streamToBuffer(res.stream)), md5(data));
  });

  test('range and conditional GET', async () => {
    await ip.put('range.txt', Buffer.from('0123456789'));
    const r = await ip.get('range.txt', { headers: { Range: 'bytes=2-5' } });
    assert.equal(r.res.status, 206);
    assert.equal(r.content.toString(), '2345');
    const etag = (await ip.head('range.txt')).res.headers.etag;
    const nm = await ip.get('range.txt', { headers: { 'If-None-Match': etag } });
    assert.equal(nm.res.status, 304);
  });

  test('copy, deleteMulti, list and listV2 with prefixes and paging', async () => {
    for (const k of ['l/a.txt', 'l/b.txt', 'l/sub/c.txt', 'l/sub/d.txt', 'l/z.txt']) await ip.put(k, Buffer.from(k));
    const copied = await ip.copy('l/copy.txt', 'l/a.txt');
    assert.equal(copied.res.status, 200);
    assert.equal((await ip.get('l/copy.txt')).content.toString(), 'l/a.txt');

    const v1 = await ip.list({ prefix: 'l/', delimiter: '/', 'max-keys': 100 });
    assert.deepEqual(v1.objects.map((o: { name: string }) => o.name), ['l/a.txt', 'l/b.txt', 'l/copy.txt', 'l/z.txt']);
    assert.deepEqual(v1.prefixes, ['l/sub/']);

    const page1 = await ip.list({ prefix: 'l/', 'max-keys': 2 });
    assert.equal(page1.isTruncated, true);
    const page2 = await ip.list({ prefix: 'l/', 'max-keys': 100, marker: page1.nextMarker });
    assert.equal(page1.objects.length + page2.objects.length, 6);

    const a = await ip.listV2({ prefix: 'l/', 'max-keys': 3 });
    assert.equal(a.isTruncated, true);
    const b = await ip.listV2({ prefix: 'l/', 'max-keys': 100, 'continuation-token': a.nextContinuationToken });
    assert.deepEqual([...a.objects, ...b.objects].map((o: { name: string }) => o.name),
      ['l/a.txt', 'l/b.txt', 'l/copy.txt', 'l/sub/c.txt', 'l/sub/d.txt', 'l/z.txt']);

    const del = await ip.deleteMulti(['l/a.txt', 'l/b.txt', 'l/missing.txt']);
    assert.deepEqual(del.deleted.map((d: { Key: string }) => d.Key).sort(), ['l/a.txt', 'l/b.txt', 'l/missing.txt']);
    await assert.rejects(ip.get('l/a.txt'), { status: 404 });
  });

  test('append', async () => {
    const first = await ip.append('log.txt', Buffer.from('abc'));
    assert.equal(first.nextAppendPosition, '3');
    const second = await ip.append('log.txt', Buffer.from('def'), { position: first.nextAppendPosition });
    assert.equal(second.nextAppendPosition, '6');
    assert.equal((await ip.get('log.txt')).content.toString(), 'abcdef');
    await assert.rejects(ip.append('log.txt', Buffer.from('x'), { position: 1 }), { status: 409, code: 'PositionNotEqualToLength' });
  });

  test('bucket ACL, object ACL, bucket info and listBuckets', async () => {
    await ip.putBucket('aclbucket');
    await ip.putBucketACL('aclbucket', 'public-read');
    assert.equal((await ip.getBucketACL('aclbucket')).acl, 'public-read');
    const info = await ip.getBucketInfo('aclbucket');
    assert.equal(info.bucket.Name, 'aclbucket');
    const names = (await ip.listBuckets()).buckets.map((b: { name: string }) => b.name);
    assert.ok(names.includes('aclbucket') && names.includes('examplebucket'));
    await ip.put('acl.txt', Buffer.from('x'));
    await ip.putACL('acl.txt', 'public-read');
    assert.equal((await ip.getACL('acl.txt')).acl, 'public-read');
    // Anonymous read of a public-read object works, of a private one does not.
    assert.equal((await fetch(`${server.url}/examplebucket/acl.txt`)).status, 200);
    await ip.putACL('acl.txt', 'default');
    assert.equal((await fetch(`${server.url}/examplebucket/acl.txt`)).status, 403);
    await ip.deleteBucket('aclbucket');
  });

  test('get with process, processObjectSave, styles', async () => {
    await ip.put('img/example.jpg', JPEG);
    const r = await ip.get('img/example.jpg', { process: 'image/resize,w_100/format,png' });
    assert.equal(r.res.headers['content-type'], 'image/png');
    assert.deepEqual(imageSize(r.content), { width: 100, height: 67 });
    assert.equal(r.res.headers.etag, `"${md5(r.content).toUpperCase()}"`);

    const saved = await ip.processObjectSave('img/example.jpg', 'out/x>>?.jpg', 'image/resize,w_50');
    assert.equal(saved.status, 200);
    const body = JSON.parse(saved.res.data.toString());
    assert.equal(body.status, 'OK');
    assert.equal(body.object, 'out/x>>?.jpg');
    assert.equal(imageSize((await ip.get('out/x>>?.jpg')).content).width, 50);

    await bucketRequest(ip, 'PUT', 'examplebucket', { style: '', styleName: 'small' }, '<Style><Content>image/resize,w_40</Content></Style>');
    const one = await bucketRequest(ip, 'GET', 'examplebucket', { style: '', styleName: 'small' });
    assert.match(one.data.toString(), /<Content>image\/resize,w_40<\/Content>/);
    const all = await bucketRequest(ip, 'GET', 'examplebucket', { style: '' });
    assert.match(all.data.toString(), /<StyleList><Style><Name>small<\/Name>/);
    const styled = await ip.get('img/example.jpg', { process: 'style/small' });
    assert.equal(imageSize(styled.content).width, 40);
    await bucketRequest(ip, 'DELETE', 'examplebucket', { style: '', styleName: 'small' });
    await assert.rejects(ip.get('img/example.jpg', { process: 'style/small' }), { status: 404, code: 'NoSuchStyle' });
  });

  test('multipartUpload of a 200 MB file, then GET and compare the hash', async () => {
    const { mkdtempSync, rmSync, createWriteStream } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'halftone-mp-'));
    try {
      const file = join(dir, 'big.bin');
      const hash = createHash('md5');
      const ws = createWriteStream(file);
      const chunk = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 200; i++) {
        chunk.fill(i % 251);
        chunk.writeUInt32BE(i, 0);
        hash.update(chunk);
        if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
      }
      await new Promise<void>((r) => ws.end(r));
      const expected = hash.digest('hex');
      const res = await ip.multipartUpload('big/200mb.bin', file, { partSize: 8 * 1024 * 1024, parallel: 4 });
      assert.equal(res.res.status, 200);
      const head = await ip.head('big/200mb.bin');
      assert.equal(head.res.headers['content-length'], String(200 * 1024 * 1024));
      assert.match(head.res.headers.etag, /^"[0-9A-F]{32}-25"$/);
      const got = await ip.getStream('big/200mb.bin');
      const h2 = createHash('md5');
      for await (const c of got.stream) h2.update(c as Buffer);
      assert.equal(h2.digest('hex'), expected);
      await ip.delete('big/200mb.bin');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recipe B: cname', () => {
  test('CRUD and a presigned GET with process and a style delimiter', async () => {
    await cname.put('dir/example.jpg', JPEG);
    assert.equal((await cname.get('dir/example.jpg')).content.length, JPEG.length);
    const url: string = cname.signatureUrl('dir/example.jpg', { process: 'image/resize,w_100', expires: 600 });
    assert.ok(url.startsWith(`http://localhost:${cnameServer.port}/dir/example.jpg?`));
    const res = await getKeepingHost(url);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(imageSize(res.body).width, 100);

    await bucketRequest(cname, 'PUT', 'cnamebucket', { style: '', styleName: 'thumb' }, '<Style><Content>image/resize,w_30</Content></Style>');
    const styled = await cname.get('dir/example.jpg!thumb');
    assert.equal(imageSize(styled.content).width, 30);
  });
});

describe('recipe C: path-style (V1 and V4)', () => {
  test('path-style CRUD and signatureUrl with process', async () => {
    await path.put('dir/example.jpg', JPEG);
    const url: string = path.signatureUrl('dir/example.jpg', { process: 'image/resize,w_80', expires: 600 });
    assert.ok(url.startsWith(`http://localhost:${server.port}/examplebucket/dir/example.jpg?`));
    const res = await fetch(url.replace('localhost', '127.0.0.1'));
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(imageSize(Buffer.from(await res.arrayBuffer())).width, 80);
    // The process is signed: changing it breaks the signature.
    const tampered = await fetch(url.replace('localhost', '127.0.0.1').replace('w_80', 'w_81'));
    assert.equal(tampered.status, 403);
  });

  test('V4 header signing: put / get / head / list / copy / delete', async () => {
    await v4.put('k/one.txt', Buffer.from('one'), { meta: { a: '1' } });
    assert.equal((await v4.get('k/one.txt')).content.toString(), 'one');
    assert.deepEqual((await v4.head('k/one.txt')).meta, { a: '1' });
    await v4.copy('k/two.txt', 'k/one.txt');
    const l = await v4.listV2({ prefix: 'k/' });
    assert.deepEqual(l.objects.map((o: { name: string }) => o.name), ['k/one.txt', 'k/two.txt']);
    await v4.deleteMulti(['k/one.txt', 'k/two.txt']);
    assert.equal((await v4.list({ prefix: 'k/' })).objects.length, 0);
  });

  test('V4 get with process and signatureUrlV4 with process', async () => {
    await v4.put('img/example.jpg', JPEG);
    const r = await v4.get('img/example.jpg', { process: 'image/resize,w_60' });
    assert.equal(imageSize(r.content).width, 60);
    const url: string = await v4.signatureUrlV4('GET', 600, { queries: { 'x-oss-process': 'image/resize,w_70' } }, 'img/example.jpg');
    const res = await fetch(url.replace('localhost', '127.0.0.1'));
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(imageSize(Buffer.from(await res.arrayBuffer())).width, 70);
    const saved = await v4.processObjectSave('img/example.jpg', 'img/saved.jpg', 'image/resize,w_20');
    assert.equal(saved.status, 200);
    assert.equal(imageSize((await v4.get('img/saved.jpg')).content).width, 20);
  });
});
