/**
 * HEIC output through a real HEVC encoder: libheif's `heif-enc` (Debian package
 * `libheif-examples`, which pulls in libheif1 and the x265 plugin). Prebuilt sharp can write AVIF
 * but not HEVC, and Halftone never labels another format as HEIC: when the tool is missing the
 * request fails with ENCODER_UNAVAILABLE naming what to install.
 *
 * The tool is looked up once (cached); the path is configurable (`configureHeicEncoder`, fed by
 * the application's configuration). Each encode writes the PNG to a private temp directory, runs
 * heif-enc with a time limit and an optional AbortSignal, reads the result back and cleans up.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors.js';

const DEFAULT_BINARY = 'heif-enc';

/** Install hint shown to clients and operators. */
export const HEIC_INSTALL_HINT = 'install the Debian package libheif-examples (heif-enc, with the x265 HEVC encoder)';

let encoderPath = DEFAULT_BINARY;
let available: Promise<boolean> | undefined;

/**
 * Sets the heif-enc binary (absolute path or a name looked up on PATH); `undefined` restores the
 * default `heif-enc`. Clears the cached availability check.
 */
export function configureHeicEncoder(path: string | undefined): void {
  encoderPath = path === undefined || path === '' ? DEFAULT_BINARY : path;
  available = undefined;
}

interface RunOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

function run(file: string, args: readonly string[], opts: RunOptions): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, windowsHide: true, ...(opts.signal ? { signal: opts.signal } : {}) },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stdout, stderr }));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** True when `heif-enc --list-encoders` output lists at least one HEIC (HEVC) encoder. */
export function listsHevcEncoder(listing: string): boolean {
  const section = /HEIC encoders:\s*\n((?:[ \t]*-.*\n?)*)/.exec(listing);
  return section !== null && /-\s*\S/.test(section[1] ?? '');
}

/**
 * Whether a HEVC HEIC encoder is installed. Checked once per configured path (the promise is
 * cached); call it at start-up to log the answer.
 */
export function heicEncoderAvailable(): Promise<boolean> {
  available ??= run(encoderPath, ['--list-encoders'], { timeoutMs: 10_000 }).then(
    (r) => listsHevcEncoder(r.stdout + '\n' + r.stderr),
    () => false,
  );
  return available;
}

/** Options of {@link encodeHeic}. */
export interface HeicEncodeOptions {
  /** Kill heif-enc after this many milliseconds (default 60 000). */
  readonly timeoutMs?: number;
  /** Abort the encode (the child process is killed). */
  readonly signal?: AbortSignal;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Encodes a PNG (8-bit, RGB or RGBA — alpha is kept) as HEVC HEIC at `quality` (clamped to 1–100).
 * The caller enforces the 4096 px output limit before calling.
 *
 * @throws AppError ENCODER_UNAVAILABLE when heif-enc (with an HEVC encoder) is not installed,
 *   TIMEOUT when the time limit or the signal stops it, INTERNAL when heif-enc fails or writes
 *   something that is not HEIC.
 */
export async function encodeHeic(png: Buffer, quality: number, options: HeicEncodeOptions = {}): Promise<Buffer> {
  if (!(await heicEncoderAvailable())) {
    throw new AppError('ENCODER_UNAVAILABLE', `HEIC output needs a HEVC encoder: ${HEIC_INSTALL_HINT}.`, {
      details: { encoder: encoderPath },
    });
  }
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new AppError('INTERNAL', 'The HEIC encoder expects PNG input.');
  options.signal?.throwIfAborted();
  const q = Math.max(1, Math.min(100, Math.round(Number.isFinite(quality) ? quality : 80)));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'halftone-heic-'));
  try {
    const input = join(dir, 'in.png');
    const output = join(dir, 'out.heic');
    await writeFile(input, png);
    // -e x265 would pin the encoder; leaving the default lets libheif pick its HEVC plugin.
    // The .heic suffix (not -A) selects HEVC.
    await run(encoderPath, ['-q', String(q), '-o', output, input], { timeoutMs, signal: options.signal });
    const out = await readFile(output);
    if (!isHeic(out)) throw new Error('heif-enc wrote something that is not HEVC HEIC');
    return out;
  } catch (err) {
    if (err instanceof AppError) throw err;
    const e = err as { name?: string; killed?: boolean; signal?: string; code?: unknown };
    if (e.name === 'AbortError' || options.signal?.aborted === true) {
      throw new AppError('TIMEOUT', 'HEIC encoding was cancelled.', { cause: err });
    }
    if (e.killed === true || e.signal === 'SIGKILL') {
      throw new AppError('TIMEOUT', `HEIC encoding took longer than ${timeoutMs} ms.`, { cause: err });
    }
    throw new AppError('INTERNAL', 'The HEIC encoder failed.', { cause: err });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An ISO-BMFF file whose ftyp names a HEVC brand. */
function isHeic(buf: Buffer): boolean {
  if (buf.length < 12 || buf.toString('latin1', 4, 8) !== 'ftyp') return false;
  const size = Math.min(buf.length, buf.readUInt32BE(0));
  const text = buf.toString('latin1', 8, Math.max(12, size));
  return /heic|heix|hevc|hevx/.test(text);
}
