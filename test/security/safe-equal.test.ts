/**
 * The secret comparisons are constant-time: safeEqual always goes through
 * crypto.timingSafeEqual on equal-length digests (also when the lengths differ, so there is no
 * early exit), safeIncludes compares every key, and the OSS verifier (V1 and V4) and the Images
 * REST API bearer check use them. crypto.timingSafeEqual is wrapped with a counter through
 * node:test mocks (syncBuiltinESMExports makes the named imports see the wrapper).
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { safeEqual, safeIncludes } from '../../src/core/safe-equal.js';
import { authenticate, v1Sign, v1StringToSign, v4CanonicalRequest, v4Sign } from '../../src/http/oss/auth.js';

let calls: { a: number; b: number }[] = [];
beforeEach(() => {
  calls = [];
  const real = crypto.timingSafeEqual;
  mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push({ a: a.byteLength, b: b.byteLength });
    return real(a, b);
  });
  syncBuiltinESMExports();
});
afterEach(() => {
  mock.restoreAll();
  syncBuiltinESMExports();
});

test('safeEqual: right answers, always one timingSafeEqual over equal-length buffers', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true], ['abc', 'abd', false], ['abc', 'abcd', false], ['', '', true], ['', 'x', false],
    ['ключ', 'ключ', true], ['ключ', 'ключь', false], ['a'.repeat(1000), 'a'.repeat(999) + 'b', false],
  ];
  for (const [a, b, want] of cases) {
    calls = [];
    assert.equal(safeEqual(a, b), want, `${a} vs ${b}`);
    assert.equal(calls.length, 1, 'exactly one constant-time comparison');
    assert.equal(calls[0]!.a, calls[0]!.b, 'compared buffers have equal length');
  }
});

test('safeIncludes compares every key, even after a match', () => {
  assert.equal(safeIncludes(['k1', 'k2', 'k3'], 'k1'), true);
  assert.equal(calls.length, 3);
  calls = [];
  assert.equal(safeIncludes(['k1', 'k2', 'k3'], 'nope'), false);
  assert.equal(calls.length, 3);
  assert.equal(safeIncludes([], 'x'), false);
});

test('OSS V1 and V4 verification compare signatures with timingSafeEqual', () => {
  const lookup = (id: string) => (id === 'AK' ? 'SK' : undefined);
  const now = Date.UTC(2026, 10, 23, 12, 0, 0);
  const date = new Date(now).toUTCString();
  const base = { method: 'GET', bucket: 'b', key: 'k.jpg', query: [] as [string, string | undefined][] };
  const headers = { date };
  const good = v1Sign('SK', v1StringToSign({ ...base, headers }, date));
  assert.deepEqual(authenticate({ ...base, headers: { ...headers, authorization: `OSS AK:${good}` } }, lookup, now), { kind: 'signed', accessKeyId: 'AK' });
  assert.ok(calls.length >= 1);
  calls = [];
  assert.throws(() => authenticate({ ...base, headers: { ...headers, authorization: `OSS AK:${good.slice(0, -2)}xx` } }, lookup, now), { code: 'SIGNATURE_MISMATCH' });
  assert.ok(calls.length >= 1, 'a tampered V1 signature goes through the constant-time comparison');

  calls = [];
  const ts = '20261123T120000Z';
  const h4 = { 'x-oss-date': ts, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD' };
  const canonical = v4CanonicalRequest({ ...base, headers: h4 }, []);
  const sts = `OSS4-HMAC-SHA256\n${ts}\n20261123/cn-hangzhou/oss/aliyun_v4_request\n${crypto.createHash('sha256').update(canonical).digest('hex')}`;
  const sig = v4Sign('SK', '20261123', 'cn-hangzhou', sts);
  const authz = (s: string) => `OSS4-HMAC-SHA256 Credential=AK/20261123/cn-hangzhou/oss/aliyun_v4_request,Signature=${s}`;
  assert.equal(authenticate({ ...base, headers: { ...h4, authorization: authz(sig) } }, lookup, now).kind, 'signed');
  calls = [];
  assert.throws(() => authenticate({ ...base, headers: { ...h4, authorization: authz(sig.replace(/^./, (c) => (c === '0' ? '1' : '0'))) } }, lookup, now), { code: 'SIGNATURE_MISMATCH' });
  assert.ok(calls.length >= 1, 'a tampered V4 signature goes through the constant-time comparison');
});
