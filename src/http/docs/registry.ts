/**
 * Documentation schemas for routes whose handlers validate their own input (so that errors keep
 * each dialect's own shape): a table `"<METHOD> <route template>" → Fastify route schema`.
 *
 * The schemas are attached by an `onRoute` hook (see openapi.ts) to routes that have no schema of
 * their own, with no-op validator and serializer compilers: they describe the API for
 * @fastify/swagger and never change what a route accepts or answers. A route that declares its
 * own `schema` keeps it (and Fastify validates with it as usual).
 *
 * To document another API family, add a file like `images.ts` exporting a `DocSchemas` table and
 * list it in `ALL_DOC_SCHEMAS` below. Every operation needs `tags`, a `summary`, response schemas
 * and `examples` for parameters and bodies (test/ops/openapi.test.ts calls every documented JSON
 * endpoint with those examples).
 */
import { IMAGES_DOC_SCHEMAS } from './images.js';
import { OPS_DOC_SCHEMAS } from './operations.js';
import { TASKS_DOC_SCHEMAS } from './tasks.js';
import { ABSTRACT_DOC_SCHEMAS } from './abstract.js';
import type { DocSchemas } from './types.js';

export type { DocSchema, DocSchemas } from './types.js';

/**
 * Every documented route. Later tables win on the same key. A table may describe routes another
 * branch adds: an entry only takes effect once a route with that method and template exists.
 */
export const ALL_DOC_SCHEMAS: DocSchemas = {
  ...OPS_DOC_SCHEMAS,
  ...IMAGES_DOC_SCHEMAS,
  ...TASKS_DOC_SCHEMAS,
  ...ABSTRACT_DOC_SCHEMAS,
};

/** Tags (sections of /docs), in display order. */
export const DOC_TAGS: readonly { name: string; description: string }[] = [
  { name: 'images', description: 'Cloudflare Images REST API subset (`/client/v4/accounts/{account}/images`), Bearer auth (HALFTONE_API_KEYS), `{result, success, errors, messages}` envelope. Point a Cloudflare SDK at this server as its base URL.' },
  { name: 'tasks', description: 'PicWish-style compression tasks (`/api/tasks/visual/imgcompress`), `X-API-KEY` header, `{status, message, data}` envelope.' },
  { name: 'abstract', description: 'Abstract-style image optimisation (`/v1/url/`, `/v1/upload/`), `api_key` in the body, the Abstract response and `{error}` envelope.' },
  { name: 'operations', description: 'Health, readiness and metrics for operators.' },
];
