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
}
