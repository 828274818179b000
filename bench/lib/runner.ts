/**
 * The shared measurement loop: interleaved rounds of candidate and baseline, each round a batch of
 * operations run through a promise pool of the requested concurrency.
 *
 * Why interleaved rounds rather than "all of A, then all of B": the machine is shared (other
 * processes, thermal state, page cache), so slow drifts hit both sides alike when they alternate.
 * The order also alternates (A B, B A, A B …) so neither side always runs right after the other.
 */
import { performance } from 'node:perf_hooks';
import type { Contender, OpOutput } from './types.js';

export interface RunSettings {
  /** Wall time one round (one side, one batch) should take; sets the batch size. */
  readonly targetRoundMs: number;
  /** Time budget for the measured rounds of one workload at one concurrency (both sides). */
  readonly budgetMs: number;
  readonly minRounds: number;
  readonly maxRounds: number;
}

export interface SideStats {
  readonly label: string;
  /** Median latency of one operation (ms), over every measured operation. */
  readonly medianMs: number;
  readonly p90Ms: number;
  /** Median over rounds of ops / round wall time. */
  readonly opsPerSec: number;
  /** The fastest round's ops/s: the least disturbed by other load on a shared machine. */
  readonly bestOpsPerSec: number;
  /**
   * Median over rounds of process CPU time (user + system, all threads) per operation, in ms.
   * Much less sensitive than wall time to other load on a shared machine.
   */
  readonly cpuMsPerOp: number;
  readonly ops: number;
}

export interface Measurement {
  readonly concurrency: number;
  readonly rounds: number;
  readonly opsPerRound: number;
  readonly candidate: SideStats;
  readonly baseline: SideStats;
  /** candidate ops/s ÷ baseline ops/s (medians). */
  readonly ratio: number;
  /** Min and max of the per-round-pair ratios (a pair = the two adjacent rounds). */
  readonly ratioMin: number;
  readonly ratioMax: number;
  /** baseline CPU ms/op ÷ candidate CPU ms/op (>1 means the candidate uses less CPU). */
  readonly cpuRatio: number;
  /** candidate best-round ops/s ÷ baseline best-round ops/s. */
  readonly bestRatio: number;
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** Runs `n` operations with at most `c` in flight; returns the wall time and pushes latencies. */
export async function pool(n: number, c: number, op: () => Promise<unknown>, latencies?: number[]): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < n) {
      started++;
      const s = performance.now();
      await op();
      latencies?.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
  return performance.now() - t0;
}

function roundUpTo(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/**
 * Measures one workload at one concurrency. Warm-up: one batch of `c` operations per side
 * (A then B), which also calibrates the batch size so that a round lasts about `targetRoundMs`;
 * both sides then run the same number of operations per round.
 */
export async function measure(candidate: Contender, baseline: Contender, c: number, settings: RunSettings, log: (m: string) => void): Promise<Measurement> {
  const warmA = await pool(c, c, () => candidate.run());
  const warmB = await pool(c, c, () => baseline.run());
  // Calibration: the median latency of a short batch per side (the median, not the batch time,
  // so that one stall caused by other load on the machine does not shrink every round to 1 op).
  const warmPerOp = Math.max(warmA, warmB) / c;
  const probeN = roundUpTo(Math.max(c * 2, Math.min(40, Math.ceil(300 / Math.max(warmPerOp, 1)))), c);
  const lat: number[] = [];
  if (warmPerOp < 1000) {
    await pool(probeN, c, () => candidate.run(), lat);
    await pool(probeN, c, () => baseline.run(), lat);
  }
  const perOp = lat.length > 0 ? median(lat) / c : warmPerOp;
  const opsPerRound = roundUpTo(Math.max(c, Math.round(settings.targetRoundMs / perOp)), c);
  const roundMs = opsPerRound * perOp;
  const rounds = Math.max(settings.minRounds, Math.min(settings.maxRounds, Math.floor(settings.budgetMs / (2 * roundMs))));
  log(`    c=${c}: ${rounds} rounds × ${opsPerRound} ops per side (≈${(roundMs / 1000).toFixed(2)} s per round)`);

  const latA: number[] = [];
  const latB: number[] = [];
  const tputA: number[] = [];
  const tputB: number[] = [];
  const cpuA: number[] = [];
  const cpuB: number[] = [];
  const pairRatios: number[] = [];
  const batch = async (who: Contender, lat: number[], cpu: number[]): Promise<number> => {
    const c0 = process.cpuUsage();
    const wall = await pool(opsPerRound, c, () => who.run(), lat);
    const used = process.cpuUsage(c0);
    cpu.push((used.user + used.system) / 1000 / opsPerRound);
    return opsPerRound / (wall / 1000);
  };
  for (let r = 0; r < rounds; r++) {
    const runA = (): Promise<number> => batch(candidate, latA, cpuA);
    const runB = (): Promise<number> => batch(baseline, latB, cpuB);
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = await runA();
      b = await runB();
    } else {
      b = await runB();
      a = await runA();
    }
    tputA.push(a);
    tputB.push(b);
    pairRatios.push(a / b);
  }
  const side = (label: string, lat: number[], tput: number[], cpu: number[]): SideStats => ({
    label,
    medianMs: median(lat),
    p90Ms: quantile(lat, 0.9),
    opsPerSec: median(tput),
    bestOpsPerSec: Math.max(...tput),
    cpuMsPerOp: median(cpu),
    ops: lat.length,
  });
  const cand = side(candidate.label, latA, tputA, cpuA);
  const base = side(baseline.label, latB, tputB, cpuB);
  return {
    concurrency: c,
    rounds,
    opsPerRound,
    candidate: cand,
    baseline: base,
    ratio: cand.opsPerSec / base.opsPerSec,
    ratioMin: Math.min(...pairRatios),
    ratioMax: Math.max(...pairRatios),
    cpuRatio: base.cpuMsPerOp / cand.cpuMsPerOp,
    bestRatio: cand.bestOpsPerSec / base.bestOpsPerSec,
  };
}

export interface FairnessCheck {
  readonly candidate: OpOutput;
  readonly baseline: OpOutput;
  /** True/false when a twin was run; undefined otherwise. */
  readonly twinIdentical: boolean | undefined;
  readonly problems: readonly string[];
}

/** Runs each side once and checks both did the same work (format, dimensions, size). */
export async function checkFairness(candidate: Contender, baseline: Contender, twin: Contender | undefined, sizeTolerance: number): Promise<FairnessCheck> {
  const a = await candidate.run();
  const b = await baseline.run();
  const problems: string[] = [];
  if (a.format !== b.format) problems.push(`format differs: ${a.format} vs ${b.format}`);
  if (a.width !== b.width || a.height !== b.height) problems.push(`dimensions differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  const rel = Math.abs(a.bytes - b.bytes) / Math.max(1, b.bytes);
  if (rel > sizeTolerance) problems.push(`output sizes differ by ${(rel * 100).toFixed(1)}% (${a.bytes} vs ${b.bytes} bytes)`);
  let twinIdentical: boolean | undefined;
  if (twin) {
    const t = await twin.run();
    twinIdentical = a.data !== undefined && t.data !== undefined ? a.data.equals(t.data) : a.bytes === t.bytes;
  }
  return { candidate: a, baseline: b, twinIdentical, problems };
}
