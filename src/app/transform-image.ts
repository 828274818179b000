/**
 * Use case: apply an OSS process string (`image/...`) to a stored image.
 *
 * This is the single door through which the HTTP routes and the CLI reach the engine for the OSS
 * dialect. Styles are resolved by the caller (they live in the metadata store): `process` here is
 * always an `image/...` chain.
 */
import { parseOssProcess, type OssParseOptions } from '../dialects/oss/parse.js';
import { planRecipe, runRecipe, type RunOptions, type RunResult } from '../core/pipeline/run.js';
import type { Operation, SourceInfo } from '../core/ir.js';
import { watermarkKeys } from '../core/ops/watermark.js';
import { probeImage } from '../core/codecs/probe.js';
import type { EncodedImage } from '../core/codecs/source.js';
import { estimatePipelineBytes, type Admission, type LazySignal } from './admission.js';

export type TransformResult =
  | { readonly kind: 'image'; readonly data: Buffer; readonly contentType: string; readonly format: string; readonly width: number; readonly height: number }
  | { readonly kind: 'json'; readonly body: string };

export interface TransformDeps {
  /**
   * Another object of the same bucket (image watermarks): its bytes, or its stored file, which
   * libvips reads itself. Throws AppError('NO_SUCH_KEY').
   */
  readonly loadObject: (key: string) => Promise<EncodedImage>;
  /** Engine options (limits, animated WebP); defaults are OSS's. */
  readonly engine?: Omit<RunOptions, 'loadObject'>;
  readonly parse?: OssParseOptions;
  /** Admission control for the pixel work; absent = unbounded. */
  readonly admission?: Admission | undefined;
  /** Aborts when the client went away: a request still waiting for a pipeline is dropped (CLIENT_CLOSED). */
  readonly signal?: LazySignal | undefined;
}

/**
 * Parses `process` with the OSS dialect and runs it on `source` (bytes, or a stored file that
 * libvips reads itself: nothing but its header enters the JavaScript heap).
 * Throws AppError (with EC where OSS documents one) for bad parameters, undecodable or
 * over-limit sources. Parameters are validated before the image is touched.
 */
export async function transformOss(source: EncodedImage, process: string, deps: TransformDeps): Promise<TransformResult> {
  const recipe = parseOssProcess(process, deps.parse);
  const marks = openMarks(recipe.ops, deps.loadObject);
  const options: RunOptions = { ...deps.engine, loadObject: (key) => marks.get(key) ?? deps.loadObject(key) };
  let res: RunResult;
  if (deps.admission === undefined) res = await runRecipe(source, recipe, options);
  else {
    // One header probe serves both the admission estimate and the engine.
    const probed = await probeImage(source).catch(() => undefined);
    const bytes = estimate(probed?.info, recipe, options) + (await marksEstimate(marks));
    res = await deps.admission.run(bytes, () => runRecipe(source, recipe, options, probed), deps.signal);
  }
  if (res.kind === 'json') return res;
  return { kind: 'image', data: res.data, contentType: res.contentType, format: res.format, width: res.width, height: res.height };
}

/**
 * Opens the objects the recipe's image watermarks read, once each and before admission, so their
 * decoded size can be part of the estimate. A failure (a missing object) is left for the engine
 * to report in its own words when it asks for the object.
 */
function openMarks(ops: readonly Operation[], load: (key: string) => Promise<EncodedImage>): Map<string, Promise<EncodedImage>> {
  const marks = new Map<string, Promise<EncodedImage>>();
  for (const key of watermarkKeys(ops)) {
    const opened = load(key);
    opened.catch(() => undefined);
    marks.set(key, opened);
  }
  return marks;
}

/**
 * Working memory of the watermark images: each decoded whole (the watermark's own process string
 * runs on it before it is scaled). Their bytes, when read into memory, are already held by the
 * request's source hold. One the probe cannot read is left to the engine.
 */
async function marksEstimate(marks: Map<string, Promise<EncodedImage>>): Promise<number> {
  let bytes = 0;
  for (const opened of marks.values()) {
    try {
      const { info } = await probeImage(await opened);
      bytes += estimatePipelineBytes(info);
    } catch {
      // The engine reports it when the watermark op asks for the object.
    }
  }
  return bytes;
}

/** Working-memory estimate from the header probe; a source the probe rejects is left to the engine. */
function estimate(info: SourceInfo | undefined, recipe: ReturnType<typeof parseOssProcess>, options: RunOptions): number {
  if (info === undefined) return 0;
  try {
    const planned = planRecipe(recipe, info, options);
    return estimatePipelineBytes(info, planned);
  } catch {
    return estimatePipelineBytes(info);
  }
}
