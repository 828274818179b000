/**
 * Composition root: config → adapters → app → http. `npm start` runs this file (built to
 * dist/main.js); it is the only module that sees every layer.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { createFsBlobStore } from './adapters/storage/fs.js';
import { createSqliteMetaStore } from './adapters/meta/sqlite.js';
import { createObjectService } from './app/oss-objects.js';
import type { TransformDeps, TransformResult } from './app/transform-image.js';
import { resolveCredentials } from './config/credentials.js';
import { load, type Config } from './config/schema.js';
import { buildServer } from './http/server.js';
import { createHttpFetcher } from './adapters/source/http.js';
import { createCachingFetcher } from './adapters/source/cache.js';
import { createFaceApiDetector } from './adapters/faces/face-api.js';
import type { CfRequest, CfResult, CfTransformDeps } from './app/cloudflare-transform.js';
import { createHostedImages } from './app/hosted-images.js';
import { createEmbeddedQueue } from './adapters/queue/embedded.js';
import type { JobRecord } from './ports/job-queue.js';
import { createS3BlobStore } from './adapters/storage/s3.js';
import { createBullMQQueue } from './adapters/queue/bullmq.js';

/** A composed, not yet listening, application. */
export interface Composed {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly accessKeyId: string;
  close(): Promise<void>;
}

/** The engine is loaded on first use, so the object API starts fast and without sharp. */
async function transform(source: Buffer, process: string, deps: TransformDeps): Promise<TransformResult> {
  const mod = await import('./app/transform-image.js');
  return mod.transformOss(source, process, deps);
}

/** Builds everything from a loaded config. */
export async function compose(config: Config, log: (line: string) => void = console.log): Promise<Composed> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const creds = await resolveCredentials(dataDir, config.accessKeyId, config.accessKeySecret);
  if (creds.generated) {
    log(`halftone: generated an access key pair (saved in ${join(dataDir, 'credentials.json')}; shown only once):`);
    log(`  AccessKeyId:     ${creds.accessKeyId}`);
    log(`  AccessKeySecret: ${creds.accessKeySecret}`);
  }
  // Scale-out mode: object bytes in an S3-compatible bucket shared by every node (docs/deploy.md).
  const s3 = config.storage === 's3'
    ? createS3BlobStore({
        endpoint: config.s3Endpoint, region: config.s3Region, bucket: config.s3Bucket, prefix: config.s3Prefix,
        ...(config.s3AccessKeyId === undefined || config.s3SecretAccessKey === undefined ? {} : { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey }),
        forcePathStyle: config.s3ForcePathStyle === 'true',
      })
    : undefined;
  const blobs = s3 ?? (await createFsBlobStore({ dir: dataDir }));
  const meta = createSqliteMetaStore({ file: join(dataDir, 'meta.sqlite') });
  meta.putAccessKey({ id: creds.accessKeyId, secret: creds.accessKeySecret });
  const objects = createObjectService({ blobs, meta, maxObjectBytes: config.maxObjectBytes, maxProcessBytes: config.maxProcessBytes });
  // Blobs written before a crash but never committed are unreachable: remove them before serving.
  // Not on a shared bucket: another node's metadata (or its write in flight) may refer to them.
  const collected = s3 ? 0 : await objects.collectGarbage();
  if (collected > 0) log(`halftone: removed ${collected} unreferenced blob(s) left by an interrupted write`);
  // Remote sources (Cloudflare absolute URLs): SSRF-safe fetcher behind an HTTP cache of originals.
  const fetcher = createCachingFetcher(
    createHttpFetcher({ version: '0.1.0', allowedOrigins: config.allowedOrigins, anyPublicOrigin: config.anyPublicOrigin === 'true' }),
    { maxBytes: 256 * 1024 * 1024 },
  );
  const cfDeps: CfTransformDeps = {
    objects,
    fetcher,
    faces: createFaceApiDetector(),
    // Same values as DEFAULT_CF_CONFIG (not imported: that module loads sharp).
    config: {
      fetch: { maxBytes: 100 * 1024 * 1024, timeoutMs: 15000, maxRedirects: 5 },
      defaultCacheControl: 'public, max-age=3600',
      defaultFit: config.cfDefaultFit === 'contain' ? 'contain' : 'scale-down',
      strict: config.cfStrict === 'true',
      sourceBucket: config.cfSourceBucket,
    },
  };
  const cfTransform = async (req: CfRequest): Promise<CfResult> => {
    // Loaded on first use like the OSS engine, so the object API starts without sharp.
    const mod = await import('./app/cloudflare-transform.js');
    return mod.transformCloudflare(req, cfDeps);
  };
  // Background jobs (compression tasks, video animations): one durable queue per data dir and
  // process. Use cases register their handler and, when their jobs own files, an expiry hook that
  // removes those files before the job row is swept.
  const expireHooks = new Map<string, (job: JobRecord) => void | Promise<void>>();
  const onExpire = (job: JobRecord) => expireHooks.get(job.kind)?.(job);
  // Scale-out mode: BullMQ on Redis, shared by every node and worker (docs/deploy.md).
  const queue = config.queue === 'bullmq'
    ? createBullMQQueue({ url: config.redisUrl, prefix: config.redisPrefix, concurrency: config.jobConcurrency, onExpire })
    : createEmbeddedQueue({ file: join(dataDir, 'jobs.sqlite'), concurrency: config.jobConcurrency, onExpire });
  const onInternalError = (err: unknown, requestId: string) => console.error(`halftone: internal error (request ${requestId}):`, err);
  const app = buildServer({
    images: {
      images: createHostedImages({ objects, fetcher, accountHash: config.cfAccountHash }),
      transform: cfTransform,
      accountHash: config.cfAccountHash,
      accountId: config.cfAccountId,
      // Not a 'list' setting: lists are lower-cased, tokens are case-sensitive.
      apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
      onInternalError,
    },
    cloudflare: {
      prefix: config.cfPrefix,
      transform: cfTransform,
      onInternalError: (err, requestId) => console.error(`halftone: internal error (request ${requestId}):`, err),
    },
    oss: {
      objects,
      transform,
      address: { serviceDomains: config.serviceDomains, cname: config.cname, defaultBucket: config.defaultBucket },
      lookupSecret: (id) => meta.getAccessKey(id)?.secret,
      styleDelimiters: config.styleDelimiters,
      protectedSources: config.protectedSources,
      onInternalError: (err, requestId) => console.error(`halftone: internal error (request ${requestId}):`, err),
    },
  });
  // Handlers are registered above; start recovers jobs a crash interrupted.
  await queue.start();
  return {
    app, config, accessKeyId: creds.accessKeyId,
    async close() {
      await app.close();
      await queue.close({ mode: 'abort' });
      await fetcher.close();
      s3?.destroy();
      meta.close();
    },
  };
}

/** `npm start`: load config, compose, listen; SIGINT/SIGTERM close gracefully. */
export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  const loaded = load(env);
  if (!loaded.ok) {
    console.error('halftone: invalid configuration:');
    for (const e of loaded.errors) console.error(`  - ${e}`);
    process.exitCode = 2;
    return;
  }
  const composed = await compose(loaded.config);
  const address = await composed.app.listen({ port: loaded.config.port, host: loaded.config.host });
  console.log(`halftone: listening on ${address} (data dir ${resolve(loaded.config.dataDir)})`);
  const stop = () => {
    composed.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
