/**
 * Filesystem BlobStore (the embedded default).
 *
 * Layout under `dir`: `blobs/<2 hex>/<32 hex id>` for complete blobs, `tmp/` for blobs being
 * written. A write goes to `tmp/`, is fsynced, then renamed into `blobs/` (rename is atomic on one
 * filesystem) and the directory is fsynced — so after a crash a blob is either complete or absent.
 * Ids are generated here from random bytes: no client-provided string ever becomes a path.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../../core/errors.js';
import type { BlobStore, BlobWriteOptions, BlobWriteResult } from '../../ports/blob-store.js';

const ID_RE = /^[0-9a-f]{32}$/;

export interface FsBlobStoreOptions {
  /** Root directory; created if missing. */
  readonly dir: string;
}

/** A blob store on the local filesystem; call once per data dir. Clears stale temp files. */
export async function createFsBlobStore(opts: FsBlobStoreOptions): Promise<BlobStore> {
  const blobsDir = join(opts.dir, 'blobs');
  const tmpDir = join(opts.dir, 'tmp');
  await mkdir(blobsDir, { recursive: true });
  // Anything left in tmp/ is a write that never completed (crash, kill): discard it.
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });

  function pathOf(id: string): string {
    // Defence in depth: ids come from this module, but never build a path from anything else.
    if (!ID_RE.test(id)) throw new AppError('INTERNAL', 'Internal storage error.', { details: { id } });
    return join(blobsDir, id.slice(0, 2), id);
  }

  async function fsyncDir(dir: string): Promise<void> {
    try {
      const fh = await open(dir, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch {
      // Some filesystems refuse fsync on directories; the rename itself is still atomic.
    }
  }

  async function* chunksOf(source: Readable | Buffer | { readonly concat: readonly string[] }): AsyncGenerator<Buffer> {
    if (Buffer.isBuffer(source)) {
      yield source;
      return;
    }
    if ('concat' in source && !('pipe' in source)) {
      for (const id of source.concat) {
        for await (const chunk of createReadStream(pathOf(id))) yield chunk as Buffer;
      }
      return;
    }
    // The stream is the caller's (an upload's request body): a write that fails midway stops reading
    // it but leaves it alive, so the HTTP layer can discard the rest and keep the connection
    // (`for await` over the stream itself would destroy it, and with it the connection's parser state).
    for await (const chunk of (source as Readable).iterator({ destroyOnReturn: false })) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
  }

  const store: BlobStore = {
    async write(source, options: BlobWriteOptions = {}): Promise<BlobWriteResult> {
      const id = randomBytes(16).toString('hex');
      const tmp = join(tmpDir, `${id}.part`);
      const hash = createHash('md5');
      let size = 0;
      const fh = await open(tmp, 'wx');
      let ok = false;
      try {
        for await (const chunk of chunksOf(source)) {
          size += chunk.length;
          if (options.maxBytes !== undefined && size > options.maxBytes) {
            throw new AppError('ENTITY_TOO_LARGE', `Your proposed upload exceeds the maximum allowed size of ${options.maxBytes} bytes.`);
          }
          hash.update(chunk);
          let off = 0;
          while (off < chunk.length) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
            off += bytesWritten;
          }
        }
        if (options.expectedBytes !== undefined && size !== options.expectedBytes) {
          throw new AppError('INCOMPLETE_BODY', `You did not send the number of bytes specified by the Content-Length header (${size} of ${options.expectedBytes}).`);
        }
        await fh.sync();
        ok = true;
      } finally {
        await fh.close();
        if (!ok) await unlink(tmp).catch(() => undefined);
      }
      const dest = pathOf(id);
      await mkdir(join(blobsDir, id.slice(0, 2)), { recursive: true });
      await rename(tmp, dest);
      await fsyncDir(join(blobsDir, id.slice(0, 2)));
      return { id, size, md5: hash.digest() };
    },

    read(id, range) {
      return range === undefined ? createReadStream(pathOf(id)) : createReadStream(pathOf(id), { start: range.start, end: range.end });
    },

    async readAll(id) {
      return readFile(pathOf(id));
    },

    localPath: pathOf,

    async remove(id) {
      await unlink(pathOf(id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },

    async *list() {
      for (const sub of await readdir(blobsDir)) {
        if (!/^[0-9a-f]{2}$/.test(sub)) continue;
        for (const name of await readdir(join(blobsDir, sub))) if (ID_RE.test(name)) yield name;
      }
    },

    async *entries() {
      for await (const id of store.list()) {
        // A blob removed since it was listed is skipped.
        const st = await stat(pathOf(id)).catch(() => undefined);
        if (st !== undefined) yield { id, lastModified: st.mtimeMs };
      }
    },
  };
  return store;
}
