/**
 * PostgreSQL MetaStore (`pg` pool): the shared metadata for several Halftone nodes.
 *
 * Each method is one statement or one transaction. Methods that read and then write take a
 * transaction-scoped advisory lock on what they change (an object key, an upload, a bucket's
 * styles), so concurrent calls from any node serialise like the SQLite adapter's transactions.
 * Keys use `COLLATE "C"`, so listing is in UTF-8 byte order. The schema is created at start-up
 * under an advisory lock, so nodes starting together do not race.
 */
import pg from 'pg';
import type {
  BucketAcl,
  BucketRecord,
  DeleteBucketResult,
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
  name TEXT COLLATE "C" PRIMARY KEY, acl TEXT NOT NULL, created_at BIGINT NOT NULL, storage_class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, blob_id TEXT NOT NULL, size BIGINT NOT NULL,
  etag TEXT NOT NULL, content_type TEXT NOT NULL, headers TEXT NOT NULL, meta TEXT NOT NULL,
  acl TEXT NOT NULL, type TEXT NOT NULL, last_modified BIGINT NOT NULL,
  PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS objects_blob ON objects (blob_id);
CREATE TABLE IF NOT EXISTS styles (
  bucket TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, content TEXT NOT NULL, created_at BIGINT NOT NULL,
  modified_at BIGINT NOT NULL, PRIMARY KEY (bucket, name)
);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, initiated BIGINT NOT NULL, template TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_bucket ON uploads (bucket, key);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob_id TEXT NOT NULL, size BIGINT NOT NULL,
  etag TEXT NOT NULL, last_modified BIGINT NOT NULL, PRIMARY KEY (upload_id, part_number)
);
CREATE INDEX IF NOT EXISTS parts_blob ON parts (blob_id);
CREATE TABLE IF NOT EXISTS access_keys (id TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL);
`;
/** Advisory lock id for schema creation (any constant unique to Halftone). */
const SCHEMA_LOCK = 0x4861_6c66;

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const str = (v: unknown): string => String(v);

function toObject(r: Row): ObjectRecord {
  return {
    bucket: str(r.bucket), key: str(r.key), blobId: str(r.blob_id), size: num(r.size), etag: str(r.etag), contentType: str(r.content_type),
    headers: JSON.parse(str(r.headers)) as Record<string, string>, meta: JSON.parse(str(r.meta)) as Record<string, string>,
    acl: str(r.acl) as ObjectAcl, type: str(r.type) as ObjectRecord['type'], lastModified: num(r.last_modified),
  };
}
const objectParams = (o: ObjectRecord): unknown[] => [
  o.bucket, o.key, o.blobId, o.size, o.etag, o.contentType, JSON.stringify(o.headers), JSON.stringify(o.meta), o.acl, o.type, o.lastModified,
];
const toBucket = (r: Row): BucketRecord => ({ name: str(r.name), acl: str(r.acl) as BucketAcl, createdAt: num(r.created_at), storageClass: str(r.storage_class) });
const toStyle = (r: Row): StyleRecord => ({ bucket: str(r.bucket), name: str(r.name), content: str(r.content), createdAt: num(r.created_at), modifiedAt: num(r.modified_at) });
const toUpload = (r: Row): UploadRecord => ({ id: str(r.id), bucket: str(r.bucket), key: str(r.key), initiated: num(r.initiated), template: JSON.parse(str(r.template)) as UploadRecord['template'] });
const toPart = (r: Row): PartRecord => ({ uploadId: str(r.upload_id), partNumber: num(r.part_number), blobId: str(r.blob_id), size: num(r.size), etag: str(r.etag), lastModified: num(r.last_modified) });

const UPSERT_OBJECT = `INSERT INTO objects (bucket, key, blob_id, size, etag, content_type, headers, meta, acl, type, last_modified)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
  ON CONFLICT (bucket, key) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag,
    content_type = excluded.content_type, headers = excluded.headers, meta = excluded.meta, acl = excluded.acl,
    type = excluded.type, last_modified = excluded.last_modified`;

/** Connects (a pool of `max` connections) and creates the schema when missing. */
export async function createPostgresMetaStore(opts: { readonly connectionString: string; readonly max?: number }): Promise<MetaStore> {
  const pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.max ?? 10 });
  const first = await pool.connect();
  try {
    await first.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
    try {
      await first.query(SCHEMA);
    } finally {
      await first.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]);
    }
  } finally {
    first.release();
  }

  const one = async (sql: string, params: unknown[] = []): Promise<Row | undefined> => (await pool.query<Row>(sql, params)).rows[0];
  const all = async (sql: string, params: unknown[] = []): Promise<Row[]> => (await pool.query<Row>(sql, params)).rows;

  type Tx = { one: (sql: string, params?: unknown[]) => Promise<Row | undefined>; all: (sql: string, params?: unknown[]) => Promise<Row[]> };
  /** Runs `fn` in one transaction holding advisory locks on `locks` (taken in sorted order). */
  async function tx<T>(locks: readonly string[], fn: (t: Tx) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      for (const l of [...new Set(locks)].sort()) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [l]);
      const t: Tx = {
        one: async (sql, params = []) => (await c.query<Row>(sql, params)).rows[0],
        all: async (sql, params = []) => (await c.query<Row>(sql, params)).rows,
      };
      const r = await fn(t);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
  const objLock = (bucket: string, key: string) => JSON.stringify(['o', bucket, key]);
  const upLock = (id: string) => JSON.stringify(['u', id]);
  const bucketLock = (name: string) => JSON.stringify(['b', name]);

  async function upsertReturningOld(t: Tx, o: ObjectRecord): Promise<string | undefined> {
    const old = await t.one('SELECT blob_id FROM objects WHERE bucket = $1 AND key = $2', [o.bucket, o.key]);
    await t.one(UPSERT_OBJECT, objectParams(o));
    return old !== undefined && str(old.blob_id) !== o.blobId ? str(old.blob_id) : undefined;
  }

  return {
    createBucket: async (b) => (await pool.query('INSERT INTO buckets (name, acl, created_at, storage_class) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [b.name, b.acl, b.createdAt, b.storageClass])).rowCount === 1,
    getBucket: async (name) => {
      const r = await one('SELECT * FROM buckets WHERE name = $1', [name]);
      return r === undefined ? undefined : toBucket(r);
    },
    listBuckets: async () => (await all('SELECT * FROM buckets ORDER BY name')).map(toBucket),
    setBucketAcl: async (name, acl) => (await pool.query('UPDATE buckets SET acl = $1 WHERE name = $2', [acl, name])).rowCount === 1,
    deleteBucketIfEmpty: (name) => tx([bucketLock(name)], async (t): Promise<DeleteBucketResult> => {
      if ((await t.one('SELECT 1 FROM buckets WHERE name = $1 FOR UPDATE', [name])) === undefined) return 'no-such-bucket';
      if ((await t.one('SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1', [name])) !== undefined) return 'not-empty';
      if ((await t.one('SELECT 1 FROM uploads WHERE bucket = $1 LIMIT 1', [name])) !== undefined) return 'not-empty';
      await t.one('DELETE FROM styles WHERE bucket = $1', [name]);
      await t.one('DELETE FROM buckets WHERE name = $1', [name]);
      return 'deleted';
    }),
    getObject: async (bucket, key) => {
      const r = await one('SELECT * FROM objects WHERE bucket = $1 AND key = $2', [bucket, key]);
      return r === undefined ? undefined : toObject(r);
    },
    putObject: (o) => tx([objLock(o.bucket, o.key)], (t) => upsertReturningOld(t, o)),
    putObjectIf: (o, expected) => tx([objLock(o.bucket, o.key)], async (t) => {
      const cur = await t.one('SELECT blob_id FROM objects WHERE bucket = $1 AND key = $2', [o.bucket, o.key]);
      if ((cur === undefined ? undefined : str(cur.blob_id)) !== expected) return false;
      await t.one(UPSERT_OBJECT, objectParams(o));
      return true;
    }),
    deleteObject: async (bucket, key) => {
      const r = await one('DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING blob_id', [bucket, key]);
      return r === undefined ? undefined : str(r.blob_id);
    },
    setObjectAcl: async (bucket, key, acl) => (await pool.query('UPDATE objects SET acl = $1 WHERE bucket = $2 AND key = $3', [acl, bucket, key])).rowCount === 1,
    listObjects: async (q) => (await all(
      // Range scan on the primary key; left() compares the prefix literally (no LIKE wildcards).
      'SELECT * FROM objects WHERE bucket = $1 AND key > $2 AND key >= $3 AND left(key, length($3)) = $3 ORDER BY key LIMIT $4',
      [q.bucket, q.after, q.prefix, q.limit])).map(toObject),
    putStyle: (s, max) => tx([JSON.stringify(['s', s.bucket])], async (t) => {
      const exists = await t.one('SELECT 1 FROM styles WHERE bucket = $1 AND name = $2', [s.bucket, s.name]);
      if (exists === undefined && num((await t.one('SELECT count(*) AS n FROM styles WHERE bucket = $1', [s.bucket]))?.n) >= max) return false;
      await t.one(`INSERT INTO styles (bucket, name, content, created_at, modified_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (bucket, name) DO UPDATE SET content = excluded.content, modified_at = excluded.modified_at`,
      [s.bucket, s.name, s.content, s.createdAt, s.modifiedAt]);
      return true;
    }),
    getStyle: async (bucket, name) => {
      const r = await one('SELECT * FROM styles WHERE bucket = $1 AND name = $2', [bucket, name]);
      return r === undefined ? undefined : toStyle(r);
    },
    listStyles: async (bucket) => (await all('SELECT * FROM styles WHERE bucket = $1 ORDER BY name', [bucket])).map(toStyle),
    deleteStyle: async (bucket, name) => (await pool.query('DELETE FROM styles WHERE bucket = $1 AND name = $2', [bucket, name])).rowCount === 1,
    createUpload: async (u) => void (await pool.query('INSERT INTO uploads (id, bucket, key, initiated, template) VALUES ($1, $2, $3, $4, $5)',
      [u.id, u.bucket, u.key, u.initiated, JSON.stringify(u.template)])),
    getUpload: async (id) => {
      const r = await one('SELECT * FROM uploads WHERE id = $1', [id]);
      return r === undefined ? undefined : toUpload(r);
    },
    listUploads: async (bucket) => (await all('SELECT * FROM uploads WHERE bucket = $1 ORDER BY key, initiated', [bucket])).map(toUpload),
    putPart: (p) => tx([upLock(p.uploadId)], async (t): Promise<PutPartResult> => {
      if ((await t.one('SELECT 1 FROM uploads WHERE id = $1', [p.uploadId])) === undefined) return { ok: false };
      const old = await t.one('SELECT blob_id FROM parts WHERE upload_id = $1 AND part_number = $2', [p.uploadId, p.partNumber]);
      await t.one(`INSERT INTO parts (upload_id, part_number, blob_id, size, etag, last_modified) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (upload_id, part_number) DO UPDATE SET blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified`,
      [p.uploadId, p.partNumber, p.blobId, p.size, p.etag, p.lastModified]);
      return { ok: true, replaced: old !== undefined && str(old.blob_id) !== p.blobId ? str(old.blob_id) : undefined };
    }),
    listParts: async (id) => (await all('SELECT * FROM parts WHERE upload_id = $1 ORDER BY part_number', [id])).map(toPart),
    deleteUpload: (id) => tx([upLock(id)], async (t) => {
      const blobs = (await t.all('DELETE FROM parts WHERE upload_id = $1 RETURNING blob_id', [id])).map((r) => str(r.blob_id));
      await t.one('DELETE FROM uploads WHERE id = $1', [id]);
      return blobs;
    }),
    completeUpload: (id, o, expected) => tx([upLock(id), objLock(o.bucket, o.key)], async (t) => {
      if ((await t.one('SELECT 1 FROM uploads WHERE id = $1', [id])) === undefined) return undefined;
      for (const [n, blob] of expected ?? []) {
        const cur = await t.one('SELECT blob_id FROM parts WHERE upload_id = $1 AND part_number = $2', [id, n]);
        if (cur === undefined || str(cur.blob_id) !== blob) return undefined;
      }
      const freed = (await t.all('DELETE FROM parts WHERE upload_id = $1 RETURNING blob_id', [id])).map((r) => str(r.blob_id));
      await t.one('DELETE FROM uploads WHERE id = $1', [id]);
      const old = await upsertReturningOld(t, o);
      if (old !== undefined) freed.push(old);
      return freed;
    }),
    putAccessKey: async (k) => void (await pool.query('INSERT INTO access_keys (id, secret) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET secret = excluded.secret', [k.id, k.secret])),
    getAccessKey: async (id) => {
      const r = await one('SELECT id, secret FROM access_keys WHERE id = $1', [id]);
      return r === undefined ? undefined : { id: str(r.id), secret: str(r.secret) };
    },
    getDocument: async (name) => {
      const r = await one('SELECT value, version FROM documents WHERE name = $1', [name]);
      return r === undefined ? undefined : { value: str(r.value), version: num(r.version) };
    },
    // One statement each: a concurrent UPDATE waits for the row lock, then re-checks the version.
    putDocumentIf: async (name, value, expected) => (expected === 0
      ? await pool.query('INSERT INTO documents (name, value, version) VALUES ($1, $2, 1) ON CONFLICT (name) DO NOTHING', [name, value])
      : await pool.query('UPDATE documents SET value = $2, version = version + 1 WHERE name = $1 AND version = $3', [name, value, expected])).rowCount === 1,
    isBlobReferenced: async (blobId) =>
      (await one('SELECT EXISTS (SELECT 1 FROM objects WHERE blob_id = $1) OR EXISTS (SELECT 1 FROM parts WHERE blob_id = $1) AS r', [blobId]))?.r === true,
    close: () => pool.end(),
  };
}
