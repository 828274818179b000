/**
 * Processed variants: the result cache in front of the engine, with request coalescing.
 *
 * `get(key, tag, compute)` answers from the cache, or runs `compute` once for every concurrent
 * caller asking for the same key (the others await the same promise) and stores the result. Works
 * without a cache too (both tiers off): concurrent identical requests are still coalesced.
 *
 * Keys are built by the use cases from everything the bytes depend on; `variantKey` hashes them.
 */
import * as crypto from 'node:crypto';
import type { CachedVariant, ResultCache, ResultCacheStats } from '../ports/result-cache.js';
import type { LazySignal } from './admission.js';

export interface VariantStats {
  /** Requests answered from the cache. */
  readonly hits: number;
  /** Variants computed (pixel pipelines run to produce a cacheable variant). */
  readonly computes: number;
  /** Requests that joined a computation already in flight instead of starting their own. */
  readonly coalesced: number;
  /** Failed cache writes (the response was still sent). */
  readonly writeErrors: number;
  readonly cache: ResultCacheStats | undefined;
}

export interface Variants {
  /** The cached variant, if any (no computation). */
  lookup(key: string): Promise<CachedVariant | undefined>;
  /**
   * The cached variant, or `compute`'s result, computed once for every concurrent caller of `key`.
   * `signal` is the caller's (its client went away); `compute` gets a signal that aborts only when
   * every caller waiting for it has aborted (a caller without a signal keeps it alive). Both are
   * lazy: the callers' signals are made only once `compute` asks for its own.
   */
  get(key: string, tag: string, compute: (signal: LazySignal) => Promise<CachedVariant>, signal?: LazySignal): Promise<CachedVariant>;
  /** Frees every cached variant of a source (overwrite/delete). */
  purge(tag: string): Promise<void>;
  stats(): VariantStats;
}

const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/** A stable key from the parts a variant depends on (JSON-serialisable). */
export function variantKey(parts: unknown): string {
  const text = JSON.stringify(parts);
  // One-shot crypto.hash (Node ≥ 20.12) skips a Hash object per call; the same digest either way.
  return oneShot !== undefined ? oneShot('sha256', text, 'base64url') : crypto.createHash('sha256').update(text).digest('base64url');
}

/** A computation in flight: its result, and how many callers still wait for it. */
interface Flight {
  readonly promise: Promise<CachedVariant>;
  /** Made when the computation first asks for its signal. */
  controller: AbortController | undefined;
  /** Callers' signals not followed yet (before the controller exists). */
  callers: LazySignal[];
  waiting: number;
}

/** Counts `caller` out of `f` when its signal aborts; the last one out aborts the computation. */
function follow(f: Flight, caller: LazySignal): void {
  const signal = caller();
  const leave = () => {
    if (--f.waiting === 0) f.controller!.abort(signal.reason);
  };
  if (signal.aborted) leave();
  else {
    signal.addEventListener('abort', leave, { once: true });
    const unsubscribe = () => signal.removeEventListener('abort', leave);
    f.promise.then(unsubscribe, unsubscribe);
  }
}

export function createVariants(cache: ResultCache | undefined, onError: (err: unknown) => void = () => undefined): Variants {
  const inflight = new Map<string, Flight>();
  let hits = 0;
  let computes = 0;
  let coalesced = 0;
  let writeErrors = 0;

  async function load(key: string, tag: string, compute: () => Promise<CachedVariant>): Promise<CachedVariant> {
    const hit = await cache?.get(key);
    if (hit !== undefined) {
      hits++;
      return hit;
    }
    computes++;
    const value = await compute();
    if (cache !== undefined) {
      // Respond without waiting for the disk; a failed write only costs a later recompute.
      cache.set(key, tag, value).catch((err: unknown) => {
        writeErrors++;
        onError(err);
      });
    }
    return value;
  }

  return {
    async lookup(key) {
      const hit = await cache?.get(key);
      if (hit !== undefined) hits++;
      return hit;
    },
    get(key, tag, compute, signal) {
      let f = inflight.get(key);
      if (f !== undefined) coalesced++;
      else {
        // `load` awaits the cache before it calls `compute`, so `own` runs once `flight` exists.
        const own: LazySignal = () => {
          if (flight.controller === undefined) {
            flight.controller = new AbortController();
            for (const caller of flight.callers) follow(flight, caller);
            flight.callers = [];
          }
          return flight.controller.signal;
        };
        const flight: Flight = { promise: load(key, tag, () => compute(own)).finally(() => inflight.delete(key)), controller: undefined, callers: [], waiting: 0 };
        inflight.set(key, flight);
        f = flight;
      }
      f.waiting++;
      if (signal !== undefined) {
        if (f.controller === undefined) f.callers.push(signal);
        else follow(f, signal);
      }
      return f.promise;
    },
    async purge(tag) {
      await cache?.purge(tag);
    },
    stats: () => ({ hits, computes, coalesced, writeErrors, cache: cache?.stats() }),
  };
}
