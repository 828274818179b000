/**
 * buildServer(deps): the Fastify application (no listen here — main.ts and tests listen).
 *
 * Request bodies are never parsed by Fastify: the OSS routes stream object bodies straight to the
 * BlobStore and read small XML/process bodies themselves, so a 5 GB PUT never sits in memory.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';
import { presentOssError, registerOssRoutes, type OssRouteDeps } from './oss/routes.js';
import { registerCloudflareRoutes, type CfRouteDeps } from './cloudflare/routes.js';
import { registerImagesRoutes, type ImagesRouteDeps } from './cloudflare/images.js';
import { registerAbstractRoutes, type AbstractRouteDeps } from './abstract/routes.js';

export interface ServerDeps {
  readonly oss: OssRouteDeps;
  /** Cloudflare-style URL transformations; absent = not mounted. */
  readonly cloudflare?: CfRouteDeps;
  /** Hosted images (delivery + Images REST API); absent = not mounted. */
  readonly images?: ImagesRouteDeps;
  /** Abstract-style optimisation API (`/v1/url/`, `/v1/upload/`); absent = not mounted. */
  readonly abstract?: AbstractRouteDeps;
  /** Fastify logger option (false in tests). */
  readonly logger?: boolean;
}

/** Builds the HTTP application. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.logger ?? false,
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
  app.removeAllContentTypeParsers();
  // Leave every body unread in request.raw; routes consume it as a stream.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  app.get('/healthz', async (_req, reply) => reply.header('content-type', 'application/json').send('{"status":"ok"}'));
  // Registered before the OSS catch-all; find-my-way prefers the longer static prefix anyway.
  if (deps.cloudflare !== undefined) registerCloudflareRoutes(app, deps.cloudflare);
  if (deps.images !== undefined) registerImagesRoutes(app, deps.images);
  if (deps.abstract !== undefined) registerAbstractRoutes(app, deps.abstract);
  registerOssRoutes(app, deps.oss);
  return app;
}
