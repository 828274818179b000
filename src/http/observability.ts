/**
 * Operations endpoints and per-request telemetry:
 *
 * - one structured log line per request (pino, Fastify's logger) with the request id, dialect,
 *   route template, status and time — query values that carry secrets are redacted;
 * - `x-request-id: <id>` on every response (the OSS routes send the same id as `x-oss-request-id`
 *   and in error bodies);
 * - request counters and latency histograms through the {@link Metrics} port;
 * - `GET /metrics` (Prometheus text) and `GET /readyz` (JSON, 503 when a required check fails).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import pino from 'pino';
import type { Dialect, Metrics } from '../ports/metrics.js';
import type { ReadinessReport } from '../app/readiness.js';
import type { HotHit } from './hot-cache.js';

export interface ObservabilityDeps {
  readonly metrics: Metrics;
  /** Prometheus exposition; absent = `/metrics` is not mounted. */
  readonly exposition?: { render(): Promise<string>; readonly contentType: string };
  /** Readiness probe; absent = `/readyz` is not mounted. */
  readonly readiness?: () => Promise<ReadinessReport>;
  /** Mount prefix of Cloudflare URL transformations (default `/cdn-cgi/image`). */
  readonly cfPrefix?: string;
  /**
   * The destination of the Fastify logger. When given, hot-cache hits write their request line to
   * it directly, in the logger's own JSON line shape, instead of through pino's formatting (about
   * 8 µs a line in isolation, against 0.25 µs); without it they log through `app.log`.
   */
  readonly logStream?: { write(line: string): unknown };
}

/** Route-template prefixes of each API family; the OSS catch-all takes the rest. */
const FAMILIES: readonly (readonly [string, Dialect])[] = [
  ['/cdn-cgi/imagedelivery', 'images'],
  ['/cdn-cgi/imageupload', 'images'],
  ['/client/v4/', 'images'],
  ['/api/tasks/', 'tasks'],
  ['/v1/url', 'abstract'],
  ['/v1/upload', 'abstract'],
  ['/playground', 'playground'],
  ['/docs', 'docs'],
  ['/metrics', 'ops'],
  ['/healthz', 'ops'],
  ['/readyz', 'ops'],
];

/** The dialect of a route template (`undefined` template: no route matched → OSS, which answers 404/405). */
export function dialectOf(route: string | undefined, cfPrefix = '/cdn-cgi/image'): Dialect {
  if (route === undefined) return 'oss';
  if (route === cfPrefix || route.startsWith(`${cfPrefix}/`)) return 'cloudflare';
  for (const [prefix, dialect] of FAMILIES) if (route.startsWith(prefix)) return dialect;
  return 'oss';
}

const SECRET_QUERY = /^(signature|x-oss-signature|x-oss-credential|x-oss-security-token|security-token|sig|api_key|ossaccesskeyid)$/i;

/** The request URL for logs: query values of signature/credential parameters replaced by `[redacted]`. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((p) => {
    const i = p.indexOf('=');
    if (i < 0) return p;
    let name = p.slice(0, i);
    try {
      name = decodeURIComponent(name);
    } catch { /* keep raw */ }
    return SECRET_QUERY.test(name) ? `${p.slice(0, i)}=[redacted]` : p;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

const INFO_OR_MORE = new Set(['info', 'debug', 'trace']);
/** JSON string literals of the redacted URLs of recent hits (hits repeat URLs); cleared when it grows. */
const hitUrls = new Map<string, string>();

function hitUrlJson(url: string): string {
  let v = hitUrls.get(url);
  if (v === undefined) {
    if (hitUrls.size >= 1024) hitUrls.clear();
    v = JSON.stringify(loggableUrl(url));
    hitUrls.set(url, v);
  }
  return v;
}

/** `,"pid":…,"hostname":…` as the logger writes them (pino's chindings), per app. */
const chindings = new WeakMap<FastifyInstance, string>();

/**
 * The request line of a hot hit, as pino writes it for `app.log.info({...}, 'request')`: level,
 * time, the logger's bindings, the fields of a routed request's line plus `hot`, then msg.
 */
export function hotHitLine(app: FastifyInstance, hit: HotHit, ms: number): string {
  let bound = chindings.get(app);
  if (bound === undefined) {
    const raw = (app.log as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
    bound = typeof raw === 'string' ? raw : '';
    chindings.set(app, bound);
  }
  return `{"level":30,"time":${Date.now()}${bound},"reqId":${JSON.stringify(hit.id)},"dialect":"${hit.dialect}","method":${JSON.stringify(hit.method)},"url":${hitUrlJson(hit.url)},"route":${JSON.stringify(hit.route)},"status":${hit.status},"ms":${ms},"hot":true,"msg":"request"}\n`;
}

/** Counts and logs a request the hot cache answered before routing (same series and log line). */
export function recordHotHit(app: FastifyInstance, deps: ObservabilityDeps, hit: HotHit): void {
  const seconds = (performance.now() - hit.started) / 1000;
  deps.metrics.request({ dialect: hit.dialect, route: hit.route, method: hit.method, status: hit.status, seconds });
  if (INFO_OR_MORE.has(app.log.level)) {
    const ms = Math.round(seconds * 10000) / 10;
    if (deps.logStream !== undefined) deps.logStream.write(hotHitLine(app, hit, ms));
    else app.log.info({ reqId: hit.id, dialect: hit.dialect, method: hit.method, url: loggableUrl(hit.url), route: hit.route, status: hit.status, ms, hot: true }, 'request');
  }
}

export function registerObservability(app: FastifyInstance, deps: ObservabilityDeps): void {
  const cfPrefix = (deps.cfPrefix ?? '/cdn-cgi/image').replace(/\/+$/, '');
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req: FastifyRequest, reply) => {
    const route = req.routeOptions.url;
    const dialect = dialectOf(route, cfPrefix);
    const seconds = reply.elapsedTime / 1000;
    deps.metrics.request({ dialect, route: route ?? 'unmatched', method: req.method, status: reply.statusCode, seconds });
    const line = { dialect, method: req.method, url: loggableUrl(req.raw.url ?? req.url), route: route ?? 'unmatched', status: reply.statusCode, ms: Math.round(seconds * 10000) / 10 };
    if (reply.statusCode >= 500) req.log.error(line, 'request failed');
    else req.log.info(line, 'request');
  });

  const exposition = deps.exposition;
  if (exposition !== undefined) {
    app.get('/metrics', async (_req, reply) => reply.header('content-type', exposition.contentType).header('cache-control', 'no-store').send(await exposition.render()));
  }
  const readiness = deps.readiness;
  if (readiness !== undefined) {
    app.get('/readyz', async (_req, reply) => {
      const report = await readiness();
      return reply.code(report.status === 'ready' ? 200 : 503).header('content-type', 'application/json').header('cache-control', 'no-store').send(JSON.stringify(report));
    });
  }
}
