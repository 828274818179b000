/**
 * S3 TaskInputs (scale-out mode): one object per name under `<prefix>task-inputs/` of the shared
 * bucket, so a task created on one node is read by the worker that runs it. A PutObject is atomic
 * (readers see the whole object or none). The blob store lists and collects only `<prefix>blobs/`,
 * so nothing else deletes these objects.
 *
 * list() serves the start-up removal of orphans and, on a shared bucket, must not offer an input
 * another node has just written and not yet submitted: it lists only objects older than
 * `minOrphanAgeMs` (default 10 minutes).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TaskInputs } from '../../ports/task-inputs.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new RangeError(`invalid task input name ${JSON.stringify(name)}`);
  return name;
}

export function isS3NotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export interface S3TaskInputsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix?: string;
  readonly minOrphanAgeMs?: number;
  readonly now?: () => number;
}

export function createS3TaskInputs(opts: S3TaskInputsOptions): TaskInputs {
  const { client, bucket } = opts;
  const base = `${opts.prefix ?? ''}task-inputs/`;
  const minAge = opts.minOrphanAgeMs ?? 10 * 60 * 1000;
  const now = opts.now ?? Date.now;
  return {
    async put(name, bytes) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: base + checkName(name), Body: bytes, ContentLength: bytes.length }));
    },
    async get(name) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: base + checkName(name) }));
        return Buffer.from(await res.Body!.transformToByteArray());
      } catch (err) {
        if (isS3NotFound(err)) return undefined;
        throw err;
      }
    },
    async remove(name) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: base + checkName(name) }));
    },
    async list() {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, ...(token === undefined ? {} : { ContinuationToken: token }) }));
        for (const o of page.Contents ?? []) {
          const name = (o.Key ?? '').slice(base.length);
          if (NAME_RE.test(name) && (o.LastModified?.getTime() ?? 0) <= now() - minAge) names.push(name);
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return names;
    },
  };
}
