/**
 * Composition root of `halftone doctor` (like main.ts for the server): builds the DoctorStore of a
 * data dir from the filesystem blob inspector and the SQLite metadata inspector.
 */
import { join } from 'node:path';
import type { DoctorStore } from './app/doctor.js';
import { openFsBlobInspector } from './adapters/storage/fs-inspect.js';
import { openSqliteMetaInspector } from './adapters/meta/sqlite-inspect.js';
import { lockDataDir } from './adapters/storage/data-dir-lock.js';

/** Opens the store of `dataDir` (read-only unless `repair`); call close() when done. */
export function openDoctorStore(dataDir: string, repair: boolean): DoctorStore & { close(): void } {
  // Repairs only while no server or worker owns the data dir: their in-flight writes look like orphans.
  const lock = repair ? lockDataDir(dataDir, 'doctor --repair') : undefined;
  const blobs = openFsBlobInspector(dataDir);
  const meta = openSqliteMetaInspector(join(dataDir, 'meta.sqlite'), { readonly: !repair });
  return {
    objects: () => meta.objects(), parts: () => meta.parts(), removePart: (u, n) => meta.removePart(u, n),
    blobIds: () => blobs.blobIds(), blobInfo: (id) => blobs.blobInfo(id), tempFiles: () => blobs.tempFiles(),
    removeBlob: (id) => blobs.removeBlob(id), removeTemp: (n) => blobs.removeTemp(n),
    close: () => {
      meta.close();
      lock?.release();
    },
  };
}
