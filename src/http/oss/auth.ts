/**
 * OSS request authentication: V1 (HMAC-SHA1) and V4 (OSS4-HMAC-SHA256), header and presigned
 * forms (spec oss-client.md §4–§5). Pure functions over an already-parsed request; signatures are
 * compared in constant time.
 */
import { createHash, createHmac } from 'node:crypto';
import { AppError } from '../../core/errors.js';
import { safeEqual } from '../../core/safe-equal.js';

/** What authentication needs from a request. */
export interface AuthInput {
  readonly method: string;
  /** Bucket from the address (empty for service-level requests). */
  readonly bucket: string;
  /** Decoded object key (empty for bucket-level requests). */
  readonly key: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Query parameters in order, names and values percent-decoded; `value` undefined for `?name`. */
  readonly query: readonly (readonly [string, string | undefined])[];
}

export type AuthResult = { readonly kind: 'anonymous' } | { readonly kind: 'signed'; readonly accessKeyId: string };

/** Looks up the secret of an access key id (undefined = unknown key). */
export type SecretLookup = (accessKeyId: string) => string | undefined;

/** Maximum clock difference for header-signed requests (OSS: 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** Longest accepted V4 presigned expiry (UNCONFIRMED for OSS; 7 days as in AWS-style schemes). */
const MAX_V4_EXPIRES_S = 7 * 24 * 3600;

/** Query parameters that are part of the V1 CanonicalizedResource (Go SDK signKeyList). */
export const V1_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append', 'tagging',
  'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName', 'replication',
  'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live', 'status', 'vod',
  'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type', 'x-oss-traffic-limit',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId', 'udfImageDesc', 'udfApplication',
  'udfApplicationLog', 'restore', 'callback', 'callback-var', 'qosInfo', 'policy', 'stat', 'encryption', 'versions',
  'versioning', 'versionId', 'requestPayment', 'x-oss-request-payer', 'sequential', 'inventory', 'inventoryId',
  'continuation-token', 'asyncFetch', 'worm', 'wormId', 'wormExtend', 'withHashContext', 'x-oss-enable-md5',
  'x-oss-enable-sha1', 'x-oss-enable-sha256', 'x-oss-hash-ctx', 'x-oss-md5-ctx', 'transferAcceleration',
  'regionList', 'cloudboxes', 'x-oss-ac-source-ip', 'x-oss-ac-subnet-mask', 'x-oss-ac-vpc-id',
  'x-oss-ac-forward-allow', 'metaQuery', 'resourceGroup', 'rtc', 'x-oss-async-process', 'responseHeader',
]);

function header(h: AuthInput['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function q1(input: AuthInput, name: string): string | undefined {
  const hit = input.query.find(([n]) => n === name);
  return hit === undefined ? undefined : (hit[1] ?? '');
}

function mismatch(stringToSign: string, accessKeyId: string): AppError {
  return new AppError('SIGNATURE_MISMATCH', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
    details: { stringToSign, accessKeyId },
  });
}

function secretOf(lookup: SecretLookup, id: string): string {
  const s = lookup(id);
  if (s === undefined) {
    throw new AppError('INVALID_ACCESS_KEY', 'The OSS Access Key Id you provided does not exist in our records.', {
      ec: '0002-00000902', details: { OSSAccessKeyId: id },
    });
  }
  return s;
}

// ------------------------------------------------------------------------------------------ V1

/** V1 CanonicalizedOSSHeaders: `x-oss-*` lower-cased, trimmed, sorted, each followed by `\n`. */
export function v1CanonicalHeaders(h: AuthInput['headers']): string {
  return Object.keys(h)
    .filter((k) => k.startsWith('x-oss-'))
    .sort()
    .map((k) => `${k}:${(header(h, k) ?? '').trim()}\n`)
    .join('');
}

/** V1 CanonicalizedResource: `/<bucket>/<decoded key>` + sorted allow-listed sub-resources. */
export function v1CanonicalResource(input: AuthInput): string {
  let res = input.bucket === '' ? '/' : `/${input.bucket}/${input.key}`;
  const subs = input.query.filter(([n]) => V1_SUBRESOURCES.has(n)).map(([n, v]) => (v === undefined || v === '' ? n : `${n}=${v}`));
  // Sort by name (the JS SDK sorts keys; names are unique in practice).
  subs.sort((a, b) => {
    const na = a.split('=')[0]!;
    const nb = b.split('=')[0]!;
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
  if (subs.length > 0) res += `?${subs.join('&')}`;
  return res;
}

/** The V1 StringToSign for `dateOrExpires` (x-oss-date / Date, or the presigned Expires). */
export function v1StringToSign(input: AuthInput, dateOrExpires: string): string {
  const h = input.headers;
  return [input.method.toUpperCase(), header(h, 'content-md5') ?? '', header(h, 'content-type') ?? '', dateOrExpires].join('\n')
    + '\n' + v1CanonicalHeaders(h) + v1CanonicalResource(input);
}

/** base64(HMAC-SHA1(secret, stringToSign)). */
export function v1Sign(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

// ------------------------------------------------------------------------------------------ V4

/** RFC 3986 encoding as OSS V4 uses it (also escapes `! ' ( ) *`). */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The V4 canonical query; `emptyAsBare` false writes `name=` for empty values (see below). */
export function v4CanonicalQuery(query: AuthInput['query'], emptyAsBare = true): string {
  return query
    .filter(([n]) => n !== 'x-oss-signature')
    .map(([n, v]) => [rfc3986(n), v === undefined ? undefined : rfc3986(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([n, v]) => (v === undefined || (v === '' && emptyAsBare) ? n : `${n}=${v}`))
    .join('&');
}

export function v4CanonicalRequest(input: AuthInput, additional: readonly string[], emptyAsBare = true): string {
  const h = input.headers;
  const uri = rfc3986(input.bucket === '' ? '/' : `/${input.bucket}/${input.key}`).replace(/%2F/g, '/');
  const names = new Set(additional);
  for (const k of Object.keys(h)) if (k === 'content-type' || k === 'content-md5' || k.startsWith('x-oss-')) names.add(k);
  const canonicalHeaders = [...names].sort().map((k) => `${k}:${(header(h, k) ?? '').trim()}\n`).join('');
  return [
    input.method.toUpperCase(), uri, v4CanonicalQuery(input.query, emptyAsBare), canonicalHeaders,
    additional.join(';'), header(h, 'x-oss-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
}

export function v4Sign(secret: string, date: string, region: string, stringToSign: string): string {
  const k1 = createHmac('sha256', `aliyun_v4${secret}`).update(date).digest();
  const k2 = createHmac('sha256', k1).update(region).digest();
  const k3 = createHmac('sha256', k2).update('oss').digest();
  const k4 = createHmac('sha256', k3).update('aliyun_v4_request').digest();
  return createHmac('sha256', k4).update(stringToSign).digest('hex');
}

function v4StringToSign(timestamp: string, scope: string, canonical: string): string {
  return `OSS4-HMAC-SHA256\n${timestamp}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
}

/** Parses `yyyymmddTHHMMSSZ` to epoch ms (NaN when malformed). */
function parseV4Date(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function parseCredential(cred: string): { ak: string; date: string; region: string; scope: string } {
  const parts = cred.split('/');
  if (parts.length !== 5 || parts[3] !== 'oss' || parts[4] !== 'aliyun_v4_request' || !/^\d{8}$/.test(parts[1]!)) {
    throw new AppError('INVALID_ARGUMENT', 'Invalid credential in the V4 signature (expected <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request).');
  }
  return { ak: parts[0]!, date: parts[1]!, region: parts[2]!, scope: parts.slice(1).join('/') };
}

function verifyV4(input: AuthInput, lookup: SecretLookup, cred: string, timestamp: string, additional: readonly string[], signature: string): string {
  const c = parseCredential(cred);
  const secret = secretOf(lookup, c.ak);
  if (timestamp.slice(0, 8) !== c.date) throw mismatch('x-oss-date does not match the credential scope date', c.ak);
  // Try the canonical form with empty values written bare (Go v2 signer, ali-oss sub-resources),
  // then with `name=` (ali-oss `query` values that are empty strings); both are HMACs over what
  // the client sent, so accepting either does not weaken verification.
  let lastSts = '';
  for (const bare of [true, false]) {
    const canonical = v4CanonicalRequest(input, additional, bare);
    lastSts = v4StringToSign(timestamp, c.scope, canonical);
    if (safeEqual(v4Sign(secret, c.date, c.region, lastSts), signature.toLowerCase())) return c.ak;
    if (!input.query.some(([, v]) => v === '')) break;
  }
  throw mismatch(lastSts, c.ak);
}

// ------------------------------------------------------------------------------------------ entry

/**
 * Authenticates a request. No credentials at all → anonymous (the caller applies ACLs);
 * credentials present but wrong/expired → throws the OSS error.
 */
export function authenticate(input: AuthInput, lookup: SecretLookup, nowMs: number): AuthResult {
  const authz = header(input.headers, 'authorization');
  if (authz !== undefined && authz !== '') {
    if (authz.startsWith('OSS4-HMAC-SHA256 ')) {
      const fields = new Map<string, string>();
      for (const part of authz.slice('OSS4-HMAC-SHA256 '.length).split(',')) {
        const i = part.indexOf('=');
        if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
      }
      const cred = fields.get('Credential');
      const sig = fields.get('Signature');
      const ts = header(input.headers, 'x-oss-date');
      if (cred === undefined || sig === undefined || ts === undefined) {
        throw new AppError('INVALID_ARGUMENT', 'The V4 Authorization header needs Credential, Signature and an x-oss-date header.');
      }
      const t = parseV4Date(ts);
      if (!Number.isFinite(t) || Math.abs(nowMs - t) > MAX_SKEW_MS) throw new AppError('TIME_SKEWED', 'The difference between the request time and the current time is too large.');
      const additional = (fields.get('AdditionalHeaders') ?? '').split(';').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
      return { kind: 'signed', accessKeyId: verifyV4(input, lookup, cred, ts, additional, sig) };
    }
    const m = /^OSS ([^:]+):(.+)$/.exec(authz);
    if (m === null) throw new AppError('INVALID_ARGUMENT', 'Authorization header is invalid.');
    const ak = m[1]!;
    const secret = secretOf(lookup, ak);
    const date = header(input.headers, 'x-oss-date') ?? header(input.headers, 'date');
    if (date === undefined) throw new AppError('ACCESS_DENIED', 'The request has no Date or x-oss-date header.');
    const t = Date.parse(date);
    if (!Number.isFinite(t) || Math.abs(nowMs - t) > MAX_SKEW_MS) throw new AppError('TIME_SKEWED', 'The difference between the request time and the current time is too large.');
    const sts = v1StringToSign(input, date);
    if (!safeEqual(v1Sign(secret, sts), m[2]!)) throw mismatch(sts, ak);
    return { kind: 'signed', accessKeyId: ak };
  }

  const version = q1(input, 'x-oss-signature-version');
  if (version !== undefined) {
    if (version !== 'OSS4-HMAC-SHA256') throw new AppError('INVALID_ARGUMENT', `Unsupported x-oss-signature-version ${JSON.stringify(version)}.`);
    const cred = q1(input, 'x-oss-credential');
    const ts = q1(input, 'x-oss-date');
    const expires = q1(input, 'x-oss-expires');
    const sig = q1(input, 'x-oss-signature');
    if (cred === undefined || ts === undefined || expires === undefined || sig === undefined) {
      throw new AppError('INVALID_ARGUMENT', 'A V4 presigned URL needs x-oss-credential, x-oss-date, x-oss-expires and x-oss-signature.');
    }
    const t = parseV4Date(ts);
    const e = Number(expires);
    if (!Number.isFinite(t) || !/^\d+$/.test(expires) || e < 1 || e > MAX_V4_EXPIRES_S) {
      throw new AppError('INVALID_ARGUMENT', `Expected integer between 1 and ${MAX_V4_EXPIRES_S} for x-oss-expires but received ${JSON.stringify(expires)}`);
    }
    if (nowMs > t + e * 1000) throw new AppError('REQUEST_EXPIRED', 'Request has expired.');
    if (t - nowMs > MAX_SKEW_MS) throw new AppError('TIME_SKEWED', 'The x-oss-date of the presigned URL is in the future.');
    const additional = (q1(input, 'x-oss-additional-headers') ?? '').split(';').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    return { kind: 'signed', accessKeyId: verifyV4(input, lookup, cred, ts, additional, sig) };
  }

  const ak = q1(input, 'OSSAccessKeyId');
  if (ak !== undefined) {
    const expires = q1(input, 'Expires') ?? '';
    const sig = q1(input, 'Signature') ?? '';
    if (!/^\d+$/.test(expires)) throw new AppError('INVALID_ARGUMENT', `Expected an epoch time in seconds for Expires but received ${JSON.stringify(expires)}`);
    const secret = secretOf(lookup, ak);
    if (nowMs > Number(expires) * 1000) throw new AppError('REQUEST_EXPIRED', 'Request has expired.');
    const sts = v1StringToSign(input, expires);
    if (!safeEqual(v1Sign(secret, sts), sig)) throw mismatch(sts, ak);
    return { kind: 'signed', accessKeyId: ak };
  }
  return { kind: 'anonymous' };
}
