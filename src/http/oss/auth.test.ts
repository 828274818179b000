import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../core/errors.js';
import { authenticate, v1Sign, v1StringToSign, v4CanonicalRequest, type AuthInput } from './auth.js';

const lookup = (id: string) => (id === 'testAccessKeyId' ? 'testAccessKeySecret' : undefined);
const V1_DATE = 'Sun, 22 Nov 2026 18:47:30 GMT';
const V1_NOW = Date.parse(V1_DATE);
const V4_NOW = Date.UTC(2026, 10, 22, 18, 47, 37);

function req(over: Partial<AuthInput>): AuthInput {
  return { method: 'GET', bucket: 'examplebucket', key: 'dir/example.jpg', headers: {}, query: [], ...over };
}

test('V1 header: spec vector GET + process', () => {
  const input = req({
    headers: { 'content-type': 'image/jpeg', 'x-oss-date': V1_DATE, authorization: 'OSS testAccessKeyId:DWMGm8cR5cmAuKP1Tg0NBwDHNfA=' },
    query: [['x-oss-process', 'image/resize,w_100']],
  });
  assert.deepEqual(authenticate(input, lookup, V1_NOW), { kind: 'signed', accessKeyId: 'testAccessKeyId' });
});

test('V1 header: spec vector POST saveas (`?x-oss-process=` signs as bare name)', () => {
  const input = req({
    method: 'POST',
    headers: { 'content-type': 'image/jpeg', 'content-md5': 'EHTKwSGFMUhRfck6RM/c2w==', 'x-oss-date': V1_DATE, authorization: 'OSS testAccessKeyId:hZVHheTy8leOPUiDZoVfkOoxkM4=' },
    query: [['x-oss-process', '']],
  });
  assert.equal(authenticate(input, lookup, V1_NOW).kind, 'signed');
});

test('V1 presigned: spec vector', () => {
  const input = req({
    query: [['OSSAccessKeyId', 'testAccessKeyId'], ['Expires', '1795373857'], ['Signature', 'tC9h/JtyiGS5nzEHNAcYhseVyTo='], ['x-oss-process', 'image/resize,w_100']],
  });
  assert.equal(authenticate(input, lookup, 1795373857 * 1000 - 1000).kind, 'signed');
  assert.throws(() => authenticate(input, lookup, 1795373857 * 1000 + 1000), (e: unknown) => isAppError(e) && e.code === 'REQUEST_EXPIRED');
});

test('V1: wrong signature, unknown key, skewed clock, unsigned sub-resource ignored', () => {
  const headers = { 'content-type': 'image/jpeg', 'x-oss-date': V1_DATE, authorization: 'OSS testAccessKeyId:AAAAm8cR5cmAuKP1Tg0NBwDHNfA=' };
  const q: AuthInput['query'] = [['x-oss-process', 'image/resize,w_100']];
  assert.throws(() => authenticate(req({ headers, query: q }), lookup, V1_NOW), (e: unknown) => isAppError(e) && e.code === 'SIGNATURE_MISMATCH');
  assert.throws(() => authenticate(req({ headers: { ...headers, authorization: 'OSS other:x' }, query: q }), lookup, V1_NOW),
    (e: unknown) => isAppError(e) && e.code === 'INVALID_ACCESS_KEY' && e.ec === '0002-00000902');
  assert.throws(() => authenticate(req({ headers: { ...headers, authorization: 'OSS testAccessKeyId:DWMGm8cR5cmAuKP1Tg0NBwDHNfA=' }, query: q }), lookup, V1_NOW + 16 * 60000),
    (e: unknown) => isAppError(e) && e.code === 'TIME_SKEWED');
  const sts = v1StringToSign(req({ headers: { 'x-oss-date': V1_DATE }, query: [['prefix', 'a'], ['acl', '']] }), V1_DATE);
  assert.equal(sts, `GET\n\n\n${V1_DATE}\nx-oss-date:${V1_DATE}\n/examplebucket/dir/example.jpg?acl`);
  assert.equal(typeof v1Sign('s', sts), 'string');
});

test('V4 header: spec vector', () => {
  const input = req({
    headers: {
      'content-type': 'image/jpeg', 'x-oss-date': '20261122T184737Z', 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
      authorization: 'OSS4-HMAC-SHA256 Credential=testAccessKeyId/20261122/cn-hangzhou/oss/aliyun_v4_request,Signature=6bff22235605d236532fdd77d95669c5b77c4a1e89d89d4d5c8905dfd505a98a',
    },
    query: [['x-oss-process', 'image/resize,w_100/quality,q_90']],
  });
  assert.equal(
    v4CanonicalRequest(input, []),
    'GET\n/examplebucket/dir/example.jpg\nx-oss-process=image%2Fresize%2Cw_100%2Fquality%2Cq_90\ncontent-type:image/jpeg\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20261122T184737Z\n\n\nUNSIGNED-PAYLOAD',
  );
  assert.equal(authenticate(input, lookup, V4_NOW).kind, 'signed');
});

test('V4 presigned: spec vector, expiry enforced', () => {
  const input = req({
    query: [
      ['x-oss-process', 'image/resize,w_100'], ['x-oss-credential', 'testAccessKeyId/20261122/cn-hangzhou/oss/aliyun_v4_request'],
      ['x-oss-date', '20261122T184737Z'], ['x-oss-expires', '600'], ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
      ['x-oss-signature', 'ca932add903715106a92c692c15a946e0c67f9c4711b8294d86fa4e9cdbb3b8f'],
    ],
  });
  assert.equal(authenticate(input, lookup, V4_NOW + 1000).kind, 'signed');
  assert.throws(() => authenticate(input, lookup, V4_NOW + 601000), (e: unknown) => isAppError(e) && e.code === 'REQUEST_EXPIRED');
  const tampered = req({ query: input.query.map(([n, v]) => [n, n === 'x-oss-process' ? 'image/resize,w_101' : v] as const) });
  assert.throws(() => authenticate(tampered, lookup, V4_NOW + 1000), (e: unknown) => isAppError(e) && e.code === 'SIGNATURE_MISMATCH');
});

test('no credentials → anonymous', () => {
  assert.deepEqual(authenticate(req({}), lookup, V1_NOW), { kind: 'anonymous' });
});
