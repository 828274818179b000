/**
 * Exposes the result cache's and admission control's own counters (VariantStats, AdmissionStats;
 * docs/operations-perf.md) through the Metrics port, read at scrape time: nothing on the request
 * path changes. Series and their meaning: docs/observability.md.
 */
import type { Metrics } from '../ports/metrics.js';
import type { AdmissionStats } from './admission.js';
import type { VariantStats } from './variants.js';

export interface PerfStats {
  readonly variants: VariantStats;
  readonly admission: AdmissionStats;
}

type Sample = readonly [Record<string, string>, number];

export function registerPerfMetrics(metrics: Metrics, read: () => PerfStats): void {
  // Pixel pipeline (admission control).
  metrics.gauge('halftone_pipeline_in_flight', 'Pixel pipelines running now (admitted, not finished).', [], () => read().admission.active);
  metrics.gauge('halftone_pipeline_queue_depth', 'Pixel pipelines waiting for a slot or for memory now.', [], () => read().admission.queued);
  metrics.gauge('halftone_pipeline_max_in_flight', 'Configured pixel-pipeline slots (HALFTONE_MAX_PIPELINES or 2 × cores).', [], () => read().admission.maxActive);
  metrics.counter('halftone_pipeline_decisions_total', 'Pixel-pipeline admission decisions since start: admitted (at once or after waiting), refused (queue full, or bytes a source read past its reservation did not fit; 503) or abandoned (the client went away while queued; nothing ran).', ['outcome'],
    (): Sample[] => {
      const a = read().admission;
      return [[{ outcome: 'admitted' }, a.admitted], [{ outcome: 'refused' }, a.refused], [{ outcome: 'abandoned' }, a.abandoned]];
    });
  metrics.counter('halftone_pipeline_waited_total', 'Admissions that had to wait for a slot or for memory (a subset of admitted), and source memory holds that had to wait.', [], () => read().admission.waited);
  // Sources read into memory before their pipeline (S3-compatible stores, remote downloads).
  metrics.gauge('halftone_source_memory_held_bytes', 'Bytes of the memory budget held now for sources read into memory (objects of a store without local files, remote downloads, JSON API uploads).', [], () => read().admission.heldBytes);
  metrics.gauge('halftone_source_memory_queue_depth', 'Sources and uploads waiting for memory before they are read now.', [], () => read().admission.holdQueued);
  // Variants (the cached transform results, with coalescing of identical concurrent requests).
  metrics.counter('halftone_variants_total', 'Transform results requested, by how they were served: hit (result cache), computed (pipeline run), coalesced (joined an identical computation in flight).', ['outcome'],
    (): Sample[] => {
      const v = read().variants;
      return [[{ outcome: 'hit' }, v.hits], [{ outcome: 'computed' }, v.computes], [{ outcome: 'coalesced' }, v.coalesced]];
    });
  metrics.counter('halftone_result_cache_write_errors_total', 'Result-cache writes that failed (the response was still sent).', [], () => read().variants.writeErrors);
  // The result cache's tiers (absent when both tiers are off).
  const cache = () => read().variants.cache;
  metrics.counter('halftone_result_cache_lookups_total', 'Result-cache lookups since start: hit in the memory tier, hit in the disk tier, or miss.', ['result'],
    (): Sample[] => {
      const c = cache();
      return c === undefined ? [] : [[{ result: 'memory_hit' }, c.memoryHits], [{ result: 'disk_hit' }, c.diskHits], [{ result: 'miss' }, c.misses]];
    });
  metrics.counter('halftone_result_cache_evictions_total', 'Result-cache entries evicted to stay under the byte bound, per tier; `purged` = removed because the source changed.', ['reason'],
    (): Sample[] => {
      const c = cache();
      return c === undefined ? [] : [[{ reason: 'memory' }, c.memoryEvictions], [{ reason: 'disk' }, c.diskEvictions], [{ reason: 'purged' }, c.purged]];
    });
  metrics.gauge('halftone_result_cache_bytes', 'Bytes held by the result cache now, per tier.', ['tier'],
    (): Sample[] => {
      const c = cache();
      return c === undefined ? [] : [[{ tier: 'memory' }, c.memoryBytes], [{ tier: 'disk' }, c.diskBytes]];
    });
  metrics.gauge('halftone_result_cache_entries', 'Entries held by the result cache now, per tier.', ['tier'],
    (): Sample[] => {
      const c = cache();
      return c === undefined ? [] : [[{ tier: 'memory' }, c.memoryEntries], [{ tier: 'disk' }, c.diskEntries]];
    });
}
