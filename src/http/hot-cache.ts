/**
 * Hot response cache: complete responses of anonymous processed-variant GETs/HEADs (OSS
 * `?x-oss-process=`, Cloudflare `/cdn-cgi/image/...`) kept in memory and answered before routing,
 * so a repeated URL costs a map lookup and a socket write (docs/operations-perf.md).
 *
 * Correctness rules:
 * - only a route fills it ({@link offerHot}), for a 200 it served to an anonymous caller, naming
 *   the one bucket the answer was read from, the request headers the answer varies on and the
 *   shape of its 304;
 * - every entry keeps the MetaStore change-clock value taken when its request arrived, before any
 *   read; a hit first checks that nothing in the bucket changed since (`changedAt(bucket) <= t`),
 *   so any write (object, ACL, style, bucket, a commit by another process) drops it;
 * - requests that could get another answer never hit: other methods, an Authorization header or
 *   signature/credential query parameters, a body, Range or conditional headers other than
 *   If-None-Match, `Via`; If-None-Match is answered 304 only on an exact ETag match, and a
 *   token that is not plainly different falls through to the route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { ChangeClock } from '../ports/meta-store.js';
import type { Dialect } from '../ports/metrics.js';

export interface HotCacheOptions {
  /** Byte bound of the stored bodies plus headers; 0 disables the cache. */
  readonly maxBytes: number;
  readonly clock: ChangeClock;
}

/** What a route tells the cache about a response it may keep. */
export interface HotOffer {
  /** The bucket every read of the answer came from. */
  readonly bucket: string;
  /** Lower-case request header names the answer depends on (their values join the key). */
  readonly varyOn: readonly string[];
  /** The 304 answer: response headers kept from the 200, plus headers set to fixed values. */
  readonly notModified: { readonly keep: readonly string[]; readonly set?: readonly (readonly [string, string])[] };
}

export interface HotHit {
  readonly dialect: Dialect;
  readonly route: string;
  readonly method: string;
  readonly status: number;
  /** Request id sent in the response. */
  readonly id: string;
  readonly url: string;
  readonly started: number;
}

export interface HotCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly fills: number;
  /** Entries dropped because their bucket changed. */
  readonly stale: number;
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

export interface HotCache {
  /**
   * Answers `req` from the cache when it can (returns the hit, the response is sent), else marks
   * the request for a later fill and returns undefined. `newId` makes the request id of a hit.
   */
  serve(req: IncomingMessage, res: ServerResponse, newId: () => string): HotHit | undefined;
  /**
   * Keeps the response about to be sent for `req` when the route offered it. `headers` are the
   * reply headers (lower-case), `id` the request id (headers carrying it are re-sent with the next
   * request's id), `body` the payload (empty for HEAD).
   */
  fill(req: IncomingMessage, status: number, headers: Record<string, unknown>, body: Buffer, id: string, dialect: Dialect, route: string): void;
  stats(): HotCacheStats;
}

interface Entry {
  readonly kind: 'entry';
  readonly t: number;
  readonly bucket: string;
  /** Flat [name, value, name, value, ...] for writeHead; request-id values are blanks at `idAt`. */
  readonly headers: readonly string[];
  readonly idAt: readonly number[];
  readonly notModified: readonly string[];
  readonly notModifiedIdAt: readonly number[];
  readonly etag: string | undefined;
  readonly body: Buffer;
  readonly dialect: Dialect;
  readonly route: string;
  readonly size: number;
}

interface VaryMarker {
  readonly kind: 'vary';
  readonly varyOn: readonly string[];
  readonly size: number;
}

const OFFER = Symbol('halftone.hotOffer');
const START = Symbol('halftone.hotStart');
type Marked = IncomingMessage & { [OFFER]?: HotOffer; [START]?: number };

/** Query parameters of signed or credentialed requests (OSS V1/V4 URLs, STS tokens). */
const CREDENTIAL_QUERY = /[?&](?:signature|ossaccesskeyid|x-oss-signature|x-oss-credential|x-oss-security-token|security-token|x-oss-signature-version)=/i;
/** Request headers whose presence makes the answer differ from the plain GET. */
const BYPASS_HEADERS = ['authorization', 'range', 'if-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'via', 'content-length', 'transfer-encoding', 'x-oss-security-token'] as const;
/** Largest single entry, as a share of the bound. */
const MAX_ENTRY_SHARE = 8;
const ENTRY_OVERHEAD = 256;

/** Whether a route offered the response of `req` (cheap; checked before collecting headers). */
export function isOffered(req: IncomingMessage): boolean {
  return (req as Marked)[OFFER] !== undefined;
}

/** Marks `req` as fillable: the route answered it for an anonymous caller from `offer.bucket`. */
export function offerHot(req: IncomingMessage, offer: HotOffer): void {
  const m = req as Marked;
  if (m[START] !== undefined) m[OFFER] = offer;
}

function headerValue(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;
}

/** ETag tokens compared loosely (both dialects' rules: weak prefix, quotes and case ignored). */
const loose = (t: string): string => t.trim().replace(/^W\//, '').replace(/"/g, '').toUpperCase();

/**
 * 'match' when a token is exactly the entry's ETag (or its weak form), 'differ' when no token can
 * match under any dialect's comparison, 'unsure' otherwise (left to the route).
 */
function compareEtag(header: string, etag: string | undefined): 'match' | 'differ' | 'unsure' {
  if (etag === undefined) return 'unsure';
  let unsure = false;
  for (const raw of header.split(',')) {
    const t = raw.trim();
    if (t === etag || t === `W/${etag}`) return 'match';
    if (t === '*' || loose(t) === loose(etag)) unsure = true;
  }
  return unsure ? 'unsure' : 'differ';
}

export function createHotCache(opts: HotCacheOptions): HotCache | undefined {
  if (opts.maxBytes <= 0) return undefined;
  const clock = opts.clock;
  const lru = new LRUCache<string, Entry | VaryMarker>({
    maxSize: opts.maxBytes,
    sizeCalculation: (v) => v.size,
  });
  let hits = 0;
  let misses = 0;
  let fills = 0;
  let stale = 0;

  function eligible(req: IncomingMessage): boolean {
    const m = req.method;
    if (m !== 'GET' && m !== 'HEAD') return false;
    const h = req.headers;
    for (const name of BYPASS_HEADERS) if (h[name] !== undefined) return false;
    return !CREDENTIAL_QUERY.test(req.url ?? '');
  }

  const primaryKey = (req: IncomingMessage): string => `${req.method ?? ''}\n${headerValue(req, 'host')}\n${req.url ?? ''}`;
  const secondaryKey = (primary: string, varyOn: readonly string[], req: IncomingMessage): string =>
    `${primary}\n${varyOn.map((n) => `${n}=${headerValue(req, n)}`).join('\n')}`;

  function find(req: IncomingMessage): { key: string; entry: Entry } | undefined {
    const primary = primaryKey(req);
    const v = lru.get(primary);
    if (v === undefined) return undefined;
    if (v.kind === 'entry') return { key: primary, entry: v };
    const key = secondaryKey(primary, v.varyOn, req);
    const e = lru.get(key);
    return e?.kind === 'entry' ? { key, entry: e } : undefined;
  }

  return {
    serve(req, res, newId) {
      if (!eligible(req)) return undefined;
      const started = performance.now();
      const found = find(req);
      if (found !== undefined) {
        const e = found.entry;
        if (clock.changedAt(e.bucket) > e.t) {
          lru.delete(found.key);
          stale++;
        } else {
          const inm = req.headers['if-none-match'];
          const cmp = inm === undefined ? 'differ' : compareEtag(inm, e.etag);
          if (cmp !== 'unsure') {
            hits++;
            const id = newId();
            const status = cmp === 'match' ? 304 : 200;
            const headers = status === 304 ? e.notModified.slice() : e.headers.slice();
            for (const i of status === 304 ? e.notModifiedIdAt : e.idAt) headers[i] = id;
            res.writeHead(status, headers);
            if (status === 304 || req.method === 'HEAD') res.end();
            else res.end(e.body);
            return { dialect: e.dialect, route: e.route, method: req.method ?? 'GET', status, id, url: req.url ?? '', started };
          }
        }
      }
      misses++;
      (req as Marked)[START] = clock.now();
      return undefined;
    },
    fill(req, status, headers, body, id, dialect, route) {
      const m = req as Marked;
      const offer = m[OFFER];
      const t = m[START];
      if (offer === undefined || t === undefined || status !== 200) return;
      const flat: string[] = [];
      const idAt: number[] = [];
      let size = ENTRY_OVERHEAD + body.length;
      for (const [name, v] of Object.entries(headers)) {
        if (v === undefined) continue;
        if (v === id) {
          idAt.push(flat.length + 1);
          flat.push(name, '');
          continue;
        }
        for (const one of Array.isArray(v) ? v : [v]) {
          flat.push(name, String(one));
          size += name.length + String(one).length + 4;
        }
      }
      if (headers['content-type'] === undefined) return;
      if (headers['content-length'] === undefined) {
        // Fastify adds it for a Buffer payload; a HEAD without it is not reproducible here.
        if (req.method === 'HEAD') return;
        flat.push('content-length', String(body.length));
      }
      if (size > opts.maxBytes / MAX_ENTRY_SHARE) return;
      const keep = new Set(offer.notModified.keep);
      const notModified: string[] = [];
      const notModifiedIdAt: number[] = [];
      for (let k = 0; k < flat.length; k += 2) {
        const isId = idAt.includes(k + 1);
        if (!isId && !keep.has(flat[k]!)) continue;
        if (isId) notModifiedIdAt.push(notModified.length + 1);
        notModified.push(flat[k]!, flat[k + 1]!);
      }
      for (const [name, v] of offer.notModified.set ?? []) notModified.push(name, v);
      const etag = headers['etag'];
      const entry: Entry = {
        kind: 'entry', t, bucket: offer.bucket, headers: flat, idAt, notModified, notModifiedIdAt,
        etag: typeof etag === 'string' ? etag : undefined, body: req.method === 'HEAD' ? Buffer.alloc(0) : body, dialect, route, size,
      };
      const primary = primaryKey(req);
      if (offer.varyOn.length === 0) lru.set(primary, entry);
      else {
        lru.set(primary, { kind: 'vary', varyOn: [...offer.varyOn], size: ENTRY_OVERHEAD });
        lru.set(secondaryKey(primary, offer.varyOn, req), entry);
      }
      fills++;
    },
    stats: () => ({ hits, misses, fills, stale, entries: lru.size, bytes: lru.calculatedSize, maxBytes: opts.maxBytes }),
  };
}
