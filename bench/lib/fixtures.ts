/**
 * Generated benchmark inputs, made once and cached under the cache directory (`.tmp/bench`).
 * The file name carries a recipe version so that changing a recipe regenerates the file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { BenchContext } from './types.js';

/** Returns the cached file's bytes, generating it with `make` the first time. */
export async function cached(ctx: BenchContext, name: string, make: () => Promise<Buffer>): Promise<Buffer> {
  const file = join(ctx.cacheDir, name);
  if (existsSync(file)) return readFile(file);
  await mkdir(ctx.cacheDir, { recursive: true });
  ctx.log(`  generating ${file}`);
  const data = await make();
  // Write then rename: a concurrent or interrupted run never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
  return data;
}

/** The first existing corpus photo among `names`, or undefined when the corpus is absent. */
export function corpusPhoto(ctx: BenchContext, names: readonly string[]): string | undefined {
  for (const n of names) {
    const p = join(ctx.corpusDir, 'photos', n);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * A deterministic photo-like stand-in when the corpus is missing: smooth colour gradients plus
 * noise (noise matters: flat images compress and resize unrealistically fast).
 */
export async function syntheticPhoto(width: number, height: number): Promise<Sharp> {
  const data = Buffer.alloc(width * height * 3);
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const n = (rnd() - 0.5) * 60;
      data[i] = clamp8((x / width) * 255 + n);
      data[i + 1] = clamp8((y / height) * 255 + n);
      data[i + 2] = clamp8(128 + 100 * Math.sin((x + y) / 37) + n);
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

function clamp8(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/** A photo (or stand-in) scaled and centre-cropped to exactly `width`×`height`, as an sRGB pipeline. */
export async function photoAt(ctx: BenchContext, width: number, height: number, names: readonly string[]): Promise<{ img: Sharp; source: string }> {
  const file = corpusPhoto(ctx, names);
  if (file === undefined) {
    return { img: await syntheticPhoto(width, height), source: 'synthetic noisy gradient (corpus missing)' };
  }
  return { img: sharp(file).resize(width, height, { fit: 'cover' }), source: file };
}

/** Adds a left-to-right alpha gradient (0 → 255) to a 3-channel image of `width`×`height`. */
export async function withGradientAlpha(img: Sharp, width: number, height: number): Promise<Sharp> {
  const rgb = await img.removeAlpha().toColourspace('srgb').raw().toBuffer();
  const out = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = (y * width + x) * 4;
      out[d] = rgb[s] as number;
      out[d + 1] = rgb[s + 1] as number;
      out[d + 2] = rgb[s + 2] as number;
      out[d + 3] = Math.round((x / (width - 1)) * 255);
    }
  }
  return sharp(out, { raw: { width, height, channels: 4 } });
}
