/**
 * Result cache and coalescing through the composed server (both dialects): one encode for 100
 * concurrent identical cold requests, 304 on If-None-Match without pixel work, invalidation on
 * overwrite and delete, entries surviving a restart (disk tier).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { photo, startPerfHarness } from './harness.js';

const OSS_URL = '/pics/a.jpg?x-oss-process=image/resize,w_120';
const CF_URL = '/cdn-cgi/image/width=120,format=webp/pics/a.jpg';

test('100 concurrent identical cold requests cause exactly one encode (OSS and Cloudflare)', async () => {
  const h = await startPerfHarness();
  try {
    await h.put('pics', 'a.jpg', await photo(800, 600));
    for (const url of [OSS_URL, CF_URL]) {
      const before = h.composed.perfStats().variants;
      const res = await Promise.all(Array.from({ length: 100 }, () => h.get(url)));
      const after = h.composed.perfStats().variants;
      assert.deepEqual(new Set(res.map((r) => r.status)), new Set([200]), url);
      assert.equal(new Set(res.map((r) => r.body.toString('base64'))).size, 1, 'every response has the same bytes');
      assert.equal(after.computes - before.computes, 1, `${url}: exactly one encode`);
      assert.equal(after.computes - before.computes + (after.coalesced - before.coalesced) + (after.hits - before.hits), 100);
      assert.equal((await sharp(res[0]!.body).metadata()).width, 120);
    }
  } finally {
    await h.close();
  }
});

test('If-None-Match answers 304 without pixel work in both dialects', async () => {
  // Cloudflare: the ETag is known from the recipe and source version before decoding (cache off here).
  // OSS: the ETag is the MD5 of the processed bytes, as OSS sends it; a cached variant keeps it.
  for (const [url, env] of [
    [CF_URL, { HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0' }],
    [CF_URL, {}],
    [OSS_URL, {}],
  ] as const) {
    const h = await startPerfHarness(env);
    try {
      await h.put('pics', 'a.jpg', await photo(400, 300));
      const first = await h.get(url);
      assert.equal(first.status, 200);
      const etag = String(first.headers['etag']);
      assert.match(etag, /^"/);
      const before = h.composed.perfStats();
      const again = await h.get(url, { 'if-none-match': etag });
      assert.equal(again.status, 304, url);
      assert.equal(again.body.length, 0);
      assert.equal(again.headers['etag'], etag);
      const after = h.composed.perfStats();
      // A 304 that ran the engine would show as a compute and an admission.
      assert.equal(after.variants.computes, before.variants.computes);
      assert.equal(after.admission.admitted, before.admission.admitted);
      const other = await h.get(url, { 'if-none-match': '"something-else"' });
      assert.equal(other.status, 200);
      assert.ok(other.body.equals(first.body));
    } finally {
      await h.close();
    }
  }
});

test('overwriting or deleting the source invalidates its cached variants', async () => {
  const h = await startPerfHarness();
  try {
    await h.put('pics', 'a.jpg', await photo(400, 300));
    const a = await h.get(OSS_URL);
    const c = await h.get(CF_URL);
    assert.equal((await sharp(a.body).metadata()).height, 90);
    assert.equal(h.composed.perfStats().variants.cache?.memoryEntries, 2);
    // Overwrite with another aspect ratio: the next answers show the new source.
    await h.put('pics', 'a.jpg', await photo(400, 400, 2));
    const stats = h.composed.perfStats().variants.cache!;
    assert.equal(stats.memoryEntries, 0, 'variants of the old version were purged');
    assert.equal(stats.diskEntries, 0);
    const a2 = await h.get(OSS_URL);
    const c2 = await h.get(CF_URL);
    assert.equal((await sharp(a2.body).metadata()).height, 120);
    assert.equal((await sharp(c2.body).metadata()).height, 120);
    assert.notEqual(a2.headers['etag'], a.headers['etag']);
    assert.notEqual(c2.headers['etag'], c.headers['etag']);
    // Delete: nothing is served from the cache any more.
    const del = await h.signed('DELETE', '/pics/a.jpg');
    assert.equal(del.status, 204);
    assert.equal(h.composed.perfStats().variants.cache?.memoryEntries, 0);
    assert.equal((await h.get(OSS_URL)).status, 404);
    assert.equal((await h.get(CF_URL)).status, 404);
  } finally {
    await h.close();
  }
});

test('cached variants survive a restart (disk tier)', async () => {
  const h = await startPerfHarness();
  const dir = h.dataDir;
  let bodies: Buffer[];
  try {
    await h.put('pics', 'a.jpg', await photo(400, 300));
    bodies = [(await h.get(OSS_URL)).body, (await h.get(CF_URL)).body];
    // Disk writes are not awaited by the response; wait until both are there.
    for (let i = 0; i < 100 && (h.composed.perfStats().variants.cache?.diskEntries ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await h.close(true);
  }
  const h2 = await startPerfHarness({}, dir);
  try {
    assert.equal(h2.composed.perfStats().variants.cache?.diskEntries, 2);
    const again = [(await h2.get(OSS_URL)).body, (await h2.get(CF_URL)).body];
    const s = h2.composed.perfStats().variants;
    assert.equal(s.computes, 0, 'nothing was encoded after the restart');
    assert.equal(s.cache?.diskHits, 2);
    assert.ok(again[0]!.equals(bodies[0]!) && again[1]!.equals(bodies[1]!));
  } finally {
    await h2.close();
  }
});
