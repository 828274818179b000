/**
 * `GET /results/:id/:name?expires=…&signature=…` — serves a signed, expiring result file
 * (compression task results, Abstract API results). 403 when the signature does not match the
 * id, name and expiry; 404 once the result expired or was removed.
 */
import type { FastifyInstance } from 'fastify';
import type { ResultReader } from '../ports/result-reader.js';

export interface ResultsRouteDeps {
  readonly reader: ResultReader;
}

export function registerResultsRoutes(app: FastifyInstance, deps: ResultsRouteDeps): void {
  app.get('/results/:id/:name', async (req, reply) => {
    const { id, name } = req.params as { id: string; name: string };
    const q = req.query as Record<string, string | string[] | undefined>;
    const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? undefined : v);
    const found = await deps.reader.open(id, name, one(q['expires']), one(q['signature']));
    if (found.kind === 'forbidden') {
      return reply.code(403).header('cache-control', 'no-store').header('content-type', 'application/json').send({ status: 403, message: 'The result URL signature is not valid' });
    }
    if (found.kind === 'gone') {
      return reply.code(404).header('cache-control', 'no-store').header('content-type', 'application/json').send({ status: 404, message: 'The result has expired or does not exist' });
    }
    const maxAge = Math.max(0, Math.floor((found.expiresAt - Date.now()) / 1000));
    return reply
      .header('content-type', found.contentType)
      .header('content-length', String(found.size))
      .header('content-disposition', `inline; filename="${found.fileName}"`)
      .header('cache-control', `private, max-age=${maxAge}`)
      .header('x-content-type-options', 'nosniff')
      .send(found.stream);
  });
}
