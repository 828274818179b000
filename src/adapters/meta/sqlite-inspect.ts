/**
 * Read-mostly view of the SQLite metadata for `halftone doctor`: every object row, every part row
 * (with whether its upload still exists), and removal of orphan parts. Opened without creating
 * anything: a missing database means an empty store.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';

export interface MetaInspector {
  objects(): Iterable<{ bucket: string; key: string; blobId: string; size: number; etag: string; type: string }>;
  parts(): Iterable<{ uploadId: string; partNumber: number; blobId: string; size: number; uploadExists: boolean }>;
  removePart(uploadId: string, partNumber: number): void;
  close(): void;
}

export function openSqliteMetaInspector(file: string, opts: { readonly: boolean }): MetaInspector {
  if (!existsSync(file)) {
    return { objects: () => [], parts: () => [], removePart: () => undefined, close: () => undefined };
  }
  const db = new Database(file, { readonly: opts.readonly, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return {
    *objects() {
      const rows = db.prepare('SELECT bucket, key, blob_id AS blobId, size, etag, type FROM objects ORDER BY bucket, key').iterate();
      for (const r of rows) yield r as { bucket: string; key: string; blobId: string; size: number; etag: string; type: string };
    },
    *parts() {
      const rows = db.prepare(`SELECT p.upload_id AS uploadId, p.part_number AS partNumber, p.blob_id AS blobId, p.size AS size,
        EXISTS (SELECT 1 FROM uploads u WHERE u.id = p.upload_id) AS uploadExists FROM parts p ORDER BY p.upload_id, p.part_number`).all();
      for (const r of rows as { uploadId: string; partNumber: number; blobId: string; size: number; uploadExists: number }[]) {
        yield { ...r, uploadExists: r.uploadExists === 1 };
      }
    },
    removePart(uploadId, partNumber) {
      db.prepare('DELETE FROM parts WHERE upload_id = ? AND part_number = ?').run(uploadId, partNumber);
    },
    close: () => db.close(),
  };
}
