/** Units behind the operations endpoints: dialect labels, log redaction, readiness, the fetch-failure hook, the prom adapter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialectOf, loggableUrl } from '../../src/http/observability.js';
import { checkReadiness, toolCheck, type ReadinessCheck } from '../../src/app/readiness.js';
import { withFetchFailureHook } from '../../src/adapters/source/metered.js';
import { createPromMetrics } from '../../src/adapters/metrics/prom.js';
import { AppError } from '../../src/core/errors.js';
import type { SourceFetcher } from '../../src/ports/source-fetcher.js';

test('dialectOf maps route templates to API families', () => {
  assert.equal(dialectOf('/*'), 'oss');
  assert.equal(dialectOf(undefined), 'oss');
  assert.equal(dialectOf('/cdn-cgi/image/*'), 'cloudflare');
  assert.equal(dialectOf('/img/*', '/img'), 'cloudflare');
  assert.equal(dialectOf('/cdn-cgi/imagedelivery/*'), 'images');
  assert.equal(dialectOf('/client/v4/accounts/:account/images/v1'), 'images');
  assert.equal(dialectOf('/api/tasks/visual/imgcompress'), 'tasks');
  assert.equal(dialectOf('/v1/upload/'), 'abstract');
  assert.equal(dialectOf('/playground/*'), 'playground');
  assert.equal(dialectOf('/readyz'), 'ops');
});

test('loggableUrl redacts signatures and keys, keeps the rest', () => {
  assert.equal(loggableUrl('/b/k.jpg?x-oss-process=image/resize,w_1'), '/b/k.jpg?x-oss-process=image/resize,w_1');
  assert.equal(
    loggableUrl('/b/k.jpg?OSSAccessKeyId=AK&Expires=1&Signature=abc%2Bdef&x-oss-process=image/info'),
    '/b/k.jpg?OSSAccessKeyId=[redacted]&Expires=1&Signature=[redacted]&x-oss-process=image/info',
  );
  assert.equal(loggableUrl('/k?x-oss-credential=AK%2F2026&x-oss-signature=ff&flag'), '/k?x-oss-credential=[redacted]&x-oss-signature=[redacted]&flag');
  assert.equal(loggableUrl('/cdn-cgi/imagedelivery/h/id/public?exp=1&sig=00ff'), '/cdn-cgi/imagedelivery/h/id/public?exp=1&sig=[redacted]');
  assert.equal(loggableUrl('/v1/url/?api_key=secret'), '/v1/url/?api_key=[redacted]');
});

const check = (name: string, required: boolean, run: ReadinessCheck['run']): ReadinessCheck => ({ name, required, run });

test('readiness: optional failures are reported but do not fail; required ones do; errors become details', async () => {
  const ok = await checkReadiness([
    check('a', true, async () => ({ ok: true, detail: 'fine' })),
    toolCheck('tool', async () => false, 'feature X', 'install y'),
  ]);
  assert.equal(ok.status, 'ready');
  assert.deepEqual([ok.checks['tool']!.ok, ok.checks['tool']!.detail], [false, 'not available: feature X disabled; install y']);
  const bad = await checkReadiness([check('a', true, async () => { throw new Error('disk gone'); }), check('b', false, async () => ({ ok: true, detail: '' }))]);
  assert.equal(bad.status, 'not-ready');
  assert.deepEqual([bad.checks['a']!.ok, bad.checks['a']!.detail], [false, 'disk gone']);
});

test('fetch-failure hook reports error codes, not caller aborts, and passes results through', async () => {
  const reasons: string[] = [];
  let mode: 'ok' | 'fail' | 'abort' = 'ok';
  const inner: SourceFetcher = {
    async fetchSource(url) {
      if (mode === 'fail') throw new AppError('FETCH_TIMEOUT', 'slow');
      if (mode === 'abort') throw new DOMException('aborted', 'AbortError');
      return { body: Buffer.from('x'), status: 200, finalUrl: url, headers: {} } as never;
    },
  };
  const f = withFetchFailureHook(inner, (r) => reasons.push(r));
  const opts = { maxBytes: 10, timeoutMs: 10, maxRedirects: 0 };
  assert.equal((await f.fetchSource('http://a/', opts)).finalUrl, 'http://a/');
  mode = 'fail';
  await assert.rejects(f.fetchSource('http://a/', opts), /slow/);
  mode = 'abort';
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(f.fetchSource('http://a/', { ...opts, signal: ac.signal }));
  assert.deepEqual(reasons, ['FETCH_TIMEOUT']);
});

test('prom adapter: gauges and counters read at scrape time; no unused per-event series', async () => {
  const m = createPromMetrics({ defaultMetrics: false });
  let depth = 3;
  m.gauge('halftone_pipeline_queue_depth', 'waiting transforms', [], () => depth);
  m.gauge('halftone_pipeline_in_flight', 'running transforms', ['pool'], () => [[{ pool: 'pixels' }, 2] as const]);
  let text = await m.render();
  assert.match(text, /^halftone_pipeline_queue_depth 3$/m);
  assert.match(text, /^halftone_pipeline_in_flight\{pool="pixels"\} 2$/m);
  let hits = 5;
  m.counter('halftone_result_cache_lookups_total', 'lookups', ['result'], () => [[{ result: 'memory_hit' }, hits] as const]);
  m.counter('halftone_pipeline_waited_total', 'waited', [], () => 0);
  depth = 0;
  text = await m.render();
  assert.match(text, /^halftone_pipeline_queue_depth 0$/m);
  assert.match(text, /^# TYPE halftone_result_cache_lookups_total counter$/m);
  assert.match(text, /^halftone_result_cache_lookups_total\{result="memory_hit"\} 5$/m);
  assert.match(text, /^halftone_pipeline_waited_total 0$/m);
  hits = 7; // read again at the next scrape, not added up
  assert.match(await m.render(), /^halftone_result_cache_lookups_total\{result="memory_hit"\} 7$/m);
  assert.throws(() => m.gauge('halftone_pipeline_queue_depth', 'again', [], () => 1), /already been registered/);
  assert.doesNotMatch(text, /halftone_pipeline_admissions_total|halftone_pipeline_admission_wait_seconds|halftone_cache_lookups_total|halftone_cache_bytes_total/);
});
