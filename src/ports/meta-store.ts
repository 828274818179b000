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

export interface MetaStore {
  // buckets
  createBucket(b: BucketRecord): boolean;
  getBucket(name: string): BucketRecord | undefined;
  listBuckets(): BucketRecord[];
  setBucketAcl(name: string, acl: BucketAcl): void;
  /** Deletes the bucket when it has no objects and no uploads; returns false otherwise. */
  deleteBucketIfEmpty(name: string): boolean;

  // objects
  getObject(bucket: string, key: string): ObjectRecord | undefined;
  /** Inserts or replaces; returns the blob id the replaced row pointed at (to be removed). */
  putObject(o: ObjectRecord): string | undefined;
  /**
   * Replaces the row only if the current row still has `expectedBlobId` (or none when undefined);
   * used by append to avoid lost updates. Returns false when the precondition fails.
   */
  putObjectIf(o: ObjectRecord, expectedBlobId: string | undefined): boolean;
  /** Deletes; returns the removed blob id. */
  deleteObject(bucket: string, key: string): string | undefined;
  setObjectAcl(bucket: string, key: string, acl: ObjectAcl): boolean;
  listObjects(q: ListObjectsQuery): ObjectRecord[];

  // styles
  putStyle(s: StyleRecord): void;
  getStyle(bucket: string, name: string): StyleRecord | undefined;
  listStyles(bucket: string): StyleRecord[];
  deleteStyle(bucket: string, name: string): boolean;

  // multipart
  createUpload(u: UploadRecord): void;
  getUpload(id: string): UploadRecord | undefined;
  listUploads(bucket: string): UploadRecord[];
  /** Records a part; returns the blob id of a part it replaced. */
  putPart(p: PartRecord): string | undefined;
  listParts(uploadId: string): PartRecord[];
  /** Removes the upload and its parts; returns the part blob ids. */
  deleteUpload(id: string): string[];
  /**
   * Completes an upload in one transaction: writes the object row, removes the upload.
   * Returns the blob ids no longer referenced (old object, part blobs), or undefined if the upload
   * no longer exists.
   */
  completeUpload(id: string, o: ObjectRecord): string[] | undefined;

  // access keys
  putAccessKey(k: AccessKeyRecord): void;
  getAccessKey(id: string): AccessKeyRecord | undefined;

  /** True when some object or part row refers to the blob. */
  isBlobReferenced(blobId: string): boolean;
  close(): void;
}
