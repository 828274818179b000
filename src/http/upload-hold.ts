/**
 * Upload bodies that a route buffers in memory (the Abstract and PicWish multipart uploads) are
 * held against admission control's memory budget before they are read: the declared
 * Content-Length (at most the route's cap plus room for the other form parts), or the cap when the
 * length is not declared. The hold waits while the bytes do not fit (OVERLOADED beyond the bounded
 * queue, CLIENT_CLOSED when the client leaves) and is released when the response is finished or
 * the connection closes (docs/operations-perf.md, "Admission control").
 *
 * The hold is returned (undefined without admission control) so that a route which then downloads
 * more into memory (an upload by URL) can charge it to the same hold. A body declared at most
 * SMALL_BODY is not held, so such a form's download still waits for memory like any remote source;
 * a hold that already holds bytes never waits again (what does not fit is refused at once).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Admission, LazySignal, MemoryHold } from '../app/admission.js';
import { clientGone } from './client-gone.js';

/** Room for the multipart framing and the small fields beside the file. */
const FORM_OVERHEAD = 256 * 1024;
/**
 * A body declared this small is not held: it is not worth a wait, and a hold that holds nothing
 * yet can still wait for a download that the request makes next (an upload by URL's form).
 */
const SMALL_BODY = 16 * 1024;

export async function holdUpload(
  admission: Admission | undefined,
  req: FastifyRequest,
  reply: FastifyReply,
  capBytes: number,
  gone: LazySignal = clientGone(reply.raw),
): Promise<MemoryHold | undefined> {
  if (admission === undefined) return undefined;
  const declared = Number(req.headers['content-length']);
  const bytes = req.headers['content-length'] !== undefined && Number.isFinite(declared) && declared >= 0 ? Math.min(declared, capBytes + FORM_OVERHEAD) : capBytes + FORM_OVERHEAD;
  const res = reply.raw;
  if (res.writableFinished || res.destroyed) return undefined;
  const hold = admission.hold();
  // The client-gone signal (`gone`, which the route may also hand to a download waiting on this
  // hold) listens first: a waiting reservation ends with CLIENT_CLOSED, then the hold is released.
  const signal = gone();
  res.once('close', () => hold.release());
  if (bytes > SMALL_BODY) await hold.reserve(bytes, signal);
  return hold;
}
