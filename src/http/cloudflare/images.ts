/**
 * Hosted images over HTTP (spec cloudflare-transform.md §1.2, §16):
 *
 * - delivery `GET /cdn-cgi/imagedelivery/<account hash>/<image id>/<variant | options>` — named
 *   variants, flexible variants (a last segment containing `=`, when enabled), signed URLs
 *   (`exp`/`sig`), default `format=auto`, browser-TTL Cache-Control;
 * - the Images REST API subset under `/client/v4/accounts/<account id>/images` (the path of
 *   api.cloudflare.com, so SDKs only need a different base URL), Bearer auth, the
 *   `{result, success, errors, messages}` envelope.
 */
import busboy from 'busboy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, retryAfterSeconds, storageFullError } from '../../core/errors.js';
import { readBodyUpTo } from '../request-body.js';
import { safeIncludes } from '../../core/safe-equal.js';
import type { CfRequest, CfResult } from '../../app/cloudflare-transform.js';
import { MAX_IMAGE_BYTES, variantToOptions, type HostedImage, type HostedImages, type Variant } from '../../app/hosted-images.js';
import { hotVaryOn, presentCfError } from './routes.js';
import { offerHot, type HotOffer } from '../hot-cache.js';
import { clientGone } from '../client-gone.js';
import { holdUpload } from '../upload-hold.js';
import type { Admission, LazySignal, MemoryHold } from '../../app/admission.js';

/** The headers of a delivery's 304 (as the route sends them), for the hot cache. */
const DELIVERY_NOT_MODIFIED: HotOffer['notModified'] = { keep: ['etag', 'cache-control', 'vary', 'x-content-type-options'] };

export interface ImagesRouteDeps {
  readonly images: HostedImages;
  readonly transform: (req: CfRequest) => Promise<CfResult>;
  readonly accountHash: string;
  readonly accountId: string;
  /** Bearer tokens accepted by the REST API; empty = the API answers 401. */
  readonly apiKeys: readonly string[];
  readonly deliveryPrefix?: string;
  readonly onInternalError?: (err: unknown, requestId: string) => void;
  /**
   * Admission control: an upload's body (up to 10 MB) and an upload by URL's download are held
   * against the memory budget before they are read (src/http/upload-hold.ts).
   */
  readonly admission?: Admission | undefined;
}

const JSON_LIMIT = 64 * 1024;

function deliveryError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cf-resized', `err=${code}`)
    .header('cache-control', 'no-store')
    .send(`ERROR ${code}: ${message}`);
}

function h(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Registers delivery and API routes. */
export function registerImagesRoutes(app: FastifyInstance, deps: ImagesRouteDeps): void {
  const images = deps.images;
  const deliveryPrefix = (deps.deliveryPrefix ?? '/cdn-cgi/imagedelivery').replace(/\/+$/, '');

  // ------------------------------------------------------------------------------ delivery
  const deliver = async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.raw.url ?? req.url;
    const q = raw.indexOf('?');
    const pathname = q < 0 ? raw : raw.slice(0, q);
    const query = q < 0 ? '' : raw.slice(q + 1);
    const segments = pathname.slice(deliveryPrefix.length + 1).split('/');
    if (segments.length < 3 || segments.some((s) => s === '')) return deliveryError(reply, 403, 9426, 'Invalid image delivery URL');
    const [hash, ...rest] = segments;
    const last = rest.pop() as string;
    if (hash !== deps.accountHash) return deliveryError(reply, 403, 9427, 'Access denied: wrong account hash');
    let id: string;
    let spec: string;
    try {
      id = rest.map((s) => decodeURIComponent(s)).join('/');
      spec = decodeURIComponent(last);
    } catch {
      return deliveryError(reply, 403, 9426, 'Invalid image delivery URL');
    }
    try {
      const flexible = spec.includes('=');
      let variant: Variant | undefined;
      if (!flexible) {
        const all = await images.variants();
        variant = all[spec];
        if (variant === undefined) return deliveryError(reply, 403, 9426, `Unknown variant ${JSON.stringify(spec)}`);
      } else if (!(await images.config()).flexible_variants) {
        return deliveryError(reply, 403, 9429, 'Flexible variants are not enabled for this account');
      }
      let found;
      try {
        found = await images.find(id);
      } catch (err) {
        if (isAppError(err) && err.code === 'NO_SUCH_KEY') return deliveryError(reply, 404, 9431, 'Image not found');
        throw err;
      }
      const needsSig = found.image.requireSignedURLs && !(variant?.neverRequireSignedURLs ?? false);
      if (needsSig) {
        // Flexible variants cannot be used on private images (spec §16.1).
        if (flexible || !(await images.verifySignature(pathname, query))) return deliveryError(reply, 403, 9425, 'Image access denied');
      }
      const options = variant === undefined ? spec : variantToOptions(variant);
      const withFormat = /(^|,)(format|f)=/i.test(options) ? options : `${options},format=auto`;
      // Private images: the cache lifetime follows the signature, never the browser TTL.
      const cacheControl = needsSig ? 'private, max-age=3600' : await images.cacheControl(variant);
      const result = await deps.transform({
        options: withFormat,
        source: { kind: 'object', bucket: found.bucket, key: found.key, rec: found.rec, cacheControl },
        headers: { accept: h(req, 'accept'), 'if-none-match': h(req, 'if-none-match'), 'user-agent': h(req, 'user-agent') },
        signal: clientGone(reply.raw),
      });
      reply.header('etag', result.etag).header('cache-control', cacheControl).header('x-content-type-options', 'nosniff');
      if (result.vary.length > 0) reply.header('vary', result.vary.join(', '));
      if (result.kind === 'not-modified') return reply.code(304).send();
      if (result.kind === 'json') return reply.code(200).header('content-type', 'application/json').send(result.body);
      // A public image's answer may be kept by the hot cache: it reads the image's object (its
      // bucket) and the account's variants and settings (documents, whose writes change every bucket).
      if (!needsSig) offerHot(req.raw, { bucket: found.bucket, varyOn: hotVaryOn(result.vary), notModified: DELIVERY_NOT_MODIFIED });
      reply.header('cf-resized', `internal=ok/m q=${result.quality} l=${result.data.length} f=${result.format} s=${result.width}x${result.height}`);
      return reply.code(200).header('content-type', result.contentType).send(req.method === 'HEAD' ? undefined : result.data);
    } catch (err) {
      return presentCfError(reply, req, err, deps.onInternalError);
    }
  };
  app.route({ method: ['GET', 'HEAD'], url: `${deliveryPrefix}/*`, handler: deliver });

  // ------------------------------------------------------------------------------ REST API
  const base = '/client/v4/accounts/:account/images';
  const uploadPrefix = '/cdn-cgi/imageupload';

  const ok = (reply: FastifyReply, result: unknown, extra: Record<string, unknown> = {}) =>
    reply.code(200).header('content-type', 'application/json').send(JSON.stringify({ result, success: true, errors: [], messages: [], ...extra }));
  const fail = (reply: FastifyReply, status: number, code: number, message: string) =>
    reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ result: null, success: false, errors: [{ code, message }], messages: [] }));

  /** Images API code and status for an AppError (spec §16.2; statuses by meaning, UNCONFIRMED). */
  const failFor = (reply: FastifyReply, req: FastifyRequest, caught: unknown) => {
    if (!isAppError(caught)) deps.onInternalError?.(caught, req.id);
    const err = isAppError(caught) ? caught : storageFullError(caught) ?? new AppError('INTERNAL', 'Internal error', { cause: caught });
    switch (err.code) {
      case 'OVERLOADED':
        reply.header('retry-after', String(retryAfterSeconds(err)));
        return fail(reply, 503, 5503, err.publicMessage);
      // The client left while its upload waited for memory: nobody reads the answer (logged 499).
      case 'CLIENT_CLOSED': return reply.code(499).send();
      case 'NO_SUCH_KEY': return fail(reply, 404, 5404, err.publicMessage);
      case 'ENTITY_TOO_LARGE': return fail(reply, 413, 5413, err.publicMessage);
      case 'UNSUPPORTED_FORMAT':
      case 'CORRUPT_IMAGE': return fail(reply, 415, 5455, 'Unsupported image format');
      case 'BUCKET_ALREADY_EXISTS': return fail(reply, 409, 5409, err.publicMessage);
      case 'INSUFFICIENT_STORAGE': return fail(reply, 507, 5500, err.publicMessage);
      case 'INTERNAL': return fail(reply, 500, 5500, 'Internal error');
      default: return fail(reply, err.status >= 500 ? 502 : 400, 5400, err.publicMessage);
    }
  };

  const absolute = (req: FastifyRequest, img: HostedImage) => {
    const origin = `${req.protocol}://${h(req, 'host') ?? 'localhost'}`;
    // Both spellings of the metadata field (spec §16.2 CONFLICT: docs say `metadata`, schema `meta`).
    return { ...img, metadata: img.meta, variants: img.variants.map((v) => new URL(v, origin).href) };
  };

  /** Auth and account check; returns true when the request may go on. */
  const guard = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const auth = h(req, 'authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (m === null || !safeIncludes(deps.apiKeys, (m[1] as string).trim())) {
      fail(reply, 401, 10000, 'Authentication error');
      return false;
    }
    if ((req.params as { account?: string }).account !== deps.accountId) {
      fail(reply, 403, 5403, 'Account not valid or not authorised for Images');
      return false;
    }
    return true;
  };

  /**
   * Holds an upload's body against the memory budget before it is read; when the hold is refused
   * (or the client leaves while it waits) the body is drained unread and the error goes to failFor.
   */
  async function holdBody(req: FastifyRequest, reply: FastifyReply, gone: LazySignal): Promise<MemoryHold | undefined> {
    try {
      return await holdUpload(deps.admission, req, reply, MAX_IMAGE_BYTES, gone);
    } catch (err) {
      req.raw.resume();
      throw err;
    }
  }

  async function readJson(req: FastifyRequest): Promise<unknown> {
    const body = await readBodyUpTo(req.raw, JSON_LIMIT, () => new AppError('INVALID_ARGUMENT', 'The JSON body is too large'));
    if (body.length === 0) return {};
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      throw new AppError('INVALID_ARGUMENT', 'The body is not valid JSON');
    }
  }

  /**
   * Parses the multipart upload form (file or url, id, metadata, requireSignedURLs, creator).
   * `files: false` (a form of fields only) skips file parts unread instead of buffering them.
   */
  function readForm(req: FastifyRequest, files = true): Promise<{ fields: Record<string, string>; file?: { data: Buffer; filename: string } }> {
    return new Promise((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { fileSize: MAX_IMAGE_BYTES, files: files ? 1 : 0, fields: 10, fieldSize: 8 * 1024 } });
      } catch {
        reject(new AppError('UNSUPPORTED_FORMAT', 'Upload as multipart/form-data'));
        return;
      }
      const fields: Record<string, string> = {};
      let file: { data: Buffer; filename: string } | undefined;
      let tooBig = false;
      bb.on('field', (name, value) => { fields[name] = value; });
      bb.on('file', (name, stream, info) => {
        if (name !== 'file') {
          stream.resume(); // only the field "file" is an upload: other file parts are not kept
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('limit', () => { tooBig = true; });
        stream.on('end', () => {
          file = { data: Buffer.concat(chunks), filename: info.filename || 'image' };
        });
      });
      bb.on('error', (e) => reject(new AppError('INVALID_ARGUMENT', 'The multipart body is malformed', { cause: e })));
      bb.on('close', () => {
        if (tooBig) reject(new AppError('ENTITY_TOO_LARGE', 'Image is larger than 10 MB'));
        else resolve(file === undefined ? { fields } : { fields, file });
      });
      req.raw.pipe(bb);
    });
  }

  const idOf = (req: FastifyRequest): string => (req.params as { '*': string })['*'];

  app.post(`${base}/v1`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      if (!/^multipart\/form-data/i.test(h(req, 'content-type') ?? '')) return fail(reply, 415, 5415, 'Upload as multipart/form-data, not raw bytes');
      const gone = clientGone(reply.raw);
      const hold = await holdBody(req, reply, gone);
      const { fields, file } = await readForm(req);
      const img = await images.upload({
        // An upload by URL downloads into the same hold: a form of fields only held nothing, so
        // the download waits for memory like any other source.
        ...(hold === undefined ? {} : { memory: hold }),
        signal: gone,
        ...(file === undefined ? {} : { file }),
        ...(fields['url'] === undefined ? {} : { url: fields['url'] }),
        ...(fields['id'] === undefined ? {} : { id: fields['id'] }),
        ...(fields['metadata'] === undefined ? {} : { metadata: fields['metadata'] }),
        ...(fields['requireSignedURLs'] === undefined ? {} : { requireSignedURLs: fields['requireSignedURLs'] }),
        ...(fields['creator'] === undefined ? {} : { creator: fields['creator'] }),
      });
      return ok(reply, absolute(req, img));
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.post(`${base}/v2/direct_upload`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      const { fields } = /^multipart\/form-data/i.test(h(req, 'content-type') ?? '') ? await readForm(req, false) : { fields: {} as Record<string, string> };
      const draft = await images.createDraft({
        ...(fields['id'] === undefined ? {} : { id: fields['id'] }),
        ...(fields['metadata'] === undefined ? {} : { metadata: fields['metadata'] }),
        ...(fields['requireSignedURLs'] === undefined ? {} : { requireSignedURLs: fields['requireSignedURLs'] }),
        ...(fields['expiry'] === undefined ? {} : { expiry: fields['expiry'] }),
      });
      const origin = `${req.protocol}://${h(req, 'host') ?? 'localhost'}`;
      return ok(reply, { id: draft.id, uploadURL: `${origin}${uploadPrefix}/${deps.accountHash}/${encodeURIComponent(draft.id)}` });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  // The one-time upload URL of a direct upload: no credentials, multipart field `file`.
  app.post(`${uploadPrefix}/:hash/:id`, async (req, reply) => {
    const { hash, id } = req.params as { hash: string; id: string };
    if (hash !== deps.accountHash) return fail(reply, 403, 5403, 'Account not valid');
    try {
      if (!/^multipart\/form-data/i.test(h(req, 'content-type') ?? '')) return fail(reply, 415, 5415, 'Upload as multipart/form-data with the field "file"');
      await holdBody(req, reply, clientGone(reply.raw));
      const { file } = await readForm(req);
      if (file === undefined) return fail(reply, 400, 5400, 'The multipart field "file" is required');
      const img = await images.completeDraft(id, file);
      return ok(reply, absolute(req, img));
    } catch (err) {
      if (isAppError(err) && err.code === 'ACCESS_DENIED') return fail(reply, 403, 5403, err.publicMessage);
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v2`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const q = req.query as Record<string, string | undefined>;
    const perPage = Math.min(10000, Math.max(10, Number(q['per_page'] ?? 1000) || 1000));
    try {
      const page = await images.list(perPage, q['continuation_token'] ?? '');
      const list = page.images.map((i) => absolute(req, i));
      if (q['sort_order'] === 'desc') list.reverse();
      return ok(reply, { images: list, continuation_token: page.next ?? null });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v1`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    const q = req.query as Record<string, string | undefined>;
    const perPage = Math.min(100, Math.max(10, Number(q['per_page'] ?? 50) || 50));
    const pageNo = Math.max(1, Number(q['page'] ?? 1) || 1);
    try {
      let after = '';
      let page = await images.list(perPage, after);
      for (let i = 1; i < pageNo && page.next !== undefined; i++) {
        after = page.next;
        page = await images.list(perPage, after);
      }
      const list = pageNo > 1 && after === '' ? [] : page.images.map((i) => absolute(req, i));
      return ok(reply, { images: list }, { result_info: { page: pageNo, per_page: perPage, count: list.length } });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v1/stats`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    return ok(reply, { count: { allowed: 100000, current: await images.count() } });
  });

  app.get(`${base}/v1/config`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    return ok(reply, await images.config());
  });
  app.patch(`${base}/v1/config`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, await images.patchConfig(await readJson(req)));
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v1/keys`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    return ok(reply, { keys: await images.keys() });
  });
  app.put(`${base}/v1/keys/:name`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, { keys: await images.createKey((req.params as { name: string }).name) });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.delete(`${base}/v1/keys/:name`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, { keys: await images.deleteKey((req.params as { name: string }).name) });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v1/variants`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    return ok(reply, { variants: await images.variants() });
  });
  app.post(`${base}/v1/variants`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, { variant: await images.putVariant(await readJson(req), 'create') });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.get(`${base}/v1/variants/:name`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, { variant: await images.variant((req.params as { name: string }).name) });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.patch(`${base}/v1/variants/:name`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      return ok(reply, { variant: await images.putVariant(await readJson(req), 'update', (req.params as { name: string }).name) });
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.delete(`${base}/v1/variants/:name`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      await images.deleteVariant((req.params as { name: string }).name);
      return ok(reply, {});
    } catch (err) {
      return failFor(reply, req, err);
    }
  });

  app.get(`${base}/v1/*`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      const id = idOf(req);
      if (id.endsWith('/blob')) {
        const { data, contentType } = await images.load(id.slice(0, -'/blob'.length));
        return reply.code(200).header('content-type', contentType).send(data);
      }
      return ok(reply, absolute(req, await images.get(id)));
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.patch(`${base}/v1/*`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      const body = (await readJson(req)) as Record<string, unknown>;
      return ok(reply, absolute(req, await images.update(idOf(req), { requireSignedURLs: body['requireSignedURLs'], metadata: body['metadata'] ?? body['meta'], creator: body['creator'] })));
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
  app.delete(`${base}/v1/*`, async (req, reply) => {
    if (!guard(req, reply)) return reply;
    try {
      await images.remove(idOf(req));
      return ok(reply, {});
    } catch (err) {
      return failFor(reply, req, err);
    }
  });
}
