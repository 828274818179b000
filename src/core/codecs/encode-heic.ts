/**
 * HEIC output through a real HEVC encoder: libheif's `heif-enc` (Debian package libheif-examples),
 * found once on the PATH (or at HALFTONE_HEIF_ENC, passed in by configuration). Prebuilt sharp
 * can write AVIF but not HEVC; Halftone never labels another format as HEIC.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors.js';

let encoderPath: string | undefined = 'heif-enc';
let available: Promise<boolean> | undefined;

/** Overrides the encoder binary (configuration). */
export function configureHeicEncoder(path: string | undefined): void {
  encoderPath = path ?? 'heif-enc';
  available = undefined;
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

/** Whether a HEVC HEIC encoder is installed (checked once). */
export function heicEncoderAvailable(): Promise<boolean> {
  available ??= run(encoderPath ?? 'heif-enc', ['--list-encoders'], 10_000).then(
    (r) => /x265|hevc|HEVC/.test(r.stdout + r.stderr),
    () => false,
  );
  return available;
}

/** Encodes a PNG as HEIC (HEVC) at `quality` (1–100). */
export async function encodeHeic(png: Buffer, quality: number, timeoutMs = 60_000): Promise<Buffer> {
  if (!(await heicEncoderAvailable())) {
    throw new AppError('ENCODER_UNAVAILABLE', 'HEIC output needs a HEVC encoder: install the Debian package libheif-examples (heif-enc).');
  }
  const dir = await mkdtemp(join(tmpdir(), 'halftone-heic-'));
  try {
    const input = join(dir, 'in.png');
    const output = join(dir, 'out.heic');
    await writeFile(input, png);
    await run(encoderPath ?? 'heif-enc', ['-q', String(Math.max(1, Math.min(100, quality))), '-o', output, input], timeoutMs);
    return await readFile(output);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('INTERNAL', 'The HEIC encoder failed.', { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
