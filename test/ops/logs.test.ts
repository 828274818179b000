/**
 * Structured logs of the built server: one JSON line per request at HALFTONE_LOG_LEVEL=info with
 * the same request id the response carries, signatures redacted; `warn` drops request lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startServer } from '../helpers/server.js';
import { client } from '../integration/oss-client.js';

test('JSON request logs carry the response request id and redact signatures', async () => {
  const server = await startServer({ env: { HALFTONE_LOG_LEVEL: 'info' } });
  try {
    const res = await fetch(`${server.url}/nosuchbucket/a.jpg?OSSAccessKeyId=AK&Expires=99&Signature=c2VjcmV0`);
    // An unknown key id with a bad signature: refused (403) in OSS XML.
    assert.equal(res.status, 403);
    const id = res.headers.get('x-request-id')!;
    assert.equal(res.headers.get('x-oss-request-id'), id);
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l['reqId'] === id);
    assert.ok(line, server.output());
    assert.equal(line['msg'], 'request');
    assert.equal(line['level'], 30);
    assert.equal(line['dialect'], 'oss');
    assert.equal(line['status'], 403);
    assert.equal(line['url'], '/nosuchbucket/a.jpg?OSSAccessKeyId=[redacted]&Expires=99&Signature=[redacted]');
    assert.equal(typeof line['ms'], 'number');
    assert.ok(!server.output().includes('c2VjcmV0'), 'the signature never reaches the log');
  } finally {
    await server.stop();
  }
});

test('at warn, request lines are not logged', async () => {
  const server = await startServer({ env: { HALFTONE_LOG_LEVEL: 'warn' } });
  try {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!server.output().includes('"msg":"request"'), server.output());
  } finally {
    await server.stop();
  }
});

test('a hot-cache hit logs the same request line as the routed miss, marked hot', async () => {
  const server = await startServer({ env: { HALFTONE_LOG_LEVEL: 'info' } });
  try {
    const oss = client({ endpoint: server.url, bucket: 'logs' });
    await oss.putBucket('logs');
    await oss.putBucketACL('logs', 'public-read');
    await oss.put('a.png', await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } }).png().toBuffer());
    const url = `${server.url}/logs/a.png?x-oss-process=image/resize,w_32`;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      ids.push(res.headers.get('x-request-id')!);
    }
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const [miss, hit] = ids.map((id) => lines.find((l) => l['reqId'] === id));
    assert.ok(miss && hit, server.output());
    assert.equal(hit['hot'], true, 'the second request was answered by the hot cache');
    assert.equal(miss['hot'], undefined);
    const { time: _t1, reqId: _r1, ms: _m1, hot: _h, ...hitRest } = hit;
    const { time: _t2, reqId: _r2, ms: _m2, ...missRest } = miss;
    assert.deepEqual(hitRest, missRest, 'same level, pid, hostname, dialect, method, url, route, status and msg');
    assert.deepEqual(Object.keys(hit), [...Object.keys(miss).filter((k) => k !== 'msg'), 'hot', 'msg'], 'same field order');
    assert.equal(typeof hit['ms'], 'number');
    assert.ok(Math.abs(Number(hit['time']) - Date.now()) < 60_000);
  } finally {
    await server.stop();
  }
});

test('request lines still pending in the log buffer are written when the server stops', async () => {
  const server = await startServer({ env: { HALFTONE_LOG_LEVEL: 'info' } });
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  const id = res.headers.get('x-request-id')!;
  // Stopped at once, well within the buffer's 100 ms: close() writes the pending line.
  await server.stop();
  const line = server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l['reqId'] === id && l['msg'] === 'request');
  assert.ok(line !== undefined, server.output());
  assert.equal(line['status'], 200);
});
