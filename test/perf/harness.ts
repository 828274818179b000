/**
 * In-process harness for the performance tests: the real composition root (`compose`) on a temp
 * data dir, driven with `app.inject`, plus a minimal OSS V1 signer for the setup requests.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { compose, type Composed } from '../../src/main.js';
import { load } from '../../src/config/schema.js';

const AK = 'perfTestKey';
const SK = 'perfTestSecret';

export interface PerfHarness {
  readonly composed: Composed;
  readonly dataDir: string;
  /** Signed OSS request (V1 header signature). */
  signed(method: string, path: string, body?: Buffer, headers?: Record<string, string>): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>;
  /** Creates a public-read bucket (idempotent enough for tests) and stores `data` at `key`. */
  put(bucket: string, key: string, data: Buffer): Promise<void>;
  get(url: string, headers?: Record<string, string>): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>;
  /** Stops the app; the data dir is removed unless `keep`. */
  close(keep?: boolean): Promise<void>;
}

export async function startPerfHarness(env: Record<string, string> = {}, dataDir?: string): Promise<PerfHarness> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'halftone-perf-'));
  const loaded = load({ HALFTONE_DATA_DIR: dir, HALFTONE_ACCESS_KEY_ID: AK, HALFTONE_ACCESS_KEY_SECRET: SK, ...env });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const composed = await compose(loaded.config, () => undefined);
  await composed.app.ready();
  const buckets = new Set<string>();
  const inject = async (method: string, url: string, headers: Record<string, string>, body?: Buffer) => {
    const res = await composed.app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body }) });
    return { status: res.statusCode, body: res.rawPayload, headers: res.headers as Record<string, unknown> };
  };
  const h: PerfHarness = {
    composed,
    dataDir: dir,
    async signed(method, path, body, headers = {}) {
      const date = new Date().toUTCString();
      const type = headers['content-type'] ?? '';
      const ossHeaders = Object.keys(headers).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${headers[k]}\n`).join('');
      const toSign = `${method}\n\n${type}\n${date}\n${ossHeaders}${path}`;
      const sig = createHmac('sha1', SK).update(toSign).digest('base64');
      return inject(method, path, { ...headers, date, authorization: `OSS ${AK}:${sig}` }, body);
    },
    async put(bucket, key, data) {
      if (!buckets.has(bucket)) {
        const r = await h.signed('PUT', `/${bucket}/`, undefined, { 'x-oss-acl': 'public-read' });
        if (r.status !== 200 && r.status !== 409) throw new Error(`create bucket: ${r.status} ${r.body.toString()}`);
        buckets.add(bucket);
      }
      const r = await h.signed('PUT', `/${bucket}/${key}`, data, { 'content-type': 'image/jpeg' });
      if (r.status !== 200) throw new Error(`put: ${r.status} ${r.body.toString()}`);
    },
    get: (url, headers = {}) => inject('GET', url, headers),
    async close(keep = false) {
      await composed.close();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/**
 * A call of the hosted-images REST API (account `halftone`, the harness's HALFTONE_API_KEYS token
 * `token`): JSON in and out, or a multipart upload of `file`. Returns the status and parsed body.
 */
export async function imagesApi(h: PerfHarness, token: string, method: string, path: string, body?: { json?: unknown; file?: Buffer }): Promise<{ status: number; result: Record<string, unknown> }> {
  const boundary = 'halftone-test-boundary';
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: Buffer | string | undefined;
  if (body?.file !== undefined) {
    headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
    payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      body.file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
  } else if (body?.json !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  }
  const res = await h.composed.app.inject({ method: method as 'GET', url: `/client/v4/accounts/halftone/images${path}`, headers, ...(payload === undefined ? {} : { payload }) });
  return { status: res.statusCode, result: (JSON.parse(res.body) as { result: Record<string, unknown> }).result };
}

/** The value of an unlabelled series in a /metrics exposition, or undefined. */
export function seriesValue(exposition: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(exposition);
  return m === null ? undefined : Number(m[1]);
}

/** Polls `check` every 10 ms for up to 5 s; fails naming `what` when it never holds. */
export async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A W×H JPEG with structure (gradient plus noise), deterministic. */
export async function photo(W: number, H: number, seed = 1): Promise<Buffer> {
  const noise = await sharp({ create: { width: W, height: H, channels: 3, background: 'black', noise: { type: 'gaussian', mean: 128 + seed, sigma: 40 } } }).png().toBuffer();
  return sharp(noise).blur(2).jpeg({ quality: 90 }).toBuffer();
}

/**
 * A loopback origin that sends `body` with its Content-Length but stalls after the first 1,000
 * bytes: the rest of the path `/<name>`'s body comes once the test calls `open(name)`. `asked`
 * lists the names requested, in order.
 */
export interface StallingOrigin {
  readonly url: string;
  readonly asked: readonly string[];
  open(name: string): void;
  /** Ends every stalled body (before the harness closes: it waits for the downloads). */
  release(): void;
  /** Stops the server. */
  close(): Promise<void>;
}

export async function startStallingOrigin(body: Buffer): Promise<StallingOrigin> {
  const gates = new Map<string, () => void>();
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const name = (req.url ?? '').slice(1);
    asked.push(name);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) });
    res.write(body.subarray(0, 1000));
    gates.set(name, () => res.end(body.subarray(1000)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked,
    open(name) {
      const gate = gates.get(name);
      if (gate === undefined) throw new Error(`the origin was not asked for ${name}`);
      gate();
    },
    release() {
      for (const open of gates.values()) open();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
