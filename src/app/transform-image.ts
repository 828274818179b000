/**
 * Use case: apply an OSS process string (`image/...`) to a stored image.
 *
 * This is the single door through which the HTTP routes and the CLI reach the engine for the OSS
 * dialect. Styles are resolved by the caller (they live in the metadata store): `process` here is
 * always an `image/...` chain.
 */
import { parseOssProcess, type OssParseOptions } from '../dialects/oss/parse.js';
import { planRecipe, runRecipe, type RunOptions, type RunResult } from '../core/pipeline/run.js';
import type { SourceInfo } from '../core/ir.js';
import { probeImage } from '../core/codecs/probe.js';
import type { EncodedImage } from '../core/codecs/source.js';
import { estimatePipelineBytes, type Admission, type LazySignal } from './admission.js';

export type TransformResult =
  | { readonly kind: 'image'; readonly data: Buffer; readonly contentType: string; readonly format: string; readonly width: number; readonly height: number }
  | { readonly kind: 'json'; readonly body: string };

export interface TransformDeps {
  /** Loads another object of the same bucket (image watermarks). Throws AppError('NO_SUCH_KEY'). */
  readonly loadObject: (key: string) => Promise<Buffer>;
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
  const options: RunOptions = { ...deps.engine, loadObject: deps.loadObject };
  let res: RunResult;
  if (deps.admission === undefined) res = await runRecipe(source, recipe, options);
  else {
    // One header probe serves both the admission estimate and the engine.
    const probed = await probeImage(source).catch(() => undefined);
    res = await deps.admission.run(estimate(probed?.info, recipe, options), () => runRecipe(source, recipe, options, probed), deps.signal);
  }
  if (res.kind === 'json') return res;
  return { kind: 'image', data: res.data, contentType: res.contentType, format: res.format, width: res.width, height: res.height };
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
