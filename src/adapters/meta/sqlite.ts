/**
 * SQLite MetaStore (better-sqlite3, synchronous, WAL) behind the asynchronous MetaStore port.
 *
 * Every public method runs as one statement or one transaction (synchronously, then resolves), so the metadata is always in a
 * state some sequence of completed requests produced. `synchronous = FULL` makes each commit
 * durable before the response is sent.
 */
import Database from 'better-sqlite3';
import type {
  AccessKeyRecord,
  ChangeClock,
  BucketAcl,
  BucketRecord,
  DeleteBucketResult,
  ListObjectsQuery,
  MetaStore,
  ObjectAcl,
  ObjectRecord,
  PartRecord,
  PutPartResult,
  StyleRecord,
  UploadRecord,
} from '../../ports/meta-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS buckets (
  name TEXT PRIMARY KEY, acl TEXT NOT NULL, created_at INTEGER NOT NULL, storage_class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, content_type TEXT NOT NULL, headers TEXT NOT NULL, meta TEXT NOT NULL,
  acl TEXT NOT NULL, type TEXT NOT NULL, last_modified INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_blob ON objects (blob_id);
CREATE TABLE IF NOT EXISTS styles (
  bucket TEXT NOT NULL, name TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL, PRIMARY KEY (bucket, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated INTEGER NOT NULL, template TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_bucket ON uploads (bucket, key);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parts_blob ON parts (blob_id);
CREATE TABLE IF NOT EXISTS access_keys (id TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL);
`;

interface ObjectRow {
  bucket: string; key: string; blob_id: string; size: number; etag: string; content_type: string;
  headers: string; meta: string; acl: string; type: string; last_modified: number;
}
interface BucketRow { name: string; acl: string; created_at: number; storage_class: string }
interface StyleRow { bucket: string; name: string; content: string; created_at: number; modified_at: number }
interface UploadRow { id: string; bucket: string; key: string; initiated: number; template: string }
interface PartRow { upload_id: string; part_number: number; blob_id: string; size: number; etag: string; last_modified: number }

/** Milliseconds between two reads of PRAGMA data_version by the change clock. */
const EXTERNAL_CHECK_MS = 1;

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
/** A stored JSON map; the common empty one is not parsed. */
const jsonMap = (text: string): Readonly<Record<string, string>> => (text === '{}' ? EMPTY : JSON.parse(text) as Record<string, string>);

function toObject(r: ObjectRow): ObjectRecord {
  return {
    bucket: r.bucket, key: r.key, blobId: r.blob_id, size: r.size, etag: r.etag, contentType: r.content_type,
    headers: jsonMap(r.headers), meta: jsonMap(r.meta),
    acl: r.acl as ObjectAcl, type: r.type as ObjectRecord['type'], lastModified: r.last_modified,
  };
}
function objectParams(o: ObjectRecord): ObjectRow {
  return {
    bucket: o.bucket, key: o.key, blob_id: o.blobId, size: o.size, etag: o.etag, content_type: o.contentType,
    headers: JSON.stringify(o.headers), meta: JSON.stringify(o.meta), acl: o.acl, type: o.type, last_modified: o.lastModified,
  };
}
const toBucket = (r: BucketRow): BucketRecord => ({ name: r.name, acl: r.acl as BucketAcl, createdAt: r.created_at, storageClass: r.storage_class });
const toStyle = (r: StyleRow): StyleRecord => ({ bucket: r.bucket, name: r.name, content: r.content, createdAt: r.created_at, modifiedAt: r.modified_at });
const toUpload = (r: UploadRow): UploadRecord => ({ id: r.id, bucket: r.bucket, key: r.key, initiated: r.initiated, template: JSON.parse(r.template) as UploadRecord['template'] });
const toPart = (r: PartRow): PartRecord => ({ uploadId: r.upload_id, partNumber: r.part_number, blobId: r.blob_id, size: r.size, etag: r.etag, lastModified: r.last_modified });

/** Opens (and migrates) the metadata database at `file`. */
export function createSqliteMetaStore(opts: { readonly file: string }): MetaStore {
  const db = new Database(opts.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);

  const q = {
    insBucket: db.prepare('INSERT OR IGNORE INTO buckets (name, acl, created_at, storage_class) VALUES (?, ?, ?, ?)'),
    getBucket: db.prepare<[string], BucketRow>('SELECT * FROM buckets WHERE name = ?'),
    listBuckets: db.prepare<[], BucketRow>('SELECT * FROM buckets ORDER BY name'),
    setBucketAcl: db.prepare('UPDATE buckets SET acl = ? WHERE name = ?'),
    bucketHasObjects: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM objects WHERE bucket = ? LIMIT 1'),
    bucketHasUploads: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM uploads WHERE bucket = ? LIMIT 1'),
    delBucket: db.prepare('DELETE FROM buckets WHERE name = ?'),
    delBucketStyles: db.prepare('DELETE FROM styles WHERE bucket = ?'),
    countStyles: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM styles WHERE bucket = ?'),
    getObject: db.prepare<[string, string], ObjectRow>('SELECT * FROM objects WHERE bucket = ? AND key = ?'),
    upsertObject: db.prepare(`INSERT INTO objects (bucket, key, blob_id, size, etag, content_type, headers, meta, acl, type, last_modified)
      VALUES (@bucket, @key, @blob_id, @size, @etag, @content_type, @headers, @meta, @acl, @type, @last_modified)
      ON CONFLICT (bucket, key) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag,
        content_type = excluded.content_type, headers = excluded.headers, meta = excluded.meta, acl = excluded.acl,
        type = excluded.type, last_modified = excluded.last_modified`),
    delObject: db.prepare('DELETE FROM objects WHERE bucket = ? AND key = ?'),
    setObjectAcl: db.prepare('UPDATE objects SET acl = ? WHERE bucket = ? AND key = ?'),
    listObjects: db.prepare<[{ bucket: string; after: string; prefix: string; limit: number }], ObjectRow>(
      // Range scan on the primary key (BINARY collation = UTF-8 byte order, as OSS lists).
      'SELECT * FROM objects WHERE bucket = @bucket AND key > @after AND key >= @prefix AND substr(key, 1, length(@prefix)) = @prefix ORDER BY key LIMIT @limit'),
    putStyle: db.prepare(`INSERT INTO styles (bucket, name, content, created_at, modified_at) VALUES (@bucket, @name, @content, @createdAt, @modifiedAt)
      ON CONFLICT (bucket, name) DO UPDATE SET content = excluded.content, modified_at = excluded.modified_at`),
    getStyle: db.prepare<[string, string], StyleRow>('SELECT * FROM styles WHERE bucket = ? AND name = ?'),
    listStyles: db.prepare<[string], StyleRow>('SELECT * FROM styles WHERE bucket = ? ORDER BY name'),
    delStyle: db.prepare('DELETE FROM styles WHERE bucket = ? AND name = ?'),
    insUpload: db.prepare('INSERT INTO uploads (id, bucket, key, initiated, template) VALUES (?, ?, ?, ?, ?)'),
    getUpload: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE id = ?'),
    listUploads: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE bucket = ? ORDER BY key, initiated'),
    delUpload: db.prepare('DELETE FROM uploads WHERE id = ?'),
    getPart: db.prepare<[string, number], PartRow>('SELECT * FROM parts WHERE upload_id = ? AND part_number = ?'),
    upsertPart: db.prepare(`INSERT INTO parts (upload_id, part_number, blob_id, size, etag, last_modified) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (upload_id, part_number) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified`),
    listParts: db.prepare<[string], PartRow>('SELECT * FROM parts WHERE upload_id = ? ORDER BY part_number'),
    delParts: db.prepare('DELETE FROM parts WHERE upload_id = ?'),
    putKey: db.prepare('INSERT INTO access_keys (id, secret) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET secret = excluded.secret'),
    getKey: db.prepare<[string], { id: string; secret: string }>('SELECT * FROM access_keys WHERE id = ?'),
    getDoc: db.prepare<[string], { value: string; version: number }>('SELECT value, version FROM documents WHERE name = ?'),
    insDoc: db.prepare('INSERT INTO documents (name, value, version) VALUES (?, ?, 1) ON CONFLICT (name) DO NOTHING'),
    updDoc: db.prepare('UPDATE documents SET value = ?, version = version + 1 WHERE name = ? AND version = ?'),
    blobInObjects: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM objects WHERE blob_id = ? LIMIT 1'),
    blobInParts: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM parts WHERE blob_id = ? LIMIT 1'),
  };

  const putObject = (o: ObjectRecord): string | undefined => {
    const old = q.getObject.get(o.bucket, o.key);
    q.upsertObject.run(objectParams(o));
    return old !== undefined && old.blob_id !== o.blobId ? old.blob_id : undefined;
  };

  const putObjectTx = db.transaction(putObject);
  const putObjectIfTx = db.transaction((o: ObjectRecord, expected: string | undefined): boolean => {
    const cur = q.getObject.get(o.bucket, o.key);
    if ((cur?.blob_id) !== expected) return false;
    q.upsertObject.run(objectParams(o));
    return true;
  });
  const deleteObjectTx = db.transaction((bucket: string, key: string): string | undefined => {
    const cur = q.getObject.get(bucket, key);
    if (cur === undefined) return undefined;
    q.delObject.run(bucket, key);
    return cur.blob_id;
  });
  const deleteBucketTx = db.transaction((name: string): DeleteBucketResult => {
    if (q.getBucket.get(name) === undefined) return 'no-such-bucket';
    if (q.bucketHasObjects.get(name) !== undefined || q.bucketHasUploads.get(name) !== undefined) return 'not-empty';
    q.delBucketStyles.run(name);
    q.delBucket.run(name);
    return 'deleted';
  });
  const putStyleTx = db.transaction((s: StyleRecord, max: number): boolean => {
    if (q.getStyle.get(s.bucket, s.name) === undefined && q.countStyles.get(s.bucket)!.n >= max) return false;
    q.putStyle.run(s);
    return true;
  });
  const putPartTx = db.transaction((p: PartRecord): PutPartResult => {
    if (q.getUpload.get(p.uploadId) === undefined) return { ok: false };
    const old = q.getPart.get(p.uploadId, p.partNumber);
    q.upsertPart.run(p.uploadId, p.partNumber, p.blobId, p.size, p.etag, p.lastModified);
    return { ok: true, replaced: old !== undefined && old.blob_id !== p.blobId ? old.blob_id : undefined };
  });
  const deleteUploadTx = db.transaction((id: string): string[] => {
    const blobs = q.listParts.all(id).map((r) => r.blob_id);
    q.delParts.run(id);
    q.delUpload.run(id);
    return blobs;
  });
  const completeTx = db.transaction((id: string, o: ObjectRecord, expected: ReadonlyMap<number, string> | undefined): string[] | undefined => {
    if (q.getUpload.get(id) === undefined) return undefined;
    for (const [n, blob] of expected ?? []) if (q.getPart.get(id, n)?.blob_id !== blob) return undefined;
    const freed = deleteUploadTx(id);
    const old = putObject(o);
    if (old !== undefined) freed.push(old);
    return freed;
  });

  // Change clock (MetaStore.changes): every write below bumps its bucket; a commit by another
  // connection (a CLI process on the same file) moves PRAGMA data_version and counts as a change
  // of every bucket. data_version is read at most once per EXTERNAL_CHECK_MS (the hot cache asks
  // on every hit), so another process's commit is seen at most that long after it lands; this
  // process's own writes bump their bucket at once.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seq = 0;
  let floor = 0;
  let seenVersion = dataVersion.get();
  let checkedAt = performance.now();
  const bucketSeq = new Map<string, number>();
  const external = (): void => {
    const t = performance.now();
    if (t - checkedAt < EXTERNAL_CHECK_MS) return;
    checkedAt = t;
    const v = dataVersion.get();
    if (v !== seenVersion) {
      seenVersion = v;
      floor = ++seq;
    }
  };
  const touched = (bucket: string): void => {
    bucketSeq.set(bucket, ++seq);
  };
  /** Runs a write `fn` touching `bucket` and bumps the bucket (also when the write throws mid-way). */
  const write = <T>(bucket: string, fn: () => T): Promise<T> => {
    try {
      return run(fn);
    } finally {
      touched(bucket);
    }
  };
  const changes: ChangeClock = {
    now() {
      external();
      return seq;
    },
    changedAt(bucket) {
      external();
      return Math.max(bucketSeq.get(bucket) ?? 0, floor);
    },
  };

  /** Runs `fn` now (one statement or transaction) and settles with its result or error. */
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };

  return {
    createBucket: (b) => write(b.name, () => q.insBucket.run(b.name, b.acl, b.createdAt, b.storageClass).changes > 0),
    getBucket: (name) => run(() => {
      const r = q.getBucket.get(name);
      return r === undefined ? undefined : toBucket(r);
    }),
    listBuckets: () => run(() => q.listBuckets.all().map(toBucket)),
    setBucketAcl: (name, acl) => write(name, () => q.setBucketAcl.run(acl, name).changes > 0),
    deleteBucketIfEmpty: (name) => write(name, () => deleteBucketTx(name)),
    getObject: (bucket, key) => run(() => {
      const r = q.getObject.get(bucket, key);
      return r === undefined ? undefined : toObject(r);
    }),
    putObject: (o) => write(o.bucket, () => putObjectTx(o)),
    putObjectIf: (o, expected) => write(o.bucket, () => putObjectIfTx(o, expected)),
    deleteObject: (bucket, key) => write(bucket, () => deleteObjectTx(bucket, key)),
    setObjectAcl: (bucket, key, acl) => write(bucket, () => q.setObjectAcl.run(acl, bucket, key).changes > 0),
    listObjects: (lq: ListObjectsQuery) => run(() => q.listObjects.all({ bucket: lq.bucket, after: lq.after, prefix: lq.prefix, limit: lq.limit }).map(toObject)),
    putStyle: (s, max) => write(s.bucket, () => putStyleTx(s, max)),
    getStyle: (bucket, name) => run(() => {
      const r = q.getStyle.get(bucket, name);
      return r === undefined ? undefined : toStyle(r);
    }),
    listStyles: (bucket) => run(() => q.listStyles.all(bucket).map(toStyle)),
    deleteStyle: (bucket, name) => write(bucket, () => q.delStyle.run(bucket, name).changes > 0),
    createUpload: (u) => run(() => void q.insUpload.run(u.id, u.bucket, u.key, u.initiated, JSON.stringify(u.template))),
    getUpload: (id) => run(() => {
      const r = q.getUpload.get(id);
      return r === undefined ? undefined : toUpload(r);
    }),
    listUploads: (bucket) => run(() => q.listUploads.all(bucket).map(toUpload)),
    putPart: (p) => run(() => putPartTx(p)),
    listParts: (id) => run(() => q.listParts.all(id).map(toPart)),
    deleteUpload: (id) => run(() => deleteUploadTx(id)),
    completeUpload: (id, o, expected) => write(o.bucket, () => completeTx(id, o, expected)),
    putAccessKey: (k: AccessKeyRecord) => run(() => void q.putKey.run(k.id, k.secret)),
    getAccessKey: (id) => run(() => {
      const r = q.getKey.get(id);
      return r === undefined ? undefined : { id: r.id, secret: r.secret };
    }),
    getDocument: (name) => run(() => {
      const r = q.getDoc.get(name);
      return r === undefined ? undefined : { value: r.value, version: Number(r.version) };
    }),
    // A document (the hosted-images account: variants, settings) belongs to no bucket, and answers
    // cached from several buckets may read it: a write counts as a change of every bucket.
    putDocumentIf: (name, value, expected) => {
      try {
        return run(() => (expected === 0 ? q.insDoc.run(name, value) : q.updDoc.run(value, name, expected)).changes === 1);
      } finally {
        floor = ++seq;
      }
    },
    isBlobReferenced: (blobId) => run(() => q.blobInObjects.get(blobId) !== undefined || q.blobInParts.get(blobId) !== undefined),
    close: () => run(() => void db.close()),
    changes,
  };
}
