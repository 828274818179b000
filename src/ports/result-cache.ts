/**
 * ResultCache: processed variants (encoded bytes plus a little JSON metadata) stored under an opaque
 * key that the caller derives from everything the bytes depend on (source identity and version,
 * normalised recipe, negotiated format). A key is never reused for other bytes, so entries never go
 * stale; `purge(tag)` frees every variant of a source when it is overwritten or deleted.
 *
 * Adapters bound their size in bytes and evict least-recently-used entries. A read returns a whole
 * entry or nothing (never a partial write, even after a crash).
 */

/** One cached variant. */
export interface CachedVariant {
  readonly data: Buffer;
  /** JSON-serialisable response metadata (content type, dimensions, dialect headers…). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** Counters since start (entries/bytes: current). */
export interface ResultCacheStats {
  /** Lookups answered from the memory tier / the disk tier. */
  readonly memoryHits: number;
  readonly diskHits: number;
  /** Lookups that found nothing in any tier. */
  readonly misses: number;
  /** Entries removed to stay under the byte bound (per tier). */
  readonly memoryEvictions: number;
  readonly diskEvictions: number;
  /** Entries removed by `purge`. */
  readonly purged: number;
  /** Current entries and bytes per tier. */
  readonly memoryEntries: number;
  readonly memoryBytes: number;
  readonly diskEntries: number;
  readonly diskBytes: number;
  /** Configured bounds (0 = tier off). */
  readonly memoryMaxBytes: number;
  readonly diskMaxBytes: number;
}

/** One tier (memory or disk); the tiered cache composes them. */
export interface CacheTier {
  /** The entry and the tag it was stored with. */
  get(key: string): Promise<{ readonly value: CachedVariant; readonly tag: string } | undefined>;
  /** Stores (or replaces) an entry; entries larger than the tier's bound are not stored. */
  set(key: string, tag: string, value: CachedVariant): Promise<void>;
  /** Removes every entry stored with `tag`; returns how many. */
  purge(tag: string): Promise<number>;
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly evictions: number;
  close(): Promise<void>;
}

export interface ResultCache {
  get(key: string): Promise<CachedVariant | undefined>;
  /** `tag` names the source (e.g. `oss:<bucket>/<key>`) for {@link purge}. */
  set(key: string, tag: string, value: CachedVariant): Promise<void>;
  purge(tag: string): Promise<number>;
  stats(): ResultCacheStats;
  close(): Promise<void>;
}
