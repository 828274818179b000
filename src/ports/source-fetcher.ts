/**
 * SourceFetcher: downloads a remote source image (Cloudflare `/cdn-cgi/image/.../https://...`,
 * task-API `image_url`, Abstract `url`) safely.
 *
 * Every implementation must: accept only plain http(s) URLs; refuse loopback, private, link-local,
 * unique-local, metadata and reserved addresses on every hop unless the origin is explicitly allowed;
 * enforce the size cap while streaming and the total time budget; follow at most `maxRedirects`
 * redirects; send anonymised requests (no cookies, no client headers); and refuse to fetch when the
 * request would carry its own `Via` token again (a loop).
 *
 * Failures are `AppError`s with these codes (each dialect maps them to its own spelling):
 * FETCH_INVALID_URL, FETCH_ORIGIN_NOT_ALLOWED, FETCH_FORBIDDEN_ADDRESS, FETCH_DNS_FAILED,
 * FETCH_UNREACHABLE, FETCH_TIMEOUT, FETCH_TOO_LARGE, FETCH_TOO_MANY_REDIRECTS, FETCH_BAD_REDIRECT,
 * FETCH_LOOP, FETCH_ORIGIN_NOT_FOUND, FETCH_ORIGIN_REJECTED, FETCH_ORIGIN_ERROR, FETCH_FAILED.
 * When the caller's own `signal` aborts, the promise rejects with `signal.reason` unchanged.
 */

/** The request headers a caller may pass; anything else is dropped (requests are anonymised). */
export interface SourceFetchHeaders {
  /** Content negotiation towards the origin (default `image/*,*\/*;q=0.8`). */
  readonly accept?: string;
  /** Conditional request; with it the fetcher may answer `status: 304` and an empty body. */
  readonly 'if-none-match'?: string;
  /** Conditional request; with it the fetcher may answer `status: 304` and an empty body. */
  readonly 'if-modified-since'?: string;
  /**
   * The `Via` header of the incoming request that caused this fetch. The fetcher appends its own
   * token and refuses (FETCH_LOOP) when the token is already present.
   */
  readonly via?: string;
}

export interface SourceFetchOptions {
  /** Cancels the fetch; the promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Largest body accepted, in bytes; enforced while streaming (FETCH_TOO_LARGE). */
  readonly maxBytes: number;
  /** Total time budget for every hop, headers and body (FETCH_TIMEOUT). */
  readonly timeoutMs: number;
  /** Redirects followed at most (FETCH_TOO_MANY_REDIRECTS beyond); 0 refuses any redirect. */
  readonly maxRedirects: number;
  readonly headers?: SourceFetchHeaders;
  /** Accounts the body's bytes against the server's memory budget while they are buffered. */
  readonly memory?: BodyMemory;
}

/**
 * Memory accounting for a body buffered in memory (admission control's source hold). The fetcher
 * reserves the declared Content-Length before it reads the body, and grows the reservation for
 * bytes received beyond it (no or a lying Content-Length). Either may throw (OVERLOADED) to refuse;
 * the download then stops.
 */
export interface BodyMemory {
  /** May wait until the bytes fit; rejects when `signal` (the fetch's own) aborts first. */
  reserve(bytes: number, signal?: AbortSignal): Promise<void>;
  /** Never waits. */
  grow(bytes: number): void;
}

export interface FetchedSource {
  readonly body: Buffer;
  /** The origin's Content-Type, or '' when absent (callers sniff the bytes anyway). */
  readonly contentType: string;
  /** 2xx, or 304 (empty body) when the caller sent a conditional header and the origin agreed. */
  readonly status: number;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly cacheControl?: string;
  /** The `Expires` and `Date` headers, for HTTP caching decisions. */
  readonly expires?: string;
  readonly date?: string;
  /** The `Age` header in seconds, when the origin is a cache. */
  readonly age?: number;
  /** The `Vary` header. */
  readonly vary?: string;
  /** URL of the response after redirects. */
  readonly finalUrl: string;
  /** True when the body came from a local cache without a download (set by caching fetchers). */
  readonly fromCache?: boolean;
}

export interface SourceFetcher {
  fetchSource(url: string, options: SourceFetchOptions): Promise<FetchedSource>;
  /** Releases pooled connections (called on shutdown). */
  close?(): Promise<void>;
}

/** The `Via` received-by token Halftone adds to origin fetches (the Cloudflare spec's recommendation). */
export const DEFAULT_VIA_TOKEN = 'image-resizing';

/**
 * Whether a `Via` header value already contains `token` as a received-by (or pseudonym) entry —
 * i.e. the request came from an image-resizing fetch. The HTTP layer uses it to refuse transform
 * requests that carry the marker (Cloudflare 9403); the fetcher uses it to refuse loops.
 */
export function viaHasToken(via: string | readonly string[] | undefined, token: string = DEFAULT_VIA_TOKEN): boolean {
  if (via === undefined) return false;
  const values = typeof via === 'string' ? [via] : via;
  const want = token.toLowerCase();
  for (const value of values) {
    for (const entry of value.split(',')) {
      // entry = [protocol-name "/"] protocol-version SP received-by [SP comment]; Cloudflare itself
      // sends a bare "image-resizing", so a lone word is also read as received-by.
      const words = entry.trim().replace(/\(.*\)$/, '').trim().split(/\s+/).filter((w) => w !== '');
      const receivedBy = words.length >= 2 ? words[1] : words[0];
      if (receivedBy !== undefined && receivedBy.toLowerCase() === want) return true;
    }
  }
  return false;
}
