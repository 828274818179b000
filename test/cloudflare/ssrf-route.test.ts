/**
 * Remote sources through the Cloudflare route with the real SSRF-safe fetcher, loopback only
 * (issue 5 acceptance): with one loopback origin allowed, every other loopback spelling — and a
 * redirect from the allowed origin to each — is refused before any connection reaches the victim
 * listeners; an oversized source is aborted while streaming (413 / 9402); a slow origin times out
 * (524 / 9504) while the server keeps answering other requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns/promises';
import sharp from 'sharp';
import { createHttpFetcher } from '../../src/adapters/source/http.js';
import { startRecorder, type Recorder } from '../source/recorder.js';
import { startHarness, type Harness } from './harness.js';

let allowed: Recorder;
let victim: Recorder;
let victim6: Recorder | undefined;
let jpeg: Buffer;
const harnesses: Harness[] = [];
const big = Buffer.alloc(3 * 1024 * 1024, 7);

before(async () => {
  jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } }).jpeg().toBuffer();
  allowed = await startRecorder('127.0.0.1', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/ok.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(jpeg);
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
      res.end();
    } else if (url.pathname === '/big.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(big);
    } else if (url.pathname === '/slow.jpg') {
      // Never answers; the fetcher's time budget must end the request.
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  victim = await startRecorder('127.0.0.1');
  try {
    victim6 = await startRecorder('::1');
  } catch {
    victim6 = undefined; // no IPv6 loopback on this machine
  }
});
after(async () => {
  for (const h of harnesses) await h.close();
  await allowed.close();
  await victim.close();
  await victim6?.close();
});

async function harness(anyPublicOrigin: boolean): Promise<Harness> {
  const fetcher = createHttpFetcher({
    version: 'test',
    allowedOrigins: [allowed.origin],
    anyPublicOrigin,
    // A host name that resolves to loopback (DNS rebinding stand-in); everything else: the OS.
    lookup: async (host) => (host === 'rebind.test' ? [{ address: '127.0.0.1', family: 4 }] : dnsLookup(host, { all: true })),
  });
  const h = await startHarness({ fetch: { maxBytes: 1024 * 1024, timeoutMs: 800, maxRedirects: 3 } }, fetcher);
  harnesses.push(h);
  return h;
}

function targets(): string[] {
  const p = victim.port;
  const list = [
    `http://127.0.0.1:${p}/x.jpg`,
    `http://localhost:${p}/x.jpg`,
    `http://0x7f000001:${p}/x.jpg`,
    `http://2130706433:${p}/x.jpg`,
    `http://127.1:${p}/x.jpg`,
    `http://[::ffff:127.0.0.1]:${p}/x.jpg`,
    `http://[::ffff:7f00:1]:${p}/x.jpg`,
    `http://rebind.test:${p}/x.jpg`,
  ];
  if (victim6 !== undefined) list.push(`http://[::1]:${victim6.port}/x.jpg`);
  return list;
}

for (const anyPublicOrigin of [false, true]) {
  test(`loopback spellings are refused before connecting (any public origin: ${anyPublicOrigin})`, async () => {
    const h = await harness(anyPublicOrigin);
    const ok = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=32/${allowed.origin}/ok.jpg` });
    assert.equal(ok.statusCode, 200, ok.body);
    for (const target of targets()) {
      const direct = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=32/${target}` });
      assert.equal(direct.statusCode, 403, `${target}: ${direct.body}`);
      assert.match(String(direct.headers['cf-resized']), /^err=(9401|9406)$/, target);
      const via = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=32/${allowed.origin}/redirect?to=${encodeURIComponent(target)}` });
      assert.ok([400, 403].includes(via.statusCode), `redirect to ${target}: ${via.statusCode} ${via.body}`);
      assert.match(String(via.headers['cf-resized']), /^err=(9401|9406|9420)$/, `redirect to ${target}`);
    }
    assert.equal(victim.connections, 0, 'nothing reached the IPv4 victim');
    assert.equal(victim6?.connections ?? 0, 0, 'nothing reached the IPv6 victim');
  });
}

test('an oversized source is aborted while streaming; a slow origin times out; others are served meanwhile', async () => {
  const h = await harness(false);
  const bigRes = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=32/${allowed.origin}/big.jpg` });
  assert.equal(bigRes.statusCode, 413, bigRes.body);
  assert.equal(bigRes.headers['cf-resized'], 'err=9402');
  const started = Date.now();
  const slow = h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=32/${allowed.origin}/slow.jpg` });
  const other = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/w=16/${allowed.origin}/ok.jpg` });
  assert.equal(other.statusCode, 200);
  const slowRes = await slow;
  assert.equal(slowRes.statusCode, 524, slowRes.body);
  assert.equal(slowRes.headers['cf-resized'], 'err=9504');
  assert.ok(Date.now() - started < 5000);
});
