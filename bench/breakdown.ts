/**
 * Where does the engine's time go? Times the pieces of `transformOss` separately (parse, header
 * probe, sharp metadata alone, planning) next to the full call and the plain sharp equivalent,
 * interleaved, at concurrency 1. A diagnostic aid, not part of `npm run bench`.
 *
 * Usage: node --import tsx bench/breakdown.ts [workload-id-substring] [iterations]
 */
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parseOssProcess } from '../src/dialects/oss/parse.js';
import { probe } from '../src/core/codecs/probe.js';
import { planRecipe } from '../src/core/pipeline/run.js';
import { median } from './lib/runner.js';
import type { BenchContext } from './lib/types.js';
import { allWorkloads } from './workloads/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ctx: BenchContext = { cacheDir: join(root, '.tmp', 'bench'), corpusDir: resolve(root, '..', 'shared', 'corpus'), quick: true, log: () => {} };
const filter = process.argv[2] ?? '';
const iterations = Number(process.argv[3] ?? 40);

for (const { workload } of allWorkloads().filter((w) => w.workload.id.includes(filter))) {
  const prepared = await workload.setup(ctx);
  const process_ = /'(image\/[^']*)'/.exec(prepared.candidate.code)?.[1];
  if (process_ === undefined) continue;
  // The source buffer is private to the workload; read it back through the cache.
  const src = await import('node:fs/promises').then((fs) =>
    fs.readFile(join(ctx.cacheDir, workload.id.startsWith('png') ? 'photo-1024x768-rgba.v1.png' : 'photo-2725x2225-q90.v1.jpg')),
  );
  const parts: Record<string, () => Promise<unknown>> = {
    'full transformOss': () => prepared.candidate.run(),
    'plain sharp': () => prepared.baseline.run(),
    'parseOssProcess': async () => parseOssProcess(process_),
    'probe (sniff + metadata + quality)': () => probe(src),
    'sharp(buf).metadata() alone': () => sharp(src, { limitInputPixels: false }).metadata(),
    'planRecipe': async () => planRecipe(parseOssProcess(process_), await probe(src)),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(parts).map((k) => [k, []]));
  for (let i = 0; i < iterations + 3; i++) {
    for (const [k, fn] of Object.entries(parts)) {
      const t = performance.now();
      await fn();
      if (i >= 3) times[k]?.push(performance.now() - t);
    }
  }
  process.stdout.write(`\n${workload.title} (${process_}), median of ${iterations}\n`);
  for (const [k, xs] of Object.entries(times)) process.stdout.write(`  ${k.padEnd(36)} ${median(xs).toFixed(3).padStart(9)} ms\n`);
}
