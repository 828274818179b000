/**
 * The Prometheus exporter behind the {@link Metrics} port (prom-client). One registry per composed
 * server (never prom-client's global one), so several servers in one process — tests — do not
 * collide. Default Node/process metrics (memory, CPU, event-loop lag, GC) are included.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { registerRequestMetrics } from './request-metrics.js';
import type { Metrics, RequestSample } from '../../ports/metrics.js';

export interface PromMetrics extends Metrics {
  readonly registry: Registry;
  /** The text exposition (Prometheus format 0.0.4). */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Request latency buckets in seconds: 1 ms … 30 s (image work spans four orders of magnitude). */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createPromMetrics(opts: { readonly defaultMetrics?: boolean } = {}): PromMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const requests = registerRequestMetrics(registry, {
    counter: { name: 'halftone_http_requests_total', help: 'HTTP requests answered, by dialect, route template, method and status.' },
    histogram: { name: 'halftone_http_request_duration_seconds', help: 'Time from request to response end, by dialect and route template.', buckets: LATENCY_BUCKETS },
  });
  const fetchFailures = new Counter({
    name: 'halftone_source_fetch_failures_total', help: 'Remote source fetches that failed, by reason (error code).',
    labelNames: ['reason'] as const, registers: [registry],
  });
  const jobs = new Counter({
    name: 'halftone_jobs_settled_total', help: 'Background jobs that reached a final state, by kind and state.',
    labelNames: ['kind', 'state'] as const, registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    request(s: RequestSample) {
      requests.record(s);
    },
    fetchFailed(reason) {
      fetchFailures.inc({ reason });
    },
    jobSettled(kind, state) {
      jobs.inc({ kind, state });
    },
    gauge(name, help, labels, read) {
      new Gauge({
        name, help, labelNames: [...labels], registers: [registry],
        collect() {
          const v = read();
          this.reset();
          if (typeof v === 'number') this.set(v);
          else for (const [l, n] of v) this.set(l, n);
        },
      });
    },
    counter(name, help, labels, read) {
      new Counter({
        name, help, labelNames: [...labels], registers: [registry],
        collect() {
          const v = read();
          this.reset();
          if (typeof v === 'number') this.inc(Math.max(0, v));
          else for (const [l, n] of v) this.inc(l, Math.max(0, n));
        },
      });
    },
  };
}
