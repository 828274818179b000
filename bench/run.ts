/**
 * `npm run bench [-- options]`: Halftone's engine against plain sharp doing the same work, in one
 * run, interleaved; prints a table and (full runs) writes docs/benchmarks.md.
 *
 * The engine workloads take about 4–5 minutes on 2 cores (`--quick` about a minute). The
 * target-size group adds its accuracy sweep over the corpus photos (15 photos × 4 formats × 3
 * targets): `--only target-size --no-rss --concurrency 1 --rounds 2` took 43 minutes at a
 * load average of 13–21 (AVIF 17 of them) and should take roughly a quarter of that idle;
 * with `--quick` (2 photos) about 3 minutes loaded.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAverage, machineInfo } from './lib/machine.js';
import { markdownReport, textReport, TARGET_RATIO, type RssResult, type RunReport, type WorkloadResult } from './lib/report.js';
import { checkFairness, measure, type Measurement, type RunSettings } from './lib/runner.js';
import type { BenchContext } from './lib/types.js';
import { allWorkloads } from './workloads/index.js';
import { existingPeersSection, PEERS_BEGIN } from './peers/sections.js';
import { markedSection, writeSection } from './lib/sections.js';

const HELP = `Usage: npm run bench [-- options]

Measures Halftone's engine against plain sharp doing the same work (interleaved, same process).

Options:
  --quick               short run (c=1 only, few rounds, no RSS); prints only unless --write
  --only <ids>          comma-separated workload ids (substring match); see --list
  --concurrency <list>  comma-separated pool sizes (default: 1,2)
  --no-rss              skip the per-side peak RSS measurement (fresh child processes)
  --write / --no-write  write docs/benchmarks.md (default: full runs write, quick runs do not);
                        with --only, only the selected groups' generated sections (the
                        target-size sweep) are replaced and the engine table is kept
  --json <file>         also write the raw results as JSON
  --rounds <n>          force n measured rounds per side (overrides the time budget)
  --list                list workloads and exit
  --peers               HTTP benchmark instead: Halftone, a plain node:http + sharp server and IPX
                        on loopback under autocannon (bench/peers/run.ts); --quick, --write,
                        --only and --concurrency (one value, default 8) apply
  --peers --cpu         server CPU time per request instead of req/s (bench/peers/cpu-per-request.ts):
                        less disturbed by other load; compares every peer's output with plain sharp's
  -h, --help            this help
`;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    concurrency: { type: 'string' },
    rss: { type: 'boolean' },
    'no-rss': { type: 'boolean', default: false },
    write: { type: 'boolean' },
    'no-write': { type: 'boolean', default: false },
    json: { type: 'string' },
    rounds: { type: 'string' },
    list: { type: 'boolean', default: false },
    peers: { type: 'boolean', default: false },
    cpu: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const quick = values.quick === true;
const baseSettings: RunSettings = quick
  ? { targetRoundMs: 250, budgetMs: 4000, minRounds: 2, maxRounds: 6 }
  : { targetRoundMs: 300, budgetMs: 12000, minRounds: 4, maxRounds: 20 };
const forcedRounds = values.rounds === undefined ? undefined : Number(values.rounds);
if (forcedRounds !== undefined && (!Number.isInteger(forcedRounds) || forcedRounds < 1)) {
  console.error(`--rounds expects a positive integer, received ${JSON.stringify(values.rounds)}`);
  process.exit(2);
}
const settings: RunSettings = forcedRounds === undefined ? baseSettings : { ...baseSettings, minRounds: forcedRounds, maxRounds: forcedRounds };
const concurrencies = (values.concurrency ?? (quick ? '1' : '1,2')).split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    console.error(`--concurrency expects integers between 1 and 64, received ${JSON.stringify(s)}`);
    process.exit(2);
  }
  return n;
});
const doRss = values['no-rss'] ? false : (values.rss ?? !quick);
const doWrite = values['no-write'] ? false : (values.write ?? !quick);

let selected = allWorkloads();
if (values.list) {
  for (const { group, workload } of selected) process.stdout.write(`${workload.id.padEnd(20)} ${workload.title}  [${group.id}]\n`);
  process.exit(0);
}
if (values.only && !values.peers) {
  const wanted = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  selected = selected.filter(({ workload }) => wanted.some((w) => workload.id.includes(w)));
  if (selected.length === 0) {
    console.error(`--only ${values.only} matches no workload; try --list`);
    process.exit(2);
  }
}

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
const ctx: BenchContext = {
  cacheDir: join(root, '.tmp', 'bench'),
  corpusDir: resolve(root, '..', 'shared', 'corpus'),
  quick,
  log,
};
if (values.peers && values.cpu) {
  const { runCpuPerRequest } = await import('./peers/cpu-per-request.js');
  await runCpuPerRequest({ quick, root, ctx, only: values.only, concurrency: values.concurrency === undefined ? undefined : concurrencies[0] });
  process.exit(0);
}
if (values.peers) {
  const { runPeers } = await import('./peers/run.js');
  await runPeers({ quick, write: doWrite, root, ctx, only: values.only, concurrency: values.concurrency === undefined ? undefined : concurrencies[0] });
  process.exit(0);
}
if (!existsSync(ctx.corpusDir)) log(`corpus not found at ${ctx.corpusDir}: using synthetic inputs`);

/** Runs one side of one workload in a fresh process and returns its RSS figures. */
function rssChild(id: string, side: 'candidate' | 'baseline', c: number, ops: number): Promise<{ idleKB: number; peakKB: number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'lib', 'rss-child.ts'), id, side, String(c), String(ops), ctx.cacheDir, ctx.corpusDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`rss child for ${id}/${side} exited with ${code}`));
      try {
        res(JSON.parse(out.trim()) as { idleKB: number; peakKB: number });
      } catch (err) {
        rej(err);
      }
    });
  });
}

const startedAt = new Date();
const t0 = performance.now();
const loadBefore = loadAverage();
const machine = machineInfo();
log(`halftone bench: ${selected.length} workloads, concurrency ${concurrencies.join(',')}, ${quick ? 'quick' : 'full'} run; nproc ${machine.nproc}, node ${machine.node}, sharp ${machine.sharp}, libvips ${machine.libvips}`);

const results: WorkloadResult[] = [];
for (const { group, workload } of selected) {
  log(`• ${workload.title} [${workload.id}]`);
  const prepared = await workload.setup(ctx);
  const fairness = await checkFairness(prepared.candidate, prepared.baseline, prepared.twin, prepared.sizeTolerance ?? 0.02);
  for (const p of fairness.problems) log(`    UNFAIR: ${p}`);
  if (fairness.twinIdentical === false) log('    UNFAIR: the exact-geometry twin is not byte-identical to the engine output');
  const measurements: Measurement[] = [];
  for (const c of concurrencies) {
    const m = await measure(prepared.candidate, prepared.baseline, c, settings, log);
    log(`      plain ${m.baseline.opsPerSec.toFixed(2)} ops/s, halftone ${m.candidate.opsPerSec.toFixed(2)} ops/s, ratio ${m.ratio.toFixed(3)} (${m.ratioMin.toFixed(2)}–${m.ratioMax.toFixed(2)})`);
    measurements.push(m);
  }
  await prepared.dispose?.();
  let rss: RssResult | undefined;
  if (doRss) {
    const c = Math.max(...concurrencies);
    // Enough operations for the allocator to reach its steady state, bounded for slow encoders.
    const first = measurements[measurements.length - 1];
    const perOpMs = first ? 1000 / first.baseline.opsPerSec : 100;
    const ops = Math.max(c, Math.min(40, Math.round(3000 / perOpMs)));
    const candidate = await rssChild(workload.id, 'candidate', c, ops);
    const baseline = await rssChild(workload.id, 'baseline', c, ops);
    rss = { concurrency: c, ops, candidate, baseline };
    log(`      peak RSS plain ${(baseline.peakKB / 1024).toFixed(0)} MB, halftone ${(candidate.peakKB / 1024).toFixed(0)} MB`);
  }
  results.push({
    group,
    workload,
    candidateCode: prepared.candidate.code,
    baselineCode: prepared.baseline.code,
    twinCode: prepared.twin?.code,
    fairness,
    measurements,
    rss,
  });
}

const report: RunReport = {
  startedAt,
  durationS: (performance.now() - t0) / 1000,
  quick,
  settings,
  concurrencies,
  machine,
  loadBefore,
  loadAfter: loadAverage(),
  processPeakRssMB: process.resourceUsage().maxRSS / 1024,
  results,
};

process.stdout.write(`${textReport(report)}\n`);
if (doWrite) {
  const file = join(root, 'docs', 'benchmarks.md');
  // Sections generated by workload groups (e.g. the target-size sweep), replaced one by one.
  const sections = [...new Set(selected.map(({ group }) => group))].flatMap((g) => g.section?.() ?? []);
  if (values.only) {
    // A partial run records only its groups' sections; the engine table stays that of the last full run.
    for (const s of sections) writeSection(file, s.id, s.body, PEERS_BEGIN);
    log(sections.length > 0 ? `wrote ${sections.map((s) => s.id).join(', ')} section(s) of ${file}` : `--only run: ${file} left as it is (the engine table is written by full runs)`);
  } else {
    // Keep the peers section (written by --peers) when rewriting the engine figures.
    const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const peers = existingPeersSection(old);
    const blocks = sections.map((s) => markedSection(s.id, s.body));
    await writeFile(file, markdownReport(report) + blocks.map((b) => `\n${b}\n`).join('') + (peers === undefined ? '' : `\n${peers}\n`));
    log(`wrote ${file}`);
  }
}
const jsonFile = values.json ?? join(ctx.cacheDir, 'last-run.json');
await mkdir(dirname(resolve(jsonFile)), { recursive: true });
await writeFile(
  jsonFile,
  JSON.stringify(
    { ...report, results: results.map((r) => ({ ...r, group: r.group.id, workload: r.workload.id, title: r.workload.title, fairness: { ...r.fairness, candidate: { ...r.fairness.candidate, data: undefined }, baseline: { ...r.fairness.baseline, data: undefined } } })) },
    null,
    2,
  ),
);
const below = results.flatMap((r) => r.measurements.filter((m) => m.ratio < TARGET_RATIO).map((m) => `${r.workload.id}@c${m.concurrency}`));
if (below.length > 0) log(`below ${TARGET_RATIO}× plain sharp: ${below.join(', ')}`);
