/**
 * The contract every operation implements. One operation per file in this folder; the registry in
 * `index.ts` maps each {@link OpName} to its definition.
 *
 * An operation never creates sharp instances from nothing by itself: it receives the pass's
 * pipeline and, for overlays, a factory through {@link OpEnv}. Only `core/pipeline/run.ts`
 * imports sharp at runtime (layer rule), which is why sharp appears here as a type only.
 */
import type { Sharp, OverlayOptions, SharpOptions, Create } from 'sharp';
import type { OpName, OpParamsMap, Operation, OutputFormat } from '../ir.js';
import type { EncodedImage } from '../codecs/source.js';

/**
 * Stages of one sharp pipeline, in the order libvips runs them inside sharp (see sharp's
 * src/pipeline.cc). The planner keeps operations in the same pass only while each one lands on a
 * strictly later stage than the previous one; otherwise it starts a new pass.
 */
export const Stage = {
  /** EXIF auto-orientation (sharp `autoOrient`). */
  ORIENT: 10,
  /** `rotate()` called before resize/extract: sharp rotates first ("rotateBefore"). */
  ROTATE: 20,
  /** extract() before any resize. */
  PRE_EXTRACT: 30,
  /** Flattening of alpha onto a background (sharp flattens before resizing). */
  FLATTEN: 35,
  RESIZE: 40,
  /** extract() after resize. */
  POST_EXTRACT: 50,
  /** extend() (padding). */
  EXTEND: 60,
  BLUR: 70,
  MODULATE: 80,
  SHARPEN: 90,
  /** composite(): several layers may be appended in one pass (they blend in order). */
  COMPOSITE: 100,
  /** linear(a, b). */
  LINEAR: 110,
} as const;
export type StageValue = (typeof Stage)[keyof typeof Stage];
/** One stage, or a choice of stages (the planner takes the earliest free one). */
export type StageSlot = StageValue | readonly StageValue[];

/** Geometry and pixel facts about the image between operations. */
export interface ImageState {
  readonly width: number;
  /** Height of one frame. */
  readonly height: number;
  readonly hasAlpha: boolean;
  /** Number of frames (1 for still images). */
  readonly frames: number;
  /**
   * EXIF orientation still pending on the pixels (1 = upright). Only the auto-orient operation
   * changes it; it is always the first operation of a recipe (OSS applies it before the chain).
   */
  readonly orientation: number;
}

/** A `sharp(...)` factory handed to operations for overlays and nested images. */
export type SharpFactory = (input?: Buffer | { create: Create }, options?: SharpOptions) => Sharp;

/** What an operation may use besides its pass. */
export interface OpEnv {
  readonly sharp: SharpFactory;
  /** Whether the final output keeps alpha (PNG/WebP/AVIF/…); if not, transparent areas become white. */
  readonly outputHasAlpha: boolean;
  /** The final output format (known at plan time). */
  readonly outputFormat: OutputFormat;
  /**
   * Another object of the same bucket (image watermarks): its bytes, or its stored file, which
   * libvips reads itself. Throws AppError NO_SUCH_KEY.
   */
  readonly loadObject: (key: string) => Promise<EncodedImage>;
  /**
   * Runs a nested list of operations on an encoded image and returns it as PNG bytes plus its
   * size (used by the watermark op for the watermark's own process string).
   */
  readonly processNested: (
    input: EncodedImage,
    ops: readonly Operation[],
  ) => Promise<{ data: Buffer; width: number; height: number }>;
  /** Absolute path of a bundled font file for the requested family (falls back to the default). */
  readonly fontFile: (family: string) => string;
}

/** The pass under construction: a sharp pipeline plus the composite layers collected so far. */
export interface PassBuilder {
  readonly img: Sharp;
  /** Layers for the COMPOSITE stage, applied in order when the pass is finalised. */
  readonly overlays: OverlayOptions[];
}

/** Documentation of one IR parameter (for docs/operations.md and the playground). */
export interface ParamDoc {
  readonly name: string;
  readonly type: string;
  readonly range?: string;
  readonly default?: string;
  readonly meaning: string;
}

export interface OpDefinition<N extends OpName> {
  readonly name: N;
  /** One line for docs. */
  readonly summary: string;
  readonly params: readonly ParamDoc[];
  /**
   * Stages this operation occupies, ascending, for the given parameters and input state. An
   * element that is an array means "any one of these" (extract can land before or after resize).
   * The planner keeps the operation in the current pass only if every slot finds a stage later
   * than the pass's last one; otherwise it starts a new pass. Return `'exclusive'` to always run
   * the operation in a pass of its own.
   */
  stages(params: OpParamsMap[N], state: ImageState): readonly StageSlot[] | 'exclusive';
  /**
   * What happens to an animated image: `keep` processes every frame, `static` reduces the image
   * to its first frame before this operation.
   */
  animation(params: OpParamsMap[N]): 'keep' | 'static';
  /**
   * When apply() starts with sharp's resize() on the operation's input: the box it asks for (the
   * `fill` target, or the `cover` box). The decoder's shrink-on-load factor follows from it
   * (src/core/pipeline/decoded-size.ts). Absent or null when the operation does not start so.
   */
  resizeBox?(params: OpParamsMap[N], state: ImageState): { readonly width: number; readonly height: number } | null;
  /** Pure geometry: the state after the operation (must match what apply() produces). */
  geometry(params: OpParamsMap[N], state: ImageState, env?: Pick<OpEnv, 'outputHasAlpha'>): ImageState;
  /** Adds the operation to the pass. Returns the resulting state (same as geometry()). */
  apply(
    pass: PassBuilder,
    params: OpParamsMap[N],
    state: ImageState,
    env: OpEnv,
  ): ImageState | Promise<ImageState>;
}

/** The registry type: every operation name must have a definition. */
export type OpRegistry = { readonly [N in OpName]: OpDefinition<N> };
