/**
 * The OSS object API over Fastify: addressing, authentication, ACLs, dispatch by method and
 * sub-resource, image processing on GET, styles, `sys/saveas`, and OSS XML errors.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CATALOGUE, isAppError, retryAfterSeconds, storageFullError } from '../../core/errors.js';
import { parseProcessBody } from '../../dialects/oss/saveas.js';
import type { BucketAcl, BucketRecord, ObjectAcl, ObjectRecord, ObjectService } from '../../app/oss-objects.js';
import type { TransformDeps, TransformResult } from '../../app/transform-image.js';
import { createAddressResolver, type AddressConfig } from './address.js';
import { authenticate, type AuthResult, type SecretLookup } from './auth.js';
import { decodeContentMd5, parseRange, readSmallBody, splitUrl } from './request.js';
import { asArray, parseXml, toXml } from './xml.js';
import { handleAsyncRequest, isAsyncRequest, type AsyncProcessDeps, type AsyncRequestCtx } from './async-process.js';
import type { Variants } from '../../app/variants.js';
import { heldBy, withHold, type Admission, type LazySignal, type MemoryHold } from '../../app/admission.js';
import { ossVariant } from '../../app/oss-variants.js';
import { offerHot } from '../hot-cache.js';
import type { EncodedImage } from '../../core/codecs/source.js';
import { clientGone } from '../client-gone.js';

/** What the OSS routes need; built by main.ts. */
export interface OssRouteDeps {
  readonly objects: ObjectService;
  readonly transform: (source: EncodedImage, process: string, deps: TransformDeps) => Promise<TransformResult>;
  readonly address: AddressConfig;
  /** Secret of an access key id (from the shared MetaStore, hence asynchronous). */
  readonly lookupSecret: (accessKeyId: string) => Promise<string | undefined> | string | undefined;
  /** Enabled style delimiters, any of `-_/!`. */
  readonly styleDelimiters: string;
  /** Source-image protection: key suffixes (or `*`) anonymous users may only read through styles. */
  readonly protectedSources: readonly string[];
  readonly now?: () => number;
  /** Called with unexpected errors (log sink). */
  readonly onInternalError?: (err: unknown, requestId: string) => void;
  /** `?x-oss-async-process` (video/animation) and the `?x-oss-async-task` extension; absent = not served. */
  readonly asyncProcess?: AsyncProcessDeps;
  /** Result cache + coalescing of processed GETs; absent = every request runs the engine. */
  readonly variants?: Variants;
  /** Admission control of pixel work (OVERLOADED beyond it). */
  readonly admission?: Admission;
}

/** The async-process handlers see the same request context, less the request id. */
interface Ctx extends AsyncRequestCtx {
  readonly requestId: string;
}

const OWNER = { ID: 'halftone', DisplayName: 'halftone' };
const BUCKET_ACLS: readonly BucketAcl[] = ['private', 'public-read', 'public-read-write'];
const OBJECT_ACLS: readonly ObjectAcl[] = ['default', 'private', 'public-read', 'public-read-write'];
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type', 'response-content-language': 'content-language', 'response-expires': 'expires',
  'response-cache-control': 'cache-control', 'response-content-disposition': 'content-disposition', 'response-content-encoding': 'content-encoding',
};
const SMALL_BODY = 1024 * 1024;
/** Headers of a processed GET's 304 (see conditional()). */
const OSS_NOT_MODIFIED = ['server', 'etag', 'last-modified'];
/** Characters Node refuses in a header value (it throws ERR_INVALID_CHAR at send time). */
const INVALID_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** A stored value as a header: percent-encoded when it holds CR/LF, controls or non-Latin-1 text. */
const headerSafe = (v: string): string => (INVALID_HEADER_CHAR.test(v) ? encodeURIComponent(v) : v);

const iso = (ms: number) => new Date(ms).toISOString();
/** HTTP date of a timestamp; the last one is kept (the same object is usually asked again). */
let lastDate = { ms: NaN, text: '' };
const httpDate = (ms: number): string => {
  if (ms !== lastDate.ms) lastDate = { ms, text: new Date(ms).toUTCString() };
  return lastDate.text;
};

function h(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function contentLengthOf(req: FastifyRequest): number | undefined {
  const v = h(req, 'content-length');
  if (v === undefined || h(req, 'transfer-encoding') !== undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new AppError('INVALID_ARGUMENT', `Expected a non-negative integer for Content-Length but received ${JSON.stringify(v)}`);
  return Number(v);
}

function denied(msg = 'You have no right to access this object because of bucket acl.'): AppError {
  return new AppError('ACCESS_DENIED', msg);
}

function effectiveAcl(b: BucketRecord, o: ObjectRecord | undefined): BucketAcl {
  return o !== undefined && o.acl !== 'default' ? o.acl : b.acl;
}

/** Sends `err` as an OSS XML error (HEAD: empty body plus base64 `x-oss-err`). */
export function presentOssError(reply: FastifyReply, req: FastifyRequest, err: unknown, requestId: string = req.id): void {
  let e: AppError;
  if (isAppError(err)) e = err;
  else {
    e = storageFullError(err) ?? new AppError('INTERNAL', 'We encountered an internal error. Please try again.', { cause: err });
  }
  const def = ERROR_CATALOGUE[e.code];
  const extra: Record<string, unknown> = {};
  const d = e.details ?? {};
  if (e.code === 'NO_SUCH_KEY' && typeof d['key'] === 'string') extra['Key'] = d['key'];
  if (e.code === 'INVALID_ACCESS_KEY' && typeof d['OSSAccessKeyId'] === 'string') extra['OSSAccessKeyId'] = d['OSSAccessKeyId'];
  if (e.code === 'SIGNATURE_MISMATCH' && typeof d['stringToSign'] === 'string') extra['StringToSign'] = d['stringToSign'];
  if ((e.code === 'NO_SUCH_BUCKET' || e.code === 'BUCKET_NOT_EMPTY' || e.code === 'BUCKET_ALREADY_EXISTS') && typeof d['bucket'] === 'string') extra['BucketName'] = d['bucket'];
  const body = toXml({
    Error: {
      Code: def.oss, Message: e.publicMessage, RequestId: requestId, HostId: (h(req, 'host') ?? '').replace(/:\d+$/, ''),
      ...extra,
      ...(e.ec === undefined ? {} : { EC: e.ec, RecommendDoc: `https://api.aliyun.com/troubleshoot?q=${e.ec}` }),
    },
  });
  reply.code(def.status).header('x-oss-request-id', requestId).header('content-type', 'application/xml');
  if (e.code === 'OVERLOADED') reply.header('retry-after', String(retryAfterSeconds(e)));
  if (e.ec !== undefined) reply.header('x-oss-ec', e.ec);
  if (req.method === 'HEAD') {
    reply.header('x-oss-err', Buffer.from(body).toString('base64')).send();
  } else reply.send(body);
}

/** Registers the OSS catch-all route on `app`. */
export function registerOssRoutes(app: FastifyInstance, deps: OssRouteDeps): void {
  const resolve = createAddressResolver(deps.address);
  const now = deps.now ?? (() => Date.now());
  const svc = deps.objects;

  function sendError(reply: FastifyReply, req: FastifyRequest, err: unknown, requestId: string): void {
    if (!isAppError(err)) deps.onInternalError?.(err, requestId);
    presentOssError(reply, req, err, requestId);
  }

  function sendXml(c: Ctx, doc: Record<string, unknown>, status = 200): void {
    c.reply.code(status).header('content-type', 'application/xml').send(toXml(doc));
  }

  // ------------------------------------------------------------------ access control
  function requireSigned(c: Ctx): void {
    if (c.auth.kind !== 'signed') throw denied('You have no right to access this resource: the request is not signed.');
  }
  function requireRead(c: Ctx, b: BucketRecord, o?: ObjectRecord): void {
    if (c.auth.kind === 'signed') return;
    const acl = effectiveAcl(b, o);
    if (acl !== 'public-read' && acl !== 'public-read-write') throw denied();
  }
  function requireWrite(c: Ctx, b: BucketRecord, o?: ObjectRecord): void {
    if (c.auth.kind === 'signed') return;
    if (effectiveAcl(b, o) !== 'public-read-write') throw denied();
  }
  function isProtected(key: string): boolean {
    const k = key.toLowerCase();
    return deps.protectedSources.some((s) => s === '*' || k.endsWith(s.toLowerCase()));
  }

  // ------------------------------------------------------------------ helpers
  function objectInput(c: Ctx): { contentType: string; headers: Record<string, string>; meta: Record<string, string>; acl: ObjectAcl } {
    const headers: Record<string, string> = {};
    for (const name of STORED_HEADERS) {
      const v = h(c.req, name);
      if (v !== undefined) headers[name] = v;
    }
    const meta: Record<string, string> = {};
    for (const [name, v] of Object.entries(c.req.headers)) {
      if (name.startsWith('x-oss-meta-') && v !== undefined) meta[name.slice('x-oss-meta-'.length)] = Array.isArray(v) ? v.join(',') : v;
    }
    const aclRaw = h(c.req, 'x-oss-object-acl') ?? 'default';
    if (!OBJECT_ACLS.includes(aclRaw as ObjectAcl)) throw new AppError('INVALID_ARGUMENT', `Expected one of ${OBJECT_ACLS.join(', ')} for x-oss-object-acl but received ${JSON.stringify(aclRaw)}`);
    return { contentType: h(c.req, 'content-type') ?? 'application/octet-stream', headers, meta, acl: aclRaw as ObjectAcl };
  }

  async function smallBody(c: Ctx): Promise<Buffer> {
    const body = await readSmallBody(c.req.raw, SMALL_BODY);
    const md5 = decodeContentMd5(h(c.req, 'content-md5'));
    if (md5 !== undefined && !md5.equals(createHash('md5').update(body).digest())) {
      throw new AppError('INVALID_DIGEST', 'The Content-MD5 you specified did not match what we received.');
    }
    return body;
  }

  function objectHeaders(c: Ctx, o: ObjectRecord): void {
    const r = c.reply;
    r.header('content-type', o.contentType).header('etag', o.etag).header('last-modified', httpDate(o.lastModified));
    r.header('x-oss-object-type', o.type).header('x-oss-storage-class', 'Standard').header('accept-ranges', 'bytes');
    for (const [k, v] of Object.entries(o.headers)) r.header(k, headerSafe(v));
    for (const [k, v] of Object.entries(o.meta)) r.header(`x-oss-meta-${k}`, headerSafe(v));
    if (o.type === 'Appendable') r.header('x-oss-next-append-position', String(o.size));
    for (const [q, header] of Object.entries(RESPONSE_OVERRIDES)) {
      const v = c.query.get(q);
      if (v !== undefined) r.header(header, v);
    }
  }

  /** 304 / 412 evaluation; returns true when a response was sent. */
  function conditional(c: Ctx, etag: string, lastModified: number): boolean {
    const norm = (s: string) => s.trim().replace(/^W\//, '').replace(/"/g, '').toUpperCase();
    const ifMatch = h(c.req, 'if-match');
    if (ifMatch !== undefined && !ifMatch.split(',').some((t) => t.trim() === '*' || norm(t) === norm(etag))) {
      throw new AppError('PRECONDITION_FAILED', 'At least one of the pre-conditions you specified did not hold.');
    }
    const ius = h(c.req, 'if-unmodified-since');
    if (ius !== undefined && Number.isFinite(Date.parse(ius)) && Math.floor(lastModified / 1000) > Math.floor(Date.parse(ius) / 1000)) {
      throw new AppError('PRECONDITION_FAILED', 'At least one of the pre-conditions you specified did not hold.');
    }
    const inm = h(c.req, 'if-none-match');
    const ims = h(c.req, 'if-modified-since');
    const notModified = inm !== undefined
      ? inm.split(',').some((t) => t.trim() === '*' || norm(t) === norm(etag))
      : ims !== undefined && Number.isFinite(Date.parse(ims)) && Math.floor(lastModified / 1000) <= Math.floor(Date.parse(ims) / 1000);
    if (notModified) {
      c.reply.code(304).header('etag', etag).header('last-modified', httpDate(lastModified)).send();
      return true;
    }
    return false;
  }

  /** Resolves `style/<name>` to its `image/...` content; other chains pass through. */
  async function resolveStyle(bucket: string, process: string): Promise<{ process: string; viaStyle: boolean }> {
    if (process.startsWith('style/')) return { process: (await svc.getStyle(bucket, process.slice('style/'.length))).content, viaStyle: true };
    return { process, viaStyle: false };
  }

  /**
   * Runs `process` on `source`. Watermark objects are opened like the source: the blob file where
   * blobs are local, else their bytes, held under `hold` before they are read.
   */
  async function runTransform(bucket: string, source: EncodedImage, process: string, hold: MemoryHold | undefined, signal?: LazySignal): Promise<TransformResult> {
    if (process.includes('sys/saveas')) throw new AppError('INVALID_ARGUMENT', 'sys/saveas is only allowed in a POST request body.');
    return deps.transform(source, process, {
      admission: deps.admission,
      signal,
      loadObject: async (k: string) => {
        try {
          return await svc.openImage(await svc.headObject(bucket, k), heldBy(hold, signal));
        } catch (err) {
          if (isAppError(err) && err.code === 'NO_SUCH_KEY') throw new AppError('NO_SUCH_KEY', 'The watermark object does not exist.', { details: { key: k } });
          throw err;
        }
      },
    });
  }

  /** `key!style` (enabled delimiters): the longest existing key prefix whose suffix is a style. */
  async function splitStyleDelimiter(bucket: string, key: string): Promise<{ key: string; style: string } | undefined> {
    if (deps.styleDelimiters === '') return undefined;
    for (const d of ['-', '_', '/', '!']) {
      if (!deps.styleDelimiters.includes(d)) continue;
      for (let i = key.lastIndexOf(d); i > 0; i = key.lastIndexOf(d, i - 1)) {
        const base = key.slice(0, i);
        const style = key.slice(i + 1);
        if (style !== '' && await svc.findObject(bucket, base) !== undefined && await svc.findStyle(bucket, style) !== undefined) return { key: base, style };
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------ service & bucket level
  async function service(c: Ctx): Promise<void> {
    if (c.method !== 'GET') throw new AppError('METHOD_NOT_ALLOWED', 'The specified method is not allowed against this resource.');
    requireSigned(c);
    const prefix = c.query.get('prefix') ?? '';
    const buckets = (await svc.listBuckets()).filter((b) => b.name.startsWith(prefix));
    sendXml(c, {
      ListAllMyBucketsResult: {
        Prefix: prefix, Marker: '', MaxKeys: 1000, IsTruncated: false, Owner: OWNER,
        Buckets: { Bucket: buckets.map((b) => ({ CreationDate: iso(b.createdAt), ExtranetEndpoint: '', IntranetEndpoint: '', Location: 'oss-halftone', Name: b.name, Region: 'halftone', StorageClass: b.storageClass })) },
      },
    });
  }

  function aclHeader(c: Ctx): BucketAcl | undefined {
    const v = h(c.req, 'x-oss-acl');
    if (v === undefined) return undefined;
    if (!BUCKET_ACLS.includes(v as BucketAcl)) throw new AppError('INVALID_ARGUMENT', `Expected one of ${BUCKET_ACLS.join(', ')} for x-oss-acl but received ${JSON.stringify(v)}`);
    return v as BucketAcl;
  }

  async function bucketLevel(c: Ctx): Promise<void> {
    const q = c.query;
    if (c.method === 'PUT' && !q.has('acl') && !q.has('style')) {
      requireSigned(c);
      const body = await smallBody(c);
      let storageClass = 'Standard';
      if (body.length > 0) {
        const cfg = parseXml(body.toString('utf8'))['CreateBucketConfiguration'] as Record<string, unknown> | undefined;
        if (cfg !== undefined && typeof cfg['StorageClass'] === 'string') storageClass = cfg['StorageClass'];
      }
      await svc.createBucket(c.bucket, aclHeader(c) ?? 'private', storageClass);
      c.reply.header('location', `/${c.bucket}`).code(200).send();
      return;
    }
    const b = await svc.getBucket(c.bucket);
    switch (c.method) {
      case 'PUT':
        requireSigned(c);
        if (q.has('acl')) {
          await svc.setBucketAcl(c.bucket, aclHeader(c) ?? 'private');
          c.reply.code(200).send();
          return;
        }
        {
          const name = q.get('styleName') ?? '';
          const doc = parseXml((await smallBody(c)).toString('utf8'))['Style'] as Record<string, unknown> | undefined;
          const content = doc !== undefined && typeof doc['Content'] === 'string' ? doc['Content'] : undefined;
          if (content === undefined) throw new AppError('MALFORMED_XML', 'The body must be <Style><Content>image/...</Content></Style>.');
          await svc.putStyle(c.bucket, name, content.trim());
          c.reply.code(200).send();
        }
        return;
      case 'GET':
      case 'HEAD':
        if (q.has('acl')) {
          requireSigned(c);
          sendXml(c, { AccessControlPolicy: { Owner: OWNER, AccessControlList: { Grant: b.acl } } });
        } else if (q.has('bucketInfo')) {
          requireSigned(c);
          sendXml(c, {
            BucketInfo: {
              Bucket: {
                AccessMonitor: 'Disabled', CreationDate: iso(b.createdAt), ExtranetEndpoint: '', IntranetEndpoint: '', Location: 'oss-halftone',
                StorageClass: b.storageClass, TransferAcceleration: 'Disabled', CrossRegionReplication: 'Disabled', Name: b.name,
                Owner: OWNER, AccessControlList: { Grant: b.acl }, DataRedundancyType: 'LRS',
              },
            },
          });
        } else if (q.has('location')) {
          requireSigned(c);
          sendXml(c, { LocationConstraint: 'oss-halftone' });
        } else if (q.has('style')) {
          requireSigned(c);
          const name = q.get('styleName');
          const styleXml = (s: { name: string; content: string; createdAt: number; modifiedAt: number }) => ({
            Name: s.name, Content: s.content, Category: 'image', CreateTime: httpDate(s.createdAt), LastModifyTime: httpDate(s.modifiedAt),
          });
          if (name !== undefined && name !== '') sendXml(c, { Style: styleXml(await svc.getStyle(c.bucket, name)) });
          else sendXml(c, { StyleList: { Style: (await svc.listStyles(c.bucket)).map(styleXml) } });
        } else if (q.has('uploads')) {
          requireSigned(c);
          const prefix = q.get('prefix') ?? '';
          const ups = (await svc.listUploads(c.bucket)).filter((u) => u.key.startsWith(prefix));
          sendXml(c, {
            ListMultipartUploadsResult: {
              Bucket: c.bucket, KeyMarker: '', UploadIdMarker: '', NextKeyMarker: '', NextUploadIdMarker: '', Delimiter: '', Prefix: prefix,
              MaxUploads: 1000, IsTruncated: false,
              Upload: ups.map((u) => ({ Key: u.key, UploadId: u.id, StorageClass: 'Standard', Initiated: iso(u.initiated) })),
            },
          });
        } else await listObjects(c, b);
        return;
      case 'DELETE':
        requireSigned(c);
        if (q.has('style')) await svc.deleteStyle(c.bucket, q.get('styleName') ?? '');
        else await svc.deleteBucket(c.bucket);
        c.reply.code(204).send();
        return;
      case 'POST':
        if (q.has('delete')) {
          requireSigned(c);
          const doc = parseXml((await smallBody(c)).toString('utf8'))['Delete'] as Record<string, unknown> | undefined;
          if (doc === undefined) throw new AppError('MALFORMED_XML', 'The body must be <Delete><Object><Key>…</Key></Object>…</Delete>.');
          const keys = asArray(doc['Object'] as { Key?: unknown } | { Key?: unknown }[] | undefined).map((o) => String(o.Key ?? ''));
          if (keys.length > 1000) throw new AppError('MALFORMED_XML', 'At most 1000 keys can be deleted in one request.');
          const urlEnc = q.get('encoding-type') === 'url';
          const decoded = keys.map((k) => (urlEnc ? decodeURIComponent(k) : k));
          const deleted = await svc.deleteObjects(c.bucket, decoded);
          const quiet = String(doc['Quiet'] ?? 'false') === 'true';
          sendXml(c, { DeleteResult: quiet ? '' : { Deleted: deleted.map((k) => ({ Key: urlEnc ? encodeURIComponent(k) : k })) } });
          return;
        }
        throw new AppError('NOT_IMPLEMENTED', 'This bucket operation is not implemented.');
      default:
        throw new AppError('METHOD_NOT_ALLOWED', 'The specified method is not allowed against this resource.');
    }
  }

  async function listObjects(c: Ctx, b: BucketRecord): Promise<void> {
    requireRead(c, b);
    const q = c.query;
    const v2 = q.get('list-type') === '2';
    const maxRaw = q.get('max-keys') ?? '100';
    if (!/^\d+$/.test(maxRaw) || Number(maxRaw) < 1 || Number(maxRaw) > 1000) {
      throw new AppError('INVALID_ARGUMENT', `Expected integer between 1 and 1000 for max-keys but received ${JSON.stringify(maxRaw)}`);
    }
    const maxKeys = Number(maxRaw);
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    let after = '';
    if (v2) {
      const token = q.get('continuation-token');
      after = token !== undefined && token !== '' ? Buffer.from(token, 'base64url').toString('utf8') : (q.get('start-after') ?? '');
    } else after = q.get('marker') ?? '';
    const res = await svc.listObjects(c.bucket, { prefix, delimiter, after, maxKeys });
    const enc = q.get('encoding-type') === 'url' ? (s: string) => encodeURIComponent(s) : (s: string) => s;
    const contents = res.objects.map((o) => ({
      Key: enc(o.key), LastModified: iso(o.lastModified), ETag: o.etag, Type: o.type, Size: o.size, StorageClass: 'Standard',
      ...(!v2 || q.get('fetch-owner') === 'true' ? { Owner: OWNER } : {}),
    }));
    const common = res.prefixes.map((p) => ({ Prefix: enc(p) }));
    if (v2) {
      sendXml(c, {
        ListBucketResult: {
          Name: c.bucket, Prefix: enc(prefix), ...(q.has('start-after') ? { StartAfter: enc(q.get('start-after') ?? '') } : {}),
          ...(q.has('continuation-token') ? { ContinuationToken: q.get('continuation-token') } : {}),
          MaxKeys: maxKeys, Delimiter: enc(delimiter), ...(q.has('encoding-type') ? { EncodingType: q.get('encoding-type') } : {}),
          IsTruncated: res.truncated,
          ...(res.truncated && res.next !== undefined ? { NextContinuationToken: Buffer.from(res.next, 'utf8').toString('base64url') } : {}),
          KeyCount: contents.length + common.length, Contents: contents, CommonPrefixes: common,
        },
      });
    } else {
      sendXml(c, {
        ListBucketResult: {
          Name: c.bucket, Prefix: enc(prefix), Marker: enc(after), MaxKeys: maxKeys, Delimiter: enc(delimiter),
          ...(q.has('encoding-type') ? { EncodingType: q.get('encoding-type') } : {}),
          IsTruncated: res.truncated, ...(res.truncated && res.next !== undefined ? { NextMarker: enc(res.next) } : {}),
          Contents: contents, CommonPrefixes: common,
        },
      });
    }
  }

  // ------------------------------------------------------------------ object level
  async function getObject(c: Ctx, head: boolean): Promise<void> {
    const b = await svc.getBucket(c.bucket);
    let key = c.key;
    let process = c.query.get('x-oss-process');
    // The object's record is read once and serves the ACL check, the variant key and the source,
    // so all three describe the same version.
    let found = await svc.findObject(c.bucket, key);
    if (process === undefined && found === undefined) {
      const split = await splitStyleDelimiter(c.bucket, key);
      if (split !== undefined) {
        key = split.key;
        process = `style/${split.style}`;
        found = await svc.findObject(c.bucket, key);
      }
    }
    if (c.auth.kind !== 'signed') {
      requireRead(c, b, found);
      if (isProtected(key) && (process === undefined || !process.startsWith('style/'))) {
        throw new AppError('ACCESS_DENIED', 'The channel can be only accessed using style.', { ec: '0040-00000031' });
      }
    }
    // headObject answers NoSuchKey in OSS's shape. This one record is the version the whole GET
    // describes (the variant key and the source bytes of a processed GET included).
    const o = found ?? (await svc.headObject(c.bucket, key));
    if (c.query.has('objectMeta')) {
      c.reply.header('etag', o.etag).header('last-modified', httpDate(o.lastModified)).header('content-length', String(o.size)).code(200).send();
      return;
    }
    if (process !== undefined && process !== '') {
      const resolved = await resolveStyle(c.bucket, process);
      // The ETag is the MD5 of the processed bytes (as OSS sends it); a cached variant keeps it, so
      // a hit answers If-None-Match with 304 without reading the source or touching pixels.
      const variant = deps.variants === undefined ? undefined : ossVariant(c.bucket, key, o, resolved.process);
      // The client going away takes the request out of the pipeline queue (coalesced: once all left).
      const gone = clientGone(c.reply.raw);
      const compute = (signal: LazySignal) => withHold(deps.admission, async (hold) => {
        const out = await runTransform(c.bucket, await svc.openImage(o, heldBy(hold, signal)), resolved.process, hold, signal);
        const data = out.kind === 'image' ? out.data : Buffer.from(out.body, 'utf8');
        const etag = `"${createHash('md5').update(data).digest('hex').toUpperCase()}"`;
        return { data, meta: { contentType: out.kind === 'image' ? out.contentType : 'application/json', etag } };
      });
      const result = variant === undefined ? await compute(gone) : await deps.variants!.get(variant.key, variant.tag, compute, gone);
      const body = result.data;
      const etag = String(result.meta['etag']);
      if (conditional(c, etag, o.lastModified)) return;
      c.reply.code(200)
        .header('content-type', String(result.meta['contentType']))
        .header('etag', etag).header('last-modified', httpDate(o.lastModified)).header('content-length', String(body.length));
      for (const [q, header] of Object.entries(RESPONSE_OVERRIDES)) {
        const v = c.query.get(q);
        if (v !== undefined) c.reply.header(header, v);
      }
      // Read anonymously from this bucket only (watermarks too): the hot cache may keep it.
      if (c.auth.kind === 'anonymous') offerHot(c.req.raw, { bucket: c.bucket, varyOn: [], notModified: { keep: OSS_NOT_MODIFIED } });
      if (head) c.reply.send();
      else c.reply.send(body);
      return;
    }
    if (conditional(c, o.etag, o.lastModified)) return;
    objectHeaders(c, o);
    const range = head ? undefined : parseRange(h(c.req, 'range'), o.size);
    if (range === 'unsatisfiable') {
      throw new AppError('INVALID_RANGE', 'The requested range cannot be satisfied.', { details: { size: o.size } });
    }
    if (head) {
      c.reply.code(200).header('content-length', String(o.size)).send();
      return;
    }
    if (range !== undefined) {
      c.reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${o.size}`).header('content-length', String(range.end - range.start + 1));
      c.reply.send(svc.openObject(o, range));
      return;
    }
    c.reply.code(200).header('content-length', String(o.size));
    c.reply.send(o.size === 0 ? Buffer.alloc(0) : svc.openObject(o));
  }

  async function putObject(c: Ctx): Promise<void> {
    const b = await svc.getBucket(c.bucket);
    const q = c.query;
    if (q.has('acl')) {
      requireSigned(c);
      const v = h(c.req, 'x-oss-object-acl') ?? 'default';
      if (!OBJECT_ACLS.includes(v as ObjectAcl)) throw new AppError('INVALID_ARGUMENT', `Expected one of ${OBJECT_ACLS.join(', ')} for x-oss-object-acl but received ${JSON.stringify(v)}`);
      await svc.setObjectAcl(c.bucket, c.key, v as ObjectAcl);
      c.reply.code(200).send();
      return;
    }
    if (q.has('uploadId')) {
      requireSigned(c);
      if (h(c.req, 'x-oss-copy-source') !== undefined) throw new AppError('NOT_IMPLEMENTED', 'UploadPartCopy is not implemented.');
      const part = await svc.uploadPart(c.bucket, c.key, q.get('uploadId') ?? '', Number(q.get('partNumber') ?? 'NaN'), c.req.raw, contentLengthOf(c.req), decodeContentMd5(h(c.req, 'content-md5')));
      c.reply.code(200).header('etag', part.etag).send();
      return;
    }
    const copySource = h(c.req, 'x-oss-copy-source');
    if (copySource !== undefined) {
      requireSigned(c);
      const m = /^\/?([^/]+)\/(.+)$/.exec(copySource.split('?')[0]!);
      if (m === null) throw new AppError('INVALID_ARGUMENT', 'x-oss-copy-source must be /<bucket>/<url-encoded key>.');
      let srcKey: string;
      try {
        srcKey = decodeURIComponent(m[2]!);
      } catch {
        throw new AppError('INVALID_ARGUMENT', 'x-oss-copy-source is not valid percent-encoding.');
      }
      const directive = (h(c.req, 'x-oss-metadata-directive') ?? 'COPY').toUpperCase();
      const input = objectInput(c);
      const from = await svc.headObject(m[1]!, srcKey);
      const ifMatch = h(c.req, 'x-oss-copy-source-if-match');
      if (ifMatch !== undefined && ifMatch.replace(/"/g, '').toUpperCase() !== from.etag.replace(/"/g, '')) {
        throw new AppError('PRECONDITION_FAILED', 'At least one of the pre-conditions you specified did not hold.');
      }
      const rec = await svc.copyObject({ bucket: m[1]!, key: srcKey }, { bucket: c.bucket, key: c.key },
        directive === 'REPLACE' ? { contentType: input.contentType, headers: input.headers, meta: input.meta } : undefined, input.acl);
      c.reply.header('etag', rec.etag);
      sendXml(c, { CopyObjectResult: { ETag: rec.etag, LastModified: iso(rec.lastModified) } });
      return;
    }
    requireWrite(c, b, await svc.findObject(c.bucket, c.key));
    const input = objectInput(c);
    if (c.auth.kind !== 'signed' && input.acl !== 'default') throw denied('Anonymous users may not set an object ACL.');
    const rec = await svc.putObject({
      bucket: c.bucket, key: c.key, body: c.req.raw, contentLength: contentLengthOf(c.req), contentMd5: decodeContentMd5(h(c.req, 'content-md5')), ...input,
    });
    c.reply.code(200).header('etag', rec.etag).header('content-md5', Buffer.from(rec.etag.replace(/"/g, ''), 'hex').toString('base64')).send();
  }

  async function postObject(c: Ctx): Promise<void> {
    const b = await svc.getBucket(c.bucket);
    const q = c.query;
    if (q.has('uploads')) {
      requireSigned(c);
      const input = objectInput(c);
      const up = await svc.initiateUpload(c.bucket, c.key, input);
      sendXml(c, { InitiateMultipartUploadResult: { Bucket: c.bucket, Key: c.key, UploadId: up.id } });
      return;
    }
    if (q.has('uploadId')) {
      requireSigned(c);
      const doc = parseXml((await smallBody(c)).toString('utf8'))['CompleteMultipartUpload'] as Record<string, unknown> | undefined;
      const parts = asArray(doc?.['Part'] as Record<string, unknown> | Record<string, unknown>[] | undefined).map((p) => ({
        partNumber: Number(p['PartNumber']), etag: String(p['ETag'] ?? ''),
      }));
      const rec = await svc.completeUpload(c.bucket, c.key, q.get('uploadId') ?? '', parts);
      c.reply.header('etag', rec.etag);
      sendXml(c, { CompleteMultipartUploadResult: { Location: `/${c.bucket}/${encodeURIComponent(c.key)}`, Bucket: c.bucket, Key: c.key, ETag: rec.etag } });
      return;
    }
    if (q.has('append')) {
      const posRaw = q.get('position') ?? '';
      if (!/^\d+$/.test(posRaw)) throw new AppError('INVALID_ARGUMENT', `Expected a non-negative integer for position but received ${JSON.stringify(posRaw)}`);
      requireWrite(c, b, await svc.findObject(c.bucket, c.key));
      const input = objectInput(c);
      const rec = await svc.appendObject({
        bucket: c.bucket, key: c.key, body: c.req.raw, contentLength: contentLengthOf(c.req), contentMd5: decodeContentMd5(h(c.req, 'content-md5')),
        position: Number(posRaw), ...input,
      });
      c.reply.code(200).header('etag', rec.etag).header('x-oss-next-append-position', String(rec.size)).send();
      return;
    }
    if (q.has('x-oss-process')) {
      const text = (await smallBody(c)).toString('utf8');
      const parsed = parseProcessBody(text);
      const src = await svc.findObject(c.bucket, c.key);
      requireRead(c, b, src);
      const resolved = await resolveStyle(c.bucket, parsed.process);
      if (c.auth.kind !== 'signed' && isProtected(c.key) && !resolved.viaStyle) {
        throw new AppError('ACCESS_DENIED', 'The channel can be only accessed using style.', { ec: '0040-00000031' });
      }
      const gone = clientGone(c.reply.raw);
      const out = await withHold(deps.admission, async (hold) => {
        const source = await svc.openImage(await svc.headObject(c.bucket, c.key), heldBy(hold, gone));
        return runTransform(c.bucket, source, resolved.process, hold, gone);
      });
      const body = out.kind === 'image' ? out.data : Buffer.from(out.body, 'utf8');
      const type = out.kind === 'image' ? out.contentType : 'application/json';
      if (parsed.saveas === undefined) {
        c.reply.code(200).header('content-type', type).send(body);
        return;
      }
      const targetBucket = parsed.saveas.bucket ?? c.bucket;
      const tb = await svc.getBucket(targetBucket);
      requireWrite(c, tb, await svc.findObject(targetBucket, parsed.saveas.object));
      const rec = await svc.putObject({
        bucket: targetBucket, key: parsed.saveas.object, body, contentLength: body.length, contentType: type, headers: {}, meta: {}, acl: 'default',
      });
      c.reply.code(200).header('content-type', 'application/json').send(JSON.stringify({
        bucket: parsed.saveas.bucket ?? '', fileSize: rec.size, object: rec.key, status: 'OK',
      }));
      return;
    }
    throw new AppError('NOT_IMPLEMENTED', 'This POST operation is not implemented (PostObject form uploads are not supported).');
  }

  async function objectLevel(c: Ctx): Promise<void> {
    svc.checkObjectKey(c.key);
    const q = c.query;
    switch (c.method) {
      case 'GET':
      case 'HEAD':
        if (q.has('acl')) {
          requireSigned(c);
          const o = await svc.headObject(c.bucket, c.key);
          sendXml(c, { AccessControlPolicy: { Owner: OWNER, AccessControlList: { Grant: o.acl } } });
          return;
        }
        if (q.has('uploadId')) {
          requireSigned(c);
          const parts = await svc.listParts(c.bucket, c.key, q.get('uploadId') ?? '');
          sendXml(c, {
            ListPartsResult: {
              Bucket: c.bucket, Key: c.key, UploadId: q.get('uploadId'), PartNumberMarker: 0, NextPartNumberMarker: parts.at(-1)?.partNumber ?? 0,
              MaxParts: 1000, IsTruncated: false,
              Part: parts.map((p) => ({ PartNumber: p.partNumber, LastModified: iso(p.lastModified), ETag: p.etag, Size: p.size })),
            },
          });
          return;
        }
        return getObject(c, c.method === 'HEAD');
      case 'PUT':
        return putObject(c);
      case 'POST':
        return postObject(c);
      case 'DELETE': {
        const b = await svc.getBucket(c.bucket);
        if (q.has('uploadId')) {
          requireSigned(c);
          await svc.abortUpload(c.bucket, c.key, q.get('uploadId') ?? '');
        } else {
          requireWrite(c, b, await svc.findObject(c.bucket, c.key));
          await svc.deleteObject(c.bucket, c.key);
        }
        c.reply.code(204).send();
        return;
      }
      default:
        throw new AppError('METHOD_NOT_ALLOWED', 'The specified method is not allowed against this resource.');
    }
  }

  // ------------------------------------------------------------------ entry
  /**
   * {@link authenticate} (synchronous, pure) with an asynchronous secret lookup: a pass that meets
   * an access key id not yet looked up stops, the secret is fetched, and the pass is repeated.
   * Signature checking asks for one id per request, so this runs at most twice.
   */
  async function authenticateWith(input: Parameters<typeof authenticate>[0], lookup: OssRouteDeps['lookupSecret'], nowMs: number): Promise<AuthResult> {
    const known = new Map<string, string | undefined>();
    const pending = Symbol('pending');
    for (;;) {
      let missing: string | undefined;
      const sync: SecretLookup = (id) => {
        if (known.has(id)) return known.get(id);
        missing = id;
        throw pending;
      };
      try {
        return authenticate(input, sync, nowMs);
      } catch (err) {
        if (err !== pending || missing === undefined) throw err;
        known.set(missing, await lookup(missing));
      }
    }
  }

  async function handler(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const requestId = req.id;
    reply.header('x-oss-request-id', requestId).header('server', 'Halftone');
    try {
      const { path, query } = splitUrl(req.raw.url ?? '/');
      const addr = resolve(h(req, 'host'), path);
      const auth = await authenticateWith({ method: req.method, bucket: addr.bucket, key: addr.key, headers: req.headers, query }, deps.lookupSecret, now());
      const qmap = new Map<string, string>();
      for (const [n, v] of query) if (!qmap.has(n)) qmap.set(n, v ?? '');
      for (const name of Object.keys(RESPONSE_OVERRIDES)) {
        const v = qmap.get(name);
        // CR/LF or other characters a header cannot carry: refuse (never a 5xx, never injection).
        if (v !== undefined && INVALID_HEADER_CHAR.test(v)) throw new AppError('INVALID_ARGUMENT', `The value of ${name} contains characters that are not allowed in a header.`);
      }
      const c: Ctx = { req, reply, method: req.method, bucket: addr.bucket, key: addr.key, query: qmap, auth, requestId };
      if (deps.asyncProcess !== undefined && isAsyncRequest(qmap)) await handleAsyncRequest(c, deps.asyncProcess, svc);
      else if (addr.bucket === '') await service(c);
      else {
        svc.checkBucketName(addr.bucket);
        if (addr.key === '') await bucketLevel(c);
        else await objectLevel(c);
      }
    } catch (err) {
      sendError(reply, req, err, requestId);
    }
    return reply;
  }

  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/*', handler });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'], url: '/', handler });

  /** Errors raised by Fastify itself (bad URL, etc.) in OSS shape too. */
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, req, new AppError('METHOD_NOT_ALLOWED', 'The specified method is not allowed against this resource.'), req.id);
  });
  app.setErrorHandler((err, req, reply) => {
    sendError(reply, req, isAppError(err) ? err : new AppError('BAD_REQUEST', 'The request could not be processed.', { cause: err }), req.id);
  });
}
