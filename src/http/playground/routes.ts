/**
 * The web playground at `/playground` (mounted only when HALFTONE_PLAYGROUND=true):
 *
 * - `/playground/` — static ES modules and CSS from the repository's `playground/` directory
 *   (no build step, no CDN; shipped in the package);
 * - `GET /playground/api/config` — dialect mount points and the playground bucket;
 * - `GET /playground/api/ops` — controls per dialect, generated from the operation registry;
 * - `GET|POST /playground/api/images` — list / upload images on the playground shelf (raw image
 *   body; see app/playground.ts for the limits);
 * - `GET /playground/api/explain?process=&key=` — the parsed recipe and planned passes.
 *
 * The page then calls the real dialect endpoints (OSS `?x-oss-process=`, `/cdn-cgi/image/…`,
 * the compression task API and the Abstract API) exactly as a client would.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { AppError, ERROR_CATALOGUE, isAppError } from '../../core/errors.js';
import { readBodyUpTo } from '../request-body.js';
import type { PlaygroundShelf } from '../../app/playground.js';
import { playgroundCatalogue } from './catalog.js';

export interface PlaygroundDeps {
  readonly shelf: PlaygroundShelf;
  /** Absolute path of the static assets (the repository's `playground/` directory). */
  readonly assetsDir: string;
  readonly explain: (process: string, source: Buffer) => Promise<unknown>;
  readonly cfPrefix: string;
  /** HALFTONE_CF_SOURCE_BUCKET: when set, Cloudflare sources are keys of that bucket. */
  readonly cfSourceBucket: string;
  readonly maxBytes: number;
  readonly onInternalError?: (err: unknown, requestId: string) => void;
}

function sendError(reply: FastifyReply, err: unknown, onInternal?: (err: unknown, id: string) => void): FastifyReply {
  const e = isAppError(err) ? err : new AppError('INTERNAL', 'Internal error', { cause: err });
  if (e.code === 'INTERNAL') onInternal?.(err, reply.request.id);
  return reply.code(ERROR_CATALOGUE[e.code].status).header('content-type', 'application/json').send(JSON.stringify({ error: { code: e.code, message: e.publicMessage } }));
}

const json = (reply: FastifyReply, body: unknown) => reply.header('content-type', 'application/json').header('cache-control', 'no-store').send(JSON.stringify(body));

export function registerPlayground(app: FastifyInstance, deps: PlaygroundDeps): void {
  const catalogue = JSON.stringify(playgroundCatalogue());

  app.get('/playground', async (_req, reply) => reply.redirect('/playground/', 302));
  void app.register(async (scope) => {
    await scope.register(fastifyStatic, { root: deps.assetsDir, prefix: '/playground/', decorateReply: false, index: ['index.html'], cacheControl: true, maxAge: 0 });
  });

  app.get('/playground/api/config', async (_req, reply) => json(reply, {
    bucket: deps.shelf.bucket, cfPrefix: deps.cfPrefix, cfSourceBucket: deps.cfSourceBucket, maxBytes: deps.maxBytes,
    endpoints: { tasks: '/api/tasks/visual/imgcompress', abstractUrl: '/v1/url/', abstractUpload: '/v1/upload/' },
  }));
  app.get('/playground/api/ops', async (_req, reply) => reply.header('content-type', 'application/json').send(catalogue));

  app.get('/playground/api/images', async (_req, reply) => {
    try {
      return json(reply, { bucket: deps.shelf.bucket, images: await deps.shelf.list() });
    } catch (err) {
      return sendError(reply, err, deps.onInternalError);
    }
  });
  app.post('/playground/api/images', async (req, reply) => {
    try {
      const body = await readBodyUpTo(req.raw, deps.maxBytes, () => new AppError('ENTITY_TOO_LARGE', `The playground accepts images up to ${deps.maxBytes} bytes.`));
      const img = await deps.shelf.upload(body);
      return json(reply.code(201), { bucket: deps.shelf.bucket, ...img });
    } catch (err) {
      return sendError(reply, err, deps.onInternalError);
    }
  });
  app.get('/playground/api/explain', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    try {
      const key = q['key'] ?? '';
      const process = (q['process'] ?? '').replace(/^image\//, '');
      if (process === '') throw new AppError('INVALID_ARGUMENT', 'Give process=<OSS process string>.');
      return json(reply, await deps.explain(`image/${process}`, await deps.shelf.load(key)));
    } catch (err) {
      return sendError(reply, err, deps.onInternalError);
    }
  });
}
