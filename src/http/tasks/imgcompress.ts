/**
 * The compression task API over HTTP (PicWish `imgcompress` shape, spec compress-task-api.md):
 *
 * - `POST /api/tasks/visual/imgcompress` — multipart/form-data (file or URL), or
 *   application/x-www-form-urlencoded / JSON (URL only); async (`sync=0`, default) answers the
 *   task id, sync waits up to the sync budget and answers the task's current data;
 * - `GET /api/tasks/visual/imgcompress/{task_id}` — the task's state, progress and result.
 *
 * Every request: `X-API-KEY` (timing-safe, 401), then the per-key rate limit (429 + Retry-After),
 * then validation (400, 413 while the upload streams). Bodies are `{status, message, data?}` with
 * `status` equal to the HTTP status; task failures are HTTP 200 with a negative `data.state`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import busboy from 'busboy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_SIDE, MAX_UPLOAD_BYTES, type CompressTasks, type TaskFormat, type TaskOptions, type TaskSource, type TaskView } from '../../app/compress-tasks.js';
import type { RateLimiter } from '../../ports/rate-limiter.js';
import { isAppError, retryAfterSeconds, storageFullError } from '../../core/errors.js';
import { discardBody } from '../unread-body.js';
import { readBodyUpTo } from '../request-body.js';
import { publicOrigin } from '../public-origin.js';
import type { Admission } from '../../app/admission.js';
import type { BacklogRoom } from '../../app/job-backlog.js';
import { holdUpload } from '../upload-hold.js';

export interface TaskRouteDeps {
  readonly tasks: CompressTasks;
  readonly limiter: RateLimiter;
  /** Accepted X-API-KEY values; empty = every request answers 401. */
  readonly apiKeys: readonly string[];
  /** How long `sync=1` waits before answering the current (non-terminal) state. */
  readonly syncWaitMs: number;
  /** Requests per second per key, for the 429 message. */
  readonly ratePerSecond: number;
  /** `allow` (default): kbyte works for PNG output too; `reject`: 400 as the reference does. */
  readonly pngKbyte: 'allow' | 'reject';
  /** Origin for result URLs (e.g. `https://img.example.com`); empty = from the request. */
  readonly publicUrl: string;
  /** Holds an upload's bytes against the memory budget before it is read (src/http/upload-hold.ts). */
  readonly admission?: Admission | undefined;
  readonly onInternalError?: (err: unknown, requestId: string) => void;
}

const BASE = '/api/tasks/visual/imgcompress';
const FORM_LIMIT = 64 * 1024;
/** Room for multipart boundaries and fields around a 20 MB file. */
const MULTIPART_SLACK = 256 * 1024;
const MAX_URL_LENGTH = 2048;
const TASK_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A client error with its HTTP status and message. */
export class HttpFail extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify({ status, ...body }));
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export interface Form {
  readonly fields: Map<string, string>;
  readonly file?: { readonly data: Buffer; readonly fileName: string };
  /** `image_file` sent as a plain field instead of a file part. */
  readonly fileAsField: boolean;
}

function readMultipart(req: FastifyRequest): Promise<Form> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: MAX_UPLOAD_BYTES, files: 2, fields: 32, fieldSize: 8 * 1024, parts: 40 } });
    } catch {
      reject(new HttpFail(400, 'The multipart body has no boundary'));
      return;
    }
    const fields = new Map<string, string>();
    let file: { data: Buffer; fileName: string } | undefined;
    let files = 0;
    let failed = false;
    const abort = (status: number, message: string) => {
      if (failed) return;
      failed = true;
      req.raw.unpipe(bb);
      req.raw.resume(); // drain the rest without keeping it
      reject(new HttpFail(status, message));
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) abort(400, `The field ${name} is too long`);
      else fields.set(name, value);
    });
    bb.on('file', (name, stream, info) => {
      files++;
      if (name !== 'image_file' || files > 1) {
        stream.resume();
        if (name === 'image_file') abort(400, 'Send only one image_file');
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => abort(413, `The uploaded file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB`));
      stream.on('end', () => {
        if (!failed) file = { data: Buffer.concat(chunks), fileName: info.filename || 'image' };
      });
    });
    bb.on('partsLimit', () => abort(400, 'The multipart body has too many parts'));
    bb.on('fieldsLimit', () => abort(400, 'The multipart body has too many fields'));
    bb.on('error', () => abort(400, 'The multipart body is malformed'));
    bb.on('close', () => {
      if (failed) return;
      const fileAsField = fields.has('image_file');
      fields.delete('image_file');
      resolve(file === undefined ? { fields, fileAsField } : { fields, file, fileAsField });
    });
    req.raw.on('error', () => abort(400, 'The request body could not be read'));
    req.raw.pipe(bb);
  });
}

async function readSmallBody(req: FastifyRequest): Promise<string> {
  const body = await readBodyUpTo(req.raw, FORM_LIMIT, () => new HttpFail(413, `The form body is larger than ${FORM_LIMIT / 1024} KB; upload files as multipart/form-data`));
  return body.toString('utf8');
}

async function readForm(req: FastifyRequest): Promise<Form> {
  const type = (header(req, 'content-type') ?? '').toLowerCase();
  const length = Number(header(req, 'content-length') ?? NaN);
  if (type.startsWith('multipart/form-data')) {
    if (length > MAX_UPLOAD_BYTES + MULTIPART_SLACK) throw new HttpFail(413, `The uploaded file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB`);
    return readMultipart(req);
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const params = new URLSearchParams(await readSmallBody(req));
    const fields = new Map<string, string>();
    for (const [k, v] of params) fields.set(k, v);
    const fileAsField = fields.delete('image_file');
    return { fields, fileAsField };
  }
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readSmallBody(req));
    } catch (err) {
      if (err instanceof HttpFail) throw err;
      throw new HttpFail(400, 'The body is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpFail(400, 'The JSON body must be an object');
    const fields = new Map<string, string>();
    for (const [k, v] of Object.entries(parsed)) {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw new HttpFail(400, `${k} must be a string or a number`);
      fields.set(k, String(v));
    }
    const fileAsField = fields.delete('image_file');
    return { fields, fileAsField };
  }
  throw new HttpFail(400, 'Send the parameters as multipart/form-data (or application/x-www-form-urlencoded for image_url)');
}

/** An integer field in [min, max]; empty or absent = undefined. */
function intField(fields: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const raw = fields.get(name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new HttpFail(400, `${name} must be an integer between ${min} and ${max}`);
  return Number(raw);
}

interface Parsed {
  readonly source: TaskSource;
  readonly options: TaskOptions;
  readonly sync: boolean;
}

export function validate(form: Form, pngKbyte: 'allow' | 'reject'): Parsed {
  const f = form.fields;
  const url = f.get('image_url')?.trim() || undefined;
  if (form.fileAsField) throw new HttpFail(400, 'image_file must be sent as a file (multipart/form-data)');
  if (url !== undefined && form.file !== undefined) throw new HttpFail(400, 'image_url and image_file cannot be used together');
  if (url === undefined && form.file === undefined) throw new HttpFail(400, 'One of image_url or image_file is required');
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new HttpFail(400, 'image_url must be an http or https URL');
    if (url.length > MAX_URL_LENGTH) throw new HttpFail(400, `image_url must be at most ${MAX_URL_LENGTH} characters`);
  }
  if (form.file !== undefined && form.file.data.length === 0) throw new HttpFail(400, 'image_file is empty');
  const sync = intField(f, 'sync', 0, 1);
  const returnTypeRaw = f.get('return_type')?.trim();
  if (returnTypeRaw === '3') throw new HttpFail(400, 'return_type 3 (binary) is not supported by this endpoint; use 1 (URL) or 2 (base64)');
  const returnType = intField(f, 'return_type', 1, 2) ?? 1;
  const quality = intField(f, 'quality', 1, 100);
  const kbyte = intField(f, 'kbyte', 0, 51200) || undefined; // 0 = not set
  const width = intField(f, 'width', 0, MAX_SIDE) || undefined;
  const height = intField(f, 'height', 0, MAX_SIDE) || undefined;
  if (quality !== undefined && kbyte !== undefined) throw new HttpFail(400, 'quality and kbyte cannot be used together');
  const formatRaw = f.get('format')?.trim().toLowerCase() || undefined;
  let format: TaskFormat | undefined;
  if (formatRaw !== undefined) {
    if (formatRaw === 'jpg' || formatRaw === 'jpeg') format = 'jpeg';
    else if (formatRaw === 'png' || formatRaw === 'webp') format = formatRaw;
    else throw new HttpFail(400, 'format must be one of jpg, png, webp');
  }
  if (pngKbyte === 'reject' && kbyte !== undefined) {
    const pngOut = format === 'png' || (format === undefined && form.file !== undefined && form.file.data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
    const pngUrl = format === undefined && url !== undefined && /\.png$/i.test(new URL(url).pathname);
    if (pngOut || pngUrl) throw new HttpFail(400, 'kbyte is not supported for png output');
  }
  const source: TaskSource = url !== undefined ? { url } : { file: (form.file as { data: Buffer }).data, fileName: (form.file as { fileName: string }).fileName };
  return {
    source,
    sync: sync === 1,
    options: {
      returnType: returnType as 1 | 2,
      ...(format === undefined ? {} : { format }),
      ...(quality === undefined ? {} : { quality }),
      ...(kbyte === undefined ? {} : { kbyte }),
      ...(width === undefined ? {} : { width }),
      ...(height === undefined ? {} : { height }),
    },
  };
}

/** Digests so that the comparison time depends neither on the key's length nor on a prefix. */
function keyMatcher(keys: readonly string[]): (given: string) => boolean {
  const digests = keys.map((k) => createHash('sha256').update(k).digest());
  return (given) => {
    const d = createHash('sha256').update(given).digest();
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  };
}

export function registerTaskRoutes(app: FastifyInstance, deps: TaskRouteDeps): void {
  const matches = keyMatcher(deps.apiKeys);

  const origin = (req: FastifyRequest): string => publicOrigin(req, deps.publicUrl);

  const present = (req: FastifyRequest, v: TaskView): Record<string, unknown> => ({
    task_id: v.taskId,
    state: v.state,
    progress: v.progress,
    ...(v.image === undefined ? {} : { image: v.image.kind === 'url' ? `${origin(req)}${v.image.path}` : v.image.data }),
    created_at: Math.floor(v.createdAt / 1000),
    ...(v.processedAt === undefined ? {} : { processed_at: Math.floor(v.processedAt / 1000) }),
    ...(v.completedAt === undefined ? {} : { completed_at: Math.floor(v.completedAt / 1000) }),
    return_type: v.returnType,
    state_detail: v.stateDetail,
  });

  /** Auth, then rate limit; answers and returns false when the request must stop. */
  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const key = header(req, 'x-api-key');
    if (key === undefined || key === '' || !matches(key)) {
      send(reply, 401, { message: key === undefined || key === '' ? 'Missing X-API-KEY header' : 'Invalid API key' });
      return false;
    }
    const decision = await deps.limiter.take(createHash('sha256').update(key).digest('hex'));
    if (!decision.ok) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
      send(reply, 429, { message: `Too many requests: at most ${deps.ratePerSecond} per second per API key` });
      return false;
    }
    return true;
  };

  const internal = (req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    deps.onInternalError?.(err, req.id);
    const full = storageFullError(err);
    return full === undefined ? send(reply, 500, { message: 'Internal server error' }) : send(reply, 507, { message: full.publicMessage });
  };

  app.post(BASE, async (req, reply) => {
    if (!(await guard(req, reply))) {
      req.raw.resume();
      return reply;
    }
    // Room in the backlog is held from before the upload is read until the task is queued, or
    // until the request fails before that.
    let room: BacklogRoom | undefined;
    try {
      // A full backlog refuses the task before its upload is read (the body is dropped), and so
      // does a memory budget that cannot take the upload (after waiting in the bounded queue).
      room = await deps.tasks.reserveRoom();
      if (/^multipart\/form-data/i.test(header(req, 'content-type') ?? '')) await holdUpload(deps.admission, req, reply, MAX_UPLOAD_BYTES);
    } catch (err) {
      room?.done();
      req.raw.resume();
      // The client went away while its upload waited for memory: nobody reads the answer.
      if (isAppError(err) && err.code === 'CLIENT_CLOSED') return reply.code(499).send();
      if (!isAppError(err) || err.code !== 'OVERLOADED') return internal(req, reply, err);
      reply.header('retry-after', String(retryAfterSeconds(err)));
      return send(reply, 503, { message: err.publicMessage });
    }
    try {
      let parsed: Parsed;
      try {
        parsed = validate(await readForm(req), deps.pngKbyte);
      } catch (err) {
        if (err instanceof HttpFail) {
          // The rest of the body is read and dropped (never buffered), so clients that send it all
          // before reading the answer still get the 413; a body beyond the drain cap is cut off.
          if (err.status === 413) discardBody(req.raw);
          return send(reply, err.status, { message: err.message });
        }
        return internal(req, reply, err);
      }
      const { taskId } = await deps.tasks.submit(parsed.source, parsed.options);
      // Queued: the task counts in the queue's backlog from now on (a sync task is waited for below).
      room.done();
      if (!parsed.sync) return send(reply, 200, { message: 'success', data: { task_id: taskId } });
      const v = await deps.tasks.wait(taskId, deps.syncWaitMs);
      if (v === undefined) return send(reply, 404, { message: 'Task not found' });
      return send(reply, 200, { message: 'success', data: present(req, v) });
    } catch (err) {
      return internal(req, reply, err);
    } finally {
      room.done();
    }
  });

  // The parameter is named as in the spec (and the OpenAPI document, src/http/docs/tasks.ts).
  app.get(`${BASE}/:task_id`, async (req, reply) => {
    if (!(await guard(req, reply))) return reply;
    const { task_id: taskId } = req.params as { task_id: string };
    try {
      const v = TASK_ID_RE.test(taskId) ? await deps.tasks.get(taskId) : undefined;
      if (v === undefined) return send(reply, 404, { message: 'Task not found or expired' });
      return send(reply, 200, { message: 'success', data: present(req, v) });
    } catch (err) {
      return internal(req, reply, err);
    }
  });

  // Anything else under the task API prefix is an unknown path in this dialect (not an OSS key).
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH'],
    url: '/api/tasks/*',
    handler: async (req, reply) => {
      req.raw.resume();
      return send(reply, 404, { message: 'Not found' });
    },
  });
}
