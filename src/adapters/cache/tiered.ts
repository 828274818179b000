/**
 * The result cache: a memory tier in front of a disk tier (either may be off). Disk hits are
 * promoted to memory; writes go to both. Sizes come from HALFTONE_CACHE_MEMORY_BYTES and
 * HALFTONE_CACHE_DISK_BYTES (0 = that tier off).
 */
import type { CachedVariant, CacheTier, ResultCache, ResultCacheStats } from '../../ports/result-cache.js';
import { createMemoryTier } from './memory.js';
import { createDiskTier } from './disk.js';

export interface ResultCacheOptions {
  readonly memoryBytes: number;
  readonly diskBytes: number;
  /** Directory of the disk tier (e.g. `<dataDir>/cache`). */
  readonly dir: string;
}

/** Composes two optional tiers into one cache. */
export function tieredCache(memory: CacheTier | undefined, disk: CacheTier | undefined): ResultCache {
  let memoryHits = 0;
  let diskHits = 0;
  let misses = 0;
  let purged = 0;
  return {
    async get(key) {
      const m = await memory?.get(key);
      if (m !== undefined) {
        memoryHits++;
        return m.value;
      }
      const d = await disk?.get(key);
      if (d !== undefined) {
        diskHits++;
        await memory?.set(key, d.tag, d.value);
        return d.value;
      }
      misses++;
      return undefined;
    },
    async set(key, tag, value: CachedVariant) {
      await memory?.set(key, tag, value);
      await disk?.set(key, tag, value);
    },
    async purge(tag) {
      const n = Math.max(await memory?.purge(tag) ?? 0, await disk?.purge(tag) ?? 0);
      purged += n;
      return n;
    },
    stats(): ResultCacheStats {
      return {
        memoryHits, diskHits, misses,
        memoryEvictions: memory?.evictions ?? 0,
        diskEvictions: disk?.evictions ?? 0,
        purged,
        memoryEntries: memory?.entries ?? 0,
        memoryBytes: memory?.bytes ?? 0,
        diskEntries: disk?.entries ?? 0,
        diskBytes: disk?.bytes ?? 0,
        memoryMaxBytes: memory?.maxBytes ?? 0,
        diskMaxBytes: disk?.maxBytes ?? 0,
      };
    },
    async close() {
      await memory?.close();
      await disk?.close();
    },
  };
}

/** Opens the configured cache (the disk tier rebuilds its index from `dir`). */
export async function createResultCache(opts: ResultCacheOptions): Promise<ResultCache> {
  const memory = opts.memoryBytes > 0 ? createMemoryTier(opts.memoryBytes) : undefined;
  const disk = opts.diskBytes > 0 ? await createDiskTier({ dir: opts.dir, maxBytes: opts.diskBytes }) : undefined;
  return tieredCache(memory, disk);
}
