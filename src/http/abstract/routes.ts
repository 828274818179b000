/**
 * The Abstract-style image optimisation API over HTTP (spec abstract-api.md):
 *
 * - `POST /v1/url/`    — JSON `{api_key, url, lossy, quality, resize, s3_store | azure_store}`;
 * - `POST /v1/upload/` — multipart/form-data with the file in `image` and the same options (minus
 *   `url`) as a JSON string in `data`.
 *
 * Both paths also answer without the trailing slash (the original redirects with 301, which makes
 * some clients drop the POST body). The key is `api_key` in the JSON, else the `api_key` query
 * parameter, else `Authorization: Bearer <key>` (the last two are in Abstract's OpenAPI file only),
 * compared in constant time against HALFTONE_API_KEYS. Bodies are read here with size caps while
 * streaming (JSON 64 KB; upload 32 MB via busboy limits; an over-limit body is answered at once
 * and the rest discarded unbuffered, up to one more cap, then the connection is dropped). Every non-2xx answer is the spec's
 * envelope `{"error": {"message", "code", "details"}}`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import busboy from 'busboy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, retryAfterSeconds, storageFullError } from '../../core/errors.js';
import { discardBody } from '../unread-body.js';
import { readBodyUpTo } from '../request-body.js';
import { publicOrigin } from '../public-origin.js';
import { apiKeyOf, parseOptions, parseUrlRequest, type AbstractOptions } from '../../dialects/abstract/request.js';
import { AbstractValidationError, isAbstractValidationError, REQUIRED } from '../../dialects/abstract/validation.js';
import { MAX_SOURCE_BYTES, type AbstractOutcome, type AbstractSource } from '../../app/abstract-optimise.js';
import type { Admission } from '../../app/admission.js';
import { holdUpload } from '../upload-hold.js';

export type RateLimitAnswer = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export interface AbstractRouteDeps {
  readonly optimise: (source: AbstractSource, options: AbstractOptions) => Promise<AbstractOutcome>;
  /** Accepted keys (HALFTONE_API_KEYS); empty = every request answers 401. */
  readonly apiKeys: readonly string[];
  /** Per-key rate limit; absent = unlimited. */
  readonly rateLimit?: (key: string) => Promise<RateLimitAnswer>;
  /** Largest upload in bytes (default 32 MB, the URL mode's documented cap). */
  readonly maxUploadBytes?: number;
  /** Holds an upload's bytes against the memory budget before it is read (src/http/upload-hold.ts). */
  readonly admission?: Admission | undefined;
  readonly onInternalError?: (err: unknown, requestId: string) => void;
  /** HALFTONE_PUBLIC_URL: the origin of result URLs ('' or absent = the request's). */
  readonly publicUrl?: string;
}

const JSON_LIMIT = 64 * 1024;

function h(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Sends the spec's error envelope. */
export function sendAbstractError(reply: FastifyReply, status: number, code: string, message: string, details: unknown = null): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(JSON.stringify({ error: { message, code, details } }));
}

/** Maps anything thrown by the use case to the envelope. */
function presentError(reply: FastifyReply, req: FastifyRequest, err: unknown, onInternalError?: (err: unknown, id: string) => void): FastifyReply {
  if (isAbstractValidationError(err)) return sendAbstractError(reply, 400, 'validation_error', err.publicMessage, err.fields);
  if (isAppError(err) && err.code === 'OVERLOADED') {
    reply.header('retry-after', String(retryAfterSeconds(err)));
    return sendAbstractError(reply, 503, 'service_unavailable', 'The service is busy; retry shortly.');
  }
  // The client went away: nobody reads the answer (logged as 499).
  if (isAppError(err) && err.code === 'CLIENT_CLOSED') return reply.code(499).send();
  if (isAppError(err) && err.status < 500) return sendAbstractError(reply, 400, 'validation_error', err.publicMessage);
  onInternalError?.(err, req.id);
  const full = storageFullError(err);
  if (full !== undefined) return sendAbstractError(reply, 507, 'insufficient_storage', full.publicMessage);
  return sendAbstractError(reply, 500, 'server_error', 'An internal error occurred.');
}

/** Constant-time membership test (every key is compared; digests have equal lengths). */
export function keyAccepted(candidate: string | undefined, keys: readonly string[]): boolean {
  if (candidate === undefined || candidate === '') return false;
  const got = createHash('sha256').update(candidate).digest();
  let ok = false;
  for (const k of keys) {
    if (timingSafeEqual(got, createHash('sha256').update(k).digest())) ok = true;
  }
  return ok;
}

function fallbackKey(req: FastifyRequest): string | undefined {
  const q = (req.query as Record<string, unknown> | undefined)?.['api_key'];
  if (typeof q === 'string' && q !== '') return q;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h(req, 'authorization') ?? '');
  return m?.[1];
}

async function readJson(req: FastifyRequest): Promise<unknown> {
  const tooBig = () => new AbstractValidationError({}, `The JSON body may not exceed ${JSON_LIMIT} bytes.`);
  const declared = Number(h(req, 'content-length') ?? '0');
  if (declared > JSON_LIMIT) {
    discardBody(req.raw, JSON_LIMIT);
    throw tooBig();
  }
  let body: Buffer;
  try {
    body = await readBodyUpTo(req.raw, JSON_LIMIT, tooBig);
  } catch (err) {
    if (!isAbstractValidationError(err)) throw new AbstractValidationError({}, `The request body could not be read: ${(err as Error).message}`);
    // Over the cap while streaming (chunked body): the rest is dropped, up to the same cap.
    discardBody(req.raw, JSON_LIMIT);
    throw err;
  }
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AbstractValidationError({}, 'The request body is not valid JSON.');
  }
}

interface UploadForm {
  readonly data?: string;
  readonly image?: { readonly bytes: Buffer; readonly fileName: string };
}

/** Reads the multipart form; rejects as soon as the image passes `maxBytes`. */
function readForm(req: FastifyRequest, maxBytes: number): Promise<UploadForm> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 4, fields: 8, fieldSize: JSON_LIMIT, parts: 16 } });
    } catch {
      reject(new AbstractValidationError({ image: [REQUIRED] }, 'Send multipart/form-data with the parts image and data.'));
      return;
    }
    let data: string | undefined;
    let image: UploadForm['image'];
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      req.raw.unpipe(bb);
      discardBody(req.raw, maxBytes);
      reject(err);
    };
    bb.on('field', (name, value, info) => {
      if (name !== 'data') return;
      if (info.valueTruncated) fail(new AbstractValidationError({ data: [`Must be at most ${JSON_LIMIT} bytes.`] }));
      else data = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'image' || image !== undefined) {
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        chunks.length = 0;
        fail(new AbstractValidationError({ image: [`The file may not exceed ${Math.round(maxBytes / 1024 / 1024)} MB.`] }));
        stream.resume();
      });
      stream.on('end', () => {
        if (!failed) image = { bytes: Buffer.concat(chunks), fileName: info.filename || 'image' };
      });
    });
    bb.on('error', (e) => fail(new AbstractValidationError({}, `The multipart body is malformed: ${(e as Error).message}`)));
    bb.on('close', () => {
      if (!failed) resolve({ ...(data === undefined ? {} : { data }), ...(image === undefined ? {} : { image }) });
    });
    req.raw.pipe(bb);
  });
}

/** Registers `/v1/url/` and `/v1/upload/` (with and without the trailing slash). */
export function registerAbstractRoutes(app: FastifyInstance, deps: AbstractRouteDeps): void {
  const maxUpload = deps.maxUploadBytes ?? MAX_SOURCE_BYTES;

  const origin = (req: FastifyRequest): string => publicOrigin(req, deps.publicUrl ?? '');

  /** Auth and rate limit; answers and returns false when the request must stop. */
  const admit = async (req: FastifyRequest, reply: FastifyReply, key: string | undefined): Promise<boolean> => {
    if (!keyAccepted(key, deps.apiKeys)) {
      sendAbstractError(reply, 401, 'unauthorized', 'Invalid API key provided.');
      return false;
    }
    if (deps.rateLimit !== undefined) {
      const answer = await deps.rateLimit(key as string);
      if (!answer.ok) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(answer.retryAfterMs / 1000))));
        sendAbstractError(reply, 429, 'too_many_requests', 'Too many requests; slow down.');
        return false;
      }
    }
    return true;
  };

  const respond = (req: FastifyRequest, reply: FastifyReply, out: AbstractOutcome): FastifyReply =>
    reply
      .code(200)
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(JSON.stringify({
        original_size: out.original_size,
        original_height: out.original_height,
        original_width: out.original_width,
        final_size: out.final_size,
        bytes_saved: out.bytes_saved,
        final_height: out.final_height,
        final_width: out.final_width,
        url: out.location.kind === 'url' ? out.location.url : new URL(out.location.path, origin(req)).href,
      }));

  const byUrl = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      if (/^multipart\//i.test(h(req, 'content-type') ?? '')) {
        discardBody(req.raw, maxUpload);
        return sendAbstractError(reply, 400, 'validation_error', 'Send a JSON body to /v1/url/ (uploads go to /v1/upload/).');
      }
      const body = await readJson(req);
      if (!(await admit(req, reply, apiKeyOf(body) ?? fallbackKey(req)))) return reply;
      const options = parseUrlRequest(body);
      const via = h(req, 'via');
      const out = await deps.optimise({ kind: 'url', url: options.url, ...(via === undefined ? {} : { via }) }, options);
      return respond(req, reply, out);
    } catch (err) {
      return presentError(reply, req, err, deps.onInternalError);
    }
  };

  const byUpload = async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      if (!/^multipart\/form-data/i.test(h(req, 'content-type') ?? '')) {
        discardBody(req.raw, maxUpload);
        return sendAbstractError(reply, 400, 'validation_error', 'Send multipart/form-data with the parts image and data.', { image: [REQUIRED] });
      }
      const early = fallbackKey(req);
      if (early !== undefined && !keyAccepted(early, deps.apiKeys)) {
        discardBody(req.raw, maxUpload);
        return sendAbstractError(reply, 401, 'unauthorized', 'Invalid API key provided.');
      }
      // The upload's bytes are held against the memory budget before it is read; refused, its
      // body is discarded.
      try {
        await holdUpload(deps.admission, req, reply, maxUpload);
      } catch (err) {
        discardBody(req.raw, maxUpload);
        throw err;
      }
      // An oversized or broken upload is answered at once; the rest of its body is discarded.
      const form = await readForm(req, maxUpload);
      let body: unknown = {};
      if (form.data !== undefined && form.data.trim() !== '') {
        try {
          body = JSON.parse(form.data) as unknown;
        } catch {
          return sendAbstractError(reply, 400, 'validation_error', 'A validation error occurred.', { data: ['Must be a valid JSON string, e.g. {"api_key": "…", "lossy": true}.'] });
        }
      }
      if (!(await admit(req, reply, apiKeyOf(body) ?? early))) return reply;
      const options = parseOptions(body);
      if (form.image === undefined) throw new AbstractValidationError({ image: [REQUIRED] });
      const out = await deps.optimise({ kind: 'upload', data: form.image.bytes, fileName: form.image.fileName }, options);
      return respond(req, reply, out);
    } catch (err) {
      return presentError(reply, req, err, deps.onInternalError);
    }
  };

  for (const path of ['/v1/url/', '/v1/url']) app.post(path, byUrl);
  for (const path of ['/v1/upload/', '/v1/upload']) app.post(path, byUpload);
}
