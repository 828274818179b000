/**
 * The aggregated request metrics render exactly what prom-client's own Counter and Histogram
 * render for the same samples (names, help, type, label order, cumulative buckets, sum, count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { registerRequestMetrics } from '../../src/adapters/metrics/request-metrics.js';
import type { RequestSample } from '../../src/ports/metrics.js';

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const COUNTER = { name: 'x_requests_total', help: 'Requests.' };
const HISTOGRAM = { name: 'x_request_duration_seconds', help: 'Latency.', buckets: BUCKETS };

test('aggregated request metrics render as prom-client does', async () => {
  const samples: RequestSample[] = [];
  const seconds = [0.0004, 0.001, 0.003, 0.005, 0.02, 0.7, 31, 2.5, 0.1];
  for (let i = 0; i < 200; i++) {
    samples.push({
      dialect: i % 3 === 0 ? 'oss' : 'cloudflare',
      route: i % 5 === 0 ? '/:bucket/*' : '/cdn-cgi/image/*',
      method: i % 7 === 0 ? 'HEAD' : 'GET',
      status: i % 11 === 0 ? 404 : 200,
      seconds: seconds[i % seconds.length] as number,
    });
  }

  const ours = new Registry();
  const metrics = registerRequestMetrics(ours, { counter: COUNTER, histogram: HISTOGRAM });
  const reference = new Registry();
  const counter = new Counter({ ...COUNTER, labelNames: ['dialect', 'route', 'method', 'status'], registers: [reference] });
  const histogram = new Histogram({ ...HISTOGRAM, labelNames: ['dialect', 'route', 'method'], registers: [reference] });
  for (const s of samples) {
    metrics.record(s);
    counter.inc({ dialect: s.dialect, route: s.route, method: s.method, status: String(s.status) });
    histogram.observe({ dialect: s.dialect, route: s.route, method: s.method }, s.seconds);
  }
  const sorted = (text: string) => text.split('\n').filter((l) => l !== '').sort();
  assert.deepEqual(sorted(await ours.metrics()), sorted(await reference.metrics()));
  assert.match(await ours.metrics(), /x_request_duration_seconds_bucket\{le="\+Inf",dialect="oss",route="\/:bucket\/\*",method="GET"\} \d+/);
});
