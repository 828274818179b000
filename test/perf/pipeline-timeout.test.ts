/**
 * HALFTONE_PIPELINE_TIMEOUT_S through the server: a recipe that runs past its time budget is
 * stopped by libvips and answered in each dialect's shape (OSS 504 RequestTimeout, Cloudflare 504
 * ERROR 9529), and the server goes on serving. The heavy recipe is five blur passes of a 16 MP
 * image (several seconds on the 2-core machine) against a 1 s budget: the deadline covers all
 * passes, so on a faster machine a later pass is stopped or never started instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import sharp from 'sharp';
import { request } from 'undici';
import { startServer, TEST_AK, TEST_SK } from '../helpers/server.js';

async function put(base: string, path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<number> {
  const date = new Date().toUTCString();
  const oss = Object.keys(headers).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${headers[k]}\n`).join('');
  const sig = createHmac('sha1', TEST_SK).update(`PUT\n\n${headers['content-type'] ?? ''}\n${date}\n${oss}${path}`).digest('base64');
  const res = await request(base + path, { method: 'PUT', headers: { ...headers, date, authorization: `OSS ${TEST_AK}:${sig}` }, ...(body === undefined ? {} : { body }) });
  await res.body.dump();
  return res.statusCode;
}

test('a recipe past HALFTONE_PIPELINE_TIMEOUT_S is stopped with TIMEOUT in the dialect\'s shape; the server serves on', async (t) => {
  const server = await startServer({
    env: { HALFTONE_PIPELINE_TIMEOUT_S: '1', HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0', HALFTONE_HOT_CACHE_BYTES: '0' },
  });
  try {
    const noise = await sharp({ create: { width: 4000, height: 4000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 80 }).toBuffer();
    assert.equal(await put(server.url, '/slow/', undefined, { 'x-oss-acl': 'public-read' }), 200);
    assert.equal(await put(server.url, '/slow/noise.jpg', noise, { 'content-type': 'image/jpeg' }), 200);

    const started = performance.now();
    const oss = await request(`${server.url}/slow/noise.jpg?x-oss-process=image/blur,r_50,s_50/blur,r_50,s_50/blur,r_50,s_50/blur,r_50,s_50/blur,r_50,s_50`);
    const xml = await oss.body.text();
    t.diagnostic(`OSS answered ${oss.statusCode} after ${Math.round(performance.now() - started)} ms`);
    assert.equal(oss.statusCode, 504, xml);
    assert.match(xml, /<Code>RequestTimeout<\/Code>/);
    assert.match(String(oss.headers['content-type']), /xml/);

    const cf = await request(`${server.url}/cdn-cgi/image/blur=250/slow/noise.jpg`);
    const text = await cf.body.text();
    assert.equal(cf.statusCode, 504, text);
    assert.equal(cf.headers['cf-resized'], 'err=9529');
    assert.match(text, /^ERROR 9529/);

    // The slots were given back: ordinary requests are served.
    const small = await request(`${server.url}/slow/noise.jpg?x-oss-process=image/resize,w_100`);
    const bytes = Buffer.from(await small.body.arrayBuffer());
    assert.equal(small.statusCode, 200);
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 100, 100]);
    const metrics = await (await request(`${server.url}/metrics`)).body.text();
    assert.match(metrics, /^halftone_pipeline_in_flight 0$/m);
  } finally {
    await server.stop();
  }
});
