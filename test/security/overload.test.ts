/**
 * Bounded processing queue (src/app/admission.ts, unit-tested in test/perf/admission.test.ts): at
 * most HALFTONE_MAX_PIPELINES transformations run and at most HALFTONE_MAX_QUEUE wait; a burst beyond that is refused at once with 503 in each dialect's
 * shape (OSS ServiceUnavailable, Cloudflare 9527), the admitted requests complete, and the
 * server keeps answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { healthy, oss, record, startSuite, stopSuite } from './harness.js';

test('a burst beyond the queue gets 503 in the dialect shape; admitted requests complete; server up', async () => {
  const ctx = await startSuite({ HALFTONE_MAX_PIPELINES: '1', HALFTONE_MAX_QUEUE: '1' });
  try {
    const big = await sharp({ create: { width: 1500, height: 1500, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    assert.equal((await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, key: 'big.png', body: big })).status, 200);
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => i % 2 === 0
      ? oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'big.png', query: [['x-oss-process', `image/blur,r_50,s_50/resize,w_${100 + i}`]] })
        .then((r) => ({ status: r.status, shape: /<Code>([^<]+)<\/Code>/.exec(r.body.toString())?.[1] ?? '' }))
      : fetch(`${ctx.server.url}/cdn-cgi/image/blur=250,width=${100 + i}/${ctx.bucket}/big.png`).then(async (r) => ({ status: r.status, shape: (await r.text()).slice(0, 10) }))));
    const statuses = burst.map((b) => b.status);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    assert.ok(statuses.filter((s) => s === 200).length >= 2, `admitted: ${statuses.join(',')}`);
    const refused = burst.filter((b) => b.status === 503);
    assert.ok(refused.length >= 1, `refused: ${statuses.join(',')}`);
    for (const r of refused) assert.ok(r.shape === 'ServiceUnavailable' || r.shape.startsWith('ERROR 9527'), r.shape);
    assert.ok(await healthy(ctx));
    const after = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'big.png', query: [['x-oss-process', 'image/resize,w_10']] });
    assert.equal(after.status, 200);
    await record('overload', { pipelines: 1, queue: 1, burst: 10, statuses });
  } finally {
    await stopSuite(ctx);
  }
});

test('Abstract uploads share the admission control: a burst gets 503 service_unavailable + Retry-After; server up', async () => {
  const ctx = await startSuite({ HALFTONE_MAX_PIPELINES: '1', HALFTONE_MAX_QUEUE: '0' });
  try {
    const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    const upload = (i: number) => {
      const form = new FormData();
      form.set('data', JSON.stringify({ lossy: true, quality: 40 + i }));
      form.set('image', new Blob([big]), 'big.png');
      return fetch(`${ctx.server.url}/v1/upload/`, { method: 'POST', headers: { authorization: `Bearer ${ctx.apiToken}` }, body: form })
        .then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: JSON.parse(await r.text()) as { error?: { code?: string } } }));
    };
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(i)));
    const statuses = burst.map((b) => b.status);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    assert.ok(statuses.includes(200), `admitted: ${statuses.join(',')}`);
    const refused = burst.filter((b) => b.status === 503);
    assert.ok(refused.length >= 1, `refused: ${statuses.join(',')}`);
    for (const r of refused) {
      assert.equal(r.body.error?.code, 'service_unavailable');
      assert.match(r.retryAfter ?? '', /^[1-9]\d*$/);
    }
    assert.ok(await healthy(ctx));
    await record('overload-abstract', { pipelines: 1, queue: 0, burst: 6, statuses });
  } finally {
    await stopSuite(ctx);
  }
});
