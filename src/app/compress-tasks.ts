/**
 * Use case: compression tasks (the PicWish-style `imgcompress` task API, spec
 * compress-task-api.md). A task is a durable job of kind `imgcompress` on the JobQueue port; its
 * uploaded source waits in TaskInputs, its result goes to ResultFiles (signed URL) or, for
 * base64 results, back to TaskInputs.
 *
 * Expected failures (download, oversize, corrupt image, unreachable target) are not thrown: the
 * handler returns them as the task's outcome with the spec's negative state, so they are neither
 * retried nor logged as errors. Unexpected errors are thrown (retried once, then state -1); a run
 * past the processing cap is aborted by the queue (state -8); a run a crash interrupted runs again.
 */
import { randomUUID } from 'node:crypto';
import { AppError, isAppError, type ErrorCode } from '../core/errors.js';
import { sniffFormat } from '../core/codecs/sniff.js';
import { DEFAULT_LIMITS, type Limits } from '../core/pipeline/limits.js';
import type { JobContext, JobQueue, JobRecord, Json } from '../ports/job-queue.js';
import type { ResultFiles } from '../ports/result-files.js';
import type { SourceFetcher } from '../ports/source-fetcher.js';
import type { TaskInputs } from '../ports/task-inputs.js';
import { createBacklogGate, type BacklogRoom } from './job-backlog.js';

export const TASK_KIND = 'imgcompress';
/** 1 KB = 1024 bytes (spec §7.1). */
export const KBYTE = 1024;
/** Upload cap (spec §2: ≤ 20 MB; larger → HTTP 413). */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
/** Remote source cap (spec §2: > 30 MB → state -5). */
export const MAX_URL_BYTES = 30 * 1024 * 1024;
/** Largest side of a source and of a requested output (spec §2). */
export const MAX_SIDE = 8000;

export type TaskFormat = 'jpeg' | 'png' | 'webp';

export interface TaskOptions {
  readonly format?: TaskFormat;
  readonly quality?: number;
  readonly kbyte?: number;
  readonly width?: number;
  readonly height?: number;
  /** 1 = result URL, 2 = base64. */
  readonly returnType: 1 | 2;
}

export type TaskSource = { readonly url: string } | { readonly file: Buffer; readonly fileName: string };

export interface CompressTasksConfig {
  /** How long a task and its result live after creation (spec: 1 hour). */
  readonly retentionMs: number;
  /** Processing cap of one run (spec: 180 s) → state -8. */
  readonly timeoutMs: number;
  /** Remote download limits (size cap → -5, other failures → -3). */
  readonly fetch: { readonly maxBytes: number; readonly timeoutMs: number; readonly maxRedirects: number };
  /** Tasks queued or running at most before new ones are refused (OVERLOADED); 0 = no cap. */
  readonly maxBacklog?: number;
}

export interface CompressTasksDeps {
  readonly queue: JobQueue;
  readonly fetcher: SourceFetcher;
  readonly results: ResultFiles;
  readonly inputs: TaskInputs;
  readonly config: CompressTasksConfig;
  readonly now?: () => number;
}

export type TaskImage = { readonly kind: 'url'; readonly path: string } | { readonly kind: 'base64'; readonly data: string };

/** What the query endpoint shows; times are epoch milliseconds. */
export interface TaskView {
  readonly taskId: string;
  readonly state: number;
  readonly progress: number;
  readonly stateDetail: string;
  readonly returnType: 1 | 2;
  readonly createdAt: number;
  readonly processedAt?: number;
  readonly completedAt?: number;
  readonly image?: TaskImage;
}

export const STATE_DETAIL: Readonly<Record<number, string>> = {
  1: 'Complete',
  0: 'Queued',
  2: 'Preparing',
  3: 'Waiting',
  4: 'Processing',
  5: 'Publishing',
  [-1]: 'Processing failed',
  [-2]: 'Publishing the result failed',
  [-3]: 'Could not download image_url',
  [-5]: 'image_url file is too large',
  [-7]: 'Invalid image file',
  [-8]: 'Timed out',
  [-13]: 'Cancelled',
  [-14]: 'Input content does not meet requirements',
};

interface Payload {
  readonly url?: string;
  readonly fileName: string;
  readonly options: TaskOptions;
  readonly createdAt: number;
}

type Outcome =
  | { ok: true; format: TaskFormat; width: number; height: number; size: number; processedAt: number; resultId?: string; path?: string; base64?: true }
  | { ok: false; state: number; message: string; processedAt: number };

export interface CompressTasks {
  readonly kind: string;
  /** The job handler to register on the queue under {@link CompressTasks.kind}. */
  handle(payload: Json, ctx: JobContext): Promise<Json>;
  /** The queue's expiry hook for this kind: removes the task's files. */
  expire(job: JobRecord): Promise<void>;
  /**
   * Reserves room in the task backlog (before an upload is read), or throws OVERLOADED when it is
   * full; the caller gives it back with `done()` once its submit has settled or was not made.
   */
  reserveRoom(): Promise<BacklogRoom>;
  submit(source: TaskSource, options: TaskOptions): Promise<{ taskId: string }>;
  /** Undefined when the task is unknown or past its retention. */
  get(taskId: string): Promise<TaskView | undefined>;
  /** Waits up to `budgetMs` for the task to settle, then answers its current view. */
  wait(taskId: string, budgetMs: number): Promise<TaskView | undefined>;
  /**
   * Removes stored inputs/outputs whose task no longer exists (a crash between storing an upload
   * and submitting its task); returns how many. Run at start-up.
   */
  sweepOrphans(): Promise<number>;
}

const FORMAT_TYPES: Record<TaskFormat, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
const EXTENSIONS: Record<TaskFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp' };
const TASK_LIMITS: Limits = { ...DEFAULT_LIMITS, maxSourceBytes: MAX_URL_BYTES, maxSourceSide: MAX_SIDE, maxSourcePixels: MAX_SIDE * MAX_SIDE };

const inputName = (id: string): string => `${id}.in`;
const outputName = (id: string): string => `${id}.out`;

/** The task state of an error code (spec §3.1). */
export function stateOfError(code: ErrorCode): number {
  if (code === 'FETCH_TOO_LARGE') return -5;
  if (code.startsWith('FETCH_')) return -3;
  if (code === 'CORRUPT_IMAGE' || code === 'UNSUPPORTED_FORMAT') return -7;
  if (code === 'TIMEOUT') return -8;
  if (code === 'IMAGE_TOO_LARGE' || code === 'OUTPUT_TOO_LARGE' || code === 'TARGET_SIZE_UNREACHABLE') return -14;
  return -1;
}

function baseName(name: string): string {
  const last = name.split(/[\\/]/).pop() ?? '';
  const dot = last.lastIndexOf('.');
  const stem = (dot > 0 ? last.slice(0, dot) : last).replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64);
  return stem === '' || stem === '_' ? 'image' : stem;
}

function urlFileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return 'image';
  }
}

/** The engine (sharp) is loaded on the first task, so the server starts without it. */
async function engine() {
  const [{ probe }, { compressToTarget }, { recompress }] = await Promise.all([
    import('../core/codecs/probe.js'),
    import('../core/compress/target-size.js'),
    import('../core/compress/recompress.js'),
  ]);
  return { probe, compressToTarget, recompress };
}

export function createCompressTasks(deps: CompressTasksDeps): CompressTasks {
  const { queue, fetcher, results, inputs, config } = deps;
  const backlog = createBacklogGate(queue, TASK_KIND, config.maxBacklog ?? 0, 'compression tasks');
  const now = deps.now ?? Date.now;
  /** Start times of runs in this process (for `processed_at` while running). */
  const started = new Map<string, number>();

  // The input is removed once the task settles. The promise goes back to the queue: a crash (or a
  // failed removal) before it fulfilled makes the next start announce the task again, and the
  // removal runs again (removing a missing input is a no-op, so calling this twice is harmless).
  queue.onSettled((job) => {
    if (job.kind !== TASK_KIND) return;
    started.delete(job.id);
    return inputs.remove(inputName(job.id));
  });

  async function outputFormat(source: Buffer, options: TaskOptions): Promise<TaskFormat> {
    if (options.format !== undefined) return options.format;
    const sniffed = sniffFormat(source);
    if (sniffed === 'jpeg' || sniffed === 'png' || sniffed === 'webp') return sniffed;
    // Other inputs: PNG when the image has alpha, JPEG otherwise (spec §7.4).
    const { probe } = await engine();
    return (await probe(source)).hasAlpha ? 'png' : 'jpeg';
  }

  async function compress(source: Buffer, options: TaskOptions, format: TaskFormat): Promise<{ data: Buffer; width: number; height: number }> {
    const { probe, compressToTarget, recompress } = await engine();
    const size = {
      ...(options.width === undefined ? {} : { width: Math.min(options.width, MAX_SIDE) }),
      ...(options.height === undefined ? {} : { height: Math.min(options.height, MAX_SIDE) }),
    };
    if (options.kbyte === undefined) {
      return recompress(source, { format, limits: TASK_LIMITS, ...size, ...(options.quality === undefined ? {} : { quality: options.quality }) });
    }
    let targetBytes = options.kbyte * KBYTE;
    // Same format, no resize: never answer more bytes than the source already has (spec §7.1).
    const keepable = sniffFormat(source) === format && options.width === undefined && options.height === undefined && (await probe(source)).orientation === 1;
    if (keepable && source.length <= targetBytes) targetBytes = source.length;
    try {
      return await compressToTarget(source, { format, targetBytes, limits: TASK_LIMITS, ...size });
    } catch (err) {
      if (keepable && isAppError(err) && err.code === 'TARGET_SIZE_UNREACHABLE' && source.length <= options.kbyte * KBYTE) {
        const info = await probe(source);
        return { data: source, width: info.width, height: info.height };
      }
      throw err;
    }
  }

  async function run(id: string, p: Payload, ctx: JobContext): Promise<Outcome> {
    const processedAt = now();
    started.set(id, processedAt);
    const fail = (err: unknown): Outcome => {
      if (!isAppError(err)) throw err;
      if (err.code === 'TIMEOUT' || ctx.signal.aborted) throw err;
      return { ok: false, state: stateOfError(err.code), message: err.publicMessage, processedAt };
    };
    ctx.progress(10);
    let source: Buffer;
    try {
      if (p.url !== undefined) {
        const fetched = await fetcher.fetchSource(p.url, { signal: ctx.signal, ...config.fetch });
        source = fetched.body;
      } else {
        const stored = await inputs.get(inputName(id));
        if (stored === undefined) return { ok: false, state: -1, message: 'The uploaded image is no longer available', processedAt };
        source = stored;
      }
    } catch (err) {
      return fail(err);
    }
    ctx.progress(50);
    let out: { data: Buffer; width: number; height: number };
    let format: TaskFormat;
    try {
      if (sniffFormat(source) === null) throw new AppError('UNSUPPORTED_FORMAT', 'The file is not an image in a supported format.');
      format = await outputFormat(source, p.options);
      out = await compress(source, p.options, format);
    } catch (err) {
      return fail(err);
    }
    ctx.signal.throwIfAborted();
    ctx.progress(90);
    const base = { ok: true as const, format, width: out.width, height: out.height, size: out.data.length, processedAt };
    try {
      if (p.options.returnType === 2) {
        await inputs.put(outputName(id), out.data);
        return { ...base, base64: true };
      }
      const ttlMs = Math.max(1000, p.createdAt + config.retentionMs - now());
      const published = await results.publish(out.data, { contentType: FORMAT_TYPES[format], fileName: `${p.fileName}.${EXTENSIONS[format]}`, ttlMs });
      return { ...base, resultId: published.id, path: published.path };
    } catch (err) {
      return { ok: false, state: -2, message: isAppError(err) ? err.publicMessage : 'The result could not be stored', processedAt };
    }
  }

  async function view(job: JobRecord): Promise<TaskView | undefined> {
    const p = job.payload as unknown as Payload;
    const createdAt = p.createdAt ?? job.createdAt;
    if (createdAt + config.retentionMs <= now()) return undefined;
    const common = { taskId: job.id, returnType: p.options.returnType, createdAt };
    switch (job.state) {
      case 'queued': {
        const state = job.attempts > 0 ? 3 : 0;
        return { ...common, state, progress: 0, stateDetail: STATE_DETAIL[state] as string };
      }
      case 'running': {
        const state = job.progress >= 90 ? 5 : job.progress >= 50 ? 4 : 2;
        const at = started.get(job.id);
        return { ...common, state, progress: job.progress, stateDetail: STATE_DETAIL[state] as string, ...(at === undefined ? {} : { processedAt: at }) };
      }
      case 'succeeded': {
        const o = job.result as unknown as Outcome;
        const done = { ...common, processedAt: o.processedAt, completedAt: job.updatedAt };
        if (!o.ok) return { ...done, state: o.state, progress: 0, stateDetail: o.message || (STATE_DETAIL[o.state] ?? 'Failed') };
        let image: TaskImage;
        if (o.base64) {
          const bytes = await inputs.get(outputName(job.id));
          if (bytes === undefined) return undefined;
          image = { kind: 'base64', data: bytes.toString('base64') };
        } else {
          image = { kind: 'url', path: o.path as string };
        }
        return { ...done, state: 1, progress: 100, stateDetail: STATE_DETAIL[1] as string, image };
      }
      case 'failed': {
        const code = job.error?.code ?? 'INTERNAL';
        const state = stateOfError(code);
        const detail = code === 'TIMEOUT' ? `Timed out: processing took longer than ${Math.round(config.timeoutMs / 1000)} s` : (STATE_DETAIL[state] as string);
        return { ...common, state, progress: 0, stateDetail: detail, completedAt: job.updatedAt };
      }
      case 'cancelled':
        return { ...common, state: -13, progress: 0, stateDetail: STATE_DETAIL[-13] as string, completedAt: job.updatedAt };
    }
  }

  async function get(taskId: string): Promise<TaskView | undefined> {
    const job = await queue.get(taskId);
    if (job === undefined || job.kind !== TASK_KIND) return undefined;
    return view(job);
  }

  return {
    kind: TASK_KIND,
    async handle(payload, ctx) {
      return (await run(ctx.id, payload as unknown as Payload, ctx)) as unknown as Json;
    },
    async expire(job) {
      const o = job.result as unknown as Outcome | undefined;
      if (o && o.ok && o.resultId !== undefined) await results.remove(o.resultId);
      await inputs.remove(inputName(job.id));
      await inputs.remove(outputName(job.id));
    },
    reserveRoom: () => backlog.reserve(),
    async submit(source, options) {
      const taskId = randomUUID();
      const createdAt = now();
      const isUrl = 'url' in source;
      if (!isUrl) await inputs.put(inputName(taskId), source.file);
      const payload: Payload = {
        ...(isUrl ? { url: source.url } : {}),
        fileName: baseName(isUrl ? urlFileName(source.url) : source.fileName),
        options,
        createdAt,
      };
      try {
        await queue.submit(TASK_KIND, payload as unknown as Json, {
          id: taskId,
          attempts: 2,
          backoffMs: 500,
          timeoutMs: config.timeoutMs,
          retainMs: config.retentionMs,
        });
      } catch (err) {
        if (!isUrl) await inputs.remove(inputName(taskId)).catch(() => undefined);
        throw err;
      }
      return { taskId };
    },
    get,
    async sweepOrphans() {
      let removed = 0;
      for (const name of await inputs.list()) {
        const id = name.replace(/\.(in|out)$/, '');
        const job = id === name ? undefined : await queue.get(id);
        if (job === undefined) {
          await inputs.remove(name);
          removed++;
        }
      }
      return removed;
    },
    async wait(taskId, budgetMs) {
      let settledNow: (() => void) | undefined;
      const settled = new Promise<void>((resolve) => (settledNow = resolve));
      const off = queue.onSettled((job) => {
        if (job.id === taskId) settledNow?.();
      });
      try {
        const job = await queue.get(taskId);
        if (job !== undefined && (job.state === 'queued' || job.state === 'running')) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([settled, new Promise<void>((r) => (timer = setTimeout(r, budgetMs)))]);
          clearTimeout(timer);
        }
      } finally {
        off();
      }
      return get(taskId);
    },
  };
}
