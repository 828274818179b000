/**
 * Reads a small request body whole (XML, JSON, form fields) up to a byte limit. Past the limit it
 * stops reading and throws `tooLarge()`, leaving the rest of the body alive (not destroyed), so the
 * error is answered and the rest discarded on the same connection (src/http/unread-body.ts).
 */
import type { IncomingMessage } from 'node:http';

export async function readBodyUpTo(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw tooLarge();
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}
