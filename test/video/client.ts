/** A minimal V1-signed OSS client over undici for the video tests (path-style, loopback only). */
import { request } from 'undici';
import { v1Sign, v1StringToSign } from '../../src/http/oss/auth.js';
import { TEST_AK, TEST_SK } from '../helpers/server.js';

export interface Res {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
  /** `<Code>` of an OSS XML error. */
  readonly code: string | undefined;
}

/** Sends one request; `query` pairs are sent and signed as given. Unsigned when `anonymous`. */
export async function oss(
  base: string, method: string, bucket: string, key: string, opts: { query?: [string, string | undefined][]; body?: Buffer | string; anonymous?: boolean; contentType?: string } = {},
): Promise<Res> {
  const query = opts.query ?? [];
  const date = new Date().toUTCString();
  const headers: Record<string, string> = { date };
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  if (!opts.anonymous) {
    const sts = v1StringToSign({ method, bucket, key, headers, query }, date);
    headers['authorization'] = `OSS ${TEST_AK}:${v1Sign(TEST_SK, sts)}`;
  }
  const qs = query.map(([n, v]) => (v === undefined ? encodeURIComponent(n) : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)).join('&');
  const path = bucket === '' ? '/' : key === '' ? `/${bucket}` : `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const res = await request(`${base}${path}${qs === '' ? '' : `?${qs}`}`, { method: method as 'GET', headers, body: opts.body });
  const body = Buffer.from(await res.body.arrayBuffer());
  const text = body.toString('utf8');
  return { status: res.statusCode, headers: res.headers, body, text, json: () => JSON.parse(text), code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] };
}
