/**
 * S3 ResultFiles (+ ResultReader) for scale-out mode: one object per result,
 * `<prefix>results/<id>`, in the shared bucket, so a result published by a worker is served by
 * every node. One PutObject is atomic: a reader sees the whole result or none. The file name,
 * content type and expiry are object metadata. The blob store lists and collects only
 * `<prefix>blobs/`, so only this module's sweep deletes results, and only expired ones.
 *
 * URLs and ids are those of the fs adapter (`/results/<id>/<name>?expires=&signature=`, the id
 * starting with the expiry in base-36 seconds). The signing secret must be the same on every
 * node: it is given by the caller (main.ts derives it from the shared access key secret).
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PublishOptions, PublishedResult, ResultFiles } from '../../ports/result-files.js';
import type { ResultLookup, ResultReader } from '../../ports/result-reader.js';
import { safeFileName } from './fs.js';

const ID_RE = /^([0-9a-z]{1,12})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface S3ResultFilesOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix?: string;
  /** HMAC key of the result URLs; the same on every node. */
  readonly secret: Buffer;
  /** How often expired results are deleted (default 60 s); a sweep also runs at creation. */
  readonly sweepIntervalMs?: number;
  readonly now?: () => number;
}

export interface S3ResultFiles extends ResultFiles, ResultReader {
  sweep(): Promise<number>;
  close(): void;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export async function createS3ResultFiles(opts: S3ResultFilesOptions): Promise<S3ResultFiles> {
  const { client, bucket, secret } = opts;
  const base = `${opts.prefix ?? ''}results/`;
  const now = opts.now ?? Date.now;
  const sign = (id: string, name: string, expires: string): string =>
    createHmac('sha256', secret).update(`${id}\n${name}\n${expires}`).digest('base64url');

  async function sweep(): Promise<number> {
    let removed = 0;
    let token: string | undefined;
    const nowSec = now() / 1000;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      for (const o of page.Contents ?? []) {
        const m = ID_RE.exec((o.Key ?? '').slice(base.length));
        if (m !== null && parseInt(m[1] as string, 36) <= nowSec) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
          removed++;
        }
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return removed;
  }

  await sweep();
  const timer = setInterval(() => void sweep().catch(() => 0), opts.sweepIntervalMs ?? 60_000);
  timer.unref();

  return {
    async publish(bytes: Buffer, o: PublishOptions): Promise<PublishedResult> {
      if (!Number.isFinite(o.ttlMs) || o.ttlMs <= 0) throw new RangeError(`ttlMs must be positive, got ${o.ttlMs}`);
      const expiresSec = Math.ceil((now() + o.ttlMs) / 1000);
      const id = `${expiresSec.toString(36)}-${randomUUID()}`;
      const name = safeFileName(o.fileName);
      await client.send(new PutObjectCommand({
        Bucket: bucket, Key: base + id, Body: bytes, ContentLength: bytes.length, ContentType: o.contentType,
        Metadata: { name, expires: String(expiresSec) },
      }));
      const expires = String(expiresSec);
      return {
        id,
        path: `/results/${id}/${encodeURIComponent(name)}?expires=${expires}&signature=${sign(id, name, expires)}`,
        expiresAt: expiresSec * 1000,
        size: bytes.length,
      };
    },

    async remove(id: string): Promise<void> {
      if (!ID_RE.test(id)) return;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: base + id }));
    },

    async open(id, name, expires, signature): Promise<ResultLookup> {
      if (expires === undefined || signature === undefined || !/^\d{1,12}$/.test(expires)) return { kind: 'forbidden' };
      const want = Buffer.from(sign(id, name, expires));
      const got = Buffer.from(signature);
      if (got.length !== want.length || !timingSafeEqual(got, want)) return { kind: 'forbidden' };
      if (!ID_RE.test(id) || !NAME_RE.test(name)) return { kind: 'gone' };
      if (Number(expires) * 1000 <= now()) return { kind: 'gone' };
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: base + id }));
        const expiresAt = Number(res.Metadata?.['expires'] ?? 0) * 1000;
        const stream = res.Body as Readable;
        if (res.Metadata?.['name'] !== name || expiresAt <= now()) {
          stream.destroy();
          return { kind: 'gone' };
        }
        return { kind: 'ok', stream, size: res.ContentLength ?? 0, contentType: res.ContentType ?? 'application/octet-stream', fileName: name, expiresAt };
      } catch (err) {
        if (isNotFound(err)) return { kind: 'gone' };
        throw err;
      }
    },

    sweep,
    close() {
      clearInterval(timer);
    },
  };
}
