/**
 * Optimise: re-encode an image in its own format, smaller, after an optional geometry plan
 * (crop / resize / pad steps decided by a dialect from the upright source size). Serves the
 * Abstract-style JSON API (`lossy`, `quality`, `resize`).
 *
 * Flow: probe → source limits (before decoding) → the caller's geometry plan on the upright size
 * → output limits → one decode (EXIF orientation applied, metadata dropped) → steps → encode.
 * Animated GIF and WebP sources keep every frame (sharp applies the steps to each frame).
 *
 * Output format: the source's for JPEG, PNG, WebP, GIF and AVIF; TIFF and BMP become PNG
 * (lossless); HEIC becomes JPEG (encoding HEIC needs an external encoder).
 *
 * Encoders:
 * - lossy=false ("lossless optimisation"): PNG zlib level 9 with adaptive filtering (pixels
 *   unchanged); WebP and AVIF lossless; GIF re-encoded with its palette reused; JPEG re-encoded
 *   with mozjpeg (trellis quantisation, optimised Huffman tables, progressive) at the source's own
 *   estimated quality — visually lossless, not a bit-exact DCT copy. When no step changed the
 *   geometry and the re-encode is not smaller than the source, the source bytes are returned as
 *   they are (`unchanged: true`): a lossless optimisation never makes a file bigger.
 * - lossy=true: JPEG mozjpeg, WebP and AVIF at `quality` (default: 80 for JPEG/WebP, capped at the
 *   source's estimated JPEG quality; 50 for AVIF); PNG palette quantisation (libimagequant, dithered)
 *   at `quality` (default 80); GIF with `quality` % of 256 colours (at least 2) and inter-frame
 *   error tolerance. The result may be larger than the source (high `quality`).
 */
import sharp, { type Sharp } from 'sharp';
import type { OutputFormat, Rgba, SourceFormat, SourceInfo } from '../ir.js';
import { AppError, isAppError } from '../errors.js';
import { probe } from '../codecs/probe.js';
import { toSharpInput } from '../codecs/decode.js';
import { asDecodeError } from '../pipeline/run.js';
import { checkOutputLimits, checkSourceLimits, DEFAULT_LIMITS, type Limits } from '../pipeline/limits.js';
import { formatHasAlpha, formatIsAnimated, MIME_TYPES } from '../output/format.js';
import { fitThreadsToLoad } from '../pipeline/engine-settings.js';

/** One geometry step on the upright image; coordinates in pixels of the image at that step. */
export type GeometryStep =
  | { readonly op: 'extract'; readonly left: number; readonly top: number; readonly width: number; readonly height: number }
  /** Resize to exactly width×height (aspect ratio is the planner's business). */
  | { readonly op: 'resize'; readonly width: number; readonly height: number }
  /** Pad with bands of `background`. */
  | { readonly op: 'extend'; readonly top: number; readonly right: number; readonly bottom: number; readonly left: number; readonly background: Rgba };

export interface GeometryPlan {
  readonly steps: readonly GeometryStep[];
  readonly width: number;
  readonly height: number;
}

export interface OptimiseOptions {
  readonly lossy: boolean;
  /** 0–100; only used when `lossy`. */
  readonly quality?: number;
  /** Decides the steps from the upright source size (may throw AppError). Absent = no geometry. */
  readonly plan?: (width: number, height: number) => GeometryPlan;
  readonly limits?: Limits;
}

export interface OptimiseResult {
  readonly data: Buffer;
  readonly format: OutputFormat;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  /** Upright source size (EXIF orientation applied). */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  readonly sourceFormat: SourceFormat;
  /** True when the source bytes were returned as they are (lossless, nothing smaller found). */
  readonly unchanged: boolean;
}

export const DEFAULT_LOSSY_QUALITY = 80;
export const DEFAULT_AVIF_QUALITY = 50;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

/** The output format for a source format (see the module comment). */
export function optimisedFormat(source: SourceFormat): OutputFormat {
  switch (source) {
    case 'tiff':
    case 'bmp':
      return 'png';
    case 'heic':
      return 'jpeg';
    default:
      return source;
  }
}

/** Upright size: orientations 5–8 swap the stored width and height. */
export function uprightSize(info: Pick<SourceInfo, 'width' | 'height' | 'orientation'>): { width: number; height: number } {
  return info.orientation >= 5 && info.orientation <= 8 ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
}

/** Runs the optimisation. Throws AppError for every expected failure. */
export async function optimiseImage(input: Buffer, options: OptimiseOptions): Promise<OptimiseResult> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  fitThreadsToLoad();
  const quality = options.quality;
  if (quality !== undefined && (!Number.isInteger(quality) || quality < 0 || quality > 100)) {
    throw new AppError('INVALID_ARGUMENT', 'quality must be an integer between 0 and 100.');
  }
  const info = await probe(input);
  const format = optimisedFormat(info.format);
  const animated = info.frames > 1 && formatIsAnimated(format);
  checkSourceLimits(info, { ops: [], output: {} }, limits, animated ? info.frames : 1);
  const upright = uprightSize(info);
  const geometry = options.plan?.(upright.width, upright.height) ?? { steps: [], width: upright.width, height: upright.height };
  checkOutputLimits(format, geometry.width, geometry.height);
  if (animated && geometry.width * geometry.height * info.frames > limits.maxSourcePixels) {
    throw new AppError('OUTPUT_TOO_LARGE', `An animation of ${info.frames} frames at ${geometry.width}x${geometry.height} exceeds the pixel limit.`);
  }
  let data: Buffer;
  try {
    const decoded = await toSharpInput(input, info);
    const common = { limitInputPixels: limits.maxSourcePixels, autoOrient: true } as const;
    let img: Sharp = Buffer.isBuffer(decoded)
      ? sharp(decoded, { ...common, ...(animated ? { animated: true } : { pages: 1 }) })
      : sharp(decoded.data, { ...common, raw: decoded.raw });
    const opaque = !formatHasAlpha(format);
    for (const step of geometry.steps) img = applyStep(img, opaque && step.op === 'extend' ? { ...step, background: overWhite(step.background) } : step);
    // sharp flattens before extending: bands get their final, opaque colour above.
    if (opaque) img = img.flatten({ background: WHITE });
    data = await encode(img, format, options.lossy, quality, info);
  } catch (err) {
    throw isAppError(err) ? err : asDecodeError(err);
  }
  const base = {
    format, contentType: MIME_TYPES[format], width: geometry.width, height: geometry.height,
    sourceWidth: upright.width, sourceHeight: upright.height, sourceFormat: info.format,
  };
  if (!options.lossy && geometry.steps.length === 0 && format === info.format && data.length >= input.length) {
    return { ...base, data: input, unchanged: true };
  }
  return { ...base, data, unchanged: false };
}

/** A colour composited over white (what a band looks like in a format without alpha). */
export function overWhite(c: Rgba): Rgba {
  const a = Math.max(0, Math.min(1, c.alpha));
  const mix = (v: number) => Math.round(v * a + 255 * (1 - a));
  return { r: mix(c.r), g: mix(c.g), b: mix(c.b), alpha: 1 };
}

function applyStep(img: Sharp, step: GeometryStep): Sharp {
  switch (step.op) {
    case 'extract':
      // sharp applies an extract called before resize to the input and one called after to the
      // resized image; plans hold at most one of each, then at most one extend.
      return img.extract({ left: step.left, top: step.top, width: step.width, height: step.height });
    case 'resize':
      return img.resize(step.width, step.height, { fit: 'fill', kernel: 'lanczos3' });
    case 'extend':
      return img.extend({ top: step.top, right: step.right, bottom: step.bottom, left: step.left, background: step.background });
  }
}

async function encode(img: Sharp, format: OutputFormat, lossy: boolean, quality: number | undefined, info: SourceInfo): Promise<Buffer> {
  const sourceQuality = info.format === 'jpeg' ? info.jpegQuality : undefined;
  switch (format) {
    case 'jpeg': {
      const q = lossy
        ? quality ?? Math.min(DEFAULT_LOSSY_QUALITY, sourceQuality ?? DEFAULT_LOSSY_QUALITY)
        : Math.max(1, Math.min(100, sourceQuality ?? 92));
      return img.jpeg({ quality: Math.max(1, q), mozjpeg: true }).toBuffer();
    }
    case 'png':
      return lossy
        ? img.png({ palette: true, quality: quality ?? DEFAULT_LOSSY_QUALITY, effort: 10, compressionLevel: 9, dither: 1 }).toBuffer()
        : img.png({ compressionLevel: 9, adaptiveFiltering: true, palette: false }).toBuffer();
    case 'webp':
      return lossy
        ? img.webp({ quality: quality ?? DEFAULT_LOSSY_QUALITY, effort: 5 }).toBuffer()
        : img.webp({ lossless: true, effort: 5 }).toBuffer();
    case 'avif':
      return lossy
        ? img.avif({ quality: Math.max(1, quality ?? DEFAULT_AVIF_QUALITY), effort: 4 }).toBuffer()
        : img.avif({ lossless: true, effort: 4 }).toBuffer();
    case 'gif':
      return lossy
        ? img.gif({ colours: Math.max(2, Math.round((256 * (quality ?? DEFAULT_LOSSY_QUALITY)) / 100)), effort: 10, dither: 1, interFrameMaxError: 8, interPaletteMaxError: 8 }).toBuffer()
        : img.gif({ effort: 10, reuse: true }).toBuffer();
    default:
      // optimisedFormat never answers another format.
      throw new AppError('INTERNAL', `No optimiser for ${format}.`);
  }
}
