/**
 * A shared HTTP cache of fetched originals in front of any SourceFetcher, so that many variants of
 * one remote image (widths, formats) reuse one download — the Cloudflare spec's §14 "the original is
 * cached using normal HTTP caching rules".
 *
 * Rules (RFC 9111, as a shared cache): `no-store` and `private` responses are not stored; freshness
 * comes from `s-maxage`, then `max-age`, then `Expires - Date`, then 10 % of `Date - Last-Modified`
 * (capped); `no-cache` entries are stored but revalidated on every use; stale entries with an ETag
 * or Last-Modified are revalidated with If-None-Match / If-Modified-Since and a 304 refreshes them.
 * Stale content is never served. Responses with `Vary` on anything but `Accept`/`Accept-Encoding`
 * are not stored (the key includes the Accept we sent; we always ask for identity encoding).
 *
 * Memory is bounded in bytes with least-recently-used eviction. Concurrent misses for the same URL
 * share one download.
 */
import { AppError } from '../../core/errors.js';
import {
  DEFAULT_VIA_TOKEN,
  viaHasToken,
  type FetchedSource,
  type SourceFetcher,
  type SourceFetchHeaders,
  type SourceFetchOptions,
} from '../../ports/source-fetcher.js';

export interface SourceCacheOptions {
  /** Total bytes of cached bodies kept in memory. */
  readonly maxBytes: number;
  /** Largest single body stored (default: a quarter of `maxBytes`). */
  readonly maxEntryBytes?: number;
  /** Cap on heuristic freshness from Last-Modified, in seconds (default 1 day). */
  readonly heuristicMaxSeconds?: number;
  /** Via token of the underlying fetcher, so a cache hit cannot bypass loop protection. */
  readonly viaToken?: string;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

export interface SourceCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly revalidated: number;
  readonly entries: number;
  readonly bytes: number;
}

export interface CachingSourceFetcher extends SourceFetcher {
  stats(): SourceCacheStats;
  /** Drops every entry. */
  clear(): void;
  close(): Promise<void>;
}

interface Entry {
  readonly key: string;
  readonly source: FetchedSource;
  /** When the response (or its last 304) was received, ms. */
  storedAt: number;
  /** Age the response already had when received, seconds. */
  initialAge: number;
  /** Freshness lifetime, seconds. */
  lifetime: number;
  /** `no-cache`: always revalidate before use. */
  alwaysRevalidate: boolean;
}

interface Directives {
  readonly [name: string]: string | true;
}

function parseCacheControl(value: string | undefined): Directives {
  const out: Record<string, string | true> = {};
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) out[p.toLowerCase()] = true;
    else out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return out;
}

function seconds(v: string | true | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

function httpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Freshness lifetime in seconds, per RFC 9111 §4.2.1 for a shared cache, with the §4.2.2 heuristic. */
export function freshnessLifetime(src: Pick<FetchedSource, 'cacheControl' | 'expires' | 'date' | 'lastModified'>, receivedAt: number, heuristicMax: number): number {
  const cc = parseCacheControl(src.cacheControl);
  const sMax = seconds(cc['s-maxage']);
  if (sMax !== undefined) return sMax;
  const max = seconds(cc['max-age']);
  if (max !== undefined) return max;
  const date = httpDate(src.date) ?? receivedAt;
  if (src.expires !== undefined) {
    const exp = httpDate(src.expires);
    return exp === undefined ? 0 : Math.max(0, Math.floor((exp - date) / 1000));
  }
  const lm = httpDate(src.lastModified);
  if (lm !== undefined && lm < date) return Math.min(heuristicMax, Math.floor((date - lm) / 10_000));
  return 0;
}

function storable(src: FetchedSource): boolean {
  if (src.status !== 200 && src.status !== 203) return false;
  const cc = parseCacheControl(src.cacheControl);
  if (cc['no-store'] !== undefined || cc.private !== undefined) return false;
  if (src.vary !== undefined) {
    const fields = src.vary.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '');
    if (fields.some((f) => f !== 'accept' && f !== 'accept-encoding')) return false;
  }
  return true;
}

/** Resolves with `p` unless `signal` aborts first (then rejects with its reason). */
function race<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as unknown);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Wraps a fetcher with a bounded, LRU, HTTP-rules cache of originals. Cached bodies are shared
 * between callers: treat `body` as read-only.
 */
export function createCachingFetcher(inner: SourceFetcher, opts: SourceCacheOptions): CachingSourceFetcher {
  const maxBytes = opts.maxBytes;
  const maxEntryBytes = opts.maxEntryBytes ?? Math.floor(maxBytes / 4);
  const heuristicMax = opts.heuristicMaxSeconds ?? 86_400;
  const viaToken = opts.viaToken ?? DEFAULT_VIA_TOKEN;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<FetchedSource>>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  let revalidated = 0;

  const remove = (key: string): void => {
    const e = entries.get(key);
    if (e === undefined) return;
    entries.delete(key);
    bytes -= e.source.body.length;
  };

  const store = (key: string, src: FetchedSource, receivedAt: number): void => {
    remove(key);
    if (!storable(src) || src.body.length > maxEntryBytes) return;
    const cc = parseCacheControl(src.cacheControl);
    const lifetime = freshnessLifetime(src, receivedAt, heuristicMax);
    const alwaysRevalidate = cc['no-cache'] !== undefined;
    const hasValidator = src.etag !== undefined || src.lastModified !== undefined;
    // An entry that is never fresh and cannot be revalidated would only cost memory.
    if ((lifetime <= 0 || alwaysRevalidate) && !hasValidator) return;
    while (bytes + src.body.length > maxBytes && entries.size > 0) {
      const oldest = entries.keys().next().value as string;
      remove(oldest);
    }
    entries.set(key, { key, source: { ...src, status: 200 }, storedAt: receivedAt, initialAge: src.age ?? 0, lifetime, alwaysRevalidate });
    bytes += src.body.length;
  };

  const touch = (e: Entry): void => {
    entries.delete(e.key);
    entries.set(e.key, e);
  };

  const isFresh = (e: Entry): boolean => {
    if (e.alwaysRevalidate) return false;
    const currentAge = e.initialAge + Math.max(0, now() - e.storedAt) / 1000;
    return e.lifetime > currentAge;
  };

  /** One download or revalidation for `key`; shared by concurrent callers. */
  async function load(key: string, url: string, options: SourceFetchOptions): Promise<FetchedSource> {
    const cached = entries.get(key);
    const headers: SourceFetchHeaders = { ...(options.headers ?? {}) };
    const conditional: { -readonly [K in keyof SourceFetchHeaders]: SourceFetchHeaders[K] } = { ...headers };
    if (cached?.source.etag !== undefined) conditional['if-none-match'] = cached.source.etag;
    if (cached?.source.lastModified !== undefined) conditional['if-modified-since'] = cached.source.lastModified;
    const sendConditional = cached !== undefined && (cached.source.etag !== undefined || cached.source.lastModified !== undefined);
    // The shared download is not tied to one caller's signal: each caller races its own signal.
    const { signal: _ignored, ...rest } = options;
    const res = await inner.fetchSource(url, { ...rest, headers: sendConditional ? conditional : headers });
    const receivedAt = now();
    if (res.status === 304 && cached !== undefined && entries.get(key) === cached) {
      revalidated++;
      // RFC 9111 §4.3.4: update the stored headers from the 304.
      const merged: FetchedSource = {
        ...cached.source,
        ...(res.etag === undefined ? {} : { etag: res.etag }),
        ...(res.lastModified === undefined ? {} : { lastModified: res.lastModified }),
        ...(res.cacheControl === undefined ? {} : { cacheControl: res.cacheControl }),
        ...(res.expires === undefined ? {} : { expires: res.expires }),
        ...(res.date === undefined ? {} : { date: res.date }),
      };
      const next: Entry = {
        key,
        source: merged,
        storedAt: receivedAt,
        initialAge: res.age ?? 0,
        lifetime: freshnessLifetime(merged, receivedAt, heuristicMax),
        alwaysRevalidate: parseCacheControl(merged.cacheControl)['no-cache'] !== undefined,
      };
      if (parseCacheControl(merged.cacheControl)['no-store'] !== undefined) remove(key);
      else {
        entries.delete(key);
        entries.set(key, next);
      }
      return { ...merged, status: 200, fromCache: true };
    }
    if (res.status === 304) {
      // The entry vanished (evicted) while revalidating: fetch the body unconditionally.
      const full = await inner.fetchSource(url, { ...rest, headers });
      store(key, full, now());
      return full;
    }
    store(key, res, receivedAt);
    return res;
  }

  async function fetchSource(url: string, options: SourceFetchOptions): Promise<FetchedSource> {
    options.signal?.throwIfAborted();
    const h = options.headers;
    // A hit must not bypass loop protection: the underlying fetcher would have refused.
    if (viaHasToken(h?.via, viaToken)) throw new AppError('FETCH_LOOP', 'Request loop: the source request already passed through image resizing');
    // Callers doing their own revalidation talk to the origin directly.
    if (h?.['if-none-match'] !== undefined || h?.['if-modified-since'] !== undefined) return inner.fetchSource(url, options);

    const key = `${url}\n${h?.accept ?? ''}`;
    const cached = entries.get(key);
    if (cached !== undefined && isFresh(cached)) {
      hits++;
      touch(cached);
      if (cached.source.body.length > options.maxBytes) {
        throw new AppError('FETCH_TOO_LARGE', `The source is larger than ${options.maxBytes} bytes`, { details: { maxBytes: options.maxBytes } });
      }
      return { ...cached.source, fromCache: true };
    }
    misses++;
    const flightKey = `${key}\n${options.maxBytes}`;
    let p = inflight.get(flightKey);
    if (p === undefined) {
      p = load(key, url, options).finally(() => inflight.delete(flightKey));
      inflight.set(flightKey, p);
    }
    return race(p, options.signal);
  }

  return {
    fetchSource,
    stats: () => ({ hits, misses, revalidated, entries: entries.size, bytes }),
    clear: () => {
      entries.clear();
      bytes = 0;
    },
    close: async () => {
      entries.clear();
      bytes = 0;
      await inner.close?.();
    },
  };
}
