/**
 * Memory tier of the result cache: an LRU bounded in bytes (lru-cache), with a tag index for purges.
 */
import { LRUCache } from 'lru-cache';
import type { CachedVariant, CacheTier } from '../../ports/result-cache.js';

interface Entry {
  readonly value: CachedVariant;
  readonly tag: string;
  readonly size: number;
}

/** Bytes an entry is charged: its data plus a fixed allowance for the metadata and bookkeeping. */
function sizeOf(value: CachedVariant): number {
  return value.data.length + 256;
}

/** A memory tier holding at most `maxBytes` (must be > 0). */
export function createMemoryTier(maxBytes: number): CacheTier {
  const byTag = new Map<string, Set<string>>();
  let evictions = 0;
  const unindex = (key: string, tag: string) => {
    const set = byTag.get(tag);
    if (set === undefined) return;
    set.delete(key);
    if (set.size === 0) byTag.delete(tag);
  };
  const lru = new LRUCache<string, Entry>({
    maxSize: maxBytes,
    sizeCalculation: (e) => e.size,
    dispose: (e, key, reason) => {
      if (reason === 'evict') evictions++;
      unindex(key, e.tag);
    },
  });
  return {
    async get(key) {
      const e = lru.get(key);
      return e === undefined ? undefined : { value: e.value, tag: e.tag };
    },
    async set(key, tag, value) {
      const size = sizeOf(value);
      if (size > maxBytes) return;
      lru.set(key, { value, tag, size });
      let set = byTag.get(tag);
      if (set === undefined) byTag.set(tag, (set = new Set()));
      set.add(key);
    },
    async purge(tag) {
      const keys = [...(byTag.get(tag) ?? [])];
      for (const k of keys) lru.delete(k);
      byTag.delete(tag);
      return keys.length;
    },
    get entries() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
    maxBytes,
    get evictions() {
      return evictions;
    },
    async close() {
      lru.clear();
    },
  };
}
