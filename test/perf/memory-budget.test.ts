/**
 * Under 64 concurrent AVIF requests against a spawned server with a memory budget, every request
 * succeeds or is refused with Retry-After, and the child's peak RSS (VmHWM) stays under the budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { startServer, TEST_AK, TEST_SK } from '../helpers/server.js';
import { photo } from './harness.js';

const BUDGET = 1024 ** 3;

function vmHwmBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('no VmHWM');
  return Number(m[1]) * 1024;
}

async function signed(base: string, method: 'PUT', path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<number> {
  const date = new Date().toUTCString();
  const oss = Object.keys(headers).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${headers[k]}\n`).join('');
  const sig = createHmac('sha1', TEST_SK).update(`${method}\n\n${headers['content-type'] ?? ''}\n${date}\n${oss}${path}`).digest('base64');
  const res = await request(base + path, { method, headers: { ...headers, date, authorization: `OSS ${TEST_AK}:${sig}` }, ...(body === undefined ? {} : { body }) });
  await res.body.dump();
  return res.statusCode;
}

test('64 concurrent 1000 px AVIF requests: success or 503 + Retry-After, peak RSS under the budget', { skip: process.platform !== 'linux' ? 'needs /proc (Linux)' : false }, async (t) => {
  const server = await startServer({ env: { HALFTONE_MEMORY_BUDGET_BYTES: String(BUDGET), HALFTONE_MAX_QUEUE: '2', HALFTONE_CACHE_DISK_BYTES: '0' } });
  try {
    assert.equal(await signed(server.url, 'PUT', '/big/', undefined, { 'x-oss-acl': 'public-read' }), 200);
    assert.equal(await signed(server.url, 'PUT', '/big/photo.jpg', await photo(2725, 2225), { 'content-type': 'image/jpeg' }), 200);
    const results = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const res = await request(`${server.url}/big/photo.jpg?x-oss-process=image/resize,w_${1000 - i}/format,avif`);
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, retryAfter: res.headers['retry-after'], type: res.headers['content-type'], body };
    }));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503);
    assert.equal(ok.length + refused.length, 64, `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.ok(ok.length >= 1);
    for (const r of ok) assert.equal(r.type, 'image/avif');
    for (const r of refused) assert.match(String(r.retryAfter), /^\d+$/);
    const peak = vmHwmBytes(server.child.pid!);
    assert.ok(peak < BUDGET, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB ≥ budget ${(BUDGET / 2 ** 20).toFixed(0)} MiB`);
    t.diagnostic(`${ok.length} succeeded, ${refused.length} refused; child peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await server.stop();
  }
});
