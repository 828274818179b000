/** The real `ali-oss` package (CommonJS, untyped) loaded for the integration tests. */
import { createRequire } from 'node:module';
import { TEST_AK, TEST_SK } from '../helpers/server.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** ali-oss ships no types; the tests use its documented API loosely typed. */
export type OssClient = Record<string, any>;

const OSS = createRequire(import.meta.url)('ali-oss') as new (opts: Record<string, unknown>) => OssClient;

/** A client with the test credentials; `opts` are ali-oss options (endpoint, cname, sldEnable, …). */
export function client(opts: Record<string, unknown>): OssClient {
  return new OSS({ accessKeyId: TEST_AK, accessKeySecret: TEST_SK, timeout: 120000, ...opts });
}

/** Sends a plain signed bucket-level request through the SDK's own signer (for APIs it lacks). */
export async function bucketRequest(
  c: OssClient, method: string, bucket: string, subres: Record<string, string>, content?: string, successStatuses = [200, 204],
): Promise<{ status: number; data: Buffer; headers: Record<string, string> }> {
  const params = c['_bucketRequestParams'](method, bucket, subres, {});
  if (content !== undefined) {
    params.content = Buffer.from(content);
    params.mime = 'xml';
  }
  params.successStatuses = successStatuses;
  const res = await c['request'](params);
  return { status: res.status, data: res.data as Buffer, headers: res.res.headers };
}
