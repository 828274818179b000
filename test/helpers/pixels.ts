/**
 * Pixel comparison helpers for golden and equivalence tests. Differences are reported as the mean
 * absolute difference per channel on a 0–255 scale (plus the maximum), over RGBA pixels.
 */
import sharp from 'sharp';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Raw {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

export async function rgba(input: Buffer): Promise<Raw> {
  const { data, info } = await sharp(input).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export function diff(a: Raw, b: Raw): { mean: number; max: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`size differs: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs((a.data[i] as number) - (b.data[i] as number));
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.data.length, max };
}

export async function meanDiff(a: Buffer, b: Buffer): Promise<number> {
  return diff(await rgba(a), await rgba(b)).mean;
}

/** RGBA of the pixel at (x, y). */
export function pixel(r: Raw, x: number, y: number): [number, number, number, number] {
  const i = (y * r.width + x) * 4;
  return [r.data[i], r.data[i + 1], r.data[i + 2], r.data[i + 3]] as [number, number, number, number];
}

const goldenDir = new URL('../golden/', import.meta.url);

/**
 * Compares `output` with the stored golden image `name` (a lossless PNG of the decoded pixels).
 * With UPDATE_GOLDEN=1 writes it instead (review the new PNGs before committing them); a missing
 * golden file is a failure otherwise. Returns the mean absolute difference.
 */
export async function compareGolden(name: string, output: Buffer): Promise<number> {
  const file = new URL(`${name}.png`, goldenDir).pathname;
  if (process.env.UPDATE_GOLDEN !== '1' && !existsSync(file)) {
    throw new Error(`golden image ${name}.png is missing: run the test with UPDATE_GOLDEN=1 and review it`);
  }
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, await sharp(output).png({ compressionLevel: 9 }).toBuffer());
    return 0;
  }
  return diff(await rgba(output), await rgba(readFileSync(file))).mean;
}
