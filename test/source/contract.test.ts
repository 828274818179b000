/**
 * SourceFetcher contract: the properties every implementation of the port must keep, run against
 * the http fetcher and the caching fetcher wrapped around it (a cache must not weaken any of them).
 * Loopback only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCachingFetcher } from '../../src/adapters/source/cache.js';
import { createHttpFetcher } from '../../src/adapters/source/http.js';
import { AppError } from '../../src/core/errors.js';
import type { SourceFetcher } from '../../src/ports/source-fetcher.js';
import { startRecorder, type Recorder } from './recorder.js';

const LIMITS = { maxBytes: 1000, timeoutMs: 3_000, maxRedirects: 2 };

function route(req: IncomingMessage, res: ServerResponse): void {
  const p = new URL(req.url ?? '/', 'http://x').pathname;
  const cacheable = { 'cache-control': 'public, max-age=600', etag: '"c"' };
  if (p === '/ok') res.writeHead(200, { 'content-type': 'image/gif', ...cacheable }).end('GIF89a');
  else if (p === '/big') res.writeHead(200, cacheable).end(Buffer.alloc(5000));
  else if (p.startsWith('/to/')) res.writeHead(302, { location: decodeURIComponent(p.slice(4)) }).end();
  else if (p === '/hang') return;
  else res.writeHead(404).end();
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof AppError ? err.code : String(err);
  }
}

function contract(name: string, make: (allowed: string) => SourceFetcher): void {
  describe(`SourceFetcher contract: ${name}`, () => {
    let A: Recorder;
    let B: Recorder;
    let f: SourceFetcher;
    before(async () => {
      A = await startRecorder('127.0.0.1', route);
      B = await startRecorder('127.0.0.1', route);
      f = make(A.origin);
    });
    after(async () => {
      await f.close?.();
      await A.close();
      await B.close();
    });

    it('fetches an allowed source with its metadata', async () => {
      const r = await f.fetchSource(`${A.origin}/ok`, LIMITS);
      assert.equal(r.body.toString(), 'GIF89a');
      assert.equal(r.contentType, 'image/gif');
      assert.equal(r.status, 200);
      assert.equal(r.etag, '"c"');
      assert.equal(r.cacheControl, 'public, max-age=600');
      assert.equal(r.finalUrl, `${A.origin}/ok`);
    });

    it('refuses forbidden targets, directly and by redirect, without connecting', async () => {
      assert.equal(await code(f.fetchSource(`${B.origin}/ok`, LIMITS)), 'FETCH_FORBIDDEN_ADDRESS');
      assert.equal(await code(f.fetchSource(`${A.origin}/to/${encodeURIComponent(`${B.origin}/ok`)}`, LIMITS)), 'FETCH_FORBIDDEN_ADDRESS');
      assert.equal(await code(f.fetchSource(`file:///etc/passwd`, LIMITS)), 'FETCH_INVALID_URL');
      assert.equal(B.connections, 0);
    });

    it('enforces size, redirect, time and loop limits on every call (also when cached)', async () => {
      for (let i = 0; i < 2; i++) {
        assert.equal(await code(f.fetchSource(`${A.origin}/big`, LIMITS)), 'FETCH_TOO_LARGE');
        assert.equal(await code(f.fetchSource(`${A.origin}/ok`, { ...LIMITS, maxBytes: 3 })), 'FETCH_TOO_LARGE');
        assert.equal(await code(f.fetchSource(`${A.origin}/ok`, { ...LIMITS, headers: { via: '1.1 image-resizing' } })), 'FETCH_LOOP');
        const chain = `${A.origin}/to/${encodeURIComponent(`/to/${encodeURIComponent(`/to/${encodeURIComponent('/ok')}`)}`)}`;
        assert.equal(await code(f.fetchSource(chain, LIMITS)), 'FETCH_TOO_MANY_REDIRECTS');
      }
      assert.equal(await code(f.fetchSource(`${A.origin}/hang`, { ...LIMITS, timeoutMs: 200 })), 'FETCH_TIMEOUT');
    });

    it("rejects with the caller's abort reason", async () => {
      const ac = new AbortController();
      const reason = new Error('stop');
      const p = f.fetchSource(`${A.origin}/hang`, { ...LIMITS, signal: ac.signal });
      ac.abort(reason);
      await assert.rejects(p, (e: unknown) => e === reason);
    });
  });
}

contract('http', (allowed) => createHttpFetcher({ version: 't', allowedOrigins: [allowed] }));
contract('cache(http)', (allowed) => createCachingFetcher(createHttpFetcher({ version: 't', allowedOrigins: [allowed] }), { maxBytes: 1 << 20 }));
