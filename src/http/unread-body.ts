/**
 * Responses sent before their request's body was read to the end: an upload refused or failed
 * midway (too large, disk full), or answered without reading it. Node discards such a body only
 * when nothing read any of it; a body read partly and then left alone stays unread, and the next
 * request on that keep-alive connection waits behind it for ever. So:
 *
 * - a body that can still be read is discarded, up to `drainCap` more bytes; past that the
 *   connection is closed (a client may be sending gigabytes);
 * - a body whose stream was destroyed (`for await` over it left early, `stream.pipeline` failed)
 *   no longer takes data from the connection, and nothing public reads it on: the response says
 *   `Connection: close`, so the next request goes on a new connection. A client still sending may
 *   then get a reset instead of the answer, which is why the blob stores read request bodies
 *   without destroying them (`iterator({ destroyOnReturn: false })`).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** Most bytes of an unread body read and dropped before the connection is closed instead. */
export const DRAIN_CAP = 64 * 1024 * 1024;

/**
 * Lets the client finish sending a body nobody will use (read and dropped, nothing buffered), so
 * that it reads the answer instead of a connection reset; past `cap` more bytes the connection is
 * closed.
 */
export function discardBody(req: IncomingMessage, cap: number = DRAIN_CAP): void {
  let dropped = 0;
  req.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped > cap) req.socket?.destroy();
  });
  req.resume();
}

/** Applies the policy above to every response of `app`. */
export function registerUnreadBodyPolicy(app: FastifyInstance, cap: number = DRAIN_CAP): void {
  app.addHook('onSend', (req, reply, payload, done) => {
    const raw = req.raw;
    if (!raw.complete) {
      if (raw.destroyed) reply.header('connection', 'close');
      else if (raw.readableFlowing !== true) discardBody(raw, cap); // flowing: a route discards it already
    }
    done(null, payload);
  });
}
