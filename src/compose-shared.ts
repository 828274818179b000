/**
 * The parts of the composition a serving node and a `halftone worker` share (main.ts composes the
 * server from them, compose-worker.ts the worker): where state lives (blob store, MetaStore, task
 * inputs and result files — in the data dir, or shared S3 + PostgreSQL in scale-out mode), the job
 * queue, and the job handlers (compression tasks, video animations and their webhooks).
 */
import { createHmac } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createFsBlobStore } from './adapters/storage/fs.js';
import type { S3BlobStore } from './adapters/storage/s3.js';
import { createSqliteMetaStore } from './adapters/meta/sqlite.js';
import { createFsResultFiles } from './adapters/results/fs.js';
import { createFsTaskInputs } from './adapters/tasks/inputs-fs.js';
import { createEmbeddedQueue } from './adapters/queue/embedded.js';
import { createFfmpegTools } from './adapters/video/ffmpeg.js';
import { createWebhookSender } from './adapters/notify/webhook.js';
import { createObjectService, type ObjectService } from './app/oss-objects.js';
import { createCompressTasks, MAX_URL_BYTES, type CompressTasks } from './app/compress-tasks.js';
import { createVideoAnimations, parseNotifyTopics, type VideoAnimations } from './app/video-animation.js';
import type { Config } from './config/schema.js';
import type { BlobStore } from './ports/blob-store.js';
import type { JobQueue, JobRecord } from './ports/job-queue.js';
import type { MetaStore } from './ports/meta-store.js';
import type { ResultFiles } from './ports/result-files.js';
import type { ResultReader } from './ports/result-reader.js';
import type { SourceFetcher } from './ports/source-fetcher.js';
import type { TaskInputs } from './ports/task-inputs.js';
import type { VideoTools } from './ports/video-tools.js';
import { sweepOrphanBlobs } from './app/blob-gc.js';

/** ffmpeg/ffprobe as configured (the CLI's `animate` uses it too). */
export function createVideoTools(config: Pick<Config, 'ffmpegPath' | 'ffprobePath' | 'videoConcurrency' | 'videoTimeoutS'>): VideoTools {
  return createFfmpegTools({ ffmpegPath: config.ffmpegPath, ffprobePath: config.ffprobePath, concurrency: config.videoConcurrency, timeoutMs: config.videoTimeoutS * 1000 });
}

// The scale-out adapters (S3, PostgreSQL, BullMQ/Redis) are loaded only when configured: their
// modules took about a fifth of an idle embedded server's JavaScript heap (31.7 → 26.1 MB), and
// every major GC marks the whole heap (an image server collects often under load).

async function createS3BlobStoreOf(config: Config): Promise<S3BlobStore> {
  const { createS3BlobStore } = await import('./adapters/storage/s3.js');
  return createS3BlobStore({
    endpoint: config.s3Endpoint, region: config.s3Region, bucket: config.s3Bucket, prefix: config.s3Prefix,
    ...(config.s3AccessKeyId === undefined || config.s3SecretAccessKey === undefined ? {} : { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey }),
    forcePathStyle: config.s3ForcePathStyle === 'true',
  });
}

/** The MetaStore: SQLite in the data dir, or PostgreSQL (HALFTONE_META=postgres). */
async function openMetaStore(config: Config, dataDir: string): Promise<MetaStore> {
  if (config.meta !== 'postgres') return createSqliteMetaStore({ file: join(dataDir, 'meta.sqlite') });
  const { createPostgresMetaStore } = await import('./adapters/meta/postgres.js');
  return createPostgresMetaStore({ connectionString: config.databaseUrl });
}

/** Where state lives: object bytes and metadata, task inputs and result files. */
export interface Stores {
  /** Set in scale-out mode (HALFTONE_STORAGE=s3). */
  readonly s3: S3BlobStore | undefined;
  readonly blobs: BlobStore;
  readonly meta: MetaStore;
  readonly objects: ObjectService;
  /** Result files (publish) and their reader (the /results/ route). */
  readonly results: ResultFiles & ResultReader & { close(): void };
  readonly taskInputs: TaskInputs;
  close(): Promise<void>;
}

/**
 * Opens the stores. `accessKeySecret` (the one every node shares) derives the result-URL signing
 * key in scale-out mode; `onObjectChanged` is told about every object write and delete (the
 * server purges its result cache).
 */
export async function composeStores(config: Config, dataDir: string, accessKey: { id: string; secret: string }, onObjectChanged?: (bucket: string, key: string) => void): Promise<Stores> {
  // Scale-out mode: object bytes in an S3-compatible bucket shared by every node (docs/deploy.md).
  const s3 = config.storage === 's3' ? await createS3BlobStoreOf(config) : undefined;
  const blobs = s3 ?? (await createFsBlobStore({ dir: dataDir }));
  // Metadata: SQLite in the data dir, or PostgreSQL shared by every node in scale-out mode.
  const meta = await openMetaStore(config, dataDir);
  await meta.putAccessKey({ id: accessKey.id, secret: accessKey.secret });
  const objects = createObjectService({
    blobs, meta, maxObjectBytes: config.maxObjectBytes, maxProcessBytes: config.maxProcessBytes,
    ...(onObjectChanged === undefined ? {} : { onObjectChanged }),
  });
  // Compression-task inputs and result files: with HALFTONE_STORAGE=s3 in the shared bucket, so
  // any node serves a result any worker published; the URL signing key is derived from the access
  // key secret every node shares.
  const taskS3 = s3?.client;
  const results = taskS3 === undefined
    ? await createFsResultFiles({ dataDir })
    : await (await import('./adapters/results/s3.js')).createS3ResultFiles({ client: taskS3, bucket: config.s3Bucket, prefix: config.s3Prefix, secret: createHmac('sha256', accessKey.secret).update('halftone result URLs').digest() });
  const taskInputs = taskS3 === undefined
    ? await createFsTaskInputs({ dataDir })
    : (await import('./adapters/tasks/inputs-s3.js')).createS3TaskInputs({ client: taskS3, bucket: config.s3Bucket, prefix: config.s3Prefix });
  return {
    s3, blobs, meta, objects, results, taskInputs,
    async close() {
      results.close();
      s3?.destroy();
      await meta.close();
    },
  };
}

/**
 * The background job queue: BullMQ on Redis, shared by every node and worker, in scale-out mode;
 * else the embedded SQLite queue of this data dir. Use cases register their handler and, when their
 * jobs own files, an expiry hook (in `expireHooks`, by job kind) that removes them before the job
 * is swept.
 */
export async function composeQueue(config: Config, dataDir: string): Promise<{ queue: JobQueue; expireHooks: Map<string, (job: JobRecord) => void | Promise<void>> }> {
  const expireHooks = new Map<string, (job: JobRecord) => void | Promise<void>>();
  const onExpire = (job: JobRecord) => expireHooks.get(job.kind)?.(job);
  const queue: JobQueue = config.queue === 'bullmq'
    ? (await import('./adapters/queue/bullmq.js')).createBullMQQueue({ url: config.redisUrl, prefix: config.redisPrefix, concurrency: config.jobConcurrency, onExpire })
    : createEmbeddedQueue({ file: join(dataDir, 'jobs.sqlite'), concurrency: config.jobConcurrency, onExpire });
  return { queue, expireHooks };
}

/**
 * The job handlers of this process: every use case registers its handlers through the queue this
 * returns. A serving node with HALFTONE_RUN_JOBS=false submits jobs but registers no handler, so
 * workers run them.
 */
export function composeJobs(config: Pick<Config, 'runJobs'>, queue: JobQueue): JobQueue {
  if (config.runJobs !== 'false') return queue;
  return { ...queue, register: () => undefined };
}

export interface JobUseCases {
  readonly tasks: CompressTasks;
  readonly video: VideoAnimations;
  readonly videoTools: VideoTools;
}

/**
 * The use cases that run as jobs — compression tasks (kind 'imgcompress', their files removed at
 * expiry) and video animations with their webhooks — with their handlers registered on `queue`
 * (unless HALFTONE_RUN_JOBS=false). Call before `queue.start()`.
 */
export async function composeJobUseCases(config: Config, dataDir: string, deps: {
  readonly queue: JobQueue;
  readonly expireHooks: Map<string, (job: JobRecord) => void | Promise<void>>;
  readonly stores: Stores;
  readonly fetcher: SourceFetcher;
  readonly log: (line: string) => void;
}): Promise<JobUseCases> {
  const { queue, stores } = deps;
  const jobs = composeJobs(config, queue);
  // Video → animated GIF/WebP (x-oss-async-process) as durable tasks, notified through webhooks.
  const notify = parseNotifyTopics(config.notifyTopics);
  if (notify.errors.length > 0) throw new Error(notify.errors.join('\n'));
  const videoTools = createVideoTools(config);
  const videoTmp = join(dataDir, 'tmp', 'video');
  await rm(videoTmp, { recursive: true, force: true });
  const video = createVideoAnimations({
    objects: stores.objects, queue: jobs, tools: videoTools, webhook: createWebhookSender(), topics: notify.topics,
    limits: { maxDurationMs: config.videoMaxDurationS * 1000, maxFrames: config.videoMaxFrames, maxSourceSide: 8192 },
    maxBytes: config.videoMaxBytes, timeoutMs: config.videoTimeoutS * 1000, tmpDir: videoTmp, maxBacklog: config.maxJobBacklog,
    notifyBackoffMs: config.notifyBackoffMs, log: deps.log,
  });
  if (!videoTools.available()) deps.log(`halftone: video/animation disabled (${videoTools.describe()})`);
  // Compression task API: signed result files, task inputs; tasks run on the queue as kind
  // 'imgcompress' and remove their files when they expire.
  const tasks = createCompressTasks({
    queue, fetcher: deps.fetcher, results: stores.results, inputs: stores.taskInputs,
    config: {
      retentionMs: config.taskRetentionMs,
      timeoutMs: config.taskTimeoutMs,
      fetch: { maxBytes: MAX_URL_BYTES, timeoutMs: config.taskFetchTimeoutMs, maxRedirects: 5 },
      maxBacklog: config.maxJobBacklog,
    },
  });
  jobs.register(tasks.kind, (payload, ctx) => tasks.handle(payload, ctx));
  deps.expireHooks.set(tasks.kind, (job) => tasks.expire(job));
  await tasks.sweepOrphans();
  return { tasks, video, videoTools };
}

/**
 * Sweeps orphaned blobs every HALFTONE_BLOB_GC_INTERVAL_MS (0: never), the first time one interval
 * after start; a sweep still running when the next is due is not doubled. Returns the stop function.
 */
export function startBlobGc(config: Pick<Config, 'blobGcIntervalMs' | 'blobGcGraceMs'>, deps: { blobs: BlobStore; meta: MetaStore }, log: (line: string) => void): () => void {
  if (config.blobGcIntervalMs === 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepOrphanBlobs(deps, { graceMs: config.blobGcGraceMs })
      .then((r) => {
        if (r.removed > 0) log(`halftone: blob sweep removed ${r.removed} orphaned blob(s) of ${r.scanned}`);
      }, (err: unknown) => log(`halftone: blob sweep failed: ${String(err)}`))
      .finally(() => (running = false));
  }, config.blobGcIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Opens only the blob store and the MetaStore (for `halftone gc`). */
export async function composeBlobsAndMeta(config: Config, dataDir: string): Promise<{ blobs: BlobStore; meta: MetaStore; close(): Promise<void> }> {
  const s3 = config.storage === 's3' ? await createS3BlobStoreOf(config) : undefined;
  const blobs = s3 ?? (await createFsBlobStore({ dir: dataDir }));
  const meta = await openMetaStore(config, dataDir);
  return {
    blobs, meta,
    async close() {
      s3?.destroy();
      await meta.close();
    },
  };
}
