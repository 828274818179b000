/**
 * ResultReader: the serving side of {@link ResultFiles} — checks a signed result URL and opens the
 * file it names, for the `GET /results/:id/:name` route.
 */
import type { Readable } from 'node:stream';

export type ResultLookup =
  | { readonly kind: 'ok'; readonly stream: Readable; readonly size: number; readonly contentType: string; readonly fileName: string; readonly expiresAt: number }
  /** The signature does not match (tampered id, name or expiry): 403. */
  | { readonly kind: 'forbidden' }
  /** Expired, removed or never published: 404. */
  | { readonly kind: 'gone' };

export interface ResultReader {
  /** `expires` and `signature` are the URL's query values, unparsed. */
  open(id: string, name: string, expires: string | undefined, signature: string | undefined): Promise<ResultLookup>;
}
