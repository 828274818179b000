/**
 * An encoded source image: bytes in memory, or a stored file that libvips reads by itself.
 *
 * Reading a stored object into a Buffer before processing costs more than the read: every such
 * Buffer is a fresh multi-megabyte ArrayBuffer, and V8 answers that churn of external memory with
 * extra major GCs whose cost grows with the process's heap (docs/operations-perf.md). A file source
 * keeps the bytes out of the JavaScript heap: the engine reads the header itself (a few KB) and
 * hands libvips the path. The file must not change while it is in use (blob files are immutable:
 * a new version is a new file).
 */
import { open, readFile } from 'node:fs/promises';
import { AppError } from '../errors.js';

/** A stored file of `size` bytes. */
export interface StoredFile {
  readonly path: string;
  readonly size: number;
}

export type EncodedImage = Buffer | StoredFile;

export function isStoredFile(src: EncodedImage): src is StoredFile {
  return !Buffer.isBuffer(src);
}

/**
 * NO_SUCH_KEY when `err` says a stored file disappeared (the object was overwritten or deleted
 * meanwhile): ENOENT from our own reads, or sharp's "Input file is missing"; else undefined.
 */
export function vanishedFile(err: unknown): AppError | undefined {
  const gone = (err as NodeJS.ErrnoException)?.code === 'ENOENT' || /input file is missing/i.test(String((err as Error)?.message));
  return gone ? new AppError('NO_SUCH_KEY', 'The object was replaced or deleted while it was being read.', { cause: err }) : undefined;
}

function readError(err: unknown): unknown {
  return vanishedFile(err) ?? err;
}

/** The whole encoded image in memory. */
export async function readEncoded(src: EncodedImage): Promise<Buffer> {
  if (!isStoredFile(src)) return src;
  return readFile(src.path).catch((err: unknown) => {
    throw readError(err);
  });
}

/** The first `max` bytes of a stored file (all of it when smaller). */
export async function readHead(file: StoredFile, max: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file.path, 'r');
  } catch (err) {
    throw readError(err);
  }
  try {
    const buf = Buffer.allocUnsafe(Math.min(max, file.size));
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === buf.length ? buf : buf.subarray(0, filled);
  } finally {
    await fh.close();
  }
}
