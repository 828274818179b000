/**
 * Use case: the Abstract-style image optimisation API (spec abstract-api.md). One source (a remote
 * URL or uploaded bytes) and validated options in; the success body's numbers and where the result
 * lives out: a signed short-lived Halftone result file (ResultFiles), or the client's own bucket
 * when the request names `s3_store` / `azure_store` (ResultExporter).
 *
 * Source, image and export problems become AbstractValidationErrors keyed by the field they concern
 * (`url` or `image`, `resize`, `s3_store` / `azure_store`), as the spec recommends (§7).
 */
import { randomBytes } from 'node:crypto';
import { optimiseImage, type OptimiseResult } from '../core/compress/optimise.js';
import { DEFAULT_LIMITS, type Limits } from '../core/pipeline/limits.js';
import { isAppError } from '../core/errors.js';
import type { OutputFormat } from '../core/ir.js';
import { planResize } from '../dialects/abstract/resize.js';
import type { AbstractOptions, StoreSpec } from '../dialects/abstract/request.js';
import { AbstractValidationError, isAbstractValidationError } from '../dialects/abstract/validation.js';
import type { SourceFetcher } from '../ports/source-fetcher.js';
import type { ResultFiles } from '../ports/result-files.js';
import type { AzureExportTarget, ExportTarget, ResultExporter, S3ExportTarget } from '../ports/result-exporter.js';
import { probe } from '../core/codecs/probe.js';
import { checkSourceLimits } from '../core/pipeline/limits.js';
import { estimatePipelineBytes, withHold, type Admission, type MemoryHold } from './admission.js';

/** Largest source, remote or uploaded (DOC: "the file may not exceed 32 MB"). */
export const MAX_SOURCE_BYTES = 32 * 1024 * 1024;
/** How long a result URL stays valid (DOC/SPEC: one day). */
export const RESULT_TTL_MS = 24 * 60 * 60 * 1000;

export interface AbstractDeps {
  readonly fetcher: SourceFetcher;
  readonly resultFiles: ResultFiles;
  readonly exporters?: {
    readonly s3?: ResultExporter<S3ExportTarget>;
    readonly azure?: ResultExporter<AzureExportTarget>;
  };
  /** Remote fetch limits (default 32 MB, 20 s, 5 redirects). */
  readonly fetch?: { readonly maxBytes: number; readonly timeoutMs: number; readonly maxRedirects: number };
  readonly resultTtlMs?: number;
  readonly limits?: Limits;
  /** Bounds the pixel work with the OSS/Cloudflare pipelines (OVERLOADED → 503 + Retry-After). */
  readonly admission?: Admission | undefined;
}

export type AbstractSource =
  | { readonly kind: 'url'; readonly url: string; readonly via?: string; readonly signal?: AbortSignal }
  | { readonly kind: 'upload'; readonly data: Buffer; readonly fileName: string };

export interface AbstractOutcome {
  readonly original_size: number;
  readonly original_width: number;
  readonly original_height: number;
  readonly final_size: number;
  readonly bytes_saved: number;
  readonly final_width: number;
  readonly final_height: number;
  /** A path for the HTTP layer to make absolute, or an absolute URL in the client's storage. */
  readonly location: { readonly kind: 'path'; readonly path: string } | { readonly kind: 'url'; readonly url: string };
  readonly contentType: string;
}

const EXTENSIONS: Readonly<Partial<Record<OutputFormat, string>>> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', avif: 'avif' };

/** A safe file name for the result: the source's base name with the output format's extension. */
export function resultFileName(sourceName: string, format: OutputFormat): string {
  const base = sourceName.split(/[/\\]/).pop() ?? '';
  let decoded = base;
  try {
    decoded = decodeURIComponent(base);
  } catch {
    // keep the raw segment
  }
  const stem = decoded.replace(/\.[A-Za-z0-9]{1,5}$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 100);
  return `${stem === '' ? 'image' : stem}.${EXTENSIONS[format] ?? format}`;
}

function nameFromUrl(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return 'image';
  }
}

async function loadSource(source: AbstractSource, deps: AbstractDeps, hold: MemoryHold | undefined): Promise<{ data: Buffer; name: string; field: 'url' | 'image' }> {
  if (source.kind === 'upload') {
    if (source.data.length === 0) throw new AbstractValidationError({ image: ['The uploaded file is empty.'] });
    if (source.data.length > MAX_SOURCE_BYTES) throw new AbstractValidationError({ image: ['The file may not exceed 32 MB.'] });
    return { data: source.data, name: source.fileName, field: 'image' };
  }
  const limits = deps.fetch ?? { maxBytes: MAX_SOURCE_BYTES, timeoutMs: 20_000, maxRedirects: 5 };
  try {
    const fetched = await deps.fetcher.fetchSource(source.url, {
      ...limits,
      ...(source.signal === undefined ? {} : { signal: source.signal }),
      ...(source.via === undefined ? {} : { headers: { via: source.via } }),
      ...(hold === undefined ? {} : { memory: hold }),
    });
    return { data: fetched.body, name: nameFromUrl(fetched.finalUrl), field: 'url' };
  } catch (err) {
    // A refusal for memory (503) or a client that left is not a problem of the URL.
    if (!isAppError(err) || err.code === 'OVERLOADED' || err.code === 'CLIENT_CLOSED') throw err;
    throw new AbstractValidationError({ url: [fetchMessage(err.code, err.publicMessage, limits.maxBytes)] });
  }
}

function fetchMessage(code: string, message: string, maxBytes: number): string {
  switch (code) {
    case 'FETCH_TOO_LARGE': return `The file may not exceed ${Math.round(maxBytes / 1024 / 1024)} MB.`;
    case 'FETCH_TIMEOUT': return 'The image could not be downloaded in time.';
    case 'FETCH_INVALID_URL': return `The URL is not valid: ${message}.`;
    case 'FETCH_FORBIDDEN_ADDRESS':
    case 'FETCH_ORIGIN_NOT_ALLOWED': return 'The URL must point to a publicly reachable host.';
    case 'FETCH_DNS_FAILED': return 'The host name of the URL could not be resolved.';
    case 'FETCH_ORIGIN_NOT_FOUND': return 'The image was not found at the URL (the server answered 404).';
    default: return `The image could not be downloaded: ${message}.`;
  }
}

function imageMessage(code: string, message: string): string | undefined {
  switch (code) {
    case 'UNSUPPORTED_FORMAT': return 'The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, TIFF, BMP, HEIC).';
    case 'CORRUPT_IMAGE': return 'The image is corrupt or truncated and cannot be decoded.';
    case 'IMAGE_TOO_LARGE': return message;
    default: return undefined;
  }
}

function exportTarget(store: StoreSpec, key: string): ExportTarget {
  if (store.kind === 's3') {
    return {
      kind: 's3',
      accessKeyId: store.accessKeyId,
      secretAccessKey: store.secretAccessKey,
      ...(store.sessionToken === undefined ? {} : { sessionToken: store.sessionToken }),
      bucket: store.bucket,
      region: store.region,
      key: store.path ?? key,
      ...(store.endpoint === undefined ? {} : { endpoint: store.endpoint }),
      ...(store.acl === undefined ? {} : { acl: store.acl }),
    };
  }
  return {
    kind: 'azure',
    account: store.account,
    accountKey: store.accountKey,
    container: store.container,
    blobName: store.path ?? key,
    ...(store.endpoint === undefined ? {} : { endpoint: store.endpoint }),
  };
}

async function place(result: OptimiseResult, name: string, store: StoreSpec | undefined, deps: AbstractDeps): Promise<AbstractOutcome['location']> {
  if (store === undefined) {
    const published = await deps.resultFiles.publish(result.data, { contentType: result.contentType, fileName: name, ttlMs: deps.resultTtlMs ?? RESULT_TTL_MS });
    return { kind: 'path', path: published.path };
  }
  const field = store.kind === 's3' ? 's3_store' : 'azure_store';
  const target = exportTarget(store, `${randomBytes(16).toString('hex')}_${name}`);
  try {
    const object = { bytes: result.data, contentType: result.contentType };
    let exported;
    if (target.kind === 's3') {
      if (deps.exporters?.s3 === undefined) throw new AbstractValidationError({ [field]: ['Export to S3 is not enabled on this server.'] });
      exported = await deps.exporters.s3.export(target, object);
    } else {
      if (deps.exporters?.azure === undefined) throw new AbstractValidationError({ [field]: ['Export to Azure Blob storage is not enabled on this server.'] });
      exported = await deps.exporters.azure.export(target, object);
    }
    return { kind: 'url', url: exported.url };
  } catch (err) {
    if (isAbstractValidationError(err)) throw err;
    if (isAppError(err) && (err.code === 'EXPORT_FAILED' || err.code === 'EXPORT_TARGET_NOT_ALLOWED')) {
      throw new AbstractValidationError({ [field]: [err.publicMessage] });
    }
    throw err;
  }
}

/** Runs one request. Throws AbstractValidationError for client problems, anything else for 500. */
export function optimiseAbstract(source: AbstractSource, options: AbstractOptions, deps: AbstractDeps): Promise<AbstractOutcome> {
  // A downloaded source is held against the memory budget until the request is done.
  return withHold(deps.admission, (hold) => optimiseHeld(source, options, deps, hold));
}

async function optimiseHeld(source: AbstractSource, options: AbstractOptions, deps: AbstractDeps, hold: MemoryHold | undefined): Promise<AbstractOutcome> {
  const { data, name, field } = await loadSource(source, deps, hold);
  let result: OptimiseResult;
  const limits = deps.limits ?? { ...DEFAULT_LIMITS, maxSourceBytes: MAX_SOURCE_BYTES };
  const work = () => optimiseImage(data, {
    lossy: options.lossy,
    ...(options.quality === undefined ? {} : { quality: options.quality }),
    ...(options.resize === undefined ? {} : { plan: (w: number, h: number) => planResize(w, h, options.resize!) }),
    limits,
  });
  try {
    if (deps.admission === undefined) result = await work();
    else {
      // Header probe and source limits before queueing, so a bomb is refused at once instead of
      // waiting for a slot with an enormous estimate; optimiseImage checks them again.
      const info = await probe(data);
      checkSourceLimits(info, { ops: [], output: {} }, limits, 1);
      result = await deps.admission.run(estimatePipelineBytes(info), work);
    }
  } catch (err) {
    if (isAbstractValidationError(err) || !isAppError(err)) throw err;
    if (err.code === 'OUTPUT_TOO_LARGE') throw new AbstractValidationError({ resize: [err.publicMessage] });
    const message = imageMessage(err.code, err.publicMessage);
    if (message !== undefined) throw new AbstractValidationError({ [field]: [message] });
    throw err;
  }
  const location = await place(result, resultFileName(name, result.format), options.store, deps);
  return {
    original_size: data.length,
    original_width: result.sourceWidth,
    original_height: result.sourceHeight,
    final_size: result.data.length,
    bytes_saved: data.length - result.data.length,
    final_width: result.width,
    final_height: result.height,
    location,
    contentType: result.contentType,
  };
}
