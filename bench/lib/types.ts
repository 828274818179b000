/**
 * The contract between the shared runner and workload modules.
 *
 * A workload compares a *candidate* (Halftone, through a public door) with a *baseline* (the
 * plain library call a user would write to do the same work). Both sides run in the same process,
 * interleaved, on the same input bytes. Add a workload group as one file in bench/workloads/ and
 * list it in bench/workloads/index.ts.
 */

/** What one operation produced; used to check that both sides did the same work. */
export interface OpOutput {
  /** Output format as a short name (`jpeg`, `webp`, `avif`, `png`, `mp4`, …). */
  readonly format: string;
  readonly width?: number;
  readonly height?: number;
  /** Encoded size in bytes. */
  readonly bytes: number;
  /** The encoded bytes, when cheap to keep (used for the byte-identity check). */
  readonly data?: Buffer;
}

/** One side of a comparison. `run()` performs exactly one operation. */
export interface Contender {
  /** Short label for tables, e.g. `halftone` or `plain sharp`. */
  readonly label: string;
  /** The code being measured, shown in docs (e.g. `transformOss(buf, 'image/resize,w_300')`). */
  readonly code: string;
  run(): Promise<OpOutput>;
}

export interface PreparedWorkload {
  readonly candidate: Contender;
  readonly baseline: Contender;
  /**
   * Optional: the baseline library call with *exactly* the candidate's parameters (e.g. an
   * explicit output height), run once to check that the candidate's output is byte-identical,
   * which proves the encoder settings match. Not timed.
   */
  readonly twin?: Contender;
  /** Largest relative difference in output size accepted between the two sides (default 0.02). */
  readonly sizeTolerance?: number;
  /** Frees resources (servers, temp files). */
  dispose?(): Promise<void>;
}

export interface BenchContext {
  /** Cache directory for generated inputs (gitignored). */
  readonly cacheDir: string;
  /** The shared test corpus (may be missing: workloads must then synthesise inputs). */
  readonly corpusDir: string;
  readonly quick: boolean;
  /**
   * Set by the RSS child (bench/lib/rss-child.ts): prepare only the timed sides, skip accuracy
   * sweeps (their peak would be counted as the contender's).
   */
  readonly measureOnly?: boolean;
  log(msg: string): void;
}

export interface Workload {
  /** Stable id, used by `--only` and by the RSS child process. */
  readonly id: string;
  /** One-line description for tables, e.g. `2725×2225 JPEG → 300 px JPEG q80`. */
  readonly title: string;
  /** Free text describing the input, for docs. */
  readonly input: string;
  setup(ctx: BenchContext): Promise<PreparedWorkload>;
}

export interface WorkloadGroup {
  readonly id: string;
  readonly title: string;
  readonly workloads: readonly Workload[];
  /**
   * Optional: a generated section of docs/benchmarks.md made from what the group measured in this
   * run besides the timed comparison (e.g. an accuracy sweep), written between
   * `<!-- <id>:begin -->` / `<!-- <id>:end -->` markers (bench/lib/sections.ts). Undefined when
   * nothing of the group ran.
   */
  readonly section?: () => { readonly id: string; readonly body: string } | undefined;
}
