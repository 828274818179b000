/**
 * https through the guarded connector: the checked address is dialled, but the TLS server name
 * (SNI and certificate check) stays the URL's host. Loopback only, with a throwaway certificate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpFetcher } from '../../src/adapters/source/http.js';
import { AppError } from '../../src/core/errors.js';

const LIMITS = { maxBytes: 1 << 20, timeoutMs: 5_000, maxRedirects: 2 };
let dir = '';
let cert = '';
let key = '';
let server: Server;
let port = 0;
let connections = 0;
const servernames: (string | false | null)[] = [];

const opensslOk = spawnSync('openssl', ['version']).status === 0;

before(async () => {
  if (!opensslOk) return;
  dir = mkdtempSync(join(tmpdir(), 'halftone-tls-'));
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-subj', '/CN=img.test', '-addext', 'subjectAltName=DNS:img.test',
  ]);
  assert.equal(r.status, 0, r.stderr.toString());
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  server = createServer({ cert, key }, (req, res) => {
    servernames.push((req.socket as import('node:tls').TLSSocket).servername);
    res.writeHead(200, { 'content-type': 'image/png' }).end('secure pixels');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  if (!opensslOk) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('https through the guarded connector', { skip: !opensslOk && 'openssl not installed' }, () => {
  it('dials the checked address and verifies the certificate against the URL host', async () => {
    const f = createHttpFetcher({
      version: 't',
      allowedOrigins: [`https://img.test:${port}`],
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
      tls: { ca: cert },
    });
    try {
      const res = await f.fetchSource(`https://img.test:${port}/a.png`, LIMITS);
      assert.equal(res.body.toString(), 'secure pixels');
      assert.equal(servernames.at(-1), 'img.test');
    } finally {
      await f.close();
    }
  });

  it('the same host without an allow-list entry is refused before connecting', async () => {
    const before = connections;
    const f = createHttpFetcher({ version: 't', lookup: async () => [{ address: '127.0.0.1', family: 4 }], tls: { ca: cert } });
    try {
      await assert.rejects(f.fetchSource(`https://img.test:${port}/a.png`, LIMITS), (e: unknown) => e instanceof AppError && e.code === 'FETCH_FORBIDDEN_ADDRESS');
      assert.equal(connections, before);
    } finally {
      await f.close();
    }
  });

  it('certificate verification stays on (an IP URL does not match the certificate)', async () => {
    const f = createHttpFetcher({ version: 't', allowedOrigins: [`https://127.0.0.1:${port}`], tls: { ca: cert } });
    try {
      await assert.rejects(f.fetchSource(`https://127.0.0.1:${port}/a.png`, LIMITS), (e: unknown) => e instanceof AppError && e.code === 'FETCH_FAILED');
    } finally {
      await f.close();
    }
  });
});
