/**
 * Upload bodies that a route buffers in memory (the Abstract and PicWish multipart uploads) are
 * held against admission control's memory budget before they are read: the declared
 * Content-Length (at most the route's cap plus room for the other form parts), or the cap when the
 * length is not declared. The hold waits while the bytes do not fit (OVERLOADED beyond the bounded
 * queue, CLIENT_CLOSED when the client leaves) and is released when the response is finished or
 * the connection closes (docs/operations-perf.md, "Admission control").
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Admission } from '../app/admission.js';
import { clientGone } from './client-gone.js';

/** Room for the multipart framing and the small fields beside the file. */
const FORM_OVERHEAD = 256 * 1024;

export async function holdUpload(admission: Admission | undefined, req: FastifyRequest, reply: FastifyReply, capBytes: number): Promise<void> {
  if (admission === undefined) return;
  const declared = Number(req.headers['content-length']);
  const bytes = req.headers['content-length'] !== undefined && Number.isFinite(declared) && declared >= 0 ? Math.min(declared, capBytes + FORM_OVERHEAD) : capBytes + FORM_OVERHEAD;
  const res = reply.raw;
  if (res.writableFinished || res.destroyed) return;
  const hold = admission.hold();
  // The client-gone signal listens first: a waiting reservation ends with CLIENT_CLOSED, then the
  // hold is released.
  const gone = clientGone(res)();
  res.once('close', () => hold.release());
  await hold.reserve(bytes, gone);
}
