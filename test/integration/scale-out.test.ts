/**
 * `npm start` in scale-out mode (HALFTONE_STORAGE=s3, HALFTONE_QUEUE=bullmq) against a local
 * s3rver and redis-server on loopback: the real ali-oss client writes (simple and multipart) and
 * reads objects and processed images, the bytes live in the S3 bucket (not the data dir), the
 * queue's keys live in Redis, and a restart serves the same objects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { redisSkip, startLocalRedis, type LocalRedis } from '../helpers/redis-server.js';
import { client, type OssClient } from './oss-client.js';

const JPEG = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const skip = redisSkip();

describe('scale-out mode (S3 storage, BullMQ queue)', { skip }, () => {
  let s3: LocalS3;
  let redis: LocalRedis;
  let server: RunningServer;
  let env: Record<string, string>;
  let oss: OssClient;
  const dataDir = mkdtempSync(join(tmpdir(), 'halftone-scale-'));

  before(async () => {
    s3 = await startLocalS3('halftone-blobs');
    redis = await startLocalRedis();
    env = {
      HALFTONE_STORAGE: 's3',
      HALFTONE_S3_ENDPOINT: s3.endpoint,
      HALFTONE_S3_REGION: s3.region,
      HALFTONE_S3_BUCKET: s3.bucket,
      HALFTONE_S3_PREFIX: 'node/',
      HALFTONE_S3_ACCESS_KEY_ID: s3.accessKeyId,
      HALFTONE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      HALFTONE_S3_FORCE_PATH_STYLE: 'true',
      HALFTONE_QUEUE: 'bullmq',
      REDIS_URL: redis.url,
      HALFTONE_REDIS_PREFIX: 'scaletest',
    };
    server = await startServer({ dataDir, env });
    oss = client({ bucket: 'scalebucket', endpoint: server.url });
    await oss.putBucket('scalebucket');
  });

  after(async () => {
    await server?.stop({ keepDataDir: true });
    rmSync(dataDir, { recursive: true, force: true });
    await redis?.stop();
    await s3?.stop();
  });

  async function s3Keys(): Promise<string[]> {
    const c = new S3Client({
      endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      const page = await c.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      return (page.Contents ?? []).map((o) => o.Key ?? '');
    } finally {
      c.destroy();
    }
  }

  test('objects written through the OSS API are stored in the S3 bucket and read back whole', async () => {
    const before = (await s3Keys()).length;
    await oss.put('img/example.jpg', JPEG);
    const got = await oss.get('img/example.jpg');
    assert.equal(md5(got.content), md5(JPEG));
    const keys = await s3Keys();
    assert.equal(keys.length, before + 1);
    assert.ok(keys.every((k) => /^node\/blobs\/[0-9a-f]{32}$/.test(k)), keys.join(','));
    assert.equal(existsSync(join(dataDir, 'blobs')), false, 'no blob in the data dir');
    const r = await oss.get('img/example.jpg', { process: 'image/resize,w_100/format,png' });
    assert.equal(r.content.readUInt32BE(16), 100);
    const range = await oss.get('img/example.jpg', { headers: { Range: 'bytes=0-0' } });
    assert.deepEqual(range.content, JPEG.subarray(0, 1));
  });

  test('a multipart upload is completed into one S3 object; parts are removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halftone-scale-mp-'));
    try {
      const file = join(dir, 'big.bin');
      const bytes = randomBytes(12 * 1024 * 1024);
      writeFileSync(file, bytes);
      const before = (await s3Keys()).length;
      await oss.multipartUpload('big/12mb.bin', file, { partSize: 5 * 1024 * 1024, parallel: 2 });
      const got = await oss.getStream('big/12mb.bin');
      const h = createHash('md5');
      for await (const c of got.stream) h.update(c as Buffer);
      assert.equal(h.digest('hex'), md5(bytes));
      assert.equal((await s3Keys()).length, before + 1, 'one S3 object for the whole; the part blobs are gone');
      await oss.delete('big/12mb.bin');
      assert.equal((await s3Keys()).length, before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the job queue connected to Redis under its prefix', async () => {
    const r = new Redis(redis.url);
    try {
      // The queue subscribes to its cancel channel on start.
      const channels = (await r.pubsub('CHANNELS', 'scaletest:*')) as string[];
      assert.deepEqual(channels, ['scaletest:cancel']);
    } finally {
      r.disconnect();
    }
  });

  test('a restarted node serves the same objects from S3', async () => {
    await server.stop({ keepDataDir: true });
    server = await startServer({ dataDir, env });
    oss = client({ bucket: 'scalebucket', endpoint: server.url });
    const got = await oss.get('img/example.jpg');
    assert.equal(md5(got.content), md5(JPEG));
  });
});

test('scale-out settings are validated together', async () => {
  const { load } = await import('../../src/config/schema.js');
  const ok = load({});
  assert.ok(ok.ok);
  assert.equal(ok.config.storage, 'fs');
  assert.equal(ok.config.queue, 'embedded');
  const bad = load({
    HALFTONE_STORAGE: 'nfs', HALFTONE_QUEUE: 'kafka', HALFTONE_S3_FORCE_PATH_STYLE: 'yes', HALFTONE_S3_ACCESS_KEY_ID: 'a',
    HALFTONE_S3_ENDPOINT: 'minio:9000', HALFTONE_REDIS_PREFIX: 'a:b',
  });
  assert.ok(!bad.ok);
  assert.equal(bad.errors.length, 6, bad.errors.join('\n'));
  const missing = load({ HALFTONE_STORAGE: 's3', HALFTONE_QUEUE: 'bullmq', REDIS_URL: 'http://user:hunter2@x' });
  assert.ok(!missing.ok);
  assert.deepEqual(missing.errors.map((e) => e.split(':')[0]), ['HALFTONE_S3_BUCKET', 'REDIS_URL']);
  assert.ok(!missing.errors.join(' ').includes('hunter2'), 'the Redis password is not echoed');
});
