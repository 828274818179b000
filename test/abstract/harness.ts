/**
 * Test harness for the Abstract-style API: the real HTTP app (buildServer) with the real use case,
 * engine and SSRF-safe fetcher, the test-only in-memory ResultFiles, listening on loopback; plus a
 * loopback origin serving test images, and synthetic sources.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/http/server.js';
import type { AbstractRouteDeps } from '../../src/http/abstract/routes.js';
import { optimiseAbstract, type AbstractDeps } from '../../src/app/abstract-optimise.js';
import { createHttpFetcher } from '../../src/adapters/source/http.js';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createObjectService } from '../../src/app/oss-objects.js';
import { ossRoutesForTests } from '../cloudflare/harness.js';
import { createMemoryResultFiles, type MemoryResultFiles } from './memory-results.js';

export const KEY = '0123456789abcdef0123456789abcdef';

export interface Origin {
  readonly url: string;
  put(path: string, body: Buffer, contentType?: string): void;
  close(): Promise<void>;
}

/** A loopback HTTP server answering the bodies it was given (404 otherwise). */
export async function startOrigin(): Promise<Origin> {
  const bodies = new Map<string, { body: Buffer; type: string }>();
  const server: Server = createServer((req, res) => {
    const b = bodies.get((req.url ?? '/').split('?')[0] as string);
    if (b === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': b.type, 'content-length': b.body.length }).end(b.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    put: (path, body, type = 'image/jpeg') => { bodies.set(path, { body, type }); },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface Harness {
  readonly app: FastifyInstance;
  /** `http://127.0.0.1:<port>` of the listening app. */
  readonly url: string;
  readonly results: MemoryResultFiles;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Origins the fetcher may reach although private (loopback test origins). */
  readonly allowedOrigins?: readonly string[];
  readonly deps?: Partial<AbstractDeps>;
  readonly routes?: Partial<AbstractRouteDeps>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-abstract-'));
  const blobs = await createFsBlobStore({ dir });
  const meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  const fetcher = createHttpFetcher({ version: 'test', allowedOrigins: [...(opts.allowedOrigins ?? [])], anyPublicOrigin: true });
  const results = createMemoryResultFiles();
  const deps: AbstractDeps = { fetcher, resultFiles: results, ...opts.deps };
  const errors: unknown[] = [];
  const app = buildServer({
    oss: ossRoutesForTests(objects),
    abstract: {
      optimise: (source, options) => optimiseAbstract(source, options, deps),
      apiKeys: [KEY, 'second-key'],
      onInternalError: (err) => errors.push(err),
      ...opts.routes,
    },
  });
  results.register(app);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url: address,
    results,
    async close() {
      await app.close();
      await fetcher.close();
      await meta.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A W×H image whose pixels encode their coordinates exactly: R = x mod 256, G = y mod 256,
 * B = 16·⌊x/256⌋ + ⌊y/256⌋ (PNG, lossless) — crop offsets can be read back from any pixel.
 */
export async function coordinates(W: number, H: number): Promise<Buffer> {
  const data = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      data[i] = x % 256;
      data[i + 1] = y % 256;
      data[i + 2] = 16 * Math.floor(x / 256) + Math.floor(y / 256);
    }
  }
  return sharp(data, { raw: { width: W, height: H, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

/** The coordinates a pixel of a {@link coordinates} image encodes. */
export function decodeCoordinate(r: number, g: number, b: number): { x: number; y: number } {
  return { x: Math.floor(b / 16) * 256 + r, y: (b % 16) * 256 + g };
}

/** A photo-like JPEG (smooth gradients plus noise) of W×H at quality 92 — stands in for dog.jpg. */
export async function photo(W: number, H: number, quality = 92): Promise<Buffer> {
  const data = Buffer.alloc(W * H * 3);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const n = (rnd() - 0.5) * 24;
      data[i] = Math.max(0, Math.min(255, (x * 255) / W + n));
      data[i + 1] = Math.max(0, Math.min(255, (y * 255) / H + n));
      data[i + 2] = Math.max(0, Math.min(255, 128 + 100 * Math.sin((x + y) / 40) + n));
    }
  }
  return sharp(data, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality, mozjpeg: false, optimiseCoding: false }).toBuffer();
}

/** POSTs JSON to the harness. */
export async function postJson(h: Harness, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** POSTs a multipart upload (image + data) to the harness. */
export async function postUpload(h: Harness, image: Buffer | undefined, data: unknown, fileName = 'dog.jpg', path = '/v1/upload/'): Promise<{ status: number; json: any; headers: Headers }> {
  const form = new FormData();
  if (data !== undefined) form.append('data', typeof data === 'string' ? data : JSON.stringify(data));
  if (image !== undefined) form.append('image', new Blob([image]), fileName);
  const res = await fetch(`${h.url}${path}`, { method: 'POST', body: form });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** Downloads a result URL. */
export async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
