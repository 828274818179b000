/**
 * Use case: OSS `video/animation` as durable async tasks (spec oss-video-animation.md).
 *
 * submit → one `video-animation` job (id = TaskId) in the JobQueue; the handler copies the source
 * object to a private temp dir, probes it (limits before decoding), encodes the planned animation
 * with the VideoTools port and stores the result through the object service (atomic: the object
 * appears complete or not at all). When a task settles and it named a notify topic, one
 * `video-notify` job per webhook URL of the topic POSTs the IMM envelope; the queue retries failed
 * attempts with exponential backoff, and each attempt is logged.
 *
 * Notifications are at-least-once: the queue announces a settled task again at its next start when
 * a crash cut the settled listener short (src/ports/job-queue.ts). That re-announcement queues the
 * same deliveries again under the same job ids (a no-op for those already queued: the notify jobs
 * are kept as long as the task, so one delivered before the crash is not sent again) and with the
 * same body (the envelope is derived from the task alone), so receivers can de-duplicate by `id`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sniffFormat } from '../core/codecs/sniff.js';
import { AppError, ERROR_CATALOGUE, isAppError } from '../core/errors.js';
import { planAnimation, type AnimationLimits, type AnimationParams } from '../core/video/animation.js';
import { expandTargetKey, targetVariables } from '../dialects/oss/video.js';
import type { Json, JobQueue, JobRecord } from '../ports/job-queue.js';
import type { VideoTools } from '../ports/video-tools.js';
import type { WebhookSender } from '../ports/webhook.js';
import type { ObjectService } from './oss-objects.js';
import { createBacklogGate } from './job-backlog.js';

export const VIDEO_JOB_KIND = 'video-animation';
export const NOTIFY_JOB_KIND = 'video-notify';

export interface VideoAnimationDeps {
  readonly objects: ObjectService;
  readonly queue: JobQueue;
  readonly tools: VideoTools;
  readonly webhook: WebhookSender;
  /** Notify topic → webhook URLs. */
  readonly topics: ReadonlyMap<string, readonly string[]>;
  readonly limits: AnimationLimits;
  /** Largest source object, bytes. */
  readonly maxBytes: number;
  /** Time budget of one attempt, ms. */
  readonly timeoutMs: number;
  /** Animation jobs queued or running at most before new ones are refused (OVERLOADED); 0 = no cap. */
  readonly maxBacklog?: number;
  /** Private scratch directory (emptied by the composition root at start). */
  readonly tmpDir: string;
  /** How long a settled task stays visible to the status endpoint (default 24 h). */
  readonly retainMs?: number;
  /** Base delay of the webhook retries (default 1000 ms; doubled per retry). */
  readonly notifyBackoffMs?: number;
  /** Most webhook attempts per URL (default 6). */
  readonly notifyAttempts?: number;
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export interface SubmitRequest {
  readonly bucket: string;
  readonly key: string;
  readonly params: AnimationParams;
  readonly saveas: { readonly bucket: string | undefined; readonly object: string };
  readonly topic: string | undefined;
}

/** The JSON acknowledgement of a submission (spec §3.1). */
export interface SubmitAck {
  readonly EventId: string;
  readonly RequestId: string;
  readonly TaskId: string;
}

interface TaskPayload {
  taskId: string;
  requestId: string;
  eventId: string;
  source: { bucket: string; key: string };
  target: { bucket: string; key: string };
  params: AnimationParams;
  topic: string | null;
  submittedAt: number;
}

const uuidUpper = (): string => randomUUID().toUpperCase();

/**
 * `181-1kZUlN60OH4fWOcOjZEnGnG****`-shaped ids (three hex digits, dash, 27 base62 characters), from
 * 29 bytes: random ones by default, a digest for ids that must come out the same every time.
 */
function eventId(bytes: Buffer = randomBytes(29)): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of bytes.subarray(2, 29)) s += alphabet[b % alphabet.length];
  return `${bytes.subarray(0, 2).toString('hex').slice(0, 3).toUpperCase()}-${s}`;
}

const STATUS: Record<JobRecord['state'], string> = { queued: 'Running', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled' };

/**
 * The task as IMM reports it (the notification's `content`, spec §3.2), plus Halftone fields:
 * `State` (queued/running/…), `Progress` (0–100) and, on failure, `HalftoneCode`.
 */
export function taskContent(job: JobRecord): Record<string, Json> {
  const p = job.payload as unknown as TaskPayload;
  const settled = job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled';
  const err = job.state === 'failed' ? job.error : undefined;
  const code = err === undefined ? '' : ERROR_CATALOGUE[err.code]?.oss ?? 'InternalError';
  return {
    ProjectName: '', DatasetName: '', RequestId: p.requestId,
    StartTime: new Date(job.createdAt).toISOString(), EndTime: settled ? new Date(job.updatedAt).toISOString() : '',
    UserData: '', TaskType: 'MediaConvert', TaskId: p.taskId,
    Status: STATUS[job.state],
    Code: job.state === 'cancelled' ? 'Cancelled' : code,
    Message: job.state === 'cancelled' ? 'The task was cancelled.' : (err?.message ?? ''),
    EventSourceId: '',
    Sources: [{ URI: `oss://${p.source.bucket}/${p.source.key}`, SubtitleSources: null }],
    Targets: [{
      URI: '', Subtitle: { Extract: { URI: '' } },
      Image: { Sprites: null, Snapshots: null, Animations: [{ URI: `oss://${p.target.bucket}/${p.target.key}` }] },
    }],
    State: job.state,
    Progress: job.progress,
    ...(err === undefined ? {} : { HalftoneCode: err.code }),
    ...(job.state === 'succeeded' && job.result !== undefined ? { Result: job.result } : {}),
  };
}

/**
 * The notification envelope (spec §3.2) of a settled task; `content` is the JSON string of
 * {@link taskContent}. A function of the settled job alone — `id` is derived from the TaskId (a task
 * settles once), `time` is when it settled — so the body is the same whenever it is built: a
 * settlement announced again after a crash yields the same envelope as the first announcement.
 */
export function notifyEnvelope(job: JobRecord): Record<string, string> {
  const taskId = (job.payload as unknown as TaskPayload).taskId;
  return {
    id: eventId(createHash('sha256').update(`halftone-notify:${taskId}`).digest()),
    source: 'acs.imm',
    type: 'imm:Task:MediaConvert',
    subject: 'acs:imm:halftone:halftone:halftone/imm:Task:MediaConvert',
    time: String(job.updatedAt),
    content: JSON.stringify(taskContent(job)),
  };
}

/** Parses HALFTONE_NOTIFY_TOPICS: `topic=url,topic=url2,other=url3` (a topic may repeat). */
export function parseNotifyTopics(raw: string): { topics: Map<string, string[]>; errors: string[] } {
  const topics = new Map<string, string[]>();
  const errors: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const i = entry.indexOf('=');
    const name = i > 0 ? entry.slice(0, i) : '';
    const url = i > 0 ? entry.slice(i + 1) : '';
    let ok = false;
    try {
      const u = new URL(url);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
    } catch {
      ok = false;
    }
    if (name === '' || !ok) {
      errors.push(`HALFTONE_NOTIFY_TOPICS: expected topic=http(s)://host/path but received ${JSON.stringify(entry)}`);
      continue;
    }
    topics.set(name, [...(topics.get(name) ?? []), url]);
  }
  return { topics, errors };
}

async function firstBytes(objects: ObjectService, bucket: string, key: string, n: number): Promise<Buffer> {
  const rec = await objects.headObject(bucket, key);
  if (rec.size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of objects.openObject(rec, { start: 0, end: Math.min(n, rec.size) - 1 })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface VideoAnimations {
  /** Validates what can be known now and queues the task. */
  submit(req: SubmitRequest): Promise<SubmitAck>;
  /** The task content (spec §3.2) with State and Progress; NO_SUCH_TASK when unknown. */
  status(taskId: string): Promise<Record<string, Json>>;
  /** Cancels a queued or running task, then returns its status. */
  cancel(taskId: string): Promise<Record<string, Json>>;
}

/** Builds the use case and registers its two job kinds on the queue (before `queue.start()`). */
export function createVideoAnimations(deps: VideoAnimationDeps): VideoAnimations {
  const now = deps.now ?? (() => Date.now());
  const { objects, queue } = deps;
  const retainMs = deps.retainMs ?? 24 * 3600_000;
  const backlog = createBacklogGate(queue, VIDEO_JOB_KIND, deps.maxBacklog ?? 0, 'video animation tasks');

  queue.register(VIDEO_JOB_KIND, async (payload, ctx) => {
    const p = payload as unknown as TaskPayload;
    await mkdir(deps.tmpDir, { recursive: true });
    const dir = await mkdtemp(join(deps.tmpDir, 'task-'));
    try {
      const rec = await objects.headObject(p.source.bucket, p.source.key);
      if (rec.size > deps.maxBytes) throw new AppError('VIDEO_TOO_LARGE', `The video is larger than the ${deps.maxBytes}-byte limit.`);
      const input = join(dir, 'source');
      await pipeline(objects.openObject(rec), createWriteStream(input), { signal: ctx.signal });
      ctx.progress(2);
      const info = await deps.tools.probe(input, ctx.signal);
      const plan = planAnimation(p.params, info, deps.limits);
      ctx.progress(5);
      const output = join(dir, `out.${plan.format}`);
      const res = await deps.tools.animate({
        input, output, plan, signal: ctx.signal,
        onFrames: (n) => ctx.progress(5 + (90 * n) / plan.frames),
      });
      const size = (await stat(output)).size;
      ctx.signal.throwIfAborted();
      const stored = await objects.putObject({
        bucket: p.target.bucket, key: p.target.key, body: createReadStream(output), contentLength: size,
        contentType: plan.format === 'gif' ? 'image/gif' : 'image/webp', headers: {}, meta: {}, acl: 'default',
      });
      deps.log(`halftone: video task ${p.taskId}: ${res.frames} frames ${plan.output.width}x${plan.output.height} ${plan.format} → oss://${p.target.bucket}/${p.target.key} (${size} bytes)`);
      return {
        URI: `oss://${p.target.bucket}/${p.target.key}`, ETag: stored.etag, Size: size, Format: plan.format,
        Frames: res.frames, Width: plan.output.width, Height: plan.output.height,
        Delay: plan.delay, DelayUnit: plan.format === 'gif' ? 'cs' : 'ms', IntervalMs: plan.intervalMs,
        Source: { DurationMs: Math.round(info.durationMs), Fps: info.fps, Width: info.width, Height: info.height, Rotation: info.rotation, Codec: info.codec },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  queue.register(NOTIFY_JOB_KIND, async (payload, ctx) => {
    const { url, body, taskId } = payload as { url: string; body: string; taskId: string };
    try {
      const res = await deps.webhook.post(url, body, ctx.signal);
      deps.log(`halftone: notify ${taskId} → ${url} attempt ${ctx.attempt}: HTTP ${res.status}`);
      if (res.status < 200 || res.status > 299) throw new Error(`webhook answered HTTP ${res.status}`);
      return { status: res.status };
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('webhook answered'))) {
        deps.log(`halftone: notify ${taskId} → ${url} attempt ${ctx.attempt}: ${(err as Error).message}`);
      }
      // Plain errors are transient for the queue: retried with backoff until the attempts run out.
      throw isAppError(err) ? new Error(err.publicMessage) : err;
    }
  });

  // Called again for the same task after a crash (at-least-once), so it must be idempotent: the
  // delivery ids are fixed per task and URL (submitting an existing id changes nothing), and the
  // deliveries are kept as long as the task, so while the task can still be announced again its
  // deliveries exist and are not sent twice. The returned promise tells the queue when the
  // deliveries are durably queued; one that could not be queued (say the queue was closing) fails
  // it, and the next start announces the task again.
  queue.onSettled(async (job) => {
    if (job.kind !== VIDEO_JOB_KIND) return;
    const p = job.payload as unknown as TaskPayload;
    if (job.state === 'failed') deps.log(`halftone: video task ${p.taskId} failed: ${job.error?.code}: ${job.error?.message}`);
    if (p.topic === null) return;
    const urls = deps.topics.get(p.topic) ?? [];
    const body = JSON.stringify(notifyEnvelope(job));
    const queued = await Promise.allSettled(urls.map((url, i) => queue.submit(NOTIFY_JOB_KIND, { url, body, taskId: p.taskId }, {
      id: `${p.taskId}-notify-${i}`, attempts: deps.notifyAttempts ?? 6, backoffMs: deps.notifyBackoffMs ?? 1000, timeoutMs: 30_000, retainMs,
    }).catch((err: unknown) => {
      deps.log(`halftone: notify ${p.taskId} → ${url}: could not queue: ${String(err)}`);
      throw err;
    })));
    if (queued.some((r) => r.status === 'rejected')) throw new Error(`notifications of ${p.taskId} not all queued`);
  });

  async function job(taskId: string): Promise<JobRecord> {
    const j = taskId === '' ? undefined : await queue.get(taskId);
    if (j === undefined || j.kind !== VIDEO_JOB_KIND) throw new AppError('NO_SUCH_TASK', 'The specified task does not exist.', { details: { taskId } });
    return j;
  }

  return {
    async submit(req) {
      if (!deps.tools.available()) throw new AppError('VIDEO_TOOLS_UNAVAILABLE', `Video processing is not available: ${deps.tools.describe()}. Install ffmpeg or set HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH.`);
      const src = await objects.headObject(req.bucket, req.key);
      if (src.size === 0) throw new AppError('NOT_A_VIDEO', 'The source object is empty (0 bytes).');
      if (src.size > deps.maxBytes) throw new AppError('VIDEO_TOO_LARGE', `The video is larger than the ${deps.maxBytes}-byte limit.`);
      const image = sniffFormat(await firstBytes(objects, req.bucket, req.key, 64));
      // HEIF/AVIF share the ISO-BMFF header with MP4: a "heic"/"avif" sniff of a video brand is
      // left to the probe, so only the unambiguous image signatures are refused here.
      if (image !== null && image !== 'heic' && image !== 'avif') throw new AppError('NOT_A_VIDEO', `The source is an image (${image}), not a video.`);
      if (req.topic !== undefined && !deps.topics.has(req.topic)) {
        throw new AppError('INVALID_ARGUMENT', `The notify topic ${JSON.stringify(req.topic)} is not configured on this server (HALFTONE_NOTIFY_TOPICS).`);
      }
      const targetBucket = req.saveas.bucket ?? req.bucket;
      await objects.getBucket(targetBucket);
      // The room is held until the job is queued (or its submission failed).
      const room = await backlog.reserve();
      try {
        const t = now();
        const targetKey = expandTargetKey(req.saveas.object, targetVariables({ bucket: req.bucket, key: req.key, format: req.params.format, uploadedAt: src.lastModified, taskAt: t }));
        objects.checkObjectKey(targetKey);
        const payload: TaskPayload = {
          taskId: `MediaConvert-${randomUUID()}`, requestId: uuidUpper(), eventId: eventId(),
          source: { bucket: req.bucket, key: req.key }, target: { bucket: targetBucket, key: targetKey },
          params: req.params, topic: req.topic ?? null, submittedAt: t,
        };
        await queue.submit(VIDEO_JOB_KIND, payload as unknown as Json, {
          id: payload.taskId, attempts: 2, backoffMs: 2000, timeoutMs: deps.timeoutMs, retainMs,
        });
        return { EventId: payload.eventId, RequestId: payload.requestId, TaskId: payload.taskId };
      } finally {
        room.done();
      }
    },
    async status(taskId) {
      return taskContent(await job(taskId));
    },
    async cancel(taskId) {
      await job(taskId);
      await queue.cancel(taskId);
      return taskContent(await job(taskId));
    },
  };
}
