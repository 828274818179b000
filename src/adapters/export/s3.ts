/**
 * ResultExporter for S3 and S3-compatible services (@aws-sdk/client-s3). A custom `endpoint`
 * uses path-style addressing (what MinIO, Ceph, s3rver and most compatible servers expect);
 * without one the AWS regional endpoint is used. The endpoint passes the export address policy
 * (endpoint-guard.ts) before any request and on every connection.
 */
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { AppError } from '../../core/errors.js';
import type { ExportedObject, ExportObject, ResultExporter, S3ExportTarget } from '../../ports/result-exporter.js';
import { createEndpointGuard, guardRefusal, type EndpointGuardOptions } from './endpoint-guard.js';

export interface S3ExporterOptions extends EndpointGuardOptions {
  /** Per-request time budget (default 30 s). */
  readonly timeoutMs?: number;
}

const encodeKey = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

export function createS3Exporter(opts: S3ExporterOptions = {}): ResultExporter<S3ExportTarget> {
  const guard = createEndpointGuard(opts);
  return {
    async export(target: S3ExportTarget, object: ExportObject): Promise<ExportedObject> {
      if (!/^[a-z0-9-]{1,63}$/.test(target.region)) throw new AppError('EXPORT_FAILED', 'The S3 region is not valid.');
      const custom = target.endpoint !== undefined;
      const endpoint = target.endpoint ?? `https://s3.${target.region}.amazonaws.com`;
      const guarded = guard.guard(endpoint);
      const base = guarded.url.href.replace(/\/+$/, '');
      const client = new S3Client({
        region: target.region,
        // S3-compatible servers: path-style, and checksums only where S3 requires them (many
        // compatible servers reject the newer flexible-checksum headers).
        ...(custom ? { endpoint: base, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
        credentials: {
          accessKeyId: target.accessKeyId,
          secretAccessKey: target.secretAccessKey,
          ...(target.sessionToken === undefined ? {} : { sessionToken: target.sessionToken }),
        },
        maxAttempts: 2,
        requestHandler: { httpAgent: guarded.httpAgent, httpsAgent: guarded.httpsAgent, requestTimeout: opts.timeoutMs ?? 30_000, connectionTimeout: 10_000 },
      });
      try {
        await client.send(new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          Body: object.bytes,
          ContentType: object.contentType,
          ContentLength: object.bytes.length,
          ...(target.acl === undefined ? {} : { ACL: target.acl }),
        }));
      } catch (err) {
        const refused = guardRefusal(err);
        if (refused !== undefined) throw refused;
        if (err instanceof S3ServiceException) {
          throw new AppError('EXPORT_FAILED', `The S3 upload failed: ${err.name} (HTTP ${err.$metadata.httpStatusCode ?? '?'}).`, { cause: err });
        }
        throw new AppError('EXPORT_FAILED', 'The S3 endpoint could not be reached.', { cause: err });
      } finally {
        client.destroy();
        guarded.destroy();
      }
      const url = custom
        ? `${base}/${encodeURIComponent(target.bucket)}/${encodeKey(target.key)}`
        : `https://${target.bucket}.s3.${target.region}.amazonaws.com/${encodeKey(target.key)}`;
      return { url };
    },
  };
}
