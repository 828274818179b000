/**
 * TEST-ONLY ResultFiles: keeps published files in memory and serves them under
 * `GET /results/:id/:name?expires=…&signature=…` (HMAC-SHA256 of id/name/expires). Stands in for
 * the real adapter (src/adapters/results/fs.ts, built on another branch) so the Abstract API's
 * HTTP tests can download the `url` they get back.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { PublishedResult, ResultFiles } from '../../src/ports/result-files.js';

export interface MemoryResultFiles extends ResultFiles {
  readonly files: Map<string, { bytes: Buffer; contentType: string; fileName: string; expiresAt: number }>;
  /** Registers the download route on a test app. */
  register(app: FastifyInstance): void;
}

export function createMemoryResultFiles(now: () => number = Date.now): MemoryResultFiles {
  const secret = randomBytes(32);
  const files: MemoryResultFiles['files'] = new Map();
  const sign = (id: string, name: string, expires: number) => createHmac('sha256', secret).update(`${id}/${name}/${expires}`).digest('hex');
  return {
    files,
    async publish(bytes, options): Promise<PublishedResult> {
      const id = randomBytes(16).toString('hex');
      const expiresAt = now() + options.ttlMs;
      files.set(id, { bytes, contentType: options.contentType, fileName: options.fileName, expiresAt });
      const name = encodeURIComponent(options.fileName);
      return { id, path: `/results/${id}/${name}?expires=${expiresAt}&signature=${sign(id, options.fileName, expiresAt)}`, expiresAt, size: bytes.length };
    },
    async remove(id) {
      files.delete(id);
    },
    register(app) {
      app.get('/results/:id/:name', async (req, reply) => {
        const { id, name } = req.params as { id: string; name: string };
        const q = req.query as { expires?: string; signature?: string };
        const f = files.get(id);
        const expires = Number(q.expires);
        const want = Buffer.from(sign(id, name, expires));
        const got = Buffer.from(q.signature ?? '');
        if (f === undefined || f.fileName !== name || got.length !== want.length || !timingSafeEqual(got, want)) return reply.code(403).send('forbidden');
        if (now() > expires) return reply.code(404).send('expired');
        return reply.code(200).header('content-type', f.contentType).send(f.bytes);
      });
    },
  };
}
