/**
 * The recipe IR: what every dialect parses into and what the planner and runner consume.
 *
 * A {@link Recipe} is an ordered list of operations (OSS applies actions left to right) plus the
 * encoder settings of the final output. Dialects without an order (Cloudflare, the JSON APIs)
 * emit operations in one documented canonical order.
 */

/** Output formats Halftone can encode. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heic', 'tiff', 'bmp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Source formats Halftone can decode (as detected from the bytes, never from a name). */
export const SOURCE_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heic', 'tiff', 'bmp'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** RGBA colour, channels 0–255, alpha 0–1 (sharp's convention). */
export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly alpha: number;
}

export const WHITE: Rgba = { r: 255, g: 255, b: 255, alpha: 1 };
export const TRANSPARENT: Rgba = { r: 0, g: 0, b: 0, alpha: 0 };

/** Anchor positions shared by crop and watermark (OSS `g_` values, spelled out). */
export const GRAVITIES = ['nw', 'north', 'ne', 'west', 'center', 'east', 'sw', 'south', 'se'] as const;
export type Gravity = (typeof GRAVITIES)[number];

// ---------------------------------------------------------------------------------------------
// Operation parameters. One interface per operation; the registry in ops/index.ts maps names to
// definitions and is typed so that forgetting one is a compile error.
// ---------------------------------------------------------------------------------------------

/** OSS resize modes; see spec oss-img.md §3.1. */
export type ResizeMode = 'lfit' | 'mfit' | 'fill' | 'pad' | 'fixed';

export interface ResizeParams {
  readonly mode: ResizeMode;
  readonly w?: number;
  readonly h?: number;
  readonly l?: number;
  readonly s?: number;
  readonly p?: number;
  /** true = never enlarge (OSS `limit_1`, the default). */
  readonly limit: boolean;
  /** Fill colour for `pad`. */
  readonly color: Rgba;
}

export interface CropParams {
  readonly w?: number;
  readonly h?: number;
  readonly x: number;
  readonly y: number;
  readonly g: Gravity;
}

export interface IndexCropParams {
  readonly axis: 'x' | 'y';
  readonly size: number;
  readonly index: number;
}

export interface CircleParams {
  readonly r: number;
}

export interface RoundedCornersParams {
  readonly r: number;
}

export interface BlurParams {
  readonly r: number;
  readonly s: number;
}

export interface RotateParams {
  /** Clockwise degrees, 0–360. */
  readonly angle: number;
}

export interface BrightParams {
  /** −100 … 100. */
  readonly value: number;
}

export interface ContrastParams {
  /** −100 … 100. */
  readonly value: number;
}

export interface SharpenParams {
  /** 50 … 399. */
  readonly value: number;
}

export interface AutoOrientParams {
  readonly enabled: boolean;
}

/** Flatten transparency onto a background colour (used before encoding to formats without alpha). */
export interface FlattenParams {
  readonly background: Rgba;
}

/** The image part of a watermark: another stored object, optionally processed by its own chain. */
export interface WatermarkImage {
  /** Object key in the same bucket. */
  readonly key: string;
  /** Operations applied to the watermark image before drawing (may contain resize with `P`). */
  readonly ops: readonly Operation[];
  /** `P` of a nested resize: watermark width as a percentage of the main image width. */
  readonly percentOfMain?: number;
}

export interface WatermarkText {
  readonly text: string;
  /** Font family name as requested (OSS `type`), resolved to a bundled font by the op. */
  readonly font: string;
  readonly color: Rgba;
  /** Pixel size. */
  readonly size: number;
  /** Shadow opacity 0–100 (0 = none). */
  readonly shadow: number;
  /** Clockwise degrees. */
  readonly rotate: number;
  /** Tile the text over the whole image. */
  readonly fill: boolean;
  readonly padx: number;
  readonly pady: number;
}

export interface WatermarkParams {
  /** Opacity 0–100. */
  readonly t: number;
  readonly g: Gravity;
  readonly x: number;
  readonly y: number;
  readonly voffset: number;
  readonly image?: WatermarkImage;
  readonly text?: WatermarkText;
  /** 0: image first; 1: text first (only when both are present). */
  readonly order: 0 | 1;
  /** 0 top, 1 middle, 2 bottom. */
  readonly align: 0 | 1 | 2;
  readonly interval: number;
}

// --- Cloudflare dialect operations (spec cloudflare-transform.md) ---------------------------------

/** Cloudflare `fit` modes (spec §4.2). */
export const CF_FITS = ['scale-down', 'contain', 'scale-up', 'cover', 'crop', 'aspect-crop', 'pad', 'squeeze'] as const;
export type CfFit = (typeof CF_FITS)[number];

/**
 * Where a Cloudflare crop window is placed (spec §5): a relative focal point (`left` = 0x0.5 …),
 * a saliency-based point (`auto`), or the detected faces (`face`, with `zoom` 0–1).
 */
export type CfGravity =
  | { readonly kind: 'point'; readonly x: number; readonly y: number }
  | { readonly kind: 'auto' }
  /** TYPES-only `entropy`: the window with the most information (libvips entropy strategy). */
  | { readonly kind: 'entropy' }
  | { readonly kind: 'face'; readonly zoom: number };

export interface CfResizeParams {
  readonly fit: CfFit;
  /** Target width in pixels, already multiplied by `dpr` and rounded. */
  readonly width?: number;
  /** Target height in pixels, already multiplied by `dpr` and rounded. */
  readonly height?: number;
  readonly gravity: CfGravity;
  /**
   * Colour of the `pad` bands. Undefined: transparent when the image has alpha and the output keeps
   * it, white otherwise.
   */
  readonly background?: Rgba;
}

/** One side of a Cloudflare fixed trim: pixels, or a fraction (0–1) of that dimension. */
export interface CfTrimLength {
  readonly unit: 'px' | 'fraction';
  readonly value: number;
}

/** Cloudflare `trim` (spec §9): fixed per side / window, or border detection. */
export type CfTrimParams =
  | {
      readonly kind: 'sides';
      readonly top: CfTrimLength;
      readonly right: CfTrimLength;
      readonly bottom: CfTrimLength;
      readonly left: CfTrimLength;
      /** Keep this many pixels from the left edge (after `left`). */
      readonly width?: number;
      /** Keep this many pixels from the top edge (after `top`). */
      readonly height?: number;
    }
  | {
      readonly kind: 'border';
      /** Border colour; undefined = detect from the top-left pixel. */
      readonly color?: Rgba;
      /** 0–255: how close a pixel must be to the border colour to be trimmed (255 = exact). */
      readonly tolerance: number;
      /** Pixels of the detected border to keep on every side. */
      readonly keep: number;
    };

export interface FlipParams {
  readonly horizontal: boolean;
  readonly vertical: boolean;
}

export interface GammaParams {
  /** Exponent applied to normalised colour values: <1 lightens, >1 darkens, 1 = unchanged. */
  readonly value: number;
}

/** Multipliers (1 = unchanged) of brightness and saturation. */
export interface CfModulateParams {
  readonly brightness: number;
  readonly saturation: number;
}

/** Contrast multiplier around mid-grey (1 = unchanged). */
export interface CfContrastParams {
  readonly value: number;
}

/** Cloudflare blur radius 1–250. */
export interface CfBlurParams {
  readonly radius: number;
}

/** Cloudflare sharpen strength 0–10. */
export interface CfSharpenParams {
  readonly value: number;
}

/** A solid border added around the image (widths in pixels, already × dpr). */
export interface BorderParams {
  readonly color: Rgba;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly left: number;
}

/** Map from operation name to its parameter type. */
export interface OpParamsMap {
  autoOrient: AutoOrientParams;
  resize: ResizeParams;
  crop: CropParams;
  indexcrop: IndexCropParams;
  circle: CircleParams;
  roundedCorners: RoundedCornersParams;
  blur: BlurParams;
  rotate: RotateParams;
  bright: BrightParams;
  contrast: ContrastParams;
  sharpen: SharpenParams;
  watermark: WatermarkParams;
  flatten: FlattenParams;
  cfResize: CfResizeParams;
  cfTrim: CfTrimParams;
  flip: FlipParams;
  gamma: GammaParams;
  cfModulate: CfModulateParams;
  cfContrast: CfContrastParams;
  cfBlur: CfBlurParams;
  cfSharpen: CfSharpenParams;
  border: BorderParams;
}

export type OpName = keyof OpParamsMap;

/** One step of a recipe. */
export type Operation = { [N in OpName]: { readonly op: N; readonly params: OpParamsMap[N] } }[OpName];

/** Quality request: OSS `q` is relative to the source JPEG quality, `Q` absolute (capped at source). */
export interface QualitySpec {
  readonly relative?: number;
  readonly absolute?: number;
}

/** Encoder settings of the final output. Missing fields mean "decide from the source". */
export interface OutputSpec {
  readonly format?: OutputFormat;
  readonly quality?: QualitySpec;
  /** Progressive JPEG (OSS `interlace,1`). */
  readonly interlace?: boolean;
  /**
   * Encoder quality used as is for every lossy format (JPEG, WebP, AVIF, HEIC), never capped at the
   * source's (Cloudflare `quality`). Takes precedence over `quality`.
   */
  readonly exactQuality?: number;
  /** Lossless WebP (Cloudflare: `format=webp,quality=100`). */
  readonly lossless?: boolean;
  /** Metadata kept in JPEG output: `none` (default), `copyright` (Copyright/Artist), `keep` (EXIF + ICC). */
  readonly metadata?: 'none' | 'copyright' | 'keep';
}

/** What a recipe returns instead of an image. */
export type TerminalKind = 'info' | 'averageHue';

export interface Recipe {
  readonly ops: readonly Operation[];
  readonly output: OutputSpec;
  /** When set, the request answers JSON about the image instead of an image. */
  readonly terminal?: TerminalKind;
}

/** What the engine knows about a source before decoding it (read from the header). */
export interface SourceInfo {
  readonly format: SourceFormat;
  /** Stored pixel width of one frame (EXIF orientation not applied). */
  readonly width: number;
  /** Stored pixel height of one frame. */
  readonly height: number;
  readonly frames: number;
  /** EXIF orientation 1–8 (1 when absent or invalid). */
  readonly orientation: number;
  readonly hasAlpha: boolean;
  /** Byte size of the encoded source. */
  readonly bytes: number;
  /** Estimated JPEG quality of the source (from its quantisation tables), when JPEG. */
  readonly jpegQuality?: number;
  /**
   * JPEG only: a progressive (or otherwise multi-scan) frame. libjpeg keeps every DCT coefficient
   * of such an image in memory while decoding, whatever the shrink-on-load factor.
   */
  readonly progressive?: boolean;
  /**
   * With `progressive`: bytes of that coefficient buffer, from the frame's sampling factors
   * (core/codecs/jpeg-coefficients.ts); absent when unknown (then every component counts at full
   * resolution).
   */
  readonly coefficientBytes?: number;
}
