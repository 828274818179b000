/**
 * Resource limits of the HTTP listener (issue 10): slow request heads are cut by headersTimeout,
 * slow small bodies by the body deadline, stalled uploads by the idle timeout — while other
 * clients keep being served; oversized heads get 431; body caps answer EntityTooLarge; SIGTERM
 * lets an in-flight upload finish, and a stalled one cannot hold the exit nor leave an object.
 * The time limits are shortened through their settings so the suite runs in seconds; the hang
 * guards are generous and no speed is asserted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { oss, record, within } from './harness.js';

const ENV = { HALFTONE_HEADERS_TIMEOUT_MS: '2000', HALFTONE_BODY_TIMEOUT_MS: '3000', HALFTONE_IDLE_TIMEOUT_MS: '3000', HALFTONE_MAX_OBJECT_BYTES: '100000' };
let server: RunningServer;
const results: Record<string, string> = {};

before(async () => {
  server = await startServer({ env: ENV });
  assert.equal((await oss(server, { method: 'PUT', bucket: 'lim', headers: { 'x-oss-acl': 'public-read-write' } })).status, 200);
});
after(async () => {
  await record('limits', results);
  await server.stop();
});

interface Conn {
  readonly socket: Socket;
  /** Resolves with what the server sent once it closed the connection. */
  readonly closed: Promise<string>;
}
function open(port: number): Conn {
  const socket = connect(port, '127.0.0.1');
  let out = '';
  socket.on('data', (d) => (out += d.toString('latin1')));
  const closed = new Promise<string>((r) => socket.on('close', () => r(out)));
  socket.on('error', () => undefined);
  return { socket, closed };
}
/** Writes `text` one byte every `ms` until the socket closes. */
function trickle(c: Conn, text: string, ms: number): void {
  let i = 0;
  const t = setInterval(() => {
    if (c.socket.destroyed || i >= text.length) {
      clearInterval(t);
      return;
    }
    c.socket.write(text[i++]!);
  }, ms);
  c.closed.finally(() => clearInterval(t));
}
async function healthy(): Promise<boolean> {
  const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10000) });
  return res.status === 200;
}

test('slow request heads are cut while other clients are served', async () => {
  const conns = Array.from({ length: 40 }, () => open(server.port));
  for (const c of conns) {
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    trickle(c, 'X-Slow: ' + 'a'.repeat(10000), 300);
  }
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await healthy(), 'served while 40 slow heads are open');
  const answers = await within(Promise.all(conns.map((c) => c.closed)), 30000, 'slow heads were not cut');
  for (const a of answers) assert.ok(a === '' || /^HTTP\/1\.1 408/.test(a), a.slice(0, 100));
  assert.ok(await healthy());
  results['slow headers (40 connections, 1 byte / 300 ms)'] = `all cut (${answers.filter((a) => a.startsWith('HTTP/1.1 408')).length} with 408), server served others`;
});

test('slow bodies of small-body requests are cut by the body deadline', async () => {
  const conns = Array.from({ length: 10 }, () => open(server.port));
  for (const c of conns) {
    c.socket.write('POST /lim/a.png?x-oss-process HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 200\r\n\r\n');
    trickle(c, 'x-oss-process=image/resize,w_10'.padEnd(200, '0'), 300);
  }
  assert.ok(await healthy(), 'served while slow bodies are open');
  const answers = await within(Promise.all(conns.map((c) => c.closed)), 30000, 'slow bodies were not cut');
  assert.equal(answers.filter((a) => a !== '').length, 0, 'the connection is closed without an answer');
  assert.ok(await healthy());
  results['slow small bodies (10 connections, POST process, 1 byte / 300 ms)'] = 'all cut, server served others';
});

test('a stalled upload is closed by the idle timeout and leaves nothing behind', async () => {
  const c = open(server.port);
  c.socket.write('PUT /lim/stalled.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000\r\n\r\n' + 'x'.repeat(1000));
  assert.ok(await healthy());
  await within(c.closed, 30000, 'stalled upload was not closed');
  assert.equal((await oss(server, { method: 'HEAD', bucket: 'lim', key: 'stalled.bin' })).status, 404);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(readdirSync(join(server.dataDir, 'tmp')), [], 'no temp file left');
  results['stalled streaming PUT'] = 'closed by the idle timeout; no object, no temp file';
});

test('oversized request heads get 431; bodies over their caps get EntityTooLarge', async () => {
  const big = await fetch(`${server.url}/healthz`, { headers: { 'x-oss-meta-big': 'a'.repeat(20 * 1024) } }).catch(() => undefined);
  assert.equal(big?.status, 431);
  const put = await oss(server, { method: 'PUT', bucket: 'lim', key: 'big.bin', body: Buffer.alloc(100001), anonymous: true });
  assert.equal(put.status, 400);
  assert.match(put.body.toString(), /<Code>EntityTooLarge<\/Code>/);
  const xml = await oss(server, { method: 'POST', bucket: 'lim', query: [['delete', undefined]], body: Buffer.alloc(1024 * 1024 + 1, 0x20) });
  assert.equal(xml.status, 400);
  assert.match(xml.body.toString(), /<Code>EntityTooLarge<\/Code>/);
  assert.deepEqual(readdirSync(join(server.dataDir, 'tmp')), []);
  results['20 KiB request head'] = '431';
  results['PUT over HALFTONE_MAX_OBJECT_BYTES'] = '400 EntityTooLarge, no temp file';
  results['XML body over 1 MiB'] = '400 EntityTooLarge';
});

test('SIGTERM: an in-flight upload finishes; a stalled one cannot hold the exit or leave an object', async () => {
  const s = await startServer({ env: { ...ENV, HALFTONE_MAX_OBJECT_BYTES: '10000000', HALFTONE_IDLE_TIMEOUT_MS: '60000', HALFTONE_SHUTDOWN_GRACE_MS: '4000' } });
  const dataDir = s.dataDir;
  try {
    assert.equal((await oss(s, { method: 'PUT', bucket: 'grace', headers: { 'x-oss-acl': 'public-read-write' } })).status, 200);
    const kept = randomBytes(30000);
    assert.equal((await oss(s, { method: 'PUT', bucket: 'grace', key: 'kept.bin', body: kept })).status, 200);
    const body = randomBytes(200000);
    const inflight = open(s.port);
    inflight.socket.write(`PUT /grace/inflight.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    inflight.socket.write(body.subarray(0, 100000));
    const stalled = open(s.port);
    stalled.socket.write('PUT /grace/stalled.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000\r\nConnection: close\r\n\r\n' + 'y'.repeat(1000));
    await new Promise((r) => setTimeout(r, 300));
    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    inflight.socket.write(body.subarray(100000));
    const answer = await within(inflight.closed, 30000, 'in-flight upload');
    assert.match(answer, /^HTTP\/1\.1 200/, answer.slice(0, 200));
    await within(new Promise((r) => (s.child.exitCode !== null || s.child.signalCode !== null ? r(undefined) : s.child.once('exit', r))), 30000, 'exit after SIGTERM');
    stalled.socket.destroy();
  } finally {
    await s.stop({ keepDataDir: true });
  }
  const again = await startServer({ dataDir });
  try {
    const got = await oss(again, { method: 'GET', bucket: 'grace', key: 'inflight.bin' });
    assert.equal(got.status, 200, 'the upload in flight at SIGTERM was completed');
    assert.equal(got.body.length, 200000);
    assert.equal((await oss(again, { method: 'HEAD', bucket: 'grace', key: 'stalled.bin' })).status, 404, 'no partial object');
    const kept = await oss(again, { method: 'GET', bucket: 'grace', key: 'kept.bin' });
    assert.equal(kept.status, 200);
    assert.equal(createHash('md5').update(kept.body).digest('hex').toUpperCase(), kept.headers.get('etag')?.replace(/"/g, ''));
    results['SIGTERM during uploads'] = 'in-flight PUT completed (200, object present after restart); stalled PUT dropped at the grace limit, no object';
  } finally {
    await again.stop();
  }
});
