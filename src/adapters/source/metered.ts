/**
 * A SourceFetcher decorator that reports failed fetches by reason (the AppError code, e.g.
 * FETCH_TIMEOUT; `INTERNAL` for anything else) to a callback — the metrics wiring in main.ts.
 * The wrapped fetcher is untouched; results and errors pass through unchanged.
 */
import { isAppError } from '../../core/errors.js';
import type { SourceFetcher } from '../../ports/source-fetcher.js';

export function withFetchFailureHook(inner: SourceFetcher, onFailure: (reason: string) => void): SourceFetcher {
  return {
    async fetchSource(url, options) {
      try {
        return await inner.fetchSource(url, options);
      } catch (err) {
        // Aborts by the caller (client went away) are not origin failures.
        if (!options.signal?.aborted) onFailure(isAppError(err) ? err.code : 'INTERNAL');
        throw err;
      }
    },
    ...(inner.close === undefined ? {} : { close: () => inner.close!() }),
  };
}
