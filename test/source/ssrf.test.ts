/**
 * SSRF suite, loopback only. One loopback origin (A) is allowed; every other loopback spelling and
 * every host name that resolves to loopback must be refused before any connection reaches the
 * recording listeners B (127.0.0.1) and B6 (::1) — directly and through a redirect from A.
 * No test here ever contacts a non-loopback address: refusals happen before connecting, and the
 * "public address" logic is covered by the pure classifier tests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHttpFetcher, type HttpSourceFetcher, type LookupFunction } from '../../src/adapters/source/http.js';
import { expectCode } from './expect-code.js';
import { startRecorder, type Recorder } from './recorder.js';

const LIMITS = { maxBytes: 1 << 20, timeoutMs: 5_000, maxRedirects: 5 };

let A: Recorder;
let B: Recorder;
let B6: Recorder;
let fetcher: HttpSourceFetcher;
let strict: HttpSourceFetcher;
const lookups: string[] = [];

/** Fake DNS: test names resolve to loopback; everything else fails (never real DNS). */
const lookup: LookupFunction = async (hostname) => {
  lookups.push(hostname);
  const table: Record<string, { address: string; family: number }[]> = {
    'evil.test': [{ address: '127.0.0.1', family: 4 }],
    'evil6.test': [{ address: '::1', family: 6 }],
    'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'zero.test': [{ address: '0.0.0.0', family: 4 }],
    'localhost': [{ address: '127.0.0.1', family: 4 }],
  };
  const hit = table[hostname];
  if (hit === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return hit;
};


before(async () => {
  A = await startRecorder('127.0.0.1', (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/redirect') {
      res.writeHead(302, { location: u.searchParams.get('to') ?? '' }).end();
      return;
    }
    if (u.pathname === '/no-location') {
      res.writeHead(302).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png' }).end('pixels');
  });
  B = await startRecorder('127.0.0.1');
  B6 = await startRecorder('::1');
  fetcher = createHttpFetcher({ version: 'test', allowedOrigins: [A.origin], lookup });
  strict = createHttpFetcher({ version: 'test', allowedOrigins: [A.origin], anyPublicOrigin: false, lookup });
});

after(async () => {
  await fetcher.close();
  await strict.close();
  await Promise.all([A.close(), B.close(), B6.close()]);
});

/** Every forbidden target: [label, url, expected code]. */
function targets(): [string, string, string][] {
  const b = B.port;
  const b6 = B6.port;
  return [
    ['127.0.0.1 on another port', `http://127.0.0.1:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['localhost', `http://localhost:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['LOCALHOST. (case, trailing dot)', `http://LOCALHOST.:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['sub.localhost', `http://img.localhost:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['[::1]', `http://[::1]:${b6}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['0x7f000001', `http://0x7f000001:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['2130706433', `http://2130706433:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['127.1', `http://127.1:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['0177.0.0.1 (octal)', `http://0177.0.0.1:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['127.0.0.%31 (percent-encoded)', `http://127.0.0.%31:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['[::ffff:127.0.0.1] (IPv4-mapped)', `http://[::ffff:127.0.0.1]:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['[::ffff:7f00:1] (IPv4-mapped, hex)', `http://[::ffff:7f00:1]:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['[::127.0.0.1] (IPv4-compatible)', `http://[::127.0.0.1]:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['0.0.0.0 (reaches the local host on Linux)', `http://0.0.0.0:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['0 (single-number 0.0.0.0)', `http://0:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['[::] (unspecified)', `http://[::]:${b6}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['name resolving to 127.0.0.1', `http://evil.test:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['name resolving to 127.0.0.1, on the allowed port', `http://evil.test:${A.port}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['name resolving to ::1', `http://evil6.test:${b6}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['name resolving to ::ffff:127.0.0.1', `http://mapped.test:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['name resolving to 0.0.0.0', `http://zero.test:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['https to 127.0.0.1 on another port', `https://127.0.0.1:${b}/x.png`, 'FETCH_FORBIDDEN_ADDRESS'],
    ['userinfo', `http://user:pw@127.0.0.1:${b}/x.png`, 'FETCH_INVALID_URL'],
    ['userinfo @ trick', `http://127.0.0.1:${A.port}@127.0.0.1:${b}/x.png`, 'FETCH_INVALID_URL'],
  ];
}

describe('SSRF: refused before any connection (one loopback origin allowed)', () => {
  it('the allowed origin itself is fetched, anonymised, with our Via and User-Agent', async () => {
    const res = await fetcher.fetchSource(`${A.origin}/cat.png`, {
      ...LIMITS,
      // Client headers other than the documented few are not part of the type; force one in to
      // prove it is dropped.
      headers: { accept: 'image/webp', cookie: 'session=1', authorization: 'Bearer x' } as never,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'pixels');
    assert.equal(res.contentType, 'image/png');
    assert.equal(res.finalUrl, `${A.origin}/cat.png`);
    const seen = A.requests.at(-1);
    assert.ok(seen);
    assert.equal(seen.headers['user-agent'], 'Halftone/test');
    assert.equal(seen.headers.via, '1.1 image-resizing');
    assert.equal(seen.headers.accept, 'image/webp');
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers.authorization, undefined);
    assert.deepEqual(
      Object.keys(seen.headers).sort(),
      ['accept', 'accept-encoding', 'connection', 'host', 'user-agent', 'via'],
    );
  });

  it('every forbidden target, requested directly, is refused and nothing reaches the listeners', async () => {
    for (const [label, url, code] of targets()) {
      const beforeA = A.connections;
      await expectCode(fetcher.fetchSource(url, LIMITS), code).catch((e: unknown) => assert.fail(`${label}: ${String(e)}`));
      assert.equal(A.connections, beforeA, `${label}: A saw a connection`);
    }
    assert.equal(B.connections, 0, 'B (127.0.0.1) saw a connection');
    assert.equal(B6.connections, 0, 'B6 (::1) saw a connection');
  });

  it('every forbidden target, reached through a redirect from the allowed origin, is refused', async () => {
    for (const [label, url, code] of targets()) {
      const requestsBefore = A.requests.length;
      // Userinfo in a Location is an invalid redirect target rather than an invalid source URL.
      const want = code === 'FETCH_INVALID_URL' ? 'FETCH_BAD_REDIRECT' : code;
      await expectCode(fetcher.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent(url)}`, LIMITS), want).catch((e: unknown) =>
        assert.fail(`${label}: ${String(e)}`),
      );
      assert.equal(A.requests.length, requestsBefore + 1, `${label}: the allowed origin was asked once`);
    }
    assert.equal(B.connections, 0, 'B (127.0.0.1) saw a connection');
    assert.equal(B6.connections, 0, 'B6 (::1) saw a connection');
  });

  it('a protocol-relative or relative redirect is vetted like an absolute one', async () => {
    await expectCode(fetcher.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent(`//127.0.0.1:${B.port}/x`)}`, LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
    await expectCode(fetcher.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent(`//0x7f000001:${B.port}/x`)}`, LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
    const ok = await fetcher.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent('/final.png')}`, LIMITS);
    assert.equal(ok.finalUrl, `${A.origin}/final.png`);
    assert.equal(B.connections, 0);
  });

  it('non-canonical spellings of the allowed origin itself are refused too', async () => {
    const before = A.connections;
    for (const host of ['0x7f000001', '2130706433', '127.1', '0177.0.0.1', '127.0.0.1.']) {
      await expectCode(fetcher.fetchSource(`http://${host}:${A.port}/x.png`, LIMITS), 'FETCH_INVALID_URL');
    }
    // [::ffff:127.0.0.1] is another origin than 127.0.0.1 and is not on the list.
    await expectCode(fetcher.fetchSource(`http://[::ffff:127.0.0.1]:${A.port}/x.png`, LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
    assert.equal(A.connections, before);
  });

  it('non-http(s) schemes are refused, directly and as redirect targets', async () => {
    const absolute = ['file:///etc/passwd', `ftp://127.0.0.1:${A.port}/`, 'data:image/png;base64,AAAA', 'javascript:alert(1)', `gopher://127.0.0.1:${B.port}/`, `ws://127.0.0.1:${A.port}/`, 'blob:https://example.org/1'];
    for (const url of [...absolute, 'not a url', '/relative/path.png', '']) {
      await expectCode(fetcher.fetchSource(url, LIMITS), 'FETCH_INVALID_URL');
    }
    for (const url of absolute) {
      await expectCode(fetcher.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent(url)}`, LIMITS), 'FETCH_BAD_REDIRECT');
    }
    await expectCode(fetcher.fetchSource(`${A.origin}/no-location`, LIMITS), 'FETCH_BAD_REDIRECT');
    assert.equal(B.connections, 0);
  });

  it('blocked ports are refused without connecting', async () => {
    await expectCode(fetcher.fetchSource('http://127.0.0.1:25/', LIMITS), 'FETCH_INVALID_URL');
  });

  it('a name is resolved once per connection and every address is checked', async () => {
    const multi = createHttpFetcher({
      version: 'test',
      allowedOrigins: [`http://multi.test:${A.port}`],
      lookup: async (h) => {
        lookups.push(h);
        // The first address would be allowed for this origin; the second is a metadata address.
        return [
          { address: '127.0.0.1', family: 4 },
          { address: '169.254.169.254', family: 4 },
        ];
      },
    });
    try {
      const n = lookups.length;
      const before = A.connections;
      await expectCode(multi.fetchSource(`http://multi.test:${A.port}/x.png`, LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
      assert.equal(lookups.length, n + 1, 'resolved exactly once');
      assert.equal(A.connections, before, 'no connection to the first (allowed) address either');
    } finally {
      await multi.close();
    }
  });

  it('an allowed host name may resolve to loopback and is connected on the checked address', async () => {
    const named = createHttpFetcher({ version: 'test', allowedOrigins: [`http://*.images.test:${A.port}`], lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
    try {
      const res = await named.fetchSource(`http://cdn.images.test:${A.port}/a.png`, LIMITS);
      assert.equal(res.body.toString(), 'pixels');
      assert.equal(A.requests.at(-1)?.headers.host, `cdn.images.test:${A.port}`);
      // The apex is covered by the wildcard, another port is not.
      await named.fetchSource(`http://images.test:${A.port}/a.png`, LIMITS);
      await expectCode(named.fetchSource(`http://cdn.images.test:${B.port}/a.png`, LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
      assert.equal(B.connections, 0);
    } finally {
      await named.close();
    }
  });

  it('an allowed origin never reaches metadata addresses', async () => {
    const meta = createHttpFetcher({ version: 'test', allowedOrigins: ['http://meta.test'], lookup: async () => [{ address: '100.100.100.200', family: 4 }] });
    try {
      await expectCode(meta.fetchSource('http://meta.test/latest/meta-data/', LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
      await expectCode(meta.fetchSource('http://169.254.169.254/latest/meta-data/', LIMITS), 'FETCH_FORBIDDEN_ADDRESS');
    } finally {
      await meta.close();
    }
  });

  it('strict allow-list mode refuses unlisted origins, directly and on redirect', async () => {
    const ok = await strict.fetchSource(`${A.origin}/a.png`, LIMITS);
    assert.equal(ok.status, 200);
    await expectCode(strict.fetchSource(`http://127.0.0.1:${B.port}/x.png`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
    await expectCode(strict.fetchSource(`http://evil.test:${B.port}/x.png`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
    await expectCode(strict.fetchSource(`${A.origin}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${B.port}/x`)}`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
    await expectCode(strict.fetchSource('https://example.com/a.png', LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
    assert.equal(B.connections, 0);
  });

  it('path prefixes in the allow-list restrict the allowed origin', async () => {
    const prefixed = createHttpFetcher({ version: 'test', allowedOrigins: [`${A.origin}/images/`], anyPublicOrigin: false });
    try {
      const res = await prefixed.fetchSource(`${A.origin}/images/a.png`, LIMITS);
      assert.equal(res.status, 200);
      await expectCode(prefixed.fetchSource(`${A.origin}/private/a.png`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
      await expectCode(prefixed.fetchSource(`${A.origin}/images/../private/a.png`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
      await expectCode(prefixed.fetchSource(`${A.origin}/images/%2e%2e/private/a.png`, LIMITS), 'FETCH_ORIGIN_NOT_ALLOWED');
    } finally {
      await prefixed.close();
    }
  });
});
