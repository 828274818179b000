/**
 * Use cases of the OSS-compatible object service: buckets, objects, append, copy, multipart,
 * styles and ACLs, on top of the BlobStore and MetaStore ports.
 *
 * Write protocol (crash safety): bytes go to a new blob (atomic in the BlobStore), then one
 * metadata transaction makes it visible, then blobs no longer referenced are removed. A crash
 * between steps leaves at worst an unreferenced blob, which {@link ObjectService.collectGarbage}
 * removes at the next start; readers never see a partial object.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError } from '../core/errors.js';
import type { EncodedImage } from '../core/codecs/source.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { BucketAcl, BucketRecord, MetaStore, ObjectAcl, ObjectRecord, PartRecord, StyleRecord, UploadRecord } from '../ports/meta-store.js';

export type { BucketAcl, BucketRecord, ObjectAcl, ObjectRecord, PartRecord, StyleRecord, UploadRecord };

export interface ObjectServiceDeps {
  readonly blobs: BlobStore;
  readonly meta: MetaStore;
  /** Largest body of one PUT / part / append. */
  readonly maxObjectBytes: number;
  /** Largest object loaded into memory for image processing. */
  readonly maxProcessBytes: number;
  readonly now?: () => number;
  /**
   * Called after an object's bytes were replaced or it was deleted (purges cached variants).
   * Errors thrown here are ignored.
   */
  readonly onObjectChanged?: (bucket: string, key: string) => void;
}

/** `meta` whose object writes also notify `changed` (put, conditional put, delete, multipart completion). */
function notifyingMeta(meta: MetaStore, changed: (bucket: string, key: string) => void): MetaStore {
  const tell = (bucket: string, key: string) => {
    try {
      changed(bucket, key);
    } catch {
      // A failing listener must not fail the write that already happened.
    }
  };
  return Object.assign(Object.create(meta) as MetaStore, {
    putObject: async (o: ObjectRecord) => {
      const r = await meta.putObject(o);
      tell(o.bucket, o.key);
      return r;
    },
    putObjectIf: async (o: ObjectRecord, expected: string | undefined) => {
      const r = await meta.putObjectIf(o, expected);
      if (r) tell(o.bucket, o.key);
      return r;
    },
    deleteObject: async (bucket: string, key: string) => {
      const r = await meta.deleteObject(bucket, key);
      tell(bucket, key);
      return r;
    },
    completeUpload: async (id: string, o: ObjectRecord, expected?: ReadonlyMap<number, string>) => {
      const r = await meta.completeUpload(id, o, expected);
      if (r !== undefined) tell(o.bucket, o.key);
      return r;
    },
  });
}

/** Everything a PUT carries besides the bytes. */
export interface PutInput {
  readonly bucket: string;
  readonly key: string;
  readonly body: Readable | Buffer;
  /** Declared Content-Length, when the client sent one. */
  readonly contentLength?: number | undefined;
  /** Decoded Content-MD5 (16 bytes), when the client sent one. */
  readonly contentMd5?: Buffer | undefined;
  readonly contentType: string;
  readonly headers: Record<string, string>;
  readonly meta: Record<string, string>;
  readonly acl: ObjectAcl;
}

export interface ListInput {
  readonly prefix: string;
  readonly delimiter: string;
  /** Exclusive start (marker / start-after / decoded continuation token). */
  readonly after: string;
  readonly maxKeys: number;
}

export interface ListOutput {
  readonly objects: ObjectRecord[];
  readonly prefixes: string[];
  readonly truncated: boolean;
  /** Last returned key or common prefix (the next marker) when truncated. */
  readonly next: string | undefined;
}

const BUCKET_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const STYLE_NAME_RE = /^[A-Za-z0-9_.-]{1,63}$/;
/** Characters OSS refuses in style content (spec oss-img.md §5). */
const STYLE_FORBIDDEN = /[;\s()'*?"<>\\`{}[\]^]/;
export const MAX_STYLES_PER_BUCKET = 50;

/** Throws INVALID_BUCKET_NAME unless `name` follows the OSS rules (3–63 chars, a-z 0-9 -). */
export function checkBucketName(name: string): void {
  if (!BUCKET_RE.test(name)) throw new AppError('INVALID_BUCKET_NAME', 'The specified bucket is not valid.', { details: { bucket: name } });
}

/**
 * Throws INVALID_OBJECT_NAME for keys that could be dangerous or that OSS refuses: empty, over 1023
 * UTF-8 bytes, containing NUL, starting with `/` or `\`, or with a `.`/`..` path segment
 * (`../x`, `a/../../b`, after percent-decoding). Keys never become paths here (blobs are addressed
 * by random ids) — this is defence in depth and keeps behaviour predictable for file-like tooling.
 */
export function checkObjectKey(key: string): void {
  const bad = (why: string): never => {
    throw new AppError('INVALID_OBJECT_NAME', `The specified object is not valid: ${why}.`);
  };
  if (key.length === 0) bad('the key is empty');
  if (Buffer.byteLength(key, 'utf8') > 1023) bad('the key is longer than 1023 bytes');
  if (key.includes('\0')) bad('the key contains a NUL byte');
  if (key.startsWith('/') || key.startsWith('\\')) bad('the key starts with "/" or "\\"');
  if (key.split(/[/\\]/).some((seg) => seg === '..' || seg === '.')) bad('the key contains a "." or ".." path segment');
}

/** Quoted upper-case hex ETag, the OSS convention for simple uploads. */
export function etagOf(md5: Buffer): string {
  return `"${md5.toString('hex').toUpperCase()}"`;
}

function sameEtag(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().replace(/^W\//, '').replace(/"/g, '').toUpperCase();
  return norm(a) === norm(b);
}

/** The object service; one per process. */
export function createObjectService(deps: ObjectServiceDeps) {
  const { blobs } = deps;
  const meta = deps.onObjectChanged === undefined ? deps.meta : notifyingMeta(deps.meta, deps.onObjectChanged);
  const now = deps.now ?? (() => Date.now());

  const noSuchBucket = (name: string) => new AppError('NO_SUCH_BUCKET', 'The specified bucket does not exist.', { details: { bucket: name } });
  const noSuchKey = (key: string) => new AppError('NO_SUCH_KEY', 'The specified key does not exist.', { ec: '0026-00000001', details: { key } });

  async function bucketOrThrow(name: string): Promise<BucketRecord> {
    const b = await meta.getBucket(name);
    if (b === undefined) throw noSuchBucket(name);
    return b;
  }

  async function objectOrThrow(bucket: string, key: string): Promise<ObjectRecord> {
    await bucketOrThrow(bucket);
    const o = await meta.getObject(bucket, key);
    if (o === undefined) throw noSuchKey(key);
    return o;
  }

  function processable(rec: ObjectRecord): ObjectRecord {
    if (rec.size > deps.maxProcessBytes) {
      throw new AppError('IMAGE_TOO_LARGE', `The object is larger than the ${deps.maxProcessBytes}-byte image processing limit.`);
    }
    return rec;
  }

  async function freeBlobs(ids: Iterable<string | undefined>): Promise<void> {
    for (const id of ids) {
      // A blob can be shared only transiently; check before removing so nothing live is lost.
      if (id !== undefined && !(await meta.isBlobReferenced(id))) await blobs.remove(id);
    }
  }

  async function writeBody(body: Readable | Buffer, contentLength: number | undefined, contentMd5: Buffer | undefined) {
    if (contentLength !== undefined && contentLength > deps.maxObjectBytes) {
      throw new AppError('ENTITY_TOO_LARGE', `Your proposed upload exceeds the maximum allowed size of ${deps.maxObjectBytes} bytes.`);
    }
    const res = await blobs.write(body, { maxBytes: deps.maxObjectBytes, ...(contentLength === undefined ? {} : { expectedBytes: contentLength }) });
    if (contentMd5 !== undefined && !contentMd5.equals(res.md5)) {
      await blobs.remove(res.id);
      throw new AppError('INVALID_DIGEST', 'The Content-MD5 you specified did not match what we received.');
    }
    return res;
  }

  const service = {
    checkBucketName,
    checkObjectKey,

    // ---------------------------------------------------------------- buckets
    async createBucket(name: string, acl: BucketAcl, storageClass = 'Standard'): Promise<BucketRecord> {
      checkBucketName(name);
      const rec: BucketRecord = { name, acl, createdAt: now(), storageClass };
      if (!(await meta.createBucket(rec))) {
        throw new AppError('BUCKET_ALREADY_EXISTS', 'The requested bucket name is not available.', { details: { bucket: name } });
      }
      return rec;
    },
    getBucket: bucketOrThrow,
    findBucket: (name: string): Promise<BucketRecord | undefined> => meta.getBucket(name),
    listBuckets: (): Promise<BucketRecord[]> => meta.listBuckets(),
    async setBucketAcl(name: string, acl: BucketAcl): Promise<void> {
      if (!(await meta.setBucketAcl(name, acl))) throw noSuchBucket(name);
    },
    async deleteBucket(name: string): Promise<void> {
      // One port call decides: a separate existence check could race with another deleter.
      const r = await meta.deleteBucketIfEmpty(name);
      if (r === 'no-such-bucket') throw noSuchBucket(name);
      if (r === 'not-empty') throw new AppError('BUCKET_NOT_EMPTY', 'The bucket you tried to delete is not empty.', { details: { bucket: name } });
    },

    // ---------------------------------------------------------------- objects
    async putObject(input: PutInput): Promise<ObjectRecord> {
      await bucketOrThrow(input.bucket);
      checkObjectKey(input.key);
      const res = await writeBody(input.body, input.contentLength, input.contentMd5);
      const rec: ObjectRecord = {
        bucket: input.bucket, key: input.key, blobId: res.id, size: res.size, etag: etagOf(res.md5),
        contentType: input.contentType, headers: input.headers, meta: input.meta, acl: input.acl, type: 'Normal', lastModified: now(),
      };
      let old: string | undefined;
      try {
        old = await meta.putObject(rec);
      } catch (err) {
        await blobs.remove(res.id);
        throw err;
      }
      await freeBlobs([old]);
      return rec;
    },

    /** Metadata of an object, or NO_SUCH_BUCKET / NO_SUCH_KEY. */
    headObject: objectOrThrow,
    findObject: (bucket: string, key: string): Promise<ObjectRecord | undefined> => meta.getObject(bucket, key),

    /** Streams the object's bytes (the record comes from {@link headObject}). */
    openObject(rec: ObjectRecord, range?: { start: number; end: number }): Readable {
      return blobs.read(rec.blobId, range);
    },

    /** Loads a whole object for image processing; refuses objects over the processing cap. */
    async loadObject(bucket: string, key: string): Promise<{ rec: ObjectRecord; data: Buffer }> {
      const rec = processable(await objectOrThrow(bucket, key));
      return { rec, data: await blobs.readAll(rec.blobId) };
    },

    /**
     * The object `rec` (from {@link headObject}) as the engine's source: its blob file where the
     * store keeps blobs as local files (libvips reads it; the bytes never enter the JavaScript
     * heap), else its bytes, after `reserve` (admission control's source hold) was given their
     * size. The source is exactly the version `rec` describes. Refuses objects over the processing
     * cap.
     */
    async openImage(rec: ObjectRecord, reserve?: (bytes: number) => Promise<void>): Promise<EncodedImage> {
      processable(rec);
      if (blobs.localPath !== undefined) return { path: blobs.localPath(rec.blobId), size: rec.size };
      await reserve?.(rec.size);
      return blobs.readAll(rec.blobId);
    },

    async deleteObject(bucket: string, key: string): Promise<void> {
      await bucketOrThrow(bucket);
      await freeBlobs([await meta.deleteObject(bucket, key)]);
    },

    /** DeleteMultipleObjects: returns the keys reported as deleted (OSS reports missing keys too). */
    async deleteObjects(bucket: string, keys: readonly string[]): Promise<string[]> {
      await bucketOrThrow(bucket);
      for (const key of keys) await freeBlobs([await meta.deleteObject(bucket, key)]);
      return [...keys];
    },

    async setObjectAcl(bucket: string, key: string, acl: ObjectAcl): Promise<void> {
      await bucketOrThrow(bucket);
      if (!(await meta.setObjectAcl(bucket, key, acl))) throw noSuchKey(key);
    },

    async copyObject(
      src: { bucket: string; key: string },
      dst: { bucket: string; key: string },
      replace: { contentType: string; headers: Record<string, string>; meta: Record<string, string> } | undefined,
      acl: ObjectAcl,
    ): Promise<ObjectRecord> {
      let from = await objectOrThrow(src.bucket, src.key);
      await bucketOrThrow(dst.bucket);
      checkObjectKey(dst.key);
      if (src.bucket === dst.bucket && src.key === dst.key) {
        // In-place copy only rewrites metadata (OSS uses this to change headers). Conditional on the
        // blob read above so a concurrent overwrite is never rolled back to a freed blob; on a lost
        // race, re-read and apply to the new bytes.
        for (;;) {
          const base = replace ?? { contentType: from.contentType, headers: from.headers, meta: from.meta };
          const rec: ObjectRecord = { ...from, ...base, acl, lastModified: now() };
          if (await meta.putObjectIf(rec, from.blobId)) return rec;
          from = await objectOrThrow(src.bucket, src.key);
        }
      }
      const base = replace ?? { contentType: from.contentType, headers: from.headers, meta: from.meta };
      const res = await blobs.write({ concat: [from.blobId] });
      const rec: ObjectRecord = {
        bucket: dst.bucket, key: dst.key, blobId: res.id, size: res.size, etag: from.etag, ...base, acl,
        type: from.type, lastModified: now(),
      };
      const old = await meta.putObject(rec);
      await freeBlobs([old]);
      return rec;
    },

    /** AppendObject: `position` must equal the current length (0 creates the object). */
    async appendObject(input: PutInput & { position: number }): Promise<ObjectRecord> {
      await bucketOrThrow(input.bucket);
      checkObjectKey(input.key);
      const cur = await meta.getObject(input.bucket, input.key);
      if (cur !== undefined && cur.type !== 'Appendable') throw new AppError('OBJECT_NOT_APPENDABLE', 'The object is not appendable.');
      const length = cur?.size ?? 0;
      if (input.position !== length) {
        throw new AppError('POSITION_NOT_EQUAL_TO_LENGTH', 'Position is not equal to file length.', { details: { length } });
      }
      const part = await writeBody(input.body, input.contentLength, input.contentMd5);
      let whole = part;
      if (cur !== undefined) {
        whole = await blobs.write({ concat: [cur.blobId, part.id] });
        await blobs.remove(part.id);
      }
      const rec: ObjectRecord = cur === undefined
        ? { bucket: input.bucket, key: input.key, blobId: whole.id, size: whole.size, etag: etagOf(whole.md5), contentType: input.contentType,
            headers: input.headers, meta: input.meta, acl: input.acl, type: 'Appendable', lastModified: now() }
        : { ...cur, blobId: whole.id, size: whole.size, etag: etagOf(whole.md5), lastModified: now() };
      if (!(await meta.putObjectIf(rec, cur?.blobId))) {
        await blobs.remove(whole.id);
        throw new AppError('POSITION_NOT_EQUAL_TO_LENGTH', 'Position is not equal to file length.');
      }
      await freeBlobs([cur?.blobId]);
      return rec;
    },

    async listObjects(bucket: string, q: ListInput): Promise<ListOutput> {
      await bucketOrThrow(bucket);
      const objects: ObjectRecord[] = [];
      const prefixes: string[] = [];
      let after = q.after;
      let last: string | undefined;
      let lastPrefix: string | undefined;
      const batch = Math.max(100, q.maxKeys + 1);
      for (;;) {
        const rows = await meta.listObjects({ bucket, prefix: q.prefix, after, limit: batch });
        for (const row of rows) {
          let item: { key?: ObjectRecord; prefix?: string };
          if (q.delimiter !== '') {
            const i = row.key.indexOf(q.delimiter, q.prefix.length);
            if (i >= 0) {
              const cp = row.key.slice(0, i + q.delimiter.length);
              // Skip keys rolled into a prefix already returned (or named by the marker).
              if (cp === lastPrefix || cp <= q.after) continue;
              item = { prefix: cp };
            } else item = { key: row };
          } else item = { key: row };
          if (objects.length + prefixes.length >= q.maxKeys) return { objects, prefixes, truncated: true, next: last };
          if (item.prefix !== undefined) {
            prefixes.push(item.prefix);
            lastPrefix = item.prefix;
            last = item.prefix;
          } else if (item.key !== undefined) {
            objects.push(item.key);
            last = item.key.key;
          }
        }
        if (rows.length < batch) return { objects, prefixes, truncated: false, next: undefined };
        after = rows[rows.length - 1]!.key;
      }
    },

    // ---------------------------------------------------------------- multipart
    async initiateUpload(bucket: string, key: string, template: UploadRecord['template']): Promise<UploadRecord> {
      await bucketOrThrow(bucket);
      checkObjectKey(key);
      const rec: UploadRecord = { id: randomBytes(16).toString('hex').toUpperCase(), bucket, key, initiated: now(), template };
      await meta.createUpload(rec);
      return rec;
    },

    async uploadOrThrow(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
      await bucketOrThrow(bucket);
      const u = await meta.getUpload(uploadId);
      if (u === undefined || u.bucket !== bucket || u.key !== key) {
        throw new AppError('NO_SUCH_UPLOAD', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
      }
      return u;
    },

    async uploadPart(
      bucket: string, key: string, uploadId: string, partNumber: number,
      body: Readable | Buffer, contentLength: number | undefined, contentMd5: Buffer | undefined,
    ): Promise<PartRecord> {
      await service.uploadOrThrow(bucket, key, uploadId);
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
        throw new AppError('INVALID_ARGUMENT', `Expected integer between 1 and 10000 for partNumber but received ${partNumber}`);
      }
      const res = await writeBody(body, contentLength, contentMd5);
      const part: PartRecord = { uploadId, partNumber, blobId: res.id, size: res.size, etag: etagOf(res.md5), lastModified: now() };
      // One port call checks the upload still exists and records the part (an abort or completion
      // could land between a separate check and write).
      const put = await meta.putPart(part);
      if (!put.ok) {
        // Aborted/completed while we were receiving: drop the bytes.
        await blobs.remove(res.id);
        throw new AppError('NO_SUCH_UPLOAD', 'The specified upload does not exist.');
      }
      await freeBlobs([put.replaced]);
      return part;
    },

    async listParts(bucket: string, key: string, uploadId: string): Promise<PartRecord[]> {
      await service.uploadOrThrow(bucket, key, uploadId);
      return meta.listParts(uploadId);
    },

    async listUploads(bucket: string): Promise<UploadRecord[]> {
      await bucketOrThrow(bucket);
      return meta.listUploads(bucket);
    },

    async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
      await service.uploadOrThrow(bucket, key, uploadId);
      await freeBlobs(await meta.deleteUpload(uploadId));
    },

    /** CompleteMultipartUpload with the client's part list (ascending, ETags must match). */
    async completeUpload(bucket: string, key: string, uploadId: string, list: readonly { partNumber: number; etag: string }[]): Promise<ObjectRecord> {
      const up = await service.uploadOrThrow(bucket, key, uploadId);
      if (list.length === 0) throw new AppError('MALFORMED_XML', 'The CompleteMultipartUpload body lists no parts.');
      const stored = new Map((await meta.listParts(uploadId)).map((p) => [p.partNumber, p]));
      const chosen: PartRecord[] = [];
      let prev = 0;
      for (const item of list) {
        if (item.partNumber <= prev) throw new AppError('INVALID_PART_ORDER', 'The list of parts was not in ascending order.');
        prev = item.partNumber;
        const p = stored.get(item.partNumber);
        if (p === undefined || !sameEtag(p.etag, item.etag)) {
          throw new AppError('INVALID_PART', `One or more of the specified parts could not be found or the specified ETag did not match (part ${item.partNumber}).`);
        }
        chosen.push(p);
      }
      const whole = await blobs.write({ concat: chosen.map((p) => p.blobId) });
      // OSS multipart ETag: MD5 of the concatenated binary part MD5s, then "-<count>".
      const md5s = Buffer.concat(chosen.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')));
      const etag = `"${createHash('md5').update(md5s).digest('hex').toUpperCase()}-${chosen.length}"`;
      const rec: ObjectRecord = {
        bucket, key, blobId: whole.id, size: whole.size, etag, ...up.template, type: 'Multipart', lastModified: now(),
      };
      // Conditional on the parts assembled above: a part re-uploaded meanwhile fails the completion
      // instead of committing an object built from the replaced bytes.
      const freed = await meta.completeUpload(uploadId, rec, new Map(chosen.map((p) => [p.partNumber, p.blobId])));
      if (freed === undefined) {
        await blobs.remove(whole.id);
        if ((await meta.getUpload(uploadId)) !== undefined) {
          throw new AppError('INVALID_PART', 'One or more of the specified parts was replaced while the upload was being completed.');
        }
        throw new AppError('NO_SUCH_UPLOAD', 'The specified upload does not exist.');
      }
      await freeBlobs(freed);
      return rec;
    },

    // ---------------------------------------------------------------- styles
    async putStyle(bucket: string, name: string, content: string): Promise<void> {
      await bucketOrThrow(bucket);
      if (!STYLE_NAME_RE.test(name)) {
        throw new AppError('INVALID_ARGUMENT', `The value: ${name} of parameter: stylename is invalid.`, { ec: '0017-00000251' });
      }
      if (!content.startsWith('image/') || STYLE_FORBIDDEN.test(content) || content.length > 4096) {
        throw new AppError('BAD_REQUEST', 'Style content is invalid.', { ec: '0017-00000253' });
      }
      const t = now();
      // The limit is checked in the same port call as the write (two concurrent puts cannot both
      // take the last slot); a replaced style keeps its createdAt.
      if (!(await meta.putStyle({ bucket, name, content, createdAt: t, modifiedAt: t }, MAX_STYLES_PER_BUCKET))) {
        throw new AppError('INVALID_ARGUMENT', `A bucket can hold at most ${MAX_STYLES_PER_BUCKET} styles.`);
      }
    },
    async getStyle(bucket: string, name: string): Promise<StyleRecord> {
      await bucketOrThrow(bucket);
      const s = await meta.getStyle(bucket, name);
      if (s === undefined) throw new AppError('NO_SUCH_STYLE', 'The specified style does not exist.');
      return s;
    },
    findStyle: (bucket: string, name: string): Promise<StyleRecord | undefined> => meta.getStyle(bucket, name),
    async listStyles(bucket: string): Promise<StyleRecord[]> {
      await bucketOrThrow(bucket);
      return meta.listStyles(bucket);
    },
    async deleteStyle(bucket: string, name: string): Promise<void> {
      await bucketOrThrow(bucket);
      await meta.deleteStyle(bucket, name);
    },

    // ---------------------------------------------------------------- maintenance
    /** Removes blobs no metadata row refers to (left by a crash between blob write and commit). */
    async collectGarbage(): Promise<number> {
      let n = 0;
      for await (const id of blobs.list()) {
        if (!(await meta.isBlobReferenced(id))) {
          await blobs.remove(id);
          n++;
        }
      }
      return n;
    },
  };
  return service;
}

/** The object service as built by {@link createObjectService}. */
export type ObjectService = ReturnType<typeof createObjectService>;
