/**
 * Size, time, redirect and loop limits of the http fetcher, against loopback servers only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpFetcher, type HttpSourceFetcher } from '../../src/adapters/source/http.js';
import { AppError } from '../../src/core/errors.js';
import { expectCode } from './expect-code.js';
import { viaHasToken } from '../../src/ports/source-fetcher.js';
import { freeLoopbackPort, startRecorder, type Recorder } from './recorder.js';

const LIMITS = { maxBytes: 64 * 1024, timeoutMs: 5_000, maxRedirects: 3 };

let S: Recorder;
let fetcher: HttpSourceFetcher;
/** Server-side counters of bytes written by the endless responses. */
let endlessWritten = 0;
let loopRefusals = 0;


/** Writes 16 KiB chunks until the client goes away. */
function endless(res: ServerResponse, headers: Record<string, string | number>): void {
  res.writeHead(200, { 'content-type': 'image/jpeg', ...headers });
  const chunk = Buffer.alloc(16 * 1024, 0xab);
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk)) endlessWritten += chunk.length;
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  const p = u.pathname;
  if (p === '/small') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': 5 }).end('hello');
  } else if (p === '/endless') {
    endless(res, {});
  } else if (p === '/endless-lying-length') {
    // Claims to be small; the parser would reject the extra bytes, but the cap must hold anyway.
    endless(res, { 'content-length': 1000 });
  } else if (p === '/declared-huge') {
    res.writeHead(200, { 'content-length': 50 * 1024 * 1024 });
    res.write(Buffer.alloc(1024));
    // Never finishes: the fetcher must refuse from the header alone.
  } else if (p === '/sized') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': 5000 }).end(Buffer.alloc(5000, 7));
  } else if (p === '/chunked') {
    // No Content-Length: three chunks of 1000 bytes.
    res.writeHead(200, { 'content-type': 'image/png' });
    res.write(Buffer.alloc(1000, 1));
    setTimeout(() => {
      res.write(Buffer.alloc(1000, 2));
      res.end(Buffer.alloc(1000, 3));
    }, 20);
  } else if (p === '/exact-cap') {
    res.writeHead(200).end(Buffer.alloc(LIMITS.maxBytes, 1));
  } else if (p === '/hang') {
    // Never answers.
  } else if (p === '/dribble') {
    res.writeHead(200, { 'content-type': 'image/png' });
    const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 50);
    res.on('close', () => clearInterval(t));
  } else if (p.startsWith('/hop/')) {
    const n = Number(p.slice('/hop/'.length));
    if (n > 0) res.writeHead(302, { location: `/hop/${n - 1}` }).end();
    else res.writeHead(200).end('landed');
  } else if (p === '/loop') {
    res.writeHead(301, { location: '/loop' }).end();
  } else if (p.startsWith('/status/')) {
    res.writeHead(Number(p.slice('/status/'.length))).end('no');
  } else if (p === '/self') {
    // A "Halftone" that fetches its own URL, passing the incoming Via on like a transform route.
    const via = req.headers.via;
    fetcher.fetchSource(`${S.origin}/self`, { ...LIMITS, headers: via === undefined ? {} : { via } }).then(
      (r) => res.writeHead(200).end(r.body),
      (err: unknown) => {
        const loop = err instanceof AppError && err.code === 'FETCH_LOOP';
        if (loop) loopRefusals++;
        res.writeHead(loop ? 508 : 502).end(err instanceof AppError ? `${err.code} ${JSON.stringify(err.details ?? {})}` : String(err));
      },
    );
  } else {
    res.writeHead(404).end();
  }
}

before(async () => {
  S = await startRecorder('127.0.0.1', route);
  fetcher = createHttpFetcher({ version: '9.9.9', allowedOrigins: ['http://127.0.0.1:*'] });
});

after(async () => {
  await fetcher.close();
  await S.close();
});

describe('size cap', () => {
  it('a body at exactly the cap is accepted', async () => {
    const res = await fetcher.fetchSource(`${S.origin}/exact-cap`, LIMITS);
    assert.equal(res.body.length, LIMITS.maxBytes);
  });

  it('an endless body without Content-Length is aborted at the cap and the server sees the socket close', async () => {
    const closed = S.nextSocketClose();
    const t0 = Date.now();
    const err = await expectCode(fetcher.fetchSource(`${S.origin}/endless`, LIMITS), 'FETCH_TOO_LARGE');
    assert.equal(err.status, 413);
    await closed;
    assert.ok(Date.now() - t0 < 3_000);
    // The server stopped soon after the cap (socket buffers allow some slack, not megabytes).
    const written = endlessWritten;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(endlessWritten, written, 'the server kept writing after the abort');
  });

  it('a Content-Length that lies does not let more than the cap through', async () => {
    // undici stops at the declared length; either way no more than the cap is accepted.
    const small = { ...LIMITS, maxBytes: 500 };
    await expectCode(fetcher.fetchSource(`${S.origin}/endless-lying-length`, small), 'FETCH_TOO_LARGE');
  });

  it('a declared Content-Length over the cap is refused before the body is read', async () => {
    const closed = S.nextSocketClose();
    const t0 = Date.now();
    await expectCode(fetcher.fetchSource(`${S.origin}/declared-huge`, LIMITS), 'FETCH_TOO_LARGE');
    await closed;
    assert.ok(Date.now() - t0 < 3_000);
  });
});

describe('time limit', () => {
  it('an origin that never answers times out within the budget, while other fetches proceed', async () => {
    const t0 = Date.now();
    const slow = fetcher.fetchSource(`${S.origin}/hang`, { ...LIMITS, timeoutMs: 400 });
    const fast = await fetcher.fetchSource(`${S.origin}/small`, LIMITS);
    assert.equal(fast.body.toString(), 'hello');
    const err = await expectCode(slow, 'FETCH_TIMEOUT');
    assert.equal(err.status, 504);
    const took = Date.now() - t0;
    assert.ok(took >= 390 && took < 2_000, `took ${took} ms`);
  });

  it('a body that dribbles in is cut off by the total budget', async () => {
    const t0 = Date.now();
    await expectCode(fetcher.fetchSource(`${S.origin}/dribble`, { ...LIMITS, timeoutMs: 300 }), 'FETCH_TIMEOUT');
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("the caller's own abort rejects with the caller's reason", async () => {
    const ac = new AbortController();
    const reason = new Error('client went away');
    const p = fetcher.fetchSource(`${S.origin}/hang`, { ...LIMITS, signal: ac.signal });
    setTimeout(() => ac.abort(reason), 50);
    await assert.rejects(p, (e: unknown) => e === reason);
  });
});

describe('memory accounting (the memory budget\'s source hold)', () => {
  /** A BodyMemory that records its calls; `refuseAfter` bytes make grow throw. */
  function recorder(opts: { refuseAfter?: number; wait?: Promise<void> } = {}) {
    const calls: string[] = [];
    let held = 0;
    return {
      calls,
      held: () => held,
      memory: {
        async reserve(bytes: number, signal?: AbortSignal) {
          calls.push(`reserve ${bytes}`);
          if (opts.wait !== undefined) {
            await new Promise<void>((resolve, reject) => {
              signal?.addEventListener('abort', () => reject(new AppError('CLIENT_CLOSED', 'gone')), { once: true });
              void opts.wait!.then(resolve);
            });
          }
          held += bytes;
        },
        grow(bytes: number) {
          if (opts.refuseAfter !== undefined && held + bytes > opts.refuseAfter) throw new AppError('OVERLOADED', 'busy', { details: { retryAfter: 1 } });
          calls.push(`grow ${bytes}`);
          held += bytes;
        },
      },
    };
  }

  it('a declared length is reserved before the body is read; nothing more is asked for', async () => {
    const r = recorder();
    const res = await fetcher.fetchSource(`${S.origin}/sized`, { ...LIMITS, memory: r.memory });
    assert.equal(res.body.length, 5000);
    assert.deepEqual(r.calls, ['reserve 5000']);
  });

  it('a body without Content-Length grows the reservation as it arrives, to exactly its size', async () => {
    const r = recorder();
    const res = await fetcher.fetchSource(`${S.origin}/chunked`, { ...LIMITS, memory: r.memory });
    assert.equal(res.body.length, 3000);
    assert.ok(r.calls.length >= 2 && r.calls.every((c) => c.startsWith('grow ')), r.calls.join(', '));
    assert.equal(r.held(), 3000);
  });

  it('a refused grow stops the download with that refusal and closes the connection', async () => {
    const r = recorder({ refuseAfter: 64 * 1024 });
    const closed = S.nextSocketClose();
    await expectCode(fetcher.fetchSource(`${S.origin}/endless`, { ...LIMITS, maxBytes: 1024 * 1024, memory: r.memory }), 'OVERLOADED');
    await closed;
  });

  it('a reservation that waits past the time budget ends as FETCH_TIMEOUT, with the connection closed', async () => {
    const never = new Promise<void>(() => undefined);
    const r = recorder({ wait: never });
    const closed = S.nextSocketClose();
    await expectCode(fetcher.fetchSource(`${S.origin}/sized`, { ...LIMITS, timeoutMs: 300, memory: r.memory }), 'FETCH_TIMEOUT');
    await closed;
    assert.equal(r.held(), 0);
  });
});

describe('redirects', () => {
  it('follows up to maxRedirects and reports the final URL', async () => {
    const res = await fetcher.fetchSource(`${S.origin}/hop/3`, LIMITS);
    assert.equal(res.body.toString(), 'landed');
    assert.equal(res.finalUrl, `${S.origin}/hop/0`);
  });

  it('one more redirect than allowed fails with FETCH_TOO_MANY_REDIRECTS after exactly max+1 requests', async () => {
    const before = S.requests.length;
    await expectCode(fetcher.fetchSource(`${S.origin}/hop/4`, LIMITS), 'FETCH_TOO_MANY_REDIRECTS');
    assert.equal(S.requests.length - before, LIMITS.maxRedirects + 1);
    await expectCode(fetcher.fetchSource(`${S.origin}/loop`, LIMITS), 'FETCH_TOO_MANY_REDIRECTS');
    await expectCode(fetcher.fetchSource(`${S.origin}/hop/1`, { ...LIMITS, maxRedirects: 0 }), 'FETCH_TOO_MANY_REDIRECTS');
  });
});

describe('Via loop protection', () => {
  it('refuses, without connecting, a fetch whose incoming Via already carries our token', async () => {
    const before = S.connections;
    for (const via of ['1.1 image-resizing', 'HTTP/1.1 proxy, 1.1 Image-Resizing', 'image-resizing', '1.0 cache (Squid), 1.1 image-resizing (Halftone)']) {
      await expectCode(fetcher.fetchSource(`${S.origin}/small`, { ...LIMITS, headers: { via } }), 'FETCH_LOOP');
    }
    assert.equal(S.connections, before);
  });

  it('appends our token to a foreign Via chain', async () => {
    await fetcher.fetchSource(`${S.origin}/small`, { ...LIMITS, headers: { via: '1.1 varnish' } });
    assert.equal(S.requests.at(-1)?.headers.via, '1.1 varnish, 1.1 image-resizing');
    assert.equal(S.requests.at(-1)?.headers['user-agent'], 'Halftone/9.9.9');
  });

  it('a server fetching itself stops after one hop with a loop error', async () => {
    const before = S.requests.length;
    // A plain client (no Via) asks /self; /self fetches itself through the fetcher (adding Via);
    // the second /self sees our token, refuses with FETCH_LOOP (508), and the chain unwinds.
    const res = await fetch(`${S.origin}/self`);
    assert.equal(res.status, 502);
    assert.match(await res.text(), /FETCH_ORIGIN_ERROR.*508|508/);
    assert.equal(S.requests.length - before, 2);
    assert.equal(S.requests.at(-1)?.headers.via, '1.1 image-resizing');
    assert.equal(loopRefusals, 1);
  });

  it('viaHasToken reads received-by entries only', () => {
    assert.equal(viaHasToken('1.1 image-resizing-proxy'), false);
    assert.equal(viaHasToken('1.1 example.com (image-resizing)'), false);
    assert.equal(viaHasToken(['1.1 a', '1.1 image-resizing']), true);
    assert.equal(viaHasToken(undefined), false);
    assert.equal(viaHasToken('1.1 halftone-7', 'halftone-7'), true);
  });
});

describe('origin answers and transport errors', () => {
  it('maps origin statuses to stable codes', async () => {
    const cases: [number, string][] = [
      [404, 'FETCH_ORIGIN_NOT_FOUND'],
      [410, 'FETCH_ORIGIN_NOT_FOUND'],
      [403, 'FETCH_ORIGIN_REJECTED'],
      [400, 'FETCH_ORIGIN_REJECTED'],
      [500, 'FETCH_ORIGIN_ERROR'],
      [503, 'FETCH_ORIGIN_ERROR'],
    ];
    for (const [status, code] of cases) {
      const err = await expectCode(fetcher.fetchSource(`${S.origin}/status/${status}`, LIMITS), code);
      assert.deepEqual(err.details, { originStatus: status });
    }
  });

  it('a 304 is only an answer when the caller asked conditionally', async () => {
    await expectCode(fetcher.fetchSource(`${S.origin}/status/304`, LIMITS), 'FETCH_ORIGIN_ERROR');
    const res = await fetcher.fetchSource(`${S.origin}/status/304`, { ...LIMITS, headers: { 'if-none-match': '"x"' } });
    assert.equal(res.status, 304);
    assert.equal(res.body.length, 0);
  });

  it('a closed port is FETCH_UNREACHABLE and an unknown name is FETCH_DNS_FAILED', async () => {
    const port = await freeLoopbackPort();
    await expectCode(fetcher.fetchSource(`http://127.0.0.1:${port}/x`, LIMITS), 'FETCH_UNREACHABLE');
    const dnsFail = createHttpFetcher({
      version: 't',
      lookup: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    });
    try {
      await expectCode(dnsFail.fetchSource('http://no-such-host.test/x', LIMITS), 'FETCH_DNS_FAILED');
    } finally {
      await dnsFail.close();
    }
  });
});
