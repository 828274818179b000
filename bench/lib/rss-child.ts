/**
 * Measures the peak RSS of one side of one workload in a fresh process (in the main process both
 * sides share one heap and one allocator, so their peaks cannot be told apart).
 *
 * Usage (spawned by bench/run.ts): rss-child.ts <workloadId> <candidate|baseline> <concurrency> <ops> <cacheDir> <corpusDir>
 * Prints one JSON line: { idleKB, peakKB }.
 */
import { allWorkloads } from '../workloads/index.js';
import { pool } from './runner.js';

const [id, side, cArg, nArg, cacheDir, corpusDir] = process.argv.slice(2);
const found = allWorkloads().find((w) => w.workload.id === id);
if (!found || (side !== 'candidate' && side !== 'baseline') || !cacheDir || !corpusDir) {
  console.error('usage: rss-child.ts <workloadId> <candidate|baseline> <concurrency> <ops> <cacheDir> <corpusDir>');
  process.exit(2);
}
const prepared = await found.workload.setup({ cacheDir, corpusDir, quick: true, measureOnly: true, log: () => {} });
const contender = side === 'candidate' ? prepared.candidate : prepared.baseline;
const idleKB = process.resourceUsage().maxRSS;
const c = Number(cArg);
await pool(Math.max(c, Number(nArg)), c, () => contender.run());
const peakKB = process.resourceUsage().maxRSS;
await prepared.dispose?.();
process.stdout.write(`${JSON.stringify({ idleKB, peakKB })}\n`);
