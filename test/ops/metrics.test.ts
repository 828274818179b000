/**
 * /metrics after a mixed run (issue 11 acceptance): the request counters, latency histograms,
 * fetch failures and job counters match exactly the requests and jobs this test made; process
 * memory is exported; every response carries the request id (OSS: the same id in
 * x-oss-request-id and the XML body). Also /readyz: ready with every check listed, 503 once a
 * required part (the job queue) is down. And the result-cache and pixel-pipeline series after
 * transforms that miss, hit and miss the cache (a loopback origin of this test is the source).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startComposed, type ComposedServer } from './composed.js';

let s: ComposedServer;
before(async () => {
  s = await startComposed({ HALFTONE_API_KEYS: 'metrics-token' });
});
after(() => s.close());

/** Parses the Prometheus text format into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

test('metrics count a mixed run exactly; request ids are on every response', async () => {
  const ids = new Set<string>();
  const get = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${s.url}${path}`, init);
    const body = await res.text();
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9A-F]{24}$/, `${path}: x-request-id`);
    ids.add(id!);
    return { res, body, id: id! };
  };
  for (let i = 0; i < 3; i++) assert.equal((await get('/healthz')).res.status, 200);
  for (let i = 0; i < 2; i++) {
    const { res, body, id } = await get('/nosuchbucket/some/key.jpg');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-oss-request-id'), id, 'OSS request id = Fastify request id');
    assert.ok(body.includes(`<RequestId>${id}</RequestId>`), body);
  }
  // Refused by the fetcher before any connection: a loopback origin (SSRF policy) and a blocked port.
  assert.equal((await get('/cdn-cgi/image/width=100/http://127.0.0.1:1234/x.jpg')).res.status, 403);
  assert.equal((await get('/cdn-cgi/image/width=100/http://127.0.0.1:9/x.jpg')).res.status, 403);
  const api = '/client/v4/accounts/halftone/images/v1/stats';
  for (let i = 0; i < 2; i++) assert.equal((await get(api)).res.status, 401);
  assert.equal((await get(api, { headers: { authorization: 'Bearer metrics-token' } })).res.status, 200);
  assert.equal(ids.size, 10, 'request ids are unique');

  // Jobs: two succeed, one fails (one attempt).
  const { queue } = s.composed;
  queue.register('metrics-ok', async () => ({ ok: true }));
  queue.register('metrics-bad', async () => {
    throw new Error('planned failure');
  });
  const settled = new Promise<void>((resolve) => {
    let n = 0;
    queue.onSettled(() => {
      if (++n === 3) resolve();
    });
  });
  await queue.submit('metrics-ok', {});
  await queue.submit('metrics-ok', {});
  await queue.submit('metrics-bad', {}, { attempts: 1 });
  await settled;

  const scrape = await fetch(`${s.url}/metrics`);
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const m = parse(await scrape.text());
  const req = (dialect: string, route: string, status: number) => m.get(`halftone_http_requests_total{dialect="${dialect}",route="${route}",method="GET",status="${status}"}`);
  assert.equal(req('ops', '/healthz', 200), 3);
  assert.equal(req('oss', '/*', 404), 2);
  assert.equal(req('cloudflare', '/cdn-cgi/image/*', 403), 2);
  assert.equal(req('images', '/client/v4/accounts/:account/images/v1/stats', 401), 2);
  assert.equal(req('images', '/client/v4/accounts/:account/images/v1/stats', 200), 1);
  // Nothing else was requested (the scrape itself is counted once it has finished).
  const total = [...m].filter(([k]) => k.startsWith('halftone_http_requests_total{')).reduce((a, [, v]) => a + v, 0);
  assert.equal(total, 10);
  assert.equal(m.get('halftone_http_request_duration_seconds_count{dialect="ops",route="/healthz",method="GET"}'), 3);
  assert.equal(m.get('halftone_http_request_duration_seconds_bucket{le="+Inf",dialect="ops",route="/healthz",method="GET"}'), 3);
  assert.equal(m.get('halftone_source_fetch_failures_total{reason="FETCH_FORBIDDEN_ADDRESS"}'), 1);
  assert.equal(m.get('halftone_source_fetch_failures_total{reason="FETCH_INVALID_URL"}'), 1);
  // Both refused sources went through the source cache as misses and left nothing in it.
  assert.equal(m.get('halftone_source_cache_lookups{result="miss"}'), 2);
  assert.equal(m.get('halftone_source_cache_lookups{result="hit"}'), 0);
  assert.equal(m.get('halftone_source_cache_entries'), 0);
  assert.equal(m.get('halftone_source_cache_bytes'), 0);
  assert.equal(m.get('halftone_jobs_settled_total{kind="metrics-ok",state="succeeded"}'), 2);
  assert.equal(m.get('halftone_jobs_settled_total{kind="metrics-bad",state="failed"}'), 1);
  assert.ok((m.get('process_resident_memory_bytes') ?? 0) > 10_000_000, 'process memory is exported');
  assert.ok(m.has('nodejs_heap_size_used_bytes'));

  const again = parse(await (await fetch(`${s.url}/metrics`)).text());
  assert.equal(again.get('halftone_http_requests_total{dialect="ops",route="/metrics",method="GET",status="200"}'), 1);
});

test('/readyz: ready with each check, 503 when the job queue is down', async () => {
  const res = await fetch(`${s.url}/readyz`);
  const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; required: boolean; detail: string }> };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.status, 'ready');
  assert.deepEqual(Object.keys(body.checks).sort(), ['ffmpeg', 'heif-enc', 'queue', 'storage']);
  assert.deepEqual([body.checks['storage']!.ok, body.checks['storage']!.required], [true, true]);
  assert.deepEqual([body.checks['queue']!.ok, body.checks['queue']!.required], [true, true]);
  // Optional tools are reported either way, never required.
  for (const t of ['ffmpeg', 'heif-enc']) {
    assert.equal(body.checks[t]!.required, false);
    assert.match(body.checks[t]!.detail, body.checks[t]!.ok ? /^available/ : /^not available: .*install/);
  }
  await s.composed.queue.close({ mode: 'abort' });
  const down = await fetch(`${s.url}/readyz`);
  const downBody = (await down.json()) as typeof body;
  assert.equal(down.status, 503);
  assert.equal(downBody.status, 'not-ready');
  assert.equal(downBody.checks['queue']!.ok, false);
  assert.match(downBody.checks['queue']!.detail, /closed/);
  assert.equal(downBody.checks['storage']!.ok, true);
  // Liveness is unaffected.
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('result cache and pixel pipeline series follow a miss, a cached repeat and another miss', async () => {
  const jpeg = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
  let originHits = 0;
  const origin = createServer((req, res) => {
    originHits++;
    if (req.url !== '/a.jpg') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) }).end(jpeg);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const srv = await startComposed({ HALFTONE_ALLOWED_ORIGINS: originUrl, HALFTONE_ANY_PUBLIC_ORIGIN: 'false' });
  try {
    const scrape = async () => parse(await (await fetch(`${srv.url}/metrics`)).text());
    const before = await scrape();
    // Nothing ran yet: the series exist (with zeros) from the start.
    assert.equal(before.get('halftone_pipeline_in_flight'), 0);
    assert.equal(before.get('halftone_pipeline_queue_depth'), 0);
    assert.equal(before.get('halftone_pipeline_decisions_total{outcome="admitted"}'), 0);
    assert.equal(before.get('halftone_result_cache_lookups_total{result="miss"}'), 0);
    assert.equal(before.get('halftone_result_cache_entries{tier="memory"}'), 0);
    const transform = async (options: string) => {
      const res = await fetch(`${srv.url}/cdn-cgi/image/${options}/${originUrl}/a.jpg`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(res.headers.get('content-type') ?? '', /^image\//);
      await res.arrayBuffer();
    };
    await transform('width=100,format=jpeg');
    // The cache write is not awaited by the response: wait until the variant is stored.
    for (let i = 0; i < 200 && (await scrape()).get('halftone_result_cache_entries{tier="memory"}') !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    await transform('width=100,format=jpeg'); // the cached repeat
    await transform('width=50,format=jpeg'); // a different variant: a miss
    const m = await scrape();
    assert.equal(m.get('halftone_variants_total{outcome="computed"}'), 2);
    assert.equal(m.get('halftone_variants_total{outcome="hit"}'), 1);
    assert.equal(m.get('halftone_variants_total{outcome="coalesced"}'), 0);
    assert.equal(m.get('halftone_result_cache_lookups_total{result="memory_hit"}'), 1);
    assert.equal(m.get('halftone_result_cache_lookups_total{result="disk_hit"}'), 0);
    assert.equal(m.get('halftone_result_cache_lookups_total{result="miss"}'), 2);
    assert.equal(m.get('halftone_result_cache_write_errors_total'), 0);
    // Only the two computations went through admission; nothing waits or runs afterwards.
    assert.equal(m.get('halftone_pipeline_decisions_total{outcome="admitted"}'), 2);
    assert.equal(m.get('halftone_pipeline_decisions_total{outcome="refused"}'), 0);
    assert.equal(m.get('halftone_pipeline_in_flight'), 0);
    assert.equal(m.get('halftone_pipeline_queue_depth'), 0);
    assert.ok((m.get('halftone_pipeline_max_in_flight') ?? 0) >= 1);
    for (let i = 0; i < 200 && (await scrape()).get('halftone_result_cache_entries{tier="memory"}') !== 2; i++) await new Promise((r) => setTimeout(r, 10));
    const stored = await scrape();
    assert.equal(stored.get('halftone_result_cache_entries{tier="memory"}'), 2);
    assert.ok((stored.get('halftone_result_cache_bytes{tier="memory"}') ?? 0) > 0);
    assert.equal(stored.get('halftone_result_cache_evictions_total{reason="memory"}'), 0);
    // The exposition types: totals since start are counters, current values gauges.
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /^# TYPE halftone_result_cache_lookups_total counter$/m);
    assert.match(text, /^# TYPE halftone_pipeline_decisions_total counter$/m);
    assert.match(text, /^# TYPE halftone_pipeline_in_flight gauge$/m);
    assert.equal(m.get('halftone_http_requests_total{dialect="cloudflare",route="/cdn-cgi/image/*",method="GET",status="200"}'), 3);
    assert.ok(originHits >= 1);
  } finally {
    await srv.close();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});
