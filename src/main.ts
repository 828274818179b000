/**
 * Composition root: config → adapters → app → http. `npm start` runs this file (built to
 * dist/main.js); it is the only module that sees every layer.
 */
import { writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { TransformDeps, TransformResult } from './app/transform-image.js';
import type { EncodedImage } from './core/codecs/source.js';
import { resolveCredentials } from './config/credentials.js';
import { load, type Config } from './config/schema.js';
import { reportAllocator } from './config/allocator.js';
import { createLineBuffer } from './adapters/log/line-buffer.js';
import { buildServer } from './http/server.js';
import { createHotCache } from './http/hot-cache.js';
import { createHttpFetcher } from './adapters/source/http.js';
import { createCachingFetcher } from './adapters/source/cache.js';
import { createFaceApiDetector } from './adapters/faces/face-api.js';
import type { CfRequest, CfResult, CfTransformDeps } from './app/cloudflare-transform.js';
import { createHostedImages } from './app/hosted-images.js';
import type { EmbeddedJobQueue } from './adapters/queue/embedded.js';
import type { JobQueue } from './ports/job-queue.js';
import { composeJobUseCases, composeQueue, composeStores, startBlobGc } from './compose-shared.js';
import { DataDirInUseError, lockDataDir } from './adapters/storage/data-dir-lock.js';
import { createPromMetrics } from './adapters/metrics/prom.js';
import { NOOP_METRICS } from './ports/metrics.js';
import { registerPerfMetrics } from './app/perf-metrics.js';
import { withFetchFailureHook } from './adapters/source/metered.js';
import { binaryAvailable } from './adapters/tools/binary.js';
import { checkReadiness, queueCheck, storageCheck, toolCheck } from './app/readiness.js';
import { createPlaygroundShelf } from './app/playground.js';
import { heicEncoderAvailable, HEIC_INSTALL_HINT } from './core/codecs/encode-heic.js';
import { createMemoryRateLimiter } from './adapters/ratelimit/memory.js';
import type { AbstractRouteDeps } from './http/abstract/routes.js';
import { availableParallelism } from 'node:os';
import { createResultCache } from './adapters/cache/tiered.js';
import { createVariants, type VariantStats } from './app/variants.js';
import { createAdmission, type AdmissionStats } from './app/admission.js';
import { ossSourceTag } from './app/oss-variants.js';
import type { RedisRateLimiter } from './adapters/ratelimit/redis.js';
import type { RateLimiter } from './ports/rate-limiter.js';

function isEmbeddedQueue(q: JobQueue): q is EmbeddedJobQueue {
  return typeof (q as Partial<EmbeddedJobQueue>).active === 'function';
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

/**
 * Loads a module on first use and keeps it: the engine is loaded so, and the object API starts
 * fast and without sharp. (Each `import()` call goes through the module loader again, about 60 µs
 * per request in a profile.)
 */
function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => (loading ??= load());
}

const transformModule = lazy(() => import('./app/transform-image.js'));
const cloudflareModule = lazy(() => import('./app/cloudflare-transform.js'));

async function transform(source: EncodedImage, process: string, deps: TransformDeps): Promise<TransformResult> {
  return (await transformModule()).transformOss(source, process, deps);
}

/** Builds everything from a loaded config. */
export async function compose(config: Config, log: (line: string) => void = console.log): Promise<Composed> {
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  // One process per data dir (src/adapters/storage/data-dir-lock.ts); released by close() or exit.
  const dirLock = lockDataDir(dataDir, 'server');
  const creds = await resolveCredentials(dataDir, config.accessKeyId, config.accessKeySecret);
  if (creds.generated) {
    log(`halftone: generated an access key pair (saved in ${join(dataDir, 'credentials.json')}; shown only once):`);
    log(`  AccessKeyId:     ${creds.accessKeyId}`);
    log(`  AccessKeySecret: ${creds.accessKeySecret}`);
  }
  // Metrics (docs/observability.md): the Prometheus adapter when /metrics is on, else a no-op.
  const prom = config.metrics === 'true' ? createPromMetrics() : undefined;
  const metrics = prom ?? NOOP_METRICS;
  // Performance (docs/operations-perf.md): result cache with coalescing, admission control, libvips threads.
  const resultCache = await createResultCache({ memoryBytes: config.cacheMemoryBytes, diskBytes: config.cacheDiskBytes, dir: join(dataDir, 'cache') });
  const variants = createVariants(resultCache, (err) => console.error('halftone: result cache write failed:', err));
  const admission = createAdmission({
    maxActive: config.maxPipelines > 0 ? config.maxPipelines : 2 * availableParallelism(),
    maxQueue: config.maxQueue,
    memoryBudgetBytes: config.memoryBudgetBytes,
  });
  let engine: Promise<void> | undefined;
  const engineReady = () => (engine ??= import('./core/pipeline/engine-settings.js').then((m) => m.configureEngine({ threads: config.vipsConcurrency, timeoutSeconds: config.pipelineTimeoutS })));
  const onObjectChanged = (bucket: string, key: string) => {
    variants.purge(ossSourceTag(bucket, key)).catch((err: unknown) => console.error('halftone: result cache purge failed:', err));
  };
  // Where state lives (data dir, or S3 + PostgreSQL shared by every node): src/compose-shared.ts.
  const stores = await composeStores(config, dataDir, { id: creds.accessKeyId, secret: creds.accessKeySecret }, onObjectChanged);
  const { s3, blobs, meta, objects, results } = stores;
  // Blobs written before a crash but never committed are unreachable: remove them before serving.
  // Not on a shared bucket: another node's metadata (or its write in flight) may refer to them.
  const collected = s3 ? 0 : await objects.collectGarbage();
  if (collected > 0) log(`halftone: removed ${collected} unreferenced blob(s) left by an interrupted write`);
  // On a shared bucket: a periodic sweep of orphaned blobs older than the grace period (src/app/blob-gc.ts).
  const stopBlobGc = s3 === undefined ? () => undefined : startBlobGc(config, { blobs, meta }, log);
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
    return (await cloudflareModule()).transformCloudflare(req, cfDeps);
  };
  // Background jobs (compression tasks, video animations): the embedded queue of this data dir, or
  // BullMQ on Redis shared by every node and worker in scale-out mode (docs/deploy.md).
  const { queue, expireHooks } = await composeQueue(config, dataDir);
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
  // Job use cases (compression tasks, video animations; their handlers unless HALFTONE_RUN_JOBS=false).
  const { tasks, video } = await composeJobUseCases(config, dataDir, { queue, expireHooks, stores, fetcher, log });
  // Hot response cache (src/http/hot-cache.ts): needs the store's change clock (SQLite only).
  const hot = meta.changes === undefined ? undefined : createHotCache({ maxBytes: config.hotCacheBytes, clock: meta.changes });
  if (hot !== undefined) {
    metrics.counter('halftone_hot_cache_requests_total', 'Eligible requests seen by the hot response cache: hit (answered before routing), miss, stale (dropped: its bucket changed).', ['result'],
      () => { const s = hot.stats(); return [[{ result: 'hit' }, s.hits], [{ result: 'miss' }, s.misses], [{ result: 'stale' }, s.stale]]; });
    metrics.gauge('halftone_hot_cache_bytes', 'Bytes held by the hot response cache (bound: HALFTONE_HOT_CACHE_BYTES).', [], () => hot.stats().bytes);
  }
  // Per-key rate limits: in memory for one process; in Redis, shared by every node, in scale-out mode.
  const redisLimiters: RedisRateLimiter[] = [];
  // ioredis is loaded only in scale-out mode (see compose-shared.ts on lazy adapters).
  const createRedisRateLimiter = config.queue === 'bullmq' ? (await import('./adapters/ratelimit/redis.js')).createRedisRateLimiter : undefined;
  const rateLimiter = (api: string, perSecond: number): RateLimiter => {
    if (createRedisRateLimiter === undefined) return createMemoryRateLimiter({ perSecond });
    const l = createRedisRateLimiter({ url: config.redisUrl, prefix: `${config.redisPrefix}:${api}`, perSecond });
    redisLimiters.push(l);
    return l;
  };
  const taskRoutes = {
    tasks,
    limiter: rateLimiter('tasks', config.taskRateLimit),
    apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
    syncWaitMs: config.taskSyncWaitMs,
    ratePerSecond: config.taskRateLimit,
    pngKbyte: config.taskPngKbyte === 'reject' ? 'reject' as const : 'allow' as const,
    publicUrl: config.publicUrl,
    admission,
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
    publicUrl: config.publicUrl,
    apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
    rateLimit: (key) => abstractLimiter.take(key),
    admission,
    onInternalError,
  };
  // Logs go to stdout through an asynchronous destination, so a slow log reader never blocks the
  // event loop, behind a line buffer that hands it lines in chunks (line-buffer.ts: at most 100 ms
  // late). Every line goes through the one buffer, pino's and the hand-built lines of hot-cache
  // hits (observability.ts), so lines stay in order. Pending lines are written synchronously at
  // close and at process exit.
  const logDest = config.logLevel === 'silent' ? undefined : pino.destination({ dest: 1, sync: false });
  const logStream = logDest === undefined ? undefined : createLineBuffer(logDest, { writeSync: (chunk) => writeSync(1, chunk) });
  const flushLogs = () => {
    try {
      logStream?.flushSync();
    } catch {
      // stdout closed: nothing left to flush to.
    }
  };
  if (logStream !== undefined) process.once('exit', flushLogs);
  const app = buildServer({
    abstract: abstractRoutes,
    logger: { level: config.logLevel, ...(logStream === undefined ? {} : { stream: logStream }) },
    observability: {
      metrics,
      ...(logStream === undefined ? {} : { logStream }),
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
      images: createHostedImages({ objects, documents: meta, fetcher, accountHash: config.cfAccountHash }),
      transform: cfTransform,
      accountHash: config.cfAccountHash,
      accountId: config.cfAccountId,
      // Not a 'list' setting: lists are lower-cased, tokens are case-sensitive.
      apiKeys: config.apiKeys.split(',').map((k) => k.trim()).filter((k) => k !== ''),
      onInternalError,
      admission,
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
      stopBlobGc();
      await app.close();
      await queue.close({ mode: 'abort' });
      await fetcher.close();
      await resultCache.close();
      await Promise.all(redisLimiters.map((l) => l.close()));
      await stores.close();
      dirLock.release();
      process.off('exit', flushLogs);
      flushLogs();
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
  let composed: Composed;
  try {
    composed = await compose(loaded.config);
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err;
    console.error(`halftone: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  const address = await composed.app.listen({ port: loaded.config.port, host: loaded.config.host });
  console.log(`halftone: listening on ${address} (data dir ${resolve(loaded.config.dataDir)})`);
  reportAllocator();
  const stop = () => {
    // In-flight requests finish (Fastify close); a stalled one cannot hold the exit for ever.
    setTimeout(() => process.exit(1), loaded.config.shutdownGraceMs).unref();
    composed.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
