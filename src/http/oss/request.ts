/** Small request helpers for the OSS routes: query parsing, bodies, request ids. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../core/errors.js';
import { readBodyUpTo } from '../request-body.js';

/** Splits a raw URL into path and query pairs (names and values percent-decoded once, `+` kept). */
export function splitUrl(rawUrl: string): { path: string; query: [string, string | undefined][] } {
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query: [string, string | undefined][] = [];
  if (q >= 0) {
    for (const part of rawUrl.slice(q + 1).split('&')) {
      if (part === '') continue;
      const i = part.indexOf('=');
      try {
        query.push(i < 0 ? [decodeURIComponent(part), undefined] : [decodeURIComponent(part.slice(0, i)), decodeURIComponent(part.slice(i + 1))]);
      } catch {
        throw new AppError('INVALID_URI', 'The query string is not valid percent-encoded UTF-8.');
      }
    }
  }
  return { path, query };
}

/** Random per process: ids of several processes (restarts, nodes) do not collide. */
const ID_PREFIX = randomBytes(5).toString('hex').toUpperCase();
let idCounter = 0;

/**
 * OSS-style request id: 24 upper-case hex characters — a per-process random prefix (10) and a
 * counter (14), unique without a random draw per request (ids identify, they are not secrets).
 */
export function newRequestId(): string {
  idCounter = idCounter >= Number.MAX_SAFE_INTEGER ? 1 : idCounter + 1;
  return ID_PREFIX + idCounter.toString(16).toUpperCase().padStart(14, '0');
}

/** Reads a small body (XML, POST process) fully; ENTITY_TOO_LARGE past `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readBodyUpTo(req, limit, () => new AppError('ENTITY_TOO_LARGE', `The request body exceeds ${limit} bytes.`));
}

/** Decodes a Content-MD5 header (base64 of 16 bytes); INVALID_DIGEST when malformed. */
export function decodeContentMd5(v: string | undefined): Buffer | undefined {
  if (v === undefined) return undefined;
  const b = Buffer.from(v.trim(), 'base64');
  if (b.length !== 16 || b.toString('base64') !== v.trim()) throw new AppError('INVALID_DIGEST', 'The Content-MD5 you specified is not valid.');
  return b;
}

/** Parses a single `bytes=` range against `size`; undefined = serve the whole object. */
export function parseRange(v: string | undefined, size: number): { start: number; end: number } | undefined | 'unsatisfiable' {
  if (v === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(v.trim());
  // OSS ignores malformed or multi-range headers and returns the whole object.
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}
