/**
 * The signal of a client going away, made lazily ({@link LazySignal}): it aborts (with
 * CLIENT_CLOSED) when the response's connection closes before the response finished. Routes hand
 * it to remote downloads and to admission control, so a request that waits for a pipeline is
 * dropped when nobody is left to read its answer. Nothing is allocated until a consumer asks for
 * the signal (most requests never wait).
 */
import type { ServerResponse } from 'node:http';
import type { LazySignal } from '../app/admission.js';
import { AppError } from '../core/errors.js';

export function clientGone(res: ServerResponse): LazySignal {
  let signal: AbortSignal | undefined;
  return () => {
    if (signal === undefined) {
      const abort = new AbortController();
      signal = abort.signal;
      const gone = () => abort.abort(new AppError('CLIENT_CLOSED', 'The client went away.'));
      if (res.destroyed && !res.writableFinished) gone();
      else {
        res.once('close', () => {
          if (!res.writableFinished) gone();
        });
      }
    }
    return signal;
  };
}
