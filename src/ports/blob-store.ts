/**
 * BlobStore: immutable byte blobs addressed by an opaque id chosen by the store.
 *
 * Object keys never reach this port: the metadata store maps (bucket, key) → blob id, so no user
 * input can ever become a file path. Writes are atomic (a blob is either absent or complete).
 */
import type { Readable } from 'node:stream';

/** What a finished write reports. */
export interface BlobWriteResult {
  readonly id: string;
  readonly size: number;
  /** MD5 of the bytes written (16 raw bytes). */
  readonly md5: Buffer;
}

/** A listed blob and when it was written. */
export interface BlobEntry {
  readonly id: string;
  readonly lastModified: number;
}

export interface BlobWriteOptions {
  /** Abort (and discard the partial blob) when more than this many bytes arrive. */
  readonly maxBytes?: number;
  /** Abort with INCOMPLETE_BODY unless exactly this many bytes arrive. */
  readonly expectedBytes?: number;
}

export interface BlobStore {
  /**
   * Writes all chunks of `source` (a stream, a buffer or a list of existing blob ids to concatenate)
   * into a new blob. The blob becomes visible only once complete and durable. A write that fails
   * midway stops reading a stream source but does not destroy it: what remains of it is the
   * caller's (src/http/unread-body.ts for request bodies).
   */
  write(source: Readable | Buffer | { readonly concat: readonly string[] } , options?: BlobWriteOptions): Promise<BlobWriteResult>;
  /** Streams a blob, optionally a byte range (inclusive `start`, inclusive `end`). */
  read(id: string, range?: { readonly start: number; readonly end: number }): Readable;
  /** Reads a whole blob into memory (for image processing; callers cap the size first). */
  readAll(id: string): Promise<Buffer>;
  /**
   * Where the blob lies on this machine's file system, for readers that take a path (libvips):
   * only stores that keep blobs as local files have it. The file never changes while the blob
   * exists; it disappears when the blob is removed.
   */
  readonly localPath?: (id: string) => string;
  /** Removes a blob; missing blobs are ignored. */
  remove(id: string): Promise<void>;
  /** Ids of every complete blob (for garbage collection of blobs no metadata refers to). */
  list(): AsyncIterable<string>;
  /**
   * Every complete blob with the time it was written (ms since the epoch; the file's mtime, the
   * S3 object's LastModified): the orphan sweep leaves blobs younger than its grace period alone.
   */
  entries(): AsyncIterable<BlobEntry>;
}
