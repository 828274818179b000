/**
 * Hosted-image delivery (`/cdn-cgi/imagedelivery/<hash>/<id>/<variant>`) through the composed
 * server and its result cache: a variant already computed is answered from the request alone
 * (the original is neither read nor probed; proved by corrupting the stored original after the
 * first delivery), a miss still reads it, and If-None-Match answers 304.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { imagesApi, photo, startPerfHarness } from './harness.js';

/** Files under `dir` whose bytes are `data`. */
function filesHolding(dir: string, data: Buffer): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesHolding(p, data));
    else if (st.size === data.length && readFileSync(p).equals(data)) out.push(p);
  }
  return out;
}

test('hosted delivery: a cached variant is served without reading the original; a miss reads it', async () => {
  const h = await startPerfHarness({ HALFTONE_API_KEYS: 'tok-1' });
  try {
    const jpeg = await photo(640, 480);
    const upload = await imagesApi(h, 'tok-1', 'POST', '/v1', { file: jpeg });
    assert.equal(upload.status, 200);
    const id = String(upload.result['id']);
    const url = `/cdn-cgi/imagedelivery/halftone/${id}/public`;
    const webp = { accept: 'image/webp,*/*' };

    const first = await h.get(url, webp);
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(first.headers['content-type'], 'image/webp');
    const stats0 = h.composed.perfStats().variants;

    // Corrupt the stored original in place: from now on, reading it fails.
    const stored = filesHolding(h.dataDir, jpeg);
    assert.ok(stored.length >= 1, 'the original is stored as a file in the data dir');
    for (const p of stored) writeFileSync(p, Buffer.alloc(jpeg.length, 0x5a));

    const again = await h.get(url, webp);
    assert.equal(again.status, 200, again.body.toString());
    assert.ok(again.body.equals(first.body), 'the cached bytes');
    assert.equal(again.headers['etag'], first.headers['etag']);
    assert.equal(h.composed.perfStats().variants.hits - stats0.hits, 1);
    const meta = await sharp(again.body).metadata();
    assert.equal(meta.format, 'webp');

    const notModified = await h.get(url, { ...webp, 'if-none-match': String(first.headers['etag']) });
    assert.equal(notModified.status, 304);

    // Another negotiated format is another variant: a miss, which must read the (now broken) original.
    const miss = await h.get(url, { accept: 'image/jpeg' });
    assert.notEqual(miss.status, 200);
    assert.equal(h.composed.perfStats().variants.computes - stats0.computes, 0, 'nothing was encoded from the broken original');
  } finally {
    await h.close();
  }
});
