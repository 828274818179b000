/**
 * The HTTP-rules cache of originals, over the real http fetcher and a loopback origin whose
 * caching headers each test chooses. The clock is injected so freshness is deterministic.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCachingFetcher, freshnessLifetime } from '../../src/adapters/source/cache.js';
import { createHttpFetcher, type HttpSourceFetcher } from '../../src/adapters/source/http.js';
import { AppError } from '../../src/core/errors.js';
import type { FetchedSource, SourceFetcher, SourceFetchOptions } from '../../src/ports/source-fetcher.js';
import { startRecorder, type Recorder } from './recorder.js';

const LIMITS = { maxBytes: 1 << 20, timeoutMs: 5_000, maxRedirects: 3 };
const T0 = Date.parse('2024-05-01T12:00:00Z');

let S: Recorder;
let http: HttpSourceFetcher;
let clock = T0;
/** Per-path response recipe: headers and body; `etag` enables 304 answers. */
const recipes = new Map<string, { headers: Record<string, string>; body: string; delayMs?: number }>();
/** Full (200) bodies sent per path. */
const downloads = new Map<string, number>();
const notModified = new Map<string, number>();

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const r = recipes.get(path);
  if (r === undefined) {
    res.writeHead(404).end();
    return;
  }
  const send = (): void => {
    const etag = r.headers.etag;
    const lm = r.headers['last-modified'];
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    if ((etag !== undefined && inm === etag) || (etag === undefined && lm !== undefined && ims === lm)) {
      notModified.set(path, (notModified.get(path) ?? 0) + 1);
      res.writeHead(304, { ...r.headers, date: new Date(clock).toUTCString() }).end();
      return;
    }
    downloads.set(path, (downloads.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'image/jpeg', date: new Date(clock).toUTCString(), ...r.headers }).end(r.body);
  };
  if (r.delayMs !== undefined) setTimeout(send, r.delayMs);
  else send();
}

before(async () => {
  S = await startRecorder('127.0.0.1', route);
  http = createHttpFetcher({ version: 't', allowedOrigins: [S.origin] });
});
after(async () => {
  await http.close();
  await S.close();
});
beforeEach(() => {
  clock = T0;
  recipes.clear();
  downloads.clear();
  notModified.clear();
});

const cache = (maxBytes = 1 << 20, maxEntryBytes?: number) =>
  createCachingFetcher(http, { maxBytes, ...(maxEntryBytes === undefined ? {} : { maxEntryBytes }), now: () => clock });
const url = (p: string): string => `${S.origin}${p}`;

describe('source cache', () => {
  it('many variants of one fresh original reuse a single download', async () => {
    recipes.set('/a.jpg', { headers: { 'cache-control': 'public, max-age=3600' }, body: 'A'.repeat(1000) });
    const c = cache();
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await c.fetchSource(url('/a.jpg'), LIMITS));
    assert.equal(downloads.get('/a.jpg'), 1);
    assert.equal(results[0]?.fromCache, undefined);
    assert.equal(results[9]?.fromCache, true);
    assert.equal(results[9]?.body.toString(), 'A'.repeat(1000));
    assert.equal(results[9]?.contentType, 'image/jpeg');
    assert.deepEqual(c.stats(), { hits: 9, misses: 1, revalidated: 0, entries: 1, bytes: 1000 });
  });

  it('concurrent misses share one download', async () => {
    recipes.set('/slow.jpg', { headers: { 'cache-control': 'max-age=60' }, body: 'S', delayMs: 100 });
    const c = cache();
    const all = await Promise.all(Array.from({ length: 8 }, () => c.fetchSource(url('/slow.jpg'), LIMITS)));
    assert.equal(downloads.get('/slow.jpg'), 1);
    assert.ok(all.every((r) => r.body.toString() === 'S'));
  });

  it('a stale entry with an ETag is revalidated with If-None-Match and a 304 refreshes it', async () => {
    recipes.set('/e.jpg', { headers: { 'cache-control': 'max-age=60', etag: '"v1"' }, body: 'E1' });
    const c = cache();
    await c.fetchSource(url('/e.jpg'), LIMITS);
    clock += 61_000;
    const res = await c.fetchSource(url('/e.jpg'), LIMITS);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'E1');
    assert.equal(res.fromCache, true);
    assert.equal(downloads.get('/e.jpg'), 1);
    assert.equal(notModified.get('/e.jpg'), 1);
    assert.equal(S.requests.at(-1)?.headers['if-none-match'], '"v1"');
    // Fresh again for another 60 s after the 304.
    clock += 30_000;
    await c.fetchSource(url('/e.jpg'), LIMITS);
    assert.equal(notModified.get('/e.jpg'), 1);
    assert.equal(c.stats().revalidated, 1);
  });

  it('a changed original (new ETag) is downloaded again on revalidation', async () => {
    recipes.set('/c.jpg', { headers: { 'cache-control': 'max-age=10', etag: '"v1"' }, body: 'old' });
    const c = cache();
    await c.fetchSource(url('/c.jpg'), LIMITS);
    recipes.set('/c.jpg', { headers: { 'cache-control': 'max-age=10', etag: '"v2"' }, body: 'new' });
    clock += 11_000;
    const res = await c.fetchSource(url('/c.jpg'), LIMITS);
    assert.equal(res.body.toString(), 'new');
    assert.equal(downloads.get('/c.jpg'), 2);
  });

  it('Last-Modified alone revalidates with If-Modified-Since', async () => {
    const lm = new Date(T0 - 86_400_000).toUTCString();
    recipes.set('/lm.jpg', { headers: { 'cache-control': 'no-cache', 'last-modified': lm }, body: 'L' });
    const c = cache();
    await c.fetchSource(url('/lm.jpg'), LIMITS);
    await c.fetchSource(url('/lm.jpg'), LIMITS);
    assert.equal(downloads.get('/lm.jpg'), 1);
    assert.equal(notModified.get('/lm.jpg'), 1, 'no-cache: revalidated on every use');
    assert.equal(S.requests.at(-1)?.headers['if-modified-since'], lm);
  });

  it('no-store and private responses are never stored', async () => {
    recipes.set('/ns.jpg', { headers: { 'cache-control': 'no-store', etag: '"x"' }, body: 'N' });
    recipes.set('/pv.jpg', { headers: { 'cache-control': 'private, max-age=600' }, body: 'P' });
    const c = cache();
    for (let i = 0; i < 3; i++) {
      await c.fetchSource(url('/ns.jpg'), LIMITS);
      await c.fetchSource(url('/pv.jpg'), LIMITS);
    }
    assert.equal(downloads.get('/ns.jpg'), 3);
    assert.equal(downloads.get('/pv.jpg'), 3);
    assert.equal(c.stats().entries, 0);
  });

  it('Vary on a request header we do not key on prevents storing', async () => {
    recipes.set('/v.jpg', { headers: { 'cache-control': 'max-age=600', vary: 'Cookie' }, body: 'V' });
    recipes.set('/va.jpg', { headers: { 'cache-control': 'max-age=600', vary: 'Accept' }, body: 'V' });
    const c = cache();
    await c.fetchSource(url('/v.jpg'), LIMITS);
    await c.fetchSource(url('/v.jpg'), LIMITS);
    assert.equal(downloads.get('/v.jpg'), 2);
    await c.fetchSource(url('/va.jpg'), { ...LIMITS, headers: { accept: 'image/webp' } });
    await c.fetchSource(url('/va.jpg'), { ...LIMITS, headers: { accept: 'image/webp' } });
    await c.fetchSource(url('/va.jpg'), { ...LIMITS, headers: { accept: 'image/avif' } });
    assert.equal(downloads.get('/va.jpg'), 2, 'one download per Accept value');
  });

  it('Expires and the Last-Modified heuristic give freshness; Age counts against it', async () => {
    assert.equal(freshnessLifetime({ cacheControl: 'max-age=100, s-maxage=5' }, T0, 86_400), 5);
    assert.equal(freshnessLifetime({ expires: new Date(T0 + 120_000).toUTCString(), date: new Date(T0).toUTCString() }, T0, 86_400), 120);
    assert.equal(freshnessLifetime({ expires: '0' }, T0, 86_400), 0);
    assert.equal(freshnessLifetime({ lastModified: new Date(T0 - 1_000_000).toUTCString() }, T0, 86_400), 100);
    assert.equal(freshnessLifetime({ lastModified: new Date(T0 - 10 * 86_400_000 * 10).toUTCString() }, T0, 86_400), 86_400);
    assert.equal(freshnessLifetime({}, T0, 86_400), 0);

    recipes.set('/age.jpg', { headers: { 'cache-control': 'max-age=100', age: '90' }, body: 'G' });
    const c = cache();
    await c.fetchSource(url('/age.jpg'), LIMITS);
    clock += 5_000;
    await c.fetchSource(url('/age.jpg'), LIMITS);
    assert.equal(downloads.get('/age.jpg'), 1);
    clock += 6_000; // 90 + 11 > 100: stale, no validator → downloaded again
    await c.fetchSource(url('/age.jpg'), LIMITS);
    assert.equal(downloads.get('/age.jpg'), 2);
  });

  it('is bounded in bytes with least-recently-used eviction', async () => {
    for (const p of ['/1', '/2', '/3']) recipes.set(p, { headers: { 'cache-control': 'max-age=600' }, body: 'x'.repeat(400) });
    const c = cache(1000, 500);
    await c.fetchSource(url('/1'), LIMITS);
    await c.fetchSource(url('/2'), LIMITS);
    await c.fetchSource(url('/1'), LIMITS); // /1 is now the most recently used
    await c.fetchSource(url('/3'), LIMITS); // evicts /2
    assert.deepEqual({ entries: c.stats().entries, bytes: c.stats().bytes }, { entries: 2, bytes: 800 });
    await c.fetchSource(url('/1'), LIMITS);
    await c.fetchSource(url('/2'), LIMITS);
    assert.equal(downloads.get('/1'), 1);
    assert.equal(downloads.get('/2'), 2);
    // Bodies over the per-entry cap are passed through, not stored.
    recipes.set('/big', { headers: { 'cache-control': 'max-age=600' }, body: 'y'.repeat(600) });
    await c.fetchSource(url('/big'), LIMITS);
    await c.fetchSource(url('/big'), LIMITS);
    assert.equal(downloads.get('/big'), 2);
    assert.ok(c.stats().bytes <= 1000);
  });

  it('a cached body still honours the caller\u2019s size cap and loop protection', async () => {
    recipes.set('/cap.jpg', { headers: { 'cache-control': 'max-age=600' }, body: 'z'.repeat(300) });
    const c = cache();
    await c.fetchSource(url('/cap.jpg'), LIMITS);
    await assert.rejects(c.fetchSource(url('/cap.jpg'), { ...LIMITS, maxBytes: 100 }), (e: unknown) => e instanceof AppError && e.code === 'FETCH_TOO_LARGE');
    await assert.rejects(c.fetchSource(url('/cap.jpg'), { ...LIMITS, headers: { via: '1.1 image-resizing' } }), (e: unknown) => e instanceof AppError && e.code === 'FETCH_LOOP');
    assert.equal(downloads.get('/cap.jpg'), 1);
  });

  it('errors are not cached and one caller aborting does not fail the others', async () => {
    const c = cache();
    await assert.rejects(c.fetchSource(url('/missing.jpg'), LIMITS), (e: unknown) => e instanceof AppError && e.code === 'FETCH_ORIGIN_NOT_FOUND');
    recipes.set('/missing.jpg', { headers: { 'cache-control': 'max-age=60' }, body: 'now here', delayMs: 100 });
    const ac = new AbortController();
    const first = c.fetchSource(url('/missing.jpg'), { ...LIMITS, signal: ac.signal });
    const second = c.fetchSource(url('/missing.jpg'), LIMITS);
    ac.abort(new Error('gone'));
    await assert.rejects(first, /gone/);
    assert.equal((await second).body.toString(), 'now here');
    assert.equal(downloads.get('/missing.jpg'), 1);
  });

  it('works over any SourceFetcher (port-level contract)', async () => {
    let calls = 0;
    const fake: SourceFetcher = {
      fetchSource: async (u: string, o: SourceFetchOptions): Promise<FetchedSource> => {
        calls++;
        if (o.headers?.['if-none-match'] === '"f"') return { body: Buffer.alloc(0), contentType: '', status: 304, finalUrl: u };
        return { body: Buffer.from('fake'), contentType: 'image/png', status: 200, etag: '"f"', finalUrl: u };
      },
    };
    const c = createCachingFetcher(fake, { maxBytes: 1000, now: () => clock });
    await c.fetchSource('https://example.invalid/a.png', LIMITS);
    const again = await c.fetchSource('https://example.invalid/a.png', LIMITS);
    assert.equal(again.body.toString(), 'fake');
    assert.equal(again.status, 200);
    assert.equal(calls, 2, 'stale (no freshness) + validator: revalidated, not re-downloaded');
  });
});
