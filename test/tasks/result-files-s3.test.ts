/**
 * S3 ResultFiles and TaskInputs (scale-out mode) against s3rver on loopback: a result published by
 * one instance is opened by another with the same key, a wrong key or signature is refused, an
 * expired result is gone and swept; task inputs round-trip, and a fresh input is not listed as an
 * orphan.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { createS3ResultFiles } from '../../src/adapters/results/s3.js';
import { createS3TaskInputs } from '../../src/adapters/tasks/inputs-s3.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';

let s3: LocalS3;
let client: S3Client;
before(async () => {
  s3 = await startLocalS3('results-test');
  client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
});
after(async () => {
  client?.destroy();
  await s3?.stop();
});

const read = async (stream: NodeJS.ReadableStream) => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
};

test('a result published on one node opens on another with the same key; others are refused', async () => {
  const secret = Buffer.alloc(32, 7);
  let clock = Date.now();
  const a = await createS3ResultFiles({ client, bucket: s3.bucket, prefix: 'p/', secret, now: () => clock });
  const b = await createS3ResultFiles({ client, bucket: s3.bucket, prefix: 'p/', secret, now: () => clock });
  const other = await createS3ResultFiles({ client, bucket: s3.bucket, prefix: 'p/', secret: Buffer.alloc(32, 8), now: () => clock });
  try {
    const pub = await a.publish(Buffer.from('hello result'), { contentType: 'image/webp', fileName: 'cat photo.webp', ttlMs: 60_000 });
    const u = new URL(pub.path, 'http://x');
    const [, , id, name] = u.pathname.split('/');
    const ok = await b.open(id!, decodeURIComponent(name!), u.searchParams.get('expires')!, u.searchParams.get('signature')!);
    assert.equal(ok.kind, 'ok');
    if (ok.kind === 'ok') {
      assert.equal(ok.contentType, 'image/webp');
      assert.equal(ok.fileName, 'cat_photo.webp');
      assert.equal((await read(ok.stream)).toString(), 'hello result');
    }
    assert.equal((await other.open(id!, decodeURIComponent(name!), u.searchParams.get('expires')!, u.searchParams.get('signature')!)).kind, 'forbidden');
    assert.equal((await b.open(id!, decodeURIComponent(name!), u.searchParams.get('expires')!, 'A'.repeat(43))).kind, 'forbidden');
    clock += 61_000;
    assert.equal((await b.open(id!, decodeURIComponent(name!), u.searchParams.get('expires')!, u.searchParams.get('signature')!)).kind, 'gone');
    assert.equal(await b.sweep(), 1);
    assert.equal(await b.sweep(), 0);
  } finally {
    a.close();
    b.close();
    other.close();
  }
});

test('task inputs round-trip; fresh ones are not offered as orphans, old ones are', async () => {
  let clock = Date.now();
  const inputs = createS3TaskInputs({ client, bucket: s3.bucket, prefix: 'p/', now: () => clock });
  await inputs.put('t1.in', Buffer.from('abc'));
  assert.equal((await inputs.get('t1.in'))?.toString(), 'abc');
  assert.equal(await inputs.get('missing.in'), undefined);
  assert.deepEqual(await inputs.list(), []);
  clock += 11 * 60 * 1000;
  assert.deepEqual(await inputs.list(), ['t1.in']);
  await inputs.remove('t1.in');
  assert.equal(await inputs.get('t1.in'), undefined);
  await assert.rejects(inputs.put('../x', Buffer.from('')), RangeError);
});
