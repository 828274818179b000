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
import { createPostgresMetaStore } from './adapters/meta/postgres.js';
import { createObjectService } from './app/oss-objects.js';
import type { TransformDeps, TransformResult } from './app/transform-image.js';
import { resolveCredentials } from './config/credentials.js';
import { load, type Config } from './config/schema.js';
import { buildServer } from './http/server.js';
import { createHotCache } from './http/hot-cache.js';
import { createHttpFetcher } from './adapters/source/http.js';
import { createCachingFetcher } from './adapters/source/cache.js';
import { createFaceApiDetector } from './adapters/faces/face-api.js';
import type { CfRequest, CfResult, CfTransformDeps } from './app/cloudflare-transform.js';
import { createHostedImages } from './app/hosted-images.js';
import { createEmbeddedQueue, type EmbeddedJobQueue } from './adapters/queue/embedded.js';
import type { JobQueue, JobRecord } from './ports/job-queue.js';
import { createPromMetrics } from './adapters/metrics/prom.js';
import { NOOP_METRICS } from './ports/metrics.js';
import { registerPerfMetrics } from './app/perf-metrics.js';
import { withFetchFailureHook } from './adapters/source/metered.js';
import { binaryAvailable } from './adapters/tools/binary.js';
import { checkReadiness, queueCheck, storageCheck, toolCheck } from './app/readiness.js';
import { createPlaygroundShelf } from './app/playground.js';
import { heicEncoderAvailable, HEIC_INSTALL_HINT } from './core/codecs/encode-heic.js';
import { rm } from 'node:fs/promises';
import { createFfmpegTools } from './adapters/video/ffmpeg.js';
import { createWebhookSender } from './adapters/notify/webhook.js';
import { createVideoAnimations, parseNotifyTopics } from './app/video-animation.js';
import type { VideoTools } from './ports/video-tools.js';

/** ffmpeg/ffprobe as configured (the CLI's `animate` uses it too). */
export function createVideoTools(config: Pick<Config, 'ffmpegPath' | 'ffprobePath' | 'videoConcurrency' | 'videoTimeoutS'>): VideoTools {
  return createFfmpegTools({ ffmpegPath: config.ffmpegPath, ffprobePath: config.ffprobePath, concurrency: config.videoConcurrency, timeoutMs: config.videoTimeoutS * 1000 });
}
import { createFsResultFiles } from './adapters/results/fs.js';
import { createFsTaskInputs } from './adapters/tasks/inputs-fs.js';
import { createS3ResultFiles } from './adapters/results/s3.js';
import { createS3TaskInputs } from './adapters/tasks/inputs-s3.js';
import { S3Client } from '@aws-sdk/client-s3';
import { createHmac } from 'node:crypto';
import { createMemoryRateLimiter } from './adapters/ratelimit/memory.js';
import { createCompressTasks, MAX_URL_BYTES } from './app/compress-tasks.js';
import type { AbstractRouteDeps } from './http/abstract/routes.js';
import { availableParallelism } from 'node:os';
import { createResultCache } from './adapters/cache/tiered.js';
import { createVariants, type VariantStats } from './app/variants.js';
import { createAdmission, type AdmissionStats } from './app/admission.js';
import { ossSourceTag } from './app/oss-variants.js';
import { createS3BlobStore } from './adapters/storage/s3.js';
import { createBullMQQueue } from './adapters/queue/bullmq.js';
import { createRedisRateLimiter, type RedisRateLimiter } from './adapters/ratelimit/redis.js';
import type { RateLimiter } from './ports/rate-limiter.js';

function isEmbeddedQueue(q: JobQueue): q is EmbeddedJobQueue {
  return typeof (q as Partial<EmbeddedJobQueue>).active === 'function';
}

/**
 * The job handlers of this process: every use case registers its handlers through the queue this
 * returns. The same composition serves `npm start` (serve) and `halftone worker`; a serving node
 * with HALFTONE_RUN_JOBS=false submits jobs but registers no handler, so workers run them.
 */
export function composeJobs(config: Pick<Config, 'runJobs'>, queue: JobQueue): JobQueue {
  if (config.runJobs !== 'false') return queue;
  return { ...queue, register: () => undefined };
}

/** A composed, not yet listening, application. */
export interface Composed {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly accessKeyId: string;
  /** The background job queue (use cases register handlers on it; tests submit jobs). */
  readonly queue: JobQueue;
  /** Result-cache and admission counters (for /metrics). */
  perfStats(): { variants: VariantStats; admission: AdmissionStats };
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
  // Metrics (docs/observability.md): the Prometheus adapter when /metrics is on, else a no-op.
  const prom = config.metrics === 'true' ? createPromMetrics() : undefined;
  const metrics = prom ?? NOOP_METRICS;
  // Scale-out mode: object bytes in an S3-compatible bucket shared by every node (docs/deploy.md).
  const s3 = config.storage === 's3'
    ? createS3BlobStore({
        endpoint: config.s3Endpoint, region: config.s3Region, bucket: config.s3Bucket, prefix: config.s3Prefix,
        ...(config.s3AccessKeyId === undefined || config.s3SecretAccessKey === undefined ? {} : { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey }),
        forcePathStyle: config.s3ForcePathStyle === 'true',
      })
    : undefined;
  const blobs = s3 ?? (await createFsBlobStore({ dir: dataDir }));
  // Metadata: SQLite in the data dir, or PostgreSQL shared by every node in scale-out mode.
  const meta = config.meta === 'postgres'
    ? await createPostgresMetaStore({ connectionString: config.databaseUrl })
    : createSqliteMetaStore({ file: join(dataDir, 'meta.sqlite') });
  await meta.putAccessKey({ id: creds.accessKeyId, secret: creds.accessKeySecret });
  // Performance (docs/operations-perf.md): result cache with coalescing, admission control, libvips threads.
  const resultCache = await createResultCache({ memoryBytes: config.cacheMemoryBytes, diskBytes: config.cacheDiskBytes, dir: join(dataDir, 'cache') });
  const variants = createVariants(resultCache, (err) => console.error('halftone: result cache write failed:', err));
  const admission = createAdmission({
    maxActive: config.maxPipelines > 0 ? config.maxPipelines : 2 * availableParallelism(),
    maxQueue: config.maxQueue,
    memoryBudgetBytes: config.memoryBudgetBytes,
  });
  let engine: Promise<void> | undefined;
  const engineReady = () => (engine ??= import('./core/pipeline/engine-settings.js').then((m) => m.configureEngine({ threads: config.vipsConcurrency })));
  const onObjectChanged = (bucket: string, key: string) => {
    variants.purge(ossSourceTag(bucket, key)).catch((err: unknown) => console.error('halftone: result cache purge failed:', err));
  };
  const objects = createObjectService({ blobs, meta, maxObjectBytes: config.maxObjectBytes, maxProcessBytes: config.maxProcessBytes, onObjectChanged });
  // Blobs written before a crash but never committed are unreachable: remove them before serving.
  // Not on a shared bucket: another node's metadata (or its write in flight) may refer to them.
  const collected = s3 ? 0 : await objects.collectGarbage();
  if (collected > 0) log(`halftone: removed ${collected} unreferenced blob(s) left by an interrupted write`);
  // Remote sources (Cloudflare absolute URLs): SSRF-safe fetcher behind an HTTP cache of originals.
  const fetcher = createCachingFetcher(
    withFetchFailureHook(createHttpFetcher({ version: '0.1.0', allowedOrigins: config.allowedOrigins, anyPublicOrigin: config.anyPublicOrigin === 'true' }), (reason) => metrics.fetchFailed(reason)),
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
    variants,
    admission,
  };
  const cfTransform = async (req: CfRequest): Promise<CfResult> => {
    // Loaded on first use like the OSS engine, so the object API starts without sharp.
    await engineReady();
    const mod = await import('./app/cloudflare-transform.js');
    return mod.transformCloudflare(req, cfDeps);
  };
  // Background jobs (compression tasks, video animations): one durable queue per data dir and
  // process. Use cases register their handler and, when their jobs own files, an expiry hook that
  // removes those files before the job row is swept.
  const expireHooks = new Map<string, (job: JobRecord) => void | Promise<void>>();
  const onExpire = (job: JobRecord) => expireHooks.get(job.kind)?.(job);
  // Scale-out mode: BullMQ on Redis, shared by every node and worker (docs/deploy.md).
  const queue: JobQueue = config.queue === 'bullmq'
    ? createBullMQQueue({ url: config.redisUrl, prefix: config.redisPrefix, concurrency: config.jobConcurrency, onExpire })
    : createEmbeddedQueue({ file: join(dataDir, 'jobs.sqlite'), concurrency: config.jobConcurrency, onExpire });
  // Unexpected errors go to the structured log with the request id the client saw.
  const onInternalError = (err: unknown, requestId: string) => app.log.error({ err, reqId: requestId }, 'internal error');
  queue.onSettled((job) => metrics.jobSettled(job.kind, job.state));
  // Counted from the embedded queue's table; BullMQ deployments read queue depth from Redis exporters.
  if (isEmbeddedQueue(queue)) {
    metrics.gauge('halftone_jobs_active', 'Background jobs queued or running, by kind and state.', ['kind', 'state'],
      () => queue.active().map((r) => [{ kind: r.kind, state: r.state }, r.count] as const));
  }
  metrics.gauge('halftone_source_cache_bytes', 'Bytes of remote originals held by the source cache.', [], () => fetcher.stats().bytes);
  metrics.gauge('halftone_source_cache_entries', 'Remote originals held by the source cache.', [], () => fetcher.stats().entries);
  metrics.gauge('halftone_source_cache_lookups', 'Source-cache lookups since start, by result.', ['result'], () => {
    const st = fetcher.stats();
    return [[{ result: 'hit' }, st.hits], [{ result: 'miss' }, st.misses], [{ result: 'revalidated' }, st.revalidated]] as const;
  });
  // Result cache and admission counters, read at scrape time (src/app/perf-metrics.ts).
  registerPerfMetrics(metrics, () => ({ variants: variants.stats(), admission: admission.stats() }));
  // Hot response cache (src/http/hot-cache.ts): needs the store's change clock (SQLite only).
  const hot = meta.changes === undefined ? undefined : createHotCache({ maxBytes: config.hotCacheBytes, clock: meta.changes });
  if (hot !== undefined) {
    metrics.counter('halftone_hot_cache_requests_total', 'Eligible requests seen by the hot response cache: hit (answered before routing), miss, stale (dropped: its bucket changed).', ['result'],
      () => { const s = hot.stats(); return [[{ result: 'hit' }, s.hits], [{ result: 'miss' }, s.misses], [{ result: 'stale' }, s.stale]]; });
    metrics.gauge('halftone_hot_cache_bytes', 'Bytes held by the hot response cache (bound: HALFTONE_HOT_CACHE_BYTES).', [], () => hot.stats().bytes);
  }
  // Video → animated GIF/WebP (x-oss-async-process) as durable tasks, notified through webhooks.
  const notify = parseNotifyTopics(config.notifyTopics);
  if (notify.errors.length > 0) throw new Error(notify.errors.join('\n'));
  const videoTools = createVideoTools(config);
  const videoTmp = join(dataDir, 'tmp', 'video');
  await rm(videoTmp, { recursive: true, force: true });
  const jobs = composeJobs(config, queue);
  const video = createVideoAnimations({
    objects, queue: jobs, tools: videoTools, webhook: createWebhookSender(), topics: notify.topics,
    limits: { maxDurationMs: config.videoMaxDurationS * 1000, maxFrames: config.videoMaxFrames, maxSourceSide: 8192 },
    maxBytes: config.videoMaxBytes, timeoutMs: config.videoTimeoutS * 1000, tmpDir: videoTmp,
    notifyBackoffMs: config.notifyBackoffMs, log,
  });
  if (!videoTools.available()) log(`halftone: video/animation disabled (${videoTools.describe()})`);
  // Per-key rate limits: in memory for one process; in Redis, shared by every node, in scale-out mode.
  const redisLimiters: RedisRateLimiter[] = [];
  const rateLimiter = (api: string, perSecond: number): RateLimiter => {
    if (config.queue !== 'bullmq') return createMemoryRateLimiter({ perSecond });
    const l = createRedisRateLimiter({ url: config.redisUrl, prefix: `${config.redisPrefix}:${api}`, perSecond });
    redisLimiters.push(l);
    return l;
  };
  // Compression task API: signed result files, task inputs, per-key rate limit; tasks run on the
  // queue as kind 'imgcompress' and remove their files when they expire.
  // With HALFTONE_STORAGE=s3 they live in the shared bucket, so any node serves a result any
  // worker published; the URL signing key is derived from the access key secret every node shares.
  const taskS3 = s3 === undefined ? undefined : new S3Client({
    region: config.s3Region, forcePathStyle: config.s3ForcePathStyle === 'true',
    ...(config.s3Endpoint === '' ? {} : { endpoint: config.s3Endpoint }),
    ...(config.s3AccessKeyId === undefined || config.s3SecretAccessKey === undefined ? {} : { credentials: { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } }),
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const results = taskS3 === undefined
    ? await createFsResultFiles({ dataDir })
    : await createS3ResultFiles({ client: taskS3, bucket: config.s3Bucket, prefix: config.s3Prefix, secret: createHmac('sha256', creds.accessKeySecret).update('halftone result URLs').digest() });
  const taskInputs = taskS3 === undefined
    ? await createFsTaskInputs({ dataDir })
    : createS3TaskInputs({ client: taskS3, bucket: config.s3Bucket, prefix: config.s3Prefix });
  const tasks = createCompressTasks({
    queue, fetcher, results, inputs: taskInputs,
    config: {
      retentionMs: config.taskRetentionMs,
      timeoutMs: config.taskTimeoutMs,
      fetch: { maxBytes: MAX_URL_BYTES, timeoutMs: config.taskFetchTimeoutMs, maxRedirects: 5 },
    },
  });
  jobs.register(tasks.kind, (payload, ctx) => tasks.handle(payload, ctx));
  expireHooks.set(tasks.kind, (job) => tasks.expire(job));
  await tasks.sweepOrphans();
  const taskRoutes = {
    tasks,
    limiter: rateLimiter('tasks', config.taskRateLimit),
    apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
    syncWaitMs: config.taskSyncWaitMs,
    ratePerSecond: config.taskRateLimit,
    pngKbyte: config.taskPngKbyte === 'reject' ? 'reject' as const : 'allow' as const,
    publicUrl: config.publicUrl,
    onInternalError,
  };
  // --- Abstract-style API (/v1/url/, /v1/upload/) ----------------------------------------------
  // Results are published through the same signed result files as the compression tasks.
  const abstractLimiter = rateLimiter('abstract', config.abstractRateLimit);
  const abstractRoutes: AbstractRouteDeps = {
    // The engine and the storage SDKs are loaded on first use, like the other dialects.
    optimise: async (source, options) => {
      const [mod, s3, azure] = await Promise.all([import('./app/abstract-optimise.js'), import('./adapters/export/s3.js'), import('./adapters/export/azure.js')]);
      const policy = { allowedOrigins: config.allowedOrigins, anyPublicOrigin: config.anyPublicOrigin === 'true' };
      return mod.optimiseAbstract(source, options, {
        fetcher,
        resultFiles: results,
        exporters: { s3: s3.createS3Exporter(policy), azure: azure.createAzureExporter(policy) },
        admission,
      });
    },
    apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
    rateLimit: (key) => abstractLimiter.take(key),
    onInternalError,
  };
  const app = buildServer({
    abstract: abstractRoutes,
    logger: { level: config.logLevel },
    observability: {
      metrics,
      ...(prom === undefined ? {} : { exposition: prom }),
      cfPrefix: config.cfPrefix,
      readiness: () => checkReadiness([
        storageCheck(blobs),
        queueCheck(queue),
        toolCheck('ffmpeg', () => binaryAvailable('ffmpeg', ['-version']), 'video animations', 'install the Debian package ffmpeg'),
        toolCheck('heif-enc', heicEncoderAvailable, 'HEIC output', HEIC_INSTALL_HINT),
      ]),
    },
    apiDocs: { version: '0.1.0' },
    ...(config.playground === 'true' ? {
      playground: {
        shelf: createPlaygroundShelf({ objects, bucket: config.playgroundBucket, maxBytes: config.playgroundMaxBytes, maxObjects: config.playgroundMaxObjects }),
        assetsDir: new URL('../playground/', import.meta.url).pathname,
        explain: async (process: string, source: Buffer) => (await import('./app/explain.js')).explainOss(process, { bytes: source }),
        cfPrefix: config.cfPrefix,
        cfSourceBucket: config.cfSourceBucket,
        maxBytes: config.playgroundMaxBytes,
        onInternalError,
      },
    } : {}),
    hot,
    limits: { headersTimeoutMs: config.headersTimeoutMs, bodyTimeoutMs: config.bodyTimeoutMs, idleTimeoutMs: config.idleTimeoutMs },
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
      sourceBucket: config.cfSourceBucket,
      transform: cfTransform,
      onInternalError,
    },
    tasks: taskRoutes,
    results: { reader: results },
    oss: {
      objects,
      transform: async (source, process, deps) => {
        await engineReady();
        return transform(source, process, deps);
      },
      variants,
      admission,
      address: { serviceDomains: config.serviceDomains, cname: config.cname, defaultBucket: config.defaultBucket },
      lookupSecret: async (id) => (await meta.getAccessKey(id))?.secret,
      styleDelimiters: config.styleDelimiters,
      protectedSources: config.protectedSources,
      onInternalError,
      asyncProcess: { video },
    },
  });
  // Handlers are registered above; start recovers jobs a crash interrupted.
  await queue.start();
  return {
    app, config, accessKeyId: creds.accessKeyId, queue,
    perfStats: () => ({ variants: variants.stats(), admission: admission.stats() }),
    async close() {
      await app.close();
      await queue.close({ mode: 'abort' });
      results.close();
      await fetcher.close();
      await resultCache.close();
      s3?.destroy();
      taskS3?.destroy();
      await Promise.all(redisLimiters.map((l) => l.close()));
      await meta.close();
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
    // In-flight requests finish (Fastify close); a stalled one cannot hold the exit for ever.
    setTimeout(() => process.exit(1), loaded.config.shutdownGraceMs).unref();
    composed.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * `halftone worker`: the same composition as the server, never listening; runs the background
 * jobs of a shared (BullMQ) queue. SIGTERM/SIGINT let running jobs finish, then exit.
 */
export async function runWorker(env: Record<string, string | undefined> = process.env, log: (line: string) => void = console.log): Promise<number> {
  const loaded = load({ ...env, HALFTONE_RUN_JOBS: 'true' });
  if (!loaded.ok) {
    console.error('halftone: invalid configuration:');
    for (const e of loaded.errors) console.error(`  - ${e}`);
    return 2;
  }
  if (loaded.config.queue !== 'bullmq') {
    console.error('halftone: worker needs HALFTONE_QUEUE=bullmq (and REDIS_URL): the embedded queue is a SQLite file run by one process, the server itself; a second process on the same data dir would run its jobs twice.');
    return 2;
  }
  if (loaded.config.storage !== 's3') {
    // A worker on an fs data dir would not share task files with the nodes, and its start-up
    // blob collection could remove a blob another process on the same dir is writing.
    console.error('halftone: worker needs HALFTONE_STORAGE=s3 (and HALFTONE_S3_*): task inputs, results and objects must be in storage every node shares.');
    return 2;
  }
  const composed = await compose(loaded.config, log);
  log(`halftone: worker running background jobs from ${loaded.config.queue} (prefix ${loaded.config.redisPrefix})`);
  return new Promise<number>((done) => {
    const stop = () => {
      setTimeout(() => done(1), loaded.config.shutdownGraceMs).unref();
      // Running jobs finish first ('wait'); then everything else is closed.
      composed.queue.close({ mode: 'wait' }).then(() => composed.close()).then(() => done(0), (err: unknown) => {
        console.error('halftone: worker shutdown failed:', err);
        done(1);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
