/**
 * Orphan-blob sweep for a shared bucket: removes blobs that no object or part row of the MetaStore
 * refers to and that are older than a grace period.
 *
 * An object write stores its blob first and commits the metadata row after it, so a blob is
 * unreferenced for a moment on every write, and for ever when the writing node died in between.
 * On one node the start-up collection (ObjectService.collectGarbage) runs before anything is
 * written; on a shared bucket other nodes write at any time, so only blobs older than the grace
 * period — longer than any upload or multipart completion takes — are candidates, and each
 * one's reference is checked right before its removal. Several nodes sweeping at once is safe:
 * removing a missing blob is a no-op, and a blob is never referenced again once unreferenced
 * (every write gets a fresh blob id).
 */
import type { BlobEntry, BlobStore } from '../ports/blob-store.js';
import type { MetaStore } from '../ports/meta-store.js';

export interface SweepOptions {
  /** Only blobs written more than this many ms ago are candidates. */
  readonly graceMs: number;
  /** List the orphans without removing them. */
  readonly dryRun?: boolean;
  readonly now?: () => number;
}

export interface SweepReport {
  /** Blobs listed. */
  readonly scanned: number;
  /** Unreferenced blobs older than the grace period (removed unless dry run). */
  readonly orphans: BlobEntry[];
  /** Blobs removed (0 on a dry run). */
  readonly removed: number;
}

export async function sweepOrphanBlobs(deps: { readonly blobs: BlobStore; readonly meta: Pick<MetaStore, 'isBlobReferenced'> }, opts: SweepOptions): Promise<SweepReport> {
  const cutoff = (opts.now ?? Date.now)() - opts.graceMs;
  let scanned = 0;
  let removed = 0;
  const orphans: BlobEntry[] = [];
  for await (const e of deps.blobs.entries()) {
    scanned++;
    if (e.lastModified > cutoff || (await deps.meta.isBlobReferenced(e.id))) continue;
    orphans.push(e);
    if (opts.dryRun === true) continue;
    await deps.blobs.remove(e.id);
    removed++;
  }
  return { scanned, orphans, removed };
}
