/**
 * Which memory allocator settings the process runs with, and advice when they let libvips
 * fragment memory (docs/operations-perf.md, "Memory allocator").
 *
 * glibc's malloc gives each thread that allocates concurrently its own arena, up to 8 per core.
 * libvips worker threads and the libuv pool allocate and free large pixel buffers across threads,
 * so memory freed in one arena is not reused by another and RSS stays far above what the running
 * images need. Under the mixed benchmark workload (corpus photos up to 6000×4000 at srcset widths)
 * on 2 cores, peak RSS reached 1.3–1.45 GiB without a limit, about 800 MiB with 2 or 4 arenas;
 * 2 arenas cost about 2.5 % of cold-JPEG throughput in lock contention, 4 nothing measurable.
 * Halftone uses 2 × CPU cores. The variable is read by glibc when the process starts, so it must
 * be in the environment of `node` itself: `npm start` sets it (unless the operator did), the
 * systemd units in docs/deploy.md set it, and otherwise the server warns.
 */
import { availableParallelism } from 'node:os';

export interface AllocatorInfo {
  /** 'glibc' (with its version), 'musl/other' when Node was not built against glibc, or the OS name. */
  readonly libc: string;
  /** What bounds fragmentation: `MALLOC_ARENA_MAX=<n>`, a glibc tunable, a preloaded allocator; undefined = nothing. */
  readonly limit: string | undefined;
}

interface ReportHeader {
  readonly glibcVersionRuntime?: string;
}

/** The libc Node runs on: from the diagnostic report's header (glibc only reports a version). */
function glibcVersion(): string | null {
  if (process.platform !== 'linux') return null;
  const report = process.report?.getReport() as { header?: ReportHeader } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

/** Reads the allocator settings from `env` (the process's own, by default); `glibc` null = not glibc. */
export function allocatorInfo(env: Record<string, string | undefined> = process.env, glibc: string | null = glibcVersion()): AllocatorInfo {
  if (glibc === null) return { libc: process.platform === 'linux' ? 'musl/other' : process.platform, limit: 'not glibc' };
  const preload = /(?:^|[/:\s])lib(jemalloc|tcmalloc[\w]*|mimalloc)[^/:\s]*\.so/.exec(env['LD_PRELOAD'] ?? '');
  const tunable = /glibc\.malloc\.arena_max=(\d+)/.exec(env['GLIBC_TUNABLES'] ?? '');
  const arenaMax = env['MALLOC_ARENA_MAX'];
  const limit = preload !== null ? `LD_PRELOAD ${preload[1]}`
    : arenaMax !== undefined && /^\d+$/.test(arenaMax.trim()) ? `MALLOC_ARENA_MAX=${arenaMax.trim()}`
      : tunable !== null ? `glibc.malloc.arena_max=${tunable[1]}`
        : undefined;
  return { libc: `glibc ${glibc}`, limit };
}

/** A startup warning when glibc's malloc runs without an arena limit or another allocator, else undefined. */
export function allocatorWarning(info: AllocatorInfo): string | undefined {
  if (info.limit !== undefined) return undefined;
  return `halftone: warning: ${info.libc} malloc runs without an arena limit: libvips threads fragment memory and RSS can stay far above `
    + `HALFTONE_MEMORY_BUDGET_BYTES. Start node with MALLOC_ARENA_MAX=${arenasFor(availableParallelism())} (2 × CPU cores) in its environment (npm start does) or preload jemalloc; `
    + 'see docs/operations-perf.md, "Memory allocator".';
}

/** Prints the allocator line at startup (server and worker), and the warning when it applies. */
export function reportAllocator(info: AllocatorInfo = allocatorInfo(), log: (line: string) => void = console.log, warn: (line: string) => void = console.warn): void {
  log(`halftone: memory allocator ${info.libc}, ${info.limit ?? 'no arena limit'}`);
  const w = allocatorWarning(info);
  if (w !== undefined) warn(w);
}

/** The arena bound Halftone starts with: 2 × CPU cores (npm start computes the same from nproc). */
export function arenasFor(cores: number): number {
  return 2 * Math.max(1, cores);
}

/**
 * The environment Halftone's processes are started with (npm start's script computes the same
 * value; a test checks they agree): the bench and the test helpers start `node dist/main.js` with it.
 */
export const LAUNCH_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: String(arenasFor(availableParallelism())) };
