/**
 * Sources read into memory before their pipeline are held against the memory budget, through the
 * composed server: remote downloads of Cloudflare transformations (a loopback origin that stalls
 * bodies) and OSS processed GETs from an S3-compatible store (s3rver on loopback). With a budget
 * of one byte only one source is held at a time (a lone holder always goes on): the next waits in
 * the bounded queue of holds, and the one after that is refused in the dialect's 503 shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { photo, seriesValue, startPerfHarness, startStallingOrigin, until, type PerfHarness } from './harness.js';
import { startLocalS3 } from '../helpers/s3-server.js';

/** One series of the /metrics exposition, or undefined. */
async function series(h: PerfHarness, name: string): Promise<number | undefined> {
  return seriesValue((await h.get('/metrics')).body.toString(), name);
}

const TIGHT = { HALFTONE_MEMORY_BUDGET_BYTES: '1', HALFTONE_MAX_QUEUE: '1', HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0' };

test('Cloudflare remote sources: a download is held from its headers on, the next waits, the one after is refused (9527)', async () => {
  const jpeg = await photo(640, 480);
  const origin = await startStallingOrigin(jpeg);
  const originUrl = origin.url;
  const h = await startPerfHarness({ ...TIGHT, HALFTONE_ALLOWED_ORIGINS: originUrl, HALFTONE_ANY_PUBLIC_ORIGIN: 'false' });
  try {
    const get = (name: string) => h.get(`/cdn-cgi/image/width=100,format=jpeg/${originUrl}/${name}`);
    const first = get('a.jpg');
    await until('the first download to be held', async () => (await series(h, 'halftone_source_memory_held_bytes')) === jpeg.length);
    const second = get('b.jpg');
    await until('the second download to wait for memory', async () => (await series(h, 'halftone_source_memory_queue_depth')) === 1);
    assert.deepEqual(origin.asked, ['a.jpg', 'b.jpg'], 'the waiting download has its headers, not its body');
    const third = await get('c.jpg');
    assert.equal(third.status, 503);
    assert.equal(third.headers['cf-resized'], 'err=9527');
    assert.match(String(third.headers['retry-after']), /^\d+$/);
    origin.open('a.jpg');
    const a = await first;
    assert.equal(a.status, 200);
    assert.equal((await sharp(a.body).metadata()).width, 100);
    // The first request's bytes were given back: the second download holds its own now.
    await until('the second download to be held', async () => (await series(h, 'halftone_source_memory_held_bytes')) === jpeg.length);
    origin.open('b.jpg');
    const b = await second;
    assert.equal(b.status, 200);
    assert.equal((await sharp(b.body).metadata()).width, 100);
    assert.equal(await series(h, 'halftone_source_memory_held_bytes'), 0);
    assert.equal(await series(h, 'halftone_source_memory_queue_depth'), 0);
  } finally {
    origin.release();
    await h.close();
    await origin.close();
  }
});

test('OSS processed GETs from an S3-compatible store: the source is held before it is read; beyond the queue, ServiceUnavailable', async () => {
  const s3 = await startLocalS3('halftone-hold');
  const h = await startPerfHarness({
    ...TIGHT, HALFTONE_MAX_PIPELINES: '1',
    HALFTONE_STORAGE: 's3', HALFTONE_S3_ENDPOINT: s3.endpoint, HALFTONE_S3_REGION: s3.region, HALFTONE_S3_BUCKET: s3.bucket,
    HALFTONE_S3_ACCESS_KEY_ID: s3.accessKeyId, HALFTONE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, HALFTONE_S3_FORCE_PATH_STYLE: 'true',
  });
  try {
    const source = await photo(2400, 1800);
    await h.put('pics', 'big.jpg', source);
    // A slow pipeline (a wide blur) keeps the first source held while the others arrive.
    const pending = Promise.all([1, 2, 3].map((i) => h.get(`/pics/big.jpg?x-oss-process=image/resize,w_${600 + i}/blur,r_50,s_50`)));
    // The second source waits for memory before it is read (not for a pipeline slot after it).
    await until('a source to wait for memory', async () => (await series(h, 'halftone_source_memory_queue_depth')) === 1);
    assert.equal(await series(h, 'halftone_source_memory_held_bytes'), source.length);
    assert.equal(await series(h, 'halftone_pipeline_queue_depth'), 0);
    const all = await pending;
    const statuses = all.map((r) => r.status);
    assert.deepEqual([...statuses].sort(), [200, 200, 503], statuses.join(','));
    for (const r of all.filter((x) => x.status === 200)) assert.equal((await sharp(r.body).metadata()).format, 'jpeg');
    const refused = all.find((x) => x.status === 503)!;
    assert.match(refused.body.toString(), /<Code>ServiceUnavailable<\/Code>/);
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    const stats = h.composed.perfStats().admission;
    assert.equal(stats.heldBytes, 0);
    assert.equal(stats.holdQueued, 0);
    assert.equal(stats.refused, 1);
    assert.equal(stats.waited, 1, 'the second source waited for the first');
  } finally {
    await h.close();
    await s3.stop();
  }
});
