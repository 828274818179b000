/**
 * Runs operations through a hand-made sharp pipeline, independent of the planner and runner:
 * `sharp(input)` → a PassBuilder → `def.apply` → `composite(overlays)` → raw RGBA pixels.
 * Several operations given to {@link runOps} run in separate passes (one op per pass), which is
 * always correct. Used by the operation tests in test/ops.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { Create, Sharp, SharpOptions } from 'sharp';
import type { Operation, OutputFormat } from '../../src/core/ir.js';
import { OPS } from '../../src/core/ops/index.js';
import type { ImageState, OpEnv, PassBuilder } from '../../src/core/ops/types.js';
import { defaultFontFile } from '../../src/core/ops/fonts.js';

export interface RawRgba {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** Channels of the pipeline's own output before the helper added alpha for comparison. */
  readonly channels: number;
  /** The state apply() returned. */
  readonly state: ImageState;
}

export interface EnvOptions {
  readonly outputHasAlpha?: boolean;
  readonly outputFormat?: OutputFormat;
  readonly objects?: Readonly<Record<string, Buffer>>;
}

const factory = (input?: Buffer | { create: Create }, opts?: SharpOptions): Sharp =>
  input === undefined ? sharp(opts) : Buffer.isBuffer(input) ? sharp(input, opts) : sharp({ ...opts, ...input });

/** An OpEnv for tests: objects from a map, nested ops through {@link runOps}. */
export function testEnv(o: EnvOptions = {}): OpEnv {
  const outputHasAlpha = o.outputHasAlpha ?? true;
  const env: OpEnv = {
    sharp: factory,
    outputHasAlpha,
    outputFormat: o.outputFormat ?? (outputHasAlpha ? 'png' : 'jpeg'),
    loadObject: async (key) => {
      const b = o.objects?.[key];
      if (!b) {
        const { AppError } = await import('../../src/core/errors.js');
        throw new AppError('NO_SUCH_KEY', `no object ${key}`);
      }
      return b;
    },
    processNested: async (src, ops) => {
      const out = await runOps(Buffer.isBuffer(src) ? src : readFileSync(src.path), ops, { ...o, outputHasAlpha: true });
      const png = await sharp(out.data, { raw: { width: out.width, height: out.height, channels: 4 } }).png().toBuffer();
      return { data: png, width: out.width, height: out.height };
    },
    fontFile: defaultFontFile,
  };
  return env;
}

async function stateOf(img: Sharp): Promise<ImageState> {
  const m = await img.metadata();
  return { width: m.width ?? 0, height: m.height ?? 0, hasAlpha: m.hasAlpha ?? false, frames: 1, orientation: 1 };
}

/** One pass: apply `ops` to one sharp pipeline in order (the caller makes sure they fit one pass). */
export async function runPass(input: Buffer, ops: readonly Operation[], o: EnvOptions = {}): Promise<RawRgba> {
  const img = sharp(input);
  let state = await stateOf(sharp(input));
  const env = testEnv(o);
  const pass: PassBuilder = { img, overlays: [] };
  for (const op of ops) {
    const def = OPS[op.op] as unknown as { apply: (b: PassBuilder, p: unknown, s: ImageState, e: OpEnv) => ImageState | Promise<ImageState> };
    state = await def.apply(pass, op.params, state, env);
  }
  if (pass.overlays.length > 0) pass.img.composite(pass.overlays);
  const own = await pass.img.clone().raw().toBuffer({ resolveWithObject: true });
  const { data, info } = await sharp(own.data, { raw: { width: own.info.width, height: own.info.height, channels: own.info.channels } })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: own.info.channels, state };
}

/** Runs each operation in its own pass (raw RGBA between passes). */
export async function runOps(input: Buffer, ops: readonly Operation[], o: EnvOptions = {}): Promise<RawRgba> {
  let cur: RawRgba = await runPass(input, [], o);
  let buf: Buffer = await toPng(cur);
  for (const op of ops) {
    cur = await runPass(buf, [op], o);
    buf = await toPng(cur);
  }
  return cur;
}

/** Lossless PNG of raw RGBA pixels. */
export function toPng(r: { data: Buffer; width: number; height: number }): Promise<Buffer> {
  return sharp(r.data, { raw: { width: r.width, height: r.height, channels: 4 } }).png().toBuffer();
}

/** A solid-colour PNG (channels 3 when alpha is 1 and `alpha` is false). */
export function solid(width: number, height: number, c: { r: number; g: number; b: number; alpha?: number }, alpha = false): Promise<Buffer> {
  return sharp({ create: { width, height, channels: alpha ? 4 : 3, background: { r: c.r, g: c.g, b: c.b, alpha: c.alpha ?? 1 } } })
    .png()
    .toBuffer();
}

/** An RGB PNG whose pixel (x, y) is `f(x, y)` (for exact-position tests). */
export function pattern(width: number, height: number, f: (x: number, y: number) => [number, number, number]): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = f(x, y);
      const i = (y * width + x) * 3;
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** RGBA at (x, y). */
export function px(r: { data: Buffer; width: number }, x: number, y: number): [number, number, number, number] {
  const i = (y * r.width + x) * 4;
  return [r.data[i], r.data[i + 1], r.data[i + 2], r.data[i + 3]] as [number, number, number, number];
}
