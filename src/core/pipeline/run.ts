/**
 * The runner: executes a planned recipe with sharp. The only module of core/ that creates sharp
 * instances at runtime (operations receive them through their pass or through OpEnv.sharp).
 *
 * Flow: probe the header → check limits (before decoding) → decide output format and animation →
 * plan → run each pass (first from the source, later ones from the previous pass's raw pixels) →
 * encode. Animated sources whose every operation keeps animation are processed frame by frame and
 * re-assembled with their delays and loop count.
 */
import sharp from 'sharp';
import exifr from 'exifr';
import type { Create, Sharp, SharpOptions } from 'sharp';
import type { Operation, OutputFormat, Recipe, SourceInfo } from '../ir.js';
import { AppError, isAppError } from '../errors.js';
import { OPS } from '../ops/index.js';
import type { ImageState, OpEnv, PassBuilder } from '../ops/types.js';
import { plan as planOps, type Plan, type Pass } from './plan.js';
import { checkOutputLimits, checkSourceLimits, DEFAULT_LIMITS, type Limits } from './limits.js';
import { formatHasAlpha, MIME_TYPES, resolveOssOutputFormat } from '../output/format.js';
import { resolveQuality } from '../output/quality.js';
import { probeImage, type ProbedImage } from '../codecs/probe.js';
import { isStoredFile, readEncoded, vanishedFile, type EncodedImage } from '../codecs/source.js';
import { toSharpInput } from '../codecs/decode.js';
import { encodeBmp } from '../codecs/encode-bmp.js';
import { encodeHeic } from '../codecs/encode-heic.js';
import { ossInfo } from '../codecs/info.js';
import { averageHue } from '../codecs/average-hue.js';
import { defaultFontFile } from '../ops/fonts.js';
import { budgeted, isSharpTimeout, remainingMs, startBudget, timedOut, type Budget } from './budget.js';
import { fitThreadsToLoad } from './engine-settings.js';

// libvips keeps an operation cache that only helps repeated identical work; a server sees new
// inputs each time, so keep it small and bounded (memory is better spent on concurrent requests).
sharp.cache({ memory: 64, files: 0, items: 100 });

export interface RunOptions {
  readonly limits?: Limits;
  /** Another object of the same bucket (image watermarks): its bytes or its stored file. */
  readonly loadObject?: (key: string) => Promise<EncodedImage>;
  /** Keep animation when converting animated sources to WebP (OSS needs a ticket for that). */
  readonly animatedWebp?: boolean;
  /** Test/benchmark aid: run one pass per operation. */
  readonly onePassPerOp?: boolean;
  /** Decides the output format from the requested one and the source (defaults to OSS rules). */
  readonly resolveFormat?: (requested: OutputFormat | undefined, source: SourceInfo) => OutputFormat;
  /** The time budget this run spends (nested runs share their parent's); default: a new one (budget.ts). */
  readonly budget?: Budget;
}

export type RunResult =
  | {
      readonly kind: 'image';
      readonly data: Buffer;
      readonly format: OutputFormat;
      readonly contentType: string;
      readonly width: number;
      readonly height: number;
      readonly frames: number;
      readonly passes: number;
    }
  | { readonly kind: 'json'; readonly body: string };

interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

const noObjects = async (key: string): Promise<EncodedImage> => {
  throw new AppError('NO_SUCH_KEY', `The object ${JSON.stringify(key)} does not exist.`);
};

/** Wraps anything sharp throws into a coded error; AppErrors pass through. */
export function asDecodeError(err: unknown): AppError {
  if (isAppError(err)) return err;
  if (isSharpTimeout(err)) return timedOut(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit|exceeds pixel/i.test(msg)) {
    return new AppError('IMAGE_TOO_LARGE', 'The image exceeds the pixel limit.', { ec: '0040-00000012', cause: err });
  }
  const gone = vanishedFile(err);
  if (gone !== undefined) return gone;
  if (/unsupported image format|bad seek|not a known file format/i.test(msg)) {
    return new AppError('UNSUPPORTED_FORMAT', 'The source is not an image in a supported format.', { cause: err });
  }
  return new AppError('CORRUPT_IMAGE', 'The source image is corrupt or truncated and cannot be decoded.', { cause: err });
}

/** Probes, checks limits and returns the source state the planner starts from. */
export function sourceState(info: SourceInfo, frames: number): ImageState {
  return { width: info.width, height: info.height, hasAlpha: info.hasAlpha, frames, orientation: info.orientation };
}

/** Whether the whole recipe keeps an animation (every op says `keep`). */
function keepsAnimation(ops: readonly Operation[]): boolean {
  return ops.every((o) => (OPS[o.op].animation as (p: unknown) => 'keep' | 'static')(o.params) === 'keep');
}

/** Adds a white flatten after auto-orient when the source has alpha and the output cannot keep it. */
function withFlatten(ops: readonly Operation[], hasAlpha: boolean, outputHasAlpha: boolean): readonly Operation[] {
  // A recipe that flattens itself (Cloudflare `background`) chose its own colour.
  if (!hasAlpha || outputHasAlpha || ops.some((o) => o.op === 'flatten')) return ops;
  const flatten: Operation = { op: 'flatten', params: { background: { r: 255, g: 255, b: 255, alpha: 1 } } };
  const at = ops[0]?.op === 'autoOrient' ? 1 : 0;
  return [...ops.slice(0, at), flatten, ...ops.slice(at)];
}

/** Plans a recipe for a probed source (what `explain` prints). */
export function planRecipe(recipe: Recipe, info: SourceInfo, options: RunOptions = {}): { plan: Plan; format: OutputFormat; animated: boolean } {
  const format = (options.resolveFormat ?? ((r, s) => resolveOssOutputFormat(r, s.format)))(recipe.output.format, info);
  const animated = info.frames > 1 && keepsAnimation(recipe.ops) && (format === 'gif' || (format === 'webp' && options.animatedWebp === true));
  const ops = withFlatten(recipe.ops, info.hasAlpha, formatHasAlpha(format));
  const p = planOps(ops, sourceState(info, animated ? info.frames : 1), {
    onePassPerOp: options.onePassPerOp ?? false,
    outputHasAlpha: formatHasAlpha(format),
  });
  return { plan: p, format, animated };
}

/**
 * Runs `recipe` on the encoded image `source` (bytes, or a stored file libvips reads itself).
 * Throws AppError for every expected failure.
 *
 * `probed`: what {@link probeImage} returned for this source when the caller already probed it
 * (admission estimates from it), so the header is read once per request — for formats without a
 * JavaScript header reader that is a libvips metadata() call saved. Limits are still checked here.
 */
export async function runRecipe(
  source: EncodedImage,
  recipe: Recipe,
  options: RunOptions = {},
  probed?: ProbedImage,
): Promise<RunResult> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const budget = options.budget ?? startBudget();
  const { src: input, info } = probed ?? (await probeImage(source));
  checkSourceLimits(info, recipe, limits);

  if (recipe.terminal === 'info') {
    return { kind: 'json', body: await ossInfo(await readEncoded(input), info) };
  }
  if (recipe.terminal === 'averageHue') {
    const raw = await decodeFirstFrame(input, info, limits, budget);
    return { kind: 'json', body: averageHue(raw.data, raw.channels) };
  }

  const { plan, format, animated } = planRecipe(recipe, info, options);
  checkOutputLimits(format, plan.result.width, plan.result.height);
  const env = makeEnv(format, { ...options, budget }, limits);
  fitThreadsToLoad();

  try {
    if (animated) {
      return await runAnimated(input, info, plan, format, recipe, env, limits, budget);
    }
    const first = await sharpFromSource(input, info, limits, false, plan.passes[0]?.autoOrient ?? false, budget);
    const last = await runPasses(first, plan, env, budget);
    const data = await encode(last.img, last.state, format, recipe, info, budget, input);
    return image(data, format, plan, 1);
  } catch (err) {
    throw asDecodeError(err);
  }
}

function image(data: Buffer, format: OutputFormat, plan: Plan, frames: number): RunResult {
  return {
    kind: 'image',
    data,
    format,
    contentType: MIME_TYPES[format],
    width: plan.result.width,
    height: plan.result.height,
    frames,
    passes: Math.max(1, plan.passes.length),
  };
}

function makeEnv(format: OutputFormat, options: RunOptions & { readonly budget: Budget }, limits: Limits): OpEnv {
  const factory = (input?: Buffer | { create: Create }, opts?: SharpOptions): Sharp => budgeted(
    input === undefined ? sharp(opts) : Buffer.isBuffer(input) ? sharp(input, { limitInputPixels: limits.maxSourcePixels, ...opts }) : sharp({ ...opts, ...input }),
    options.budget,
  );
  const env: OpEnv = {
    sharp: factory,
    outputHasAlpha: formatHasAlpha(format),
    outputFormat: format,
    loadObject: options.loadObject ?? noObjects,
    fontFile: defaultFontFile,
    processNested: async (buf, ops) => {
      const nestedRecipe: Recipe = { ops, output: { format: 'png' } };
      const res = await runRecipe(buf, nestedRecipe, { ...options, resolveFormat: () => 'png', onePassPerOp: false });
      if (res.kind !== 'image') throw new AppError('WATERMARK_ERROR', 'The watermark process string must produce an image.');
      return { data: res.data, width: res.width, height: res.height };
    },
  };
  return env;
}

/** Opens the source for the first pass (one frame unless `animated`). */
async function sharpFromSource(input: EncodedImage, info: SourceInfo, limits: Limits, animated: boolean, autoOrient: boolean, budget: Budget): Promise<Sharp> {
  const common: SharpOptions = { limitInputPixels: limits.maxSourcePixels, autoOrient };
  const frames: SharpOptions = animated ? { animated: true } : { pages: 1 };
  // probeImage keeps a stored file only for formats libvips reads as they are.
  if (isStoredFile(input)) return budgeted(sharp(input.path, { ...common, ...frames }), budget);
  const decoded = await toSharpInput(input, info);
  if (Buffer.isBuffer(decoded)) return budgeted(sharp(decoded, { ...common, ...frames }), budget);
  return budgeted(sharp(decoded.data, { ...common, raw: decoded.raw }), budget);
}

async function decodeFirstFrame(input: EncodedImage, info: SourceInfo, limits: Limits, budget: Budget): Promise<RawImage> {
  try {
    const img = await sharpFromSource(input, info, limits, false, false, budget);
    return await toRaw(img);
  } catch (err) {
    throw asDecodeError(err);
  }
}

async function toRaw(img: Sharp): Promise<RawImage> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function fromRaw(raw: RawImage, budget: Budget): Sharp {
  return budgeted(sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }), budget);
}

/** Runs every pass; returns the last pass's pipeline (not yet encoded) and its state. */
async function runPasses(first: Sharp, plan: Plan, env: OpEnv, budget: Budget): Promise<{ img: Sharp; state: ImageState }> {
  let img = first;
  let state = plan.source;
  for (let i = 0; i < plan.passes.length; i++) {
    const pass = plan.passes[i] as Pass;
    if (i > 0) {
      const raw = await toRaw(img);
      img = fromRaw(raw, budget);
      state = { ...state, width: raw.width, height: raw.height, hasAlpha: raw.channels === 2 || raw.channels === 4 };
    }
    state = await runPass(img, pass, state, env);
  }
  return { img, state };
}

async function runPass(img: Sharp, pass: Pass, state: ImageState, env: OpEnv): Promise<ImageState> {
  const builder: PassBuilder = { img, overlays: [] };
  let s = state;
  for (const step of pass.steps) {
    const def = OPS[step.op.op] as unknown as { apply: (b: PassBuilder, p: unknown, s: ImageState, e: OpEnv) => ImageState | Promise<ImageState> };
    s = await def.apply(builder, step.op.params, s, env);
  }
  if (builder.overlays.length > 0) img.composite(builder.overlays);
  return s;
}

/** EXIF Copyright and Artist of a source, when it has them (unreadable EXIF = none). */
async function copyrightTags(input: Buffer): Promise<Record<string, string>> {
  try {
    const tags = (await exifr.parse(input, { pick: ['Copyright', 'Artist'] })) as { Copyright?: unknown; Artist?: unknown } | undefined;
    const out: Record<string, string> = {};
    if (typeof tags?.Copyright === 'string' && tags.Copyright.trim() !== '') out['Copyright'] = tags.Copyright;
    if (typeof tags?.Artist === 'string' && tags.Artist.trim() !== '') out['Artist'] = tags.Artist;
    return out;
  } catch {
    return {};
  }
}

/** Configures the encoder on the final pipeline and returns the encoded bytes. */
async function encode(img: Sharp, state: ImageState, format: OutputFormat, recipe: Recipe, info: SourceInfo, budget: Budget, input?: EncodedImage): Promise<Buffer> {
  const quality = recipe.output.exactQuality ?? resolveQuality(format, recipe.output.quality, info.format === 'jpeg' ? info.jpegQuality : undefined);
  if (format === 'jpeg' && recipe.output.metadata === 'keep') img.keepExif().keepIccProfile();
  const ifd0: Record<string, string> = {};
  if (state.orientation !== 1) {
    // auto-orient was not requested: keep the pending EXIF orientation (and nothing else of the
    // source's EXIF, which may hold GPS data) so viewers still show the image upright.
    ifd0['Orientation'] = String(state.orientation);
  }
  if (format === 'jpeg' && recipe.output.metadata === 'copyright' && input !== undefined) {
    // Cloudflare `metadata=copyright`: only the rights tags survive (never GPS or camera data).
    Object.assign(ifd0, await copyrightTags(await readEncoded(input)));
  }
  if (Object.keys(ifd0).length > 0) img.withExif({ IFD0: ifd0 });
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality, progressive: recipe.output.interlace === true, mozjpeg: false }).toBuffer();
    case 'png':
      return img.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    case 'webp':
      return img.webp({ quality, effort: 4, lossless: recipe.output.lossless === true }).toBuffer();
    case 'avif':
      return img.avif({ quality, effort: 4 }).toBuffer();
    case 'gif':
      return img.gif().toBuffer();
    case 'tiff':
      return img.tiff({ quality, compression: 'jpeg' }).toBuffer();
    case 'bmp': {
      const raw = await toRaw(img.ensureAlpha());
      return encodeBmp(raw.data, raw.width, raw.height, raw.channels);
    }
    case 'heic': {
      const png = await img.png({ compressionLevel: 1 }).toBuffer();
      const left = remainingMs(budget);
      return encodeHeic(png, quality, left === Number.POSITIVE_INFINITY ? {} : { timeoutMs: Math.ceil(left) });
    }
  }
}

/**
 * Animated sources: decode every frame once, run the plan on each frame as a still image, and
 * re-assemble them with the source's delays and loop count.
 */
async function runAnimated(input: EncodedImage, info: SourceInfo, plan: Plan, format: OutputFormat, recipe: Recipe, env: OpEnv, limits: Limits, budget: Budget): Promise<RunResult> {
  const src = await sharpFromSource(input, info, limits, true, false, budget);
  const meta = await src.metadata();
  const { data, info: rawInfo } = await src.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const frameH = meta.pageHeight ?? info.height;
  const frames = Math.floor(rawInfo.height / frameH);
  const frameBytes = rawInfo.width * frameH * 4;
  const stillPlan: Plan = { ...plan, source: { ...plan.source, hasAlpha: true } };
  const outFrames: Buffer[] = [];
  let outW = plan.result.width;
  let outH = plan.result.height;
  for (let i = 0; i < frames; i++) {
    const frame = fromRaw({ data: data.subarray(i * frameBytes, (i + 1) * frameBytes), width: rawInfo.width, height: frameH, channels: 4 }, budget);
    const res = await runPasses(frame, stillPlan, env, budget);
    const raw = await toRaw(res.img.ensureAlpha());
    outW = raw.width;
    outH = raw.height;
    outFrames.push(raw.data);
  }
  const joined = budgeted(sharp(Buffer.concat(outFrames), { raw: { width: outW, height: outH * frames, channels: 4, pageHeight: outH } }), budget);
  const delay = meta.delay && meta.delay.length > 0 ? meta.delay.slice(0, frames) : undefined;
  const loop = meta.loop ?? 0;
  const anim = { ...(delay ? { delay } : {}), loop };
  const bytes = format === 'gif'
    ? await joined.gif({ ...anim }).toBuffer()
    : await joined.webp({ ...anim, quality: recipe.output.exactQuality ?? resolveQuality('webp', recipe.output.quality, undefined) }).toBuffer();
  return image(bytes, format, plan, frames);
}
