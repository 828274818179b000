/**
 * MetaStore: buckets, object metadata, styles, multipart state and access keys.
 *
 * Every method is atomic on its own. Object rows point at blobs in the BlobStore; a row is written
 * only after its blob is durable, so a crash never exposes a partial object.
 */

export type BucketAcl = 'private' | 'public-read' | 'public-read-write';
export type ObjectAcl = 'default' | BucketAcl;

export interface BucketRecord {
  readonly name: string;
  readonly acl: BucketAcl;
  readonly createdAt: number;
  readonly storageClass: string;
}

export interface ObjectRecord {
  readonly bucket: string;
  readonly key: string;
  readonly blobId: string;
  readonly size: number;
  /** Quoted ETag as sent to clients, e.g. `"5EB63BBBE01EEED093CB22BB8F5ACDC3"`. */
  readonly etag: string;
  readonly contentType: string;
  /** Other stored response headers: content-disposition, cache-control, content-encoding, … */
  readonly headers: Readonly<Record<string, string>>;
  /** User metadata without the `x-oss-meta-` prefix, names lower-cased. */
  readonly meta: Readonly<Record<string, string>>;
  readonly acl: ObjectAcl;
  readonly type: 'Normal' | 'Appendable' | 'Multipart';
  readonly lastModified: number;
}

export interface ListObjectsQuery {
  readonly bucket: string;
  readonly prefix: string;
  /** Return keys strictly greater than this. */
  readonly after: string;
  readonly limit: number;
}

export interface StyleRecord {
  readonly bucket: string;
  readonly name: string;
  readonly content: string;
  readonly createdAt: number;
  readonly modifiedAt: number;
}

export interface UploadRecord {
  readonly id: string;
  readonly bucket: string;
  readonly key: string;
  readonly initiated: number;
  /** Content-Type, headers, meta and ACL captured at initiate time. */
  readonly template: Pick<ObjectRecord, 'contentType' | 'headers' | 'meta' | 'acl'>;
}

export interface PartRecord {
  readonly uploadId: string;
  readonly partNumber: number;
  readonly blobId: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: number;
}

export interface AccessKeyRecord {
  readonly id: string;
  readonly secret: string;
}

/** Outcome of {@link MetaStore.deleteBucketIfEmpty}. */
export type DeleteBucketResult = 'deleted' | 'not-empty' | 'no-such-bucket';

/** Outcome of {@link MetaStore.putPart}. */
export type PutPartResult =
  | { readonly ok: true; /** Blob id of a part row it replaced (to be removed). */ readonly replaced: string | undefined }
  | { readonly ok: false };

/** A named document of the MetaStore with its version (see {@link MetaStore.putDocumentIf}). */
export interface VersionedDocument {
  readonly value: string;
  readonly version: number;
}

/**
 * Every method returns a Promise and is atomic on its own: concurrent calls (from this process or
 * from other nodes sharing the store) behave as if run one after another. Callers must not rely on
 * two calls being atomic together — where a check and a write belong together, the port has one
 * method for both (putObjectIf, putStyle with its limit, putPart, completeUpload,
 * deleteBucketIfEmpty).
 */
export interface MetaStore {
  // buckets
  /** Inserts the bucket; false (and no change) when the name is taken. */
  createBucket(b: BucketRecord): Promise<boolean>;
  getBucket(name: string): Promise<BucketRecord | undefined>;
  /** All buckets ordered by name. */
  listBuckets(): Promise<BucketRecord[]>;
  /** Sets the ACL; false when the bucket does not exist. */
  setBucketAcl(name: string, acl: BucketAcl): Promise<boolean>;
  /**
   * Deletes the bucket (and its styles) when it has no objects and no uploads; otherwise changes
   * nothing and says why.
   */
  deleteBucketIfEmpty(name: string): Promise<DeleteBucketResult>;

  // objects
  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * Inserts or replaces; returns the blob id the replaced row pointed at when it differs from the
   * new one (to be removed), else undefined.
   */
  putObject(o: ObjectRecord): Promise<string | undefined>;
  /**
   * Inserts or replaces the row only if the current row still has `expectedBlobId` (or there is no
   * row when undefined); used by append and in-place copy to avoid lost updates. Returns false
   * (and changes nothing) when the precondition fails.
   */
  putObjectIf(o: ObjectRecord, expectedBlobId: string | undefined): Promise<boolean>;
  /** Deletes; returns the removed blob id (undefined when there was no row). */
  deleteObject(bucket: string, key: string): Promise<string | undefined>;
  /** Sets the ACL; false when the object does not exist. */
  setObjectAcl(bucket: string, key: string, acl: ObjectAcl): Promise<boolean>;
  /**
   * Objects of `bucket` whose key starts with `prefix` and is greater than `after`, ascending in
   * UTF-8 byte order, at most `limit`.
   */
  listObjects(q: ListObjectsQuery): Promise<ObjectRecord[]>;

  // styles
  /**
   * Inserts or replaces the style's content. A replaced style keeps its `createdAt` and takes
   * `modifiedAt`. A new style is refused (returns false, nothing changes) when the bucket already
   * holds `maxPerBucket` styles.
   */
  putStyle(s: StyleRecord, maxPerBucket: number): Promise<boolean>;
  getStyle(bucket: string, name: string): Promise<StyleRecord | undefined>;
  /** Styles of the bucket ordered by name. */
  listStyles(bucket: string): Promise<StyleRecord[]>;
  /** False when there was no such style. */
  deleteStyle(bucket: string, name: string): Promise<boolean>;

  // multipart
  /** Inserts the upload (ids are unique; a duplicate id is an error). */
  createUpload(u: UploadRecord): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  /** Uploads of the bucket ordered by key, then initiation time. */
  listUploads(bucket: string): Promise<UploadRecord[]>;
  /**
   * Records a part if its upload still exists ({ ok: false } and no change otherwise); returns the
   * blob id of a part it replaced.
   */
  putPart(p: PartRecord): Promise<PutPartResult>;
  /** Parts of the upload ordered by part number. */
  listParts(uploadId: string): Promise<PartRecord[]>;
  /** Removes the upload and its parts; returns the part blob ids (empty when unknown). */
  deleteUpload(id: string): Promise<string[]>;
  /**
   * Completes an upload in one transaction: writes the object row, removes the upload and its parts.
   * Returns the blob ids no longer referenced (old object, part blobs), or undefined (and no change)
   * if the upload no longer exists or — when `expectedParts` (part number → blob id, the parts the
   * object was assembled from) is given — one of those parts is missing or now has another blob.
   */
  completeUpload(id: string, o: ObjectRecord, expectedParts?: ReadonlyMap<number, string>): Promise<string[] | undefined>;

  // access keys
  /** Inserts or replaces the key's secret. */
  putAccessKey(k: AccessKeyRecord): Promise<void>;
  getAccessKey(id: string): Promise<AccessKeyRecord | undefined>;

  // documents: small named JSON states changed by compare-and-set (the hosted-images account)
  /** The document's text and version (1 after the first write), or undefined. */
  getDocument(name: string): Promise<VersionedDocument | undefined>;
  /**
   * Writes the document only if its version is still `expectedVersion` (0: it must not exist yet);
   * the new version is `expectedVersion + 1`. Returns false (and changes nothing) otherwise, so
   * that concurrent read-modify-writes of several nodes never lose an update (the loser re-reads).
   */
  putDocumentIf(name: string, value: string, expectedVersion: number): Promise<boolean>;

  /** True when some object or part row refers to the blob. */
  isBlobReferenced(blobId: string): Promise<boolean>;
  close(): Promise<void>;

  /**
   * Optional change clock, synchronous and cheap (only stores that see every write to their data,
   * e.g. one SQLite file, offer it; a store shared by several nodes does not). `now()` is a
   * counter that never decreases; `changedAt(bucket)` is the value of `now()` at the latest write
   * that may change what a read of `bucket` answers (its row, ACL, objects, styles — or any change
   * the store cannot attribute to one bucket, such as a commit by another process or a document
   * write), never above `now()`. A
   * response computed from reads that began when `now()` was `t` is still current while
   * `changedAt(bucket) <= t`.
   */
  readonly changes?: ChangeClock;
}

/** See {@link MetaStore.changes}. */
export interface ChangeClock {
  now(): number;
  changedAt(bucket: string): number;
}
