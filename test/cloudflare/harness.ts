/**
 * Test harness for the Cloudflare route: the real HTTP app (buildServer) with a real fs BlobStore
 * and SQLite metadata in a temp dir, the real engine, and synthetic sources whose pixels encode
 * their coordinates so crop offsets can be read back from the output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createObjectService, type ObjectService } from '../../src/app/oss-objects.js';
import { DEFAULT_CF_CONFIG, transformCloudflare, type CfTransformConfig } from '../../src/app/cloudflare-transform.js';
import type { SourceFetcher } from '../../src/ports/source-fetcher.js';
import type { FaceDetector } from '../../src/ports/face-detector.js';
import { buildServer } from '../../src/http/server.js';
import type { OssRouteDeps } from '../../src/http/oss/routes.js';
import type { BucketAcl } from '../../src/ports/meta-store.js';

export interface Harness {
  readonly app: FastifyInstance;
  readonly objects: ObjectService;
  put(bucket: string, key: string, data: Buffer, opts?: { acl?: BucketAcl; headers?: Record<string, string>; contentType?: string }): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(config: Partial<CfTransformConfig> = {}, fetcher?: SourceFetcher, prefix?: string, faces?: FaceDetector): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-cf-'));
  const blobs = await createFsBlobStore({ dir });
  const meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: 64 << 20, maxProcessBytes: 64 << 20 });
  const deps = { objects, fetcher, faces, config: { ...DEFAULT_CF_CONFIG, ...config } };
  const app = buildServer({
    oss: ossRoutesForTests(objects),
    cloudflare: { ...(prefix === undefined ? {} : { prefix }), transform: (req) => transformCloudflare(req, deps) },
  });
  await app.ready();
  return {
    app,
    objects,
    async put(bucket, key, data, opts = {}) {
      if (await objects.findBucket(bucket) === undefined) await objects.createBucket(bucket, opts.acl ?? 'public-read');
      await objects.putObject({ bucket, key, body: data, contentType: opts.contentType ?? 'application/octet-stream', headers: opts.headers ?? {}, meta: {}, acl: 'default' });
    },
    async close() {
      await app.close();
      await meta.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A W×H PNG whose red channel encodes x (0 at the left edge … 255 at the right) and green
 * encodes y; blue is 0 everywhere (pad bands are white, so blue tells bands from image).
 */
export async function coordinatePng(W: number, H: number, opts: { alpha?: boolean } = {}): Promise<Buffer> {
  const ch = opts.alpha ? 4 : 3;
  const data = Buffer.alloc(W * H * ch);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * ch;
      data[i] = Math.round((x * 255) / Math.max(1, W - 1));
      data[i + 1] = Math.round((y * 255) / Math.max(1, H - 1));
      data[i + 2] = 0;
      if (ch === 4) data[i + 3] = 255;
    }
  }
  return sharp(data, { raw: { width: W, height: H, channels: ch } }).png({ compressionLevel: 1 }).toBuffer();
}

export interface Decoded {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Buffer;
}

export async function decode(buf: Buffer): Promise<Decoded> {
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

/**
 * Reads back where the output window sits in the scaled source: fits a line through the source
 * coordinate encoded in each interior output column (row) and returns the offset, in scaled-image
 * pixels, of the output's first column (row), plus the scale.
 */
export function readOffset(img: Decoded, axis: 'x' | 'y', sourceSize: number, band: { from: number; to: number } = { from: 0, to: axis === 'x' ? img.height : img.width }): { offset: number; scale: number } {
  const n = axis === 'x' ? img.width : img.height;
  const channel = axis === 'x' ? 0 : 1;
  const margin = Math.min(6, Math.floor(n / 4));
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = margin; i < n - margin; i++) {
    let sum = 0;
    let count = 0;
    for (let j = band.from; j < band.to; j++) {
      const x = axis === 'x' ? i : j;
      const y = axis === 'x' ? j : i;
      sum += img.data[(y * img.width + x) * img.channels + channel] as number;
      count++;
    }
    xs.push(i);
    ys.push(((sum / count) * (sourceSize - 1)) / 255);
  }
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let k = 0; k < xs.length; k++) {
    sxy += ((xs[k] as number) - mx) * ((ys[k] as number) - my);
    sxx += ((xs[k] as number) - mx) ** 2;
  }
  const a = sxy / sxx; // source px per output px = 1 / scale
  const b = my - a * mx; // source coordinate of output pixel 0
  // Pixel-centre convention: src = (out + off + 0.5) / s - 0.5  →  off = (src + 0.5)·s - 0.5 - out.
  const scale = 1 / a;
  return { offset: (b + 0.5) * scale - 0.5, scale };
}

/** OSS route deps for suites that only exercise the Cloudflare routes (no engine, no keys). */
export function ossRoutesForTests(objects: ObjectService): OssRouteDeps {
  return {
    objects,
    transform: async () => { throw new Error('not used'); },
    address: { serviceDomains: [], cname: {}, defaultBucket: '' },
    lookupSecret: () => undefined,
    styleDelimiters: '',
    protectedSources: [],
  };
}
