/**
 * The signal of a client going away: aborts (with CLIENT_CLOSED) when the response's connection
 * closes before the response finished. Routes hand it to remote downloads and to admission control,
 * so a request that waits for a pipeline is dropped when nobody is left to read its answer.
 */
import type { ServerResponse } from 'node:http';
import { AppError } from '../core/errors.js';

export function clientGoneSignal(res: ServerResponse): AbortSignal {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort(new AppError('CLIENT_CLOSED', 'The client went away.'));
  });
  return abort.signal;
}
