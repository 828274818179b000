/**
 * Use case: a Cloudflare URL transformation `/cdn-cgi/image/<options>/<source>` (spec
 * cloudflare-transform.md). Source lookup (object store or SourceFetcher) → probe → format and
 * quality decisions from the options and request headers → ETag (answered with 304 before any
 * decoding when it matches) → the shared engine (`runRecipe`) → bytes and response metadata.
 *
 * Relative sources resolve to objects: by default the first path segment is the bucket and the
 * rest the key (`/photos/cats/a.jpg` → bucket `photos`, key `cats/a.jpg`); with `sourceBucket`
 * configured the whole path is a key of that bucket. Only public-read buckets/objects are served
 * (the effective object ACL), anything else is ACCESS_DENIED (403).
 */
import { createHash } from 'node:crypto';
import { AppError } from '../core/errors.js';
import type { CfFit, OutputFormat, Recipe, SourceInfo } from '../core/ir.js';
import { planRecipe, runRecipe } from '../core/pipeline/run.js';
import type { Limits } from '../core/pipeline/limits.js';
import { probe, probeImage, type ProbedImage } from '../core/codecs/probe.js';
import { readEncoded, type EncodedImage } from '../core/codecs/source.js';
import { MIME_TYPES } from '../core/output/format.js';
import { negotiateModernFormat, originalFamily } from '../core/output/negotiate.js';
import { cfRecipe, parseCfOptions, type CfOptions } from '../dialects/cloudflare/parse.js';
import { isSlowConnection, NETWORK_HINTS, resolveAutoWidth, type ClientHints } from '../dialects/cloudflare/hints.js';
import type { SourceFetcher } from '../ports/source-fetcher.js';
import type { FaceDetector } from '../ports/face-detector.js';
import type { BucketRecord, ObjectRecord } from '../ports/meta-store.js';
import type { CachedVariant } from '../ports/result-cache.js';
import { variantKey, type Variants } from './variants.js';
import { estimatePipelineBytes, heldBy, withHold, type Admission, type LazySignal, type MemoryHold } from './admission.js';
import { ossSourceTag } from './oss-variants.js';

/** The part of the object service this use case reads. */
export interface CfObjectReader {
  findBucket(name: string): Promise<BucketRecord | undefined>;
  findObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * The object `rec` as the engine's source (its blob file where blobs are local files; else its
   * bytes, after `reserve` was given their size).
   */
  openImage(rec: ObjectRecord, reserve?: (bytes: number) => Promise<void>): Promise<EncodedImage>;
}

export interface CfTransformConfig {
  /** Default `fit` (spec §4.1 CONFLICT): `scale-down` unless configured `contain`. */
  readonly defaultFit: CfFit;
  /** Strict option validation (400/9401) instead of lenient warnings. */
  readonly strict: boolean;
  /** Bucket for relative sources; empty = the first path segment names the bucket. */
  readonly sourceBucket: string;
  /** Download caps for remote sources. */
  readonly fetch: { readonly maxBytes: number; readonly timeoutMs: number; readonly maxRedirects: number };
  /** Cache-Control sent when the source has none. */
  readonly defaultCacheControl: string;
}

export const DEFAULT_CF_CONFIG: CfTransformConfig = {
  defaultFit: 'scale-down',
  strict: false,
  sourceBucket: '',
  fetch: { maxBytes: 100 * 1024 * 1024, timeoutMs: 15000, maxRedirects: 5 },
  defaultCacheControl: 'public, max-age=3600',
};

/** Engine limits for Cloudflare requests (spec §15.1): 100 MB, 100 MP over all frames. */
export const CF_LIMITS: Limits = {
  maxSourceBytes: 100 * 1024 * 1024,
  maxSourceSide: 100_000,
  maxSourcePixels: 100_000_000,
  maxRotateSide: 100_000,
  maxFrames: 1000,
};

/** AVIF longest-side limits (spec §15.1): 1,200 px for `auto`, 1,600 px when explicit. */
export const AVIF_MAX_SIDE_AUTO = 1200;
export const AVIF_MAX_SIDE_EXPLICIT = 1600;

export interface CfTransformDeps {
  readonly objects: CfObjectReader;
  /** Remote sources; absent = absolute URLs are refused (FETCH_ORIGIN_NOT_ALLOWED). */
  readonly fetcher?: SourceFetcher | undefined;
  /** `gravity=face`; absent = faces are approximated by the saliency (attention) strategy. */
  readonly faces?: FaceDetector | undefined;
  readonly config: CfTransformConfig;
  /** Result cache with request coalescing; absent = every request runs the engine. */
  readonly variants?: Variants | undefined;
  /** Admission control for the pixel work; absent = unbounded. */
  readonly admission?: Admission | undefined;
}

/** Bumped when a change of the engine changes the bytes of cached variants. */
const CACHE_VERSION = 1;

export type CfSource =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'url'; readonly url: string }
  /**
   * A stored object the caller found and authorised itself (hosted images: their own bucket and
   * signed URLs); its response Cache-Control is the caller's.
   */
  | { readonly kind: 'object'; readonly bucket: string; readonly key: string; readonly rec: ObjectRecord; readonly cacheControl: string };

export interface CfRequest {
  /** The options segment as it appears in the URL (still percent-encoded). */
  readonly options: string;
  readonly source: CfSource;
  /** Request headers the transformation reads (lower-case names). */
  readonly headers: ClientHints & {
    readonly accept?: string | undefined;
    readonly via?: string | undefined;
    readonly 'if-none-match'?: string | undefined;
  };
  /** The client going away (lazy: made for remote downloads and queued pipelines only). */
  readonly signal?: LazySignal;
}

interface Meta {
  readonly warnings: string[];
  readonly vary: string[];
  readonly etag: string;
  readonly cacheControl: string;
}

export type CfResult =
  | (Meta & {
      readonly kind: 'image';
      readonly data: Buffer;
      readonly contentType: string;
      readonly format: OutputFormat;
      readonly width: number;
      readonly height: number;
      readonly quality: number;
      /** Faces found for `gravity=face` (undefined when no detection ran). */
      readonly faces?: number;
    })
  | (Meta & { readonly kind: 'json'; readonly body: string })
  | (Meta & { readonly kind: 'not-modified' });

interface LoadedSource {
  /** A stored object's blob file, or bytes (fetched, uploaded, or from a store without local files). */
  readonly data: EncodedImage;
  readonly etag: string | undefined;
  readonly cacheControl: string | undefined;
}

function readable(b: BucketRecord, o: ObjectRecord): boolean {
  const acl = o.acl !== 'default' ? o.acl : b.acl;
  return acl === 'public-read' || acl === 'public-read-write';
}

/** Bucket and key of a relative source path (see the module comment). */
export function objectAddress(path: string, sourceBucket: string): { bucket: string; key: string } {
  const clean = path.replace(/^\/+/, '');
  if (sourceBucket !== '') return { bucket: sourceBucket, key: clean };
  const i = clean.indexOf('/');
  if (i <= 0 || i === clean.length - 1) {
    throw new AppError('NO_SUCH_KEY', 'The source path must be /<bucket>/<key>.');
  }
  return { bucket: clean.slice(0, i), key: clean.slice(i + 1) };
}

/** The stored object a relative source names, after the public-read check (no bytes read). */
interface StoredSource {
  readonly bucket: string;
  readonly key: string;
  readonly rec: ObjectRecord;
}

async function sourceObject(path: string, deps: CfTransformDeps): Promise<StoredSource> {
  const { bucket, key } = objectAddress(path, deps.config.sourceBucket);
  const b = await deps.objects.findBucket(bucket);
  const o = b === undefined ? undefined : await deps.objects.findObject(bucket, key);
  if (b === undefined || o === undefined) throw new AppError('NO_SUCH_KEY', 'The source image does not exist.');
  if (!readable(b, o)) throw new AppError('ACCESS_DENIED', 'The source image is not public.');
  return { bucket, key, rec: o };
}

/**
 * `stored`: the stored source already looked up for this request (the cache key's), if any.
 * `hold`: where source bytes read into memory are held against the memory budget (a stored object
 * of a store without local files, a download).
 */
async function loadSource(req: CfRequest, deps: CfTransformDeps, stored: StoredSource | undefined, hold: MemoryHold | undefined): Promise<LoadedSource> {
  if (req.source.kind === 'object' || req.source.kind === 'path') {
    const { rec } = req.source.kind === 'object' ? req.source : stored ?? (await sourceObject(req.source.path, deps));
    const cacheControl = req.source.kind === 'object' ? req.source.cacheControl : rec.headers['cache-control'];
    return { data: await deps.objects.openImage(rec, heldBy(hold, req.signal)), etag: rec.etag, cacheControl };
  }
  if (deps.fetcher === undefined) {
    throw new AppError('FETCH_ORIGIN_NOT_ALLOWED', 'Remote sources are not enabled on this server.');
  }
  const f = deps.config.fetch;
  const fetched = await deps.fetcher.fetchSource(req.source.url, {
    maxBytes: f.maxBytes,
    timeoutMs: f.timeoutMs,
    maxRedirects: f.maxRedirects,
    ...(req.signal === undefined ? {} : { signal: req.signal() }),
    headers: req.headers.via === undefined ? {} : { via: req.headers.via },
    ...(hold === undefined ? {} : { memory: hold }),
  });
  return { data: fetched.body, etag: fetched.etag, cacheControl: fetched.cacheControl };
}

/** The output format for a request (spec §7): explicit, negotiated (`auto`) or the original family. */
function chooseFormat(o: CfOptions, info: SourceInfo, accept: string | undefined): { format: OutputFormat; negotiated: boolean } {
  const animated = info.frames > 1 && o.anim !== false;
  const hasAlpha = (info.hasAlpha && o.background === undefined) || (o.background !== undefined && o.background.alpha < 1);
  const family = originalFamily({ source: info.format, hasAlpha, animated });
  if (o.compression === 'fast') return { format: family === 'png' || family === 'gif' ? family : 'jpeg', negotiated: false };
  switch (o.format) {
    case undefined:
    case 'json':
      return { format: family, negotiated: false };
    case 'auto': {
      if (animated) return { format: negotiateModernFormat(accept, { avif: false }) === 'webp' ? 'webp' : 'gif', negotiated: true };
      return { format: negotiateModernFormat(accept) ?? family, negotiated: true };
    }
    case 'baseline-jpeg':
      return { format: 'jpeg', negotiated: false };
    default:
      return { format: o.format, negotiated: false };
  }
}

function quoteless(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const want = quoteless(etag);
  return header.split(',').some((t) => t.trim() === '*' || quoteless(t.trim()) === want);
}

/** max-age / s-maxage of a Cache-Control value, or undefined. */
function maxAge(cc: string): number | undefined {
  const m = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*"?(\d+)/i.exec(cc);
  return m === null ? undefined : Number(m[1]);
}

/**
 * Runs one Cloudflare transformation. Throws AppError for every expected failure. A source read
 * into memory is held against the memory budget until the transformation is done.
 */
export function transformCloudflare(req: CfRequest, deps: CfTransformDeps): Promise<CfResult> {
  return withHold(deps.admission, (hold) => transformHeld(req, deps, hold));
}

async function transformHeld(req: CfRequest, deps: CfTransformDeps, hold: MemoryHold | undefined): Promise<CfResult> {
  const cfg = deps.config;
  const parsed = parseCfOptions(req.options, { strict: cfg.strict });
  const o = parsed.options;
  const warnings = [...parsed.warnings];
  const vary: string[] = [];

  const auto = o.width === 'auto' ? resolveAutoWidth(o, req.headers) : undefined;
  if (auto !== undefined) vary.push(...auto.vary);
  let slow = false;
  if (o.slowConnectionQuality !== undefined) {
    slow = isSlowConnection(req.headers);
    vary.push(...NETWORK_HINTS);
  }
  const built = cfRecipe(o, { defaultFit: cfg.defaultFit, ...(auto === undefined ? {} : { autoWidth: auto.width }), slowConnection: slow });
  warnings.push(...built.warnings);

  // Result cache, request level: a stored source's variant is found from the request alone (options,
  // the hints they read, the Accept flags negotiation reads, source version), without reading it.
  // The record found here is also the one whose bytes are read on a miss: key and bytes describe
  // the same version.
  let cacheKey: { key: string; tag: string } | undefined;
  let stored: StoredSource | undefined;
  if (deps.variants !== undefined && (req.source.kind === 'path' || req.source.kind === 'object') && o.format !== 'json') {
    const src = (stored = req.source.kind === 'path' ? await sourceObject(req.source.path, deps) : req.source);
    const accept = req.headers.accept;
    cacheKey = {
      key: variantKey(['cf', CACHE_VERSION, src.bucket, src.key, src.rec.etag, src.rec.lastModified, req.options, o, auto?.width, slow,
        negotiateModernFormat(accept), negotiateModernFormat(accept, { avif: false }), accept?.toLowerCase().includes('image/webp') ?? false,
        cfg.defaultFit, cfg.strict, cfg.defaultCacheControl,
        // A caller's Cache-Control (hosted images) is part of the cached response.
        ...(req.source.kind === 'object' ? [req.source.cacheControl] : [])]),
      tag: ossSourceTag(src.bucket, src.key),
    };
    const hit = await deps.variants.lookup(cacheKey.key);
    if (hit !== undefined) return fromCached(hit, req.headers['if-none-match']);
  }

  const source = await loadSource(req, deps, stored, hold);
  // Every run below goes on from the probed source (a stored file stays a file for the formats
  // libvips reads as they are).
  const probed = await probeImage(source.data);
  const { info } = probed;
  const originalSize = orientedSize(info);

  let { format, negotiated } = chooseFormat(o, info, req.headers.accept);
  if (negotiated) vary.push('Accept');
  if (o.format === undefined && info.format === 'png' && format === 'png' && !info.hasAlpha) {
    // Cloudflare prefers JPEG for opaque PNGs; Halftone keeps PNG (lossless) and says so.
    warnings.push('JPEG vs PNG selection is automatic');
  }

  let recipe: Recipe = { ...built.recipe, output: { ...built.recipe.output, format } };
  const runOptions = { limits: CF_LIMITS, animatedWebp: o.anim !== false, resolveFormat: () => format };
  let planned = planRecipe(recipe, info, runOptions);
  if (format === 'avif') {
    const limit = o.format === 'avif' ? AVIF_MAX_SIDE_EXPLICIT : AVIF_MAX_SIDE_AUTO;
    if (Math.max(planned.plan.result.width, planned.plan.result.height) > limit) {
      warnings.push('image too large for AVIF');
      const fallback: OutputFormat = o.format === 'auto' && !req.headers.accept?.toLowerCase().includes('image/webp') ? originalFamily({ source: info.format, hasAlpha: info.hasAlpha, animated: false }) : 'webp';
      format = fallback;
      recipe = { ...recipe, output: { ...recipe.output, format } };
      planned = planRecipe(recipe, info, { ...runOptions, resolveFormat: () => format });
    }
  }
  const area = planned.plan.result.width * planned.plan.result.height;
  if (format === 'jpeg' && recipe.output.interlace === true && (area < 50 * 50 || area > 3000 * 3000)) {
    // Newest DOC: progressive except for tiny or huge outputs.
    recipe = { ...recipe, output: { ...recipe.output, interlace: false } };
  }

  // Cache metadata, decided before any pixel work so that a matching If-None-Match costs no decode.
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ v: 1, recipe, format, json: o.format === 'json' }))
    .update(source.etag ?? createHash('sha256').update(await readEncoded(probed.src)).digest('hex'))
    .digest('base64url')
    .slice(0, 22);
  const etag = `"cf-${fingerprint}:${source.etag === undefined ? 'none' : quoteless(source.etag)}"`;
  const cacheControl = source.cacheControl ?? cfg.defaultCacheControl;
  const age = maxAge(cacheControl);
  if (/no-store|no-cache|private/i.test(cacheControl) || (age !== undefined && age < 3600)) warnings.push('cache-control is too restrictive');
  const meta: Meta = { warnings, vary: [...new Set(vary)], etag, cacheControl };
  if (etagMatches(req.headers['if-none-match'], etag)) return { ...meta, kind: 'not-modified' };

  if (o.format === 'json') {
    let { width, height } = planned.plan.result;
    if (recipe.ops.some((op) => op.op === 'cfTrim' && op.params.kind === 'border')) {
      // A border trim's size is only known from the pixels: run it and read the result.
      const res = await runRecipe(probed.src, recipe, runOptions, probed);
      if (res.kind === 'image') ({ width, height } = await probe(res.data));
    }
    const body: Record<string, unknown> = {
      width,
      height,
      original: {
        file_size: info.bytes,
        width: originalSize.width,
        height: originalSize.height,
        format: MIME_TYPES[info.format],
        ...(info.frames > 1 && o.anim !== false ? { frame_count: info.frames } : {}),
      },
    };
    return { ...meta, kind: 'json', body: JSON.stringify(body) };
  }

  const pixels = async (): Promise<CfResult & { kind: 'image' }> => {
    let faces: number | undefined;
    if (deps.faces !== undefined) {
      const focused = await focusOnFaces(recipe, probed, runOptions, deps.faces);
      recipe = focused.recipe;
      faces = focused.faces;
      if (faces === -1) {
        warnings.push('face detection unavailable; gravity=face used saliency');
        faces = undefined;
      }
    }
    const res = await runRecipe(probed.src, recipe, runOptions, probed);
    if (res.kind !== 'image') throw new AppError('INTERNAL', 'The engine returned no image.');
    let { width, height } = res;
    if (recipe.ops.some((op) => op.op === 'cfTrim' && op.params.kind === 'border')) {
      const out = await probe(res.data);
      ({ width, height } = out);
    }
    return {
      ...meta,
      kind: 'image',
      data: res.data,
      contentType: res.contentType,
      format: res.format,
      width,
      height,
      quality: recipe.output.exactQuality ?? 85,
      ...(faces === undefined ? {} : { faces }),
    };
  };
  const estimate = estimatePipelineBytes(info, { plan: planned.plan, format });
  const admitted = (signal: LazySignal | undefined) => (deps.admission === undefined ? pixels() : deps.admission.run(estimate, pixels, signal));
  if (deps.variants === undefined) return admitted(req.signal);
  // Remote and hosted sources are keyed by the ETag computed above (recipe, format, source version).
  const key = cacheKey ?? {
    key: variantKey(['cf-etag', CACHE_VERSION, etag]),
    tag: req.source.kind === 'url' ? `url:${req.source.url}` : `cf:${etag}`,
  };
  return fromCached(await deps.variants.get(key.key, key.tag, async (signal) => toCached(await admitted(signal)), req.signal), undefined);
}

/** A Cloudflare image result as a cache entry (bytes plus every response field). */
function toCached(r: CfResult & { kind: 'image' }): CachedVariant {
  const { data, ...rest } = r;
  return { data, meta: rest };
}

/** A cache entry back as a result; a matching If-None-Match makes it a 304. */
function fromCached(v: CachedVariant, ifNoneMatch: string | undefined): CfResult {
  const m = v.meta as Omit<CfResult & { kind: 'image' }, 'data'>;
  if (etagMatches(ifNoneMatch, m.etag)) return { warnings: m.warnings, vary: m.vary, etag: m.etag, cacheControl: m.cacheControl, kind: 'not-modified' };
  return { ...m, kind: 'image', data: v.data };
}

/** Longest side of the image handed to the face detector. */
const FACE_DETECT_SIDE = 640;

/**
 * `gravity=face` (spec §5): detects faces on the image as it is where the crop happens (after
 * trim/flip/rotate, downscaled), then replaces the gravity by the centre of the box around all
 * faces (no face → centre). With `zoom` > 0 a window of the target's aspect ratio is cut first,
 * interpolating between the largest window the image allows (zoom 0) and the faces' box widened
 * to the aspect ratio (zoom 1).
 */
async function focusOnFaces(
  recipe: Recipe,
  probed: ProbedImage,
  runOptions: { limits: Limits; animatedWebp: boolean },
  detector: FaceDetector,
): Promise<{ recipe: Recipe; faces?: number }> {
  const { info } = probed;
  const at = recipe.ops.findIndex((op) => op.op === 'cfResize');
  const op = recipe.ops[at];
  if (op === undefined || op.op !== 'cfResize' || op.params.gravity.kind !== 'face') return { recipe };
  const p = op.params;
  const zoom = p.gravity.kind === 'face' ? p.gravity.zoom : 0;
  const crops = p.fit === 'cover' || p.fit === 'crop' || p.fit === 'aspect-crop';
  if (!crops || p.width === undefined || p.height === undefined || info.frames > 1) return { recipe };

  const pre = recipe.ops.slice(0, at);
  const png = async (ops: Recipe['ops']): Promise<Buffer> => {
    const res = await runRecipe(probed.src, { ops, output: { format: 'png' } }, { ...runOptions, resolveFormat: () => 'png' }, probed);
    if (res.kind !== 'image') throw new AppError('INTERNAL', 'The engine returned no image.');
    return res.data;
  };
  const shrink: Recipe['ops'][number] = {
    op: 'cfResize',
    params: { fit: 'scale-down', width: FACE_DETECT_SIDE, height: FACE_DETECT_SIDE, gravity: { kind: 'point', x: 0.5, y: 0.5 } },
  };
  // The size where the crop happens: planned exactly, except after a border trim (pixels decide).
  let W: number;
  let H: number;
  let small: Buffer;
  if (pre.some((o) => o.op === 'cfTrim' && o.params.kind === 'border')) {
    const full = await png(pre);
    ({ width: W, height: H } = await probe(full));
    small = Math.max(W, H) > FACE_DETECT_SIDE ? await png([...pre, shrink]) : full;
  } else {
    ({ width: W, height: H } = planRecipe({ ops: pre, output: { format: 'png' } }, info, { ...runOptions, resolveFormat: () => 'png' }).plan.result);
    small = await png(Math.max(W, H) > FACE_DETECT_SIDE ? [...pre, shrink] : pre);
  }
  const { width: dw } = await probe(small);
  let boxes: Awaited<ReturnType<FaceDetector['detect']>>;
  try {
    boxes = await detector.detect(small);
  } catch {
    // A detector that cannot run must not break images: keep the saliency approximation.
    return { recipe, faces: -1 };
  }
  const k = W / dw;
  const replace = (ops: Recipe['ops']): Recipe => ({ ...recipe, ops: [...pre, ...ops, ...recipe.ops.slice(at + 1)] });
  if (boxes.length === 0) {
    return { recipe: replace([{ op: 'cfResize', params: { ...p, gravity: { kind: 'point', x: 0.5, y: 0.5 } } }]), faces: 0 };
  }
  const x0 = Math.max(0, Math.min(...boxes.map((b) => b.x)) * k);
  const y0 = Math.max(0, Math.min(...boxes.map((b) => b.y)) * k);
  const x1 = Math.min(W, Math.max(...boxes.map((b) => b.x + b.width)) * k);
  const y1 = Math.min(H, Math.max(...boxes.map((b) => b.y + b.height)) * k);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  if (zoom <= 0) {
    return { recipe: replace([{ op: 'cfResize', params: { ...p, gravity: { kind: 'point', x: cx / W, y: cy / H } } }]), faces: boxes.length };
  }
  const a = p.width / p.height;
  const maxW = W / H > a ? H * a : W;
  const fw = Math.max(x1 - x0, (y1 - y0) * a);
  const minW = Math.min(maxW, fw);
  const rw = Math.max(1, Math.min(W, Math.round(maxW + (minW - maxW) * zoom)));
  const rh = Math.max(1, Math.min(H, Math.round(rw / a)));
  const rx = Math.round(Math.min(W - rw, Math.max(0, cx - rw / 2)));
  const ry = Math.round(Math.min(H - rh, Math.max(0, cy - rh / 2)));
  return {
    recipe: replace([
      { op: 'crop', params: { w: rw, h: rh, x: rx, y: ry, g: 'nw' } },
      { op: 'cfResize', params: { ...p, gravity: { kind: 'point', x: 0.5, y: 0.5 } } },
    ]),
    faces: boxes.length,
  };
}

/** Source size after EXIF orientation (spec §7.3). */
function orientedSize(info: SourceInfo): { width: number; height: number } {
  const swap = info.orientation >= 5 && info.orientation <= 8;
  return swap ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
}
