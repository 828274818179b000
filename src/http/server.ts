/**
 * buildServer(deps): the Fastify application (no listen here — main.ts and tests listen).
 *
 * Request bodies are never parsed by Fastify: the OSS routes stream object bodies straight to the
 * BlobStore and read small XML/process bodies themselves, so a 5 GB PUT never sits in memory.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { AppError } from '../core/errors.js';
import { presentOssError, registerOssRoutes, type OssRouteDeps } from './oss/routes.js';
import { registerCloudflareRoutes, type CfRouteDeps } from './cloudflare/routes.js';
import { registerImagesRoutes, type ImagesRouteDeps } from './cloudflare/images.js';
import { newRequestId } from './oss/request.js';
import { dialectOf, recordHotHit, registerObservability, type ObservabilityDeps } from './observability.js';
import { isOffered, type HotCache, type HotHit } from './hot-cache.js';
import { registerApiDocs, type ApiDocsOptions } from './docs/openapi.js';
import { registerPlayground, type PlaygroundDeps } from './playground/routes.js';
import { registerUnreadBodyPolicy } from './unread-body.js';
import { registerTaskRoutes, type TaskRouteDeps } from './tasks/imgcompress.js';
import { registerResultsRoutes, type ResultsRouteDeps } from './results.js';
import { registerAbstractRoutes, type AbstractRouteDeps } from './abstract/routes.js';

export interface ServerDeps {
  readonly oss: OssRouteDeps;
  /** Cloudflare-style URL transformations; absent = not mounted. */
  readonly cloudflare?: CfRouteDeps;
  /** Hosted images (delivery + Images REST API); absent = not mounted. */
  readonly images?: ImagesRouteDeps;
  /** Fastify logger option: false (tests), or pino options such as `{ level: 'info' }` (with an optional destination stream). */
  readonly logger?: boolean | { readonly level: string; readonly stream?: DestinationStream };
  /** Metrics, `/metrics`, `/readyz`, request logs and `x-request-id`; absent = not mounted. */
  readonly observability?: ObservabilityDeps;
  /** OpenAPI document and UI at `/docs`; absent = not mounted. */
  readonly apiDocs?: ApiDocsOptions;
  /** Web playground at `/playground`; absent = not mounted. */
  readonly playground?: PlaygroundDeps;
  /** Compression task API (`/api/tasks/visual/imgcompress`); absent = not mounted. */
  readonly tasks?: TaskRouteDeps;
  /** Signed result files (`/results/:id/:name`); absent = not mounted. */
  readonly results?: ResultsRouteDeps;
  /** Abstract-style optimisation API (`/v1/url/`, `/v1/upload/`); absent = not mounted. */
  readonly abstract?: AbstractRouteDeps;
  /** Connection and request time limits (slowloris defence); defaults in DEFAULT_HTTP_LIMITS. */
  readonly limits?: Partial<HttpLimits>;
  /** Hot response cache answered before routing (hot-cache.ts); absent = off. */
  readonly hot?: HotCache | undefined;
}

/** Time and size limits of the HTTP listener. */
export interface HttpLimits {
  /** Whole request head (request line + headers) must arrive within this (Node headersTimeout). */
  readonly headersTimeoutMs: number;
  /** Bodies of non-streaming requests (everything but object PUT / append) must arrive within this. */
  readonly bodyTimeoutMs: number;
  /** A connection with no traffic at all for this long is closed (socket timeout). */
  readonly idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Largest request head in bytes; larger heads get 431. */
  readonly maxHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 60_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 72_000,
  maxHeaderBytes: 16 * 1024,
};

/** Streaming uploads (object PUT, part PUT, append) may take long; only idle time limits them. */
function isStreamingUpload(method: string, url: string): boolean {
  return method === 'PUT' || (method === 'POST' && /[?&]append(?:[=&]|$)/.test(url));
}

/**
 * The node:http server of a hot cache: hits are answered in the 'request' listener itself, other
 * requests go to Fastify. Applies the options Fastify applies to a server it creates.
 */
function hotServerFactory(hot: HotCache, limits: HttpLimits, onHit: (hit: HotHit) => void): NonNullable<FastifyServerOptions['serverFactory']> {
  return (handler) => {
    const server = createServer(httpOptions(limits), (req: IncomingMessage, res: ServerResponse) => {
      const hit = hot.serve(req, res, newRequestId);
      if (hit === undefined) handler(req, res);
      else onHit(hit);
    });
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.requestTimeout = 0;
    server.setTimeout(limits.idleTimeoutMs);
    return server;
  };
}

/** node:http server options from the limits. */
function httpOptions(limits: HttpLimits) {
  return { headersTimeout: limits.headersTimeoutMs, maxHeaderSize: limits.maxHeaderBytes, connectionsCheckingInterval: 1000 };
}

/** Builds the HTTP application. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...deps.limits };
  const hot = deps.hot;
  const cfPrefix = (deps.cloudflare?.prefix ?? '/cdn-cgi/image').replace(/\/+$/, '');
  // Hits bypass Fastify: they are counted and logged here (the app exists by the first request).
  let app: FastifyInstance;
  const onHit = (hit: HotHit) => {
    if (deps.observability !== undefined) recordHotHit(app, deps.observability, hit);
  };
  app = Fastify({
    ...(hot === undefined ? {} : { serverFactory: hotServerFactory(hot, limits, onHit) }),
    // Slowloris defence: slow heads are cut by headersTimeout (checked every second), idle
    // sockets by connectionTimeout, slow small bodies by the body deadline hook below.
    http: httpOptions(limits),
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    logger: deps.logger ?? false,
    // One id per request, in OSS's shape; sent as x-request-id (and x-oss-request-id by OSS routes).
    genReqId: () => newRequestId(),
    requestIdHeader: false,
    // observability.ts logs one line per finished request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // OSS keys may be long; find-my-way limits parameter length.
    routerOptions: { maxParamLength: 4096 },
    requestTimeout: 0,
    bodyLimit: 1024 * 1024,
    // URLs the router cannot decode still get an OSS-shaped answer.
    frameworkErrors: (err, req, reply) => {
      const code = (err as { code?: string }).code;
      presentOssError(reply, req, code === 'FST_ERR_BAD_URL'
        ? new AppError('INVALID_URI', 'The request path is not valid percent-encoded UTF-8.')
        : new AppError('BAD_REQUEST', 'The request could not be processed.', { cause: err }));
    },
  });
  // Node's requestTimeout would also cut multi-gigabyte uploads, so non-streaming requests get
  // their own deadline: a body still incomplete after bodyTimeoutMs closes the connection.
  app.addHook('onRequest', (req, reply, done) => {
    if (!isStreamingUpload(req.method, req.url)) {
      const timer = setTimeout(() => {
        if (!req.raw.complete) req.raw.socket.destroy();
      }, limits.bodyTimeoutMs);
      timer.unref();
      reply.raw.once('close', () => clearTimeout(timer));
    }
    done();
  });
  if (hot !== undefined) {
    // Keeps responses the routes offered (anonymous processed variants); see hot-cache.ts.
    app.addHook('onSend', (req, reply, payload, done) => {
      if (isOffered(req.raw)) {
        const body = Buffer.isBuffer(payload) ? payload : payload === undefined || payload === null ? (req.method === 'HEAD' ? Buffer.alloc(0) : undefined) : undefined;
        const route = req.routeOptions.url ?? 'unmatched';
        if (body !== undefined) hot.fill(req.raw, reply.statusCode, reply.getHeaders(), body, req.id, dialectOf(route, cfPrefix), route);
      }
      done(null, payload);
    });
  }
  registerUnreadBodyPolicy(app);
  app.removeAllContentTypeParsers();
  // Leave every body unread in request.raw; routes consume it as a stream.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  // Docs first: its onRoute hook documents the routes registered after it.
  if (deps.apiDocs !== undefined) registerApiDocs(app, deps.apiDocs);
  if (deps.observability !== undefined) registerObservability(app, deps.observability);
  if (deps.playground !== undefined) registerPlayground(app, deps.playground);
  app.get('/healthz', async (_req, reply) => reply.header('content-type', 'application/json').send('{"status":"ok"}'));
  // Registered before the OSS catch-all; find-my-way prefers the longer static prefix anyway.
  if (deps.cloudflare !== undefined) registerCloudflareRoutes(app, deps.cloudflare);
  if (deps.images !== undefined) registerImagesRoutes(app, deps.images);
  if (deps.tasks !== undefined) registerTaskRoutes(app, deps.tasks);
  if (deps.results !== undefined) registerResultsRoutes(app, deps.results);
  if (deps.abstract !== undefined) registerAbstractRoutes(app, deps.abstract);
  registerOssRoutes(app, deps.oss);
  return app;
}
