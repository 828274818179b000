/**
 * Metrics port: what the application reports, independent of the exporter. The composition root
 * wires the Prometheus adapter (src/adapters/metrics/prom.ts); tests and the CLI use
 * {@link NOOP_METRICS}. Every method is cheap and never throws.
 *
 * Label values are bounded sets (dialect, route template, status code, error code, job kind,
 * job state, cache name) — never URLs, keys or ids.
 */

/** The API family a request belongs to. */
export type Dialect = 'oss' | 'cloudflare' | 'images' | 'tasks' | 'abstract' | 'playground' | 'docs' | 'ops';

export interface RequestSample {
  readonly dialect: Dialect;
  /** Route template (e.g. `/client/v4/accounts/:account/images/v1`), never the raw URL. */
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly seconds: number;
}

export interface Metrics {
  /** One finished HTTP request. */
  request(sample: RequestSample): void;
  /** A remote source fetch failed; `reason` is the AppError code (e.g. FETCH_TIMEOUT). */
  fetchFailed(reason: string): void;
  /** A background job reached a final state (`succeeded`, `failed`, `cancelled`). */
  jobSettled(kind: string, state: string): void;
  /**
   * Registers a gauge read at scrape time (e.g. jobs queued/running, pixel pipeline in flight and
   * waiting). `read` returns the current value per label set; `labels` names the label keys.
   * Registering the same name twice throws (a wiring bug).
   */
  gauge(name: string, help: string, labels: readonly string[], read: () => Iterable<readonly [Record<string, string>, number]> | number): void;
  /**
   * Registers a counter read at scrape time from totals a component keeps itself (monotonically
   * increasing since start, e.g. cache hits): exported with the counter type, no hot-path calls.
   * Same shape and rules as {@link gauge}; `name` should end in `_total`.
   */
  counter(name: string, help: string, labels: readonly string[], read: () => Iterable<readonly [Record<string, string>, number]> | number): void;
}

const noop = (): void => undefined;

/** Metrics that go nowhere (tests, CLI). */
export const NOOP_METRICS: Metrics = {
  request: noop,
  fetchFailed: noop,
  jobSettled: noop,
  gauge: noop,
  counter: noop,
};
