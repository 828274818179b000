/**
 * Store consistency check (`npx halftone doctor`): every object row's blob exists with the
 * recorded size (and, for non-multipart objects, the MD5 its ETag records); no blob is unreferenced;
 * no temp file of an interrupted write is left; no part belongs to an upload that no longer exists.
 * `repair` removes the orphans (unreferenced blobs, temp files, parts of vanished uploads); it never
 * touches an object row — a damaged object is reported, not hidden.
 *
 * The store is seen through {@link DoctorStore}, built by the CLI from the adapters' inspectors.
 * Run it with the server stopped: a running server's in-flight writes look like orphans.
 */

export interface DoctorObject {
  readonly bucket: string;
  readonly key: string;
  readonly blobId: string;
  readonly size: number;
  readonly etag: string;
  readonly type: string;
}

export interface DoctorPart {
  readonly uploadId: string;
  readonly partNumber: number;
  readonly blobId: string;
  readonly size: number;
  readonly uploadExists: boolean;
}

/** What the check reads and (with repair) removes. */
export interface DoctorStore {
  objects(): Iterable<DoctorObject>;
  parts(): Iterable<DoctorPart>;
  blobIds(): AsyncIterable<string>;
  /** Size and MD5 of a blob, or undefined when it does not exist. */
  blobInfo(id: string): Promise<{ size: number; md5: Buffer } | undefined>;
  tempFiles(): Promise<string[]>;
  removeBlob(id: string): Promise<void>;
  removeTemp(name: string): Promise<void>;
  removePart(uploadId: string, partNumber: number): void;
}

export type ProblemKind = 'missing-blob' | 'size-mismatch' | 'md5-mismatch' | 'orphan-blob' | 'temp-file' | 'orphan-part' | 'part-missing-blob';

export interface Problem {
  readonly kind: ProblemKind;
  readonly detail: string;
  /** True when --repair removed it. */
  readonly repaired: boolean;
}

export interface DoctorReport {
  readonly objects: number;
  readonly parts: number;
  readonly blobs: number;
  readonly problems: readonly Problem[];
  /** True when nothing is wrong after the run (problems all repaired, or none). */
  readonly consistent: boolean;
}

/** Runs the check; with `repair`, removes orphans. */
export async function runDoctor(store: DoctorStore, opts: { repair?: boolean } = {}): Promise<DoctorReport> {
  const repair = opts.repair ?? false;
  const problems: Problem[] = [];
  const referenced = new Set<string>();
  let objects = 0;
  for (const o of store.objects()) {
    objects++;
    referenced.add(o.blobId);
    const where = `object ${o.bucket}/${o.key} (blob ${o.blobId})`;
    const info = await store.blobInfo(o.blobId);
    if (info === undefined) {
      problems.push({ kind: 'missing-blob', detail: where, repaired: false });
      continue;
    }
    if (info.size !== o.size) problems.push({ kind: 'size-mismatch', detail: `${where}: recorded ${o.size} bytes, blob has ${info.size}`, repaired: false });
    else if (o.type !== 'Multipart') {
      const md5 = `"${info.md5.toString('hex').toUpperCase()}"`;
      if (md5 !== o.etag.toUpperCase()) problems.push({ kind: 'md5-mismatch', detail: `${where}: ETag ${o.etag}, content MD5 ${md5}`, repaired: false });
    }
  }
  let parts = 0;
  for (const p of store.parts()) {
    parts++;
    const where = `part ${p.partNumber} of upload ${p.uploadId} (blob ${p.blobId})`;
    if (!p.uploadExists) {
      if (repair) store.removePart(p.uploadId, p.partNumber);
      problems.push({ kind: 'orphan-part', detail: where, repaired: repair });
      continue;
    }
    referenced.add(p.blobId);
    const info = await store.blobInfo(p.blobId);
    if (info === undefined) problems.push({ kind: 'part-missing-blob', detail: where, repaired: false });
    else if (info.size !== p.size) problems.push({ kind: 'size-mismatch', detail: `${where}: recorded ${p.size} bytes, blob has ${info.size}`, repaired: false });
  }
  let blobs = 0;
  const orphans: string[] = [];
  for await (const id of store.blobIds()) {
    blobs++;
    if (!referenced.has(id)) orphans.push(id);
  }
  for (const id of orphans) {
    if (repair) await store.removeBlob(id);
    problems.push({ kind: 'orphan-blob', detail: `blob ${id} is referenced by no object or part`, repaired: repair });
  }
  for (const name of await store.tempFiles()) {
    if (repair) await store.removeTemp(name);
    problems.push({ kind: 'temp-file', detail: `temp file ${name} of an interrupted write`, repaired: repair });
  }
  return { objects, parts, blobs, problems, consistent: problems.every((p) => p.repaired) };
}
