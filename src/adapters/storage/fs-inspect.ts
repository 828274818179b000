/**
 * Read-mostly view of a filesystem BlobStore directory for `halftone doctor`: blob ids, size and
 * MD5 of a blob, temp files. Unlike createFsBlobStore it does not clear `tmp/` on open, so the
 * leftovers of an interrupted write can be seen (and removed on request).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const ID_RE = /^[0-9a-f]{32}$/;

export interface FsBlobInspector {
  blobIds(): AsyncIterable<string>;
  blobInfo(id: string): Promise<{ size: number; md5: Buffer } | undefined>;
  tempFiles(): Promise<string[]>;
  removeBlob(id: string): Promise<void>;
  removeTemp(name: string): Promise<void>;
}

export function openFsBlobInspector(dir: string): FsBlobInspector {
  const blobsDir = join(dir, 'blobs');
  const tmpDir = join(dir, 'tmp');
  const pathOf = (id: string): string => {
    if (!ID_RE.test(id)) throw new Error(`not a blob id: ${JSON.stringify(id)}`);
    return join(blobsDir, id.slice(0, 2), id);
  };
  return {
    async *blobIds() {
      if (!existsSync(blobsDir)) return;
      for (const sub of (await readdir(blobsDir)).sort()) {
        if (!/^[0-9a-f]{2}$/.test(sub)) continue;
        for (const name of (await readdir(join(blobsDir, sub))).sort()) if (ID_RE.test(name)) yield name;
      }
    },
    async blobInfo(id) {
      if (!ID_RE.test(id)) return undefined;
      let size: number;
      try {
        size = (await stat(pathOf(id))).size;
      } catch {
        return undefined;
      }
      const hash = createHash('md5');
      for await (const chunk of createReadStream(pathOf(id))) hash.update(chunk as Buffer);
      return { size, md5: hash.digest() };
    },
    async tempFiles() {
      return existsSync(tmpDir) ? (await readdir(tmpDir)).sort() : [];
    },
    async removeBlob(id) {
      await unlink(pathOf(id)).catch(() => undefined);
    },
    async removeTemp(name) {
      if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') throw new Error(`bad temp name ${name}`);
      await unlink(join(tmpDir, name)).catch(() => undefined);
    },
  };
}
