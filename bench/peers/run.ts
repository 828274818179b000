/**
 * `npm run bench -- --peers [--quick] [--write]`: Halftone against a plain `node:http` + sharp
 * server and IPX, over HTTP on loopback, measured interleaved in the same run with wrk (duration-based
 * workloads, when installed: `apt-get install wrk`) or autocannon (fixed-count workloads, or no wrk).
 *
 * Peers (each its own child process, so each has its own peak RSS):
 * - `halftone`: the built server (dist/main.js), default configuration (result cache on), with the
 *   environment `npm start` gives it (LAUNCH_ENV: MALLOC_ARENA_MAX = 2 × CPU cores).
 * - `halftone (no cache)`: the same with HALFTONE_CACHE_MEMORY_BYTES=0, _DISK_BYTES=0 and HALFTONE_HOT_CACHE_BYTES=0 (no result cache, no hot response cache).
 * - `plain sharp`: bench/peers/plain-server.mjs, sharp's defaults, same encoder settings.
 * - `ipx`: IPX (pinned dev dependency) on the same files, bench/peers/ipx-server.mjs.
 * - `bare node:http`: answers fixed bytes from memory (cached workload only).
 *
 * Cold workloads cycle through 32 byte-identical copies of the source under different names with
 * the cache off, so every request does the full work (a new URL per request; nothing coalesces).
 * Peak RSS is VmHWM of each child, reset through /proc/<pid>/clear_refs before each workload.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { request } from 'undici';
import { ensureBuilt } from '../../test/helpers/server.js';
import { estimateJpegQuality } from '../../src/core/codecs/jpeg-quality.js';
import { bigJpeg, rgbaPng } from '../workloads/image-resize.js';
import { loadAverage, machineInfo } from '../lib/machine.js';
import { LAUNCH_ENV } from '../../src/config/allocator.js';
import type { BenchContext } from '../lib/types.js';
import { renderChart } from './chart.js';
import { writePeersSection } from './sections.js';
import { runWrk, wrkVersion } from './wrk.js';

export const AK = 'benchAccessKey';
export const SK = 'benchAccessSecret';
export const COPIES = 32;
export const SRCSET = [320, 640, 960, 1280, 1920];

interface Peer {
  readonly id: string;
  readonly label: string;
  readonly base: string;
  readonly child: ChildProcess;
}

export type Fmt = 'jpeg' | 'webp' | 'png' | 'avif';

interface Workload {
  readonly id: string;
  readonly title: string;
  readonly peers: readonly string[];
  /** Reference peer of the ratios. */
  readonly reference: string;
  /** URL path of request n for a peer. */
  path(peer: string, n: number): string;
  /** Fixed request count per peer and round (slow encoders) instead of a duration. */
  readonly amount?: number;
}

interface Row {
  readonly workload: string;
  readonly title: string;
  readonly peer: string;
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly errors: number;
  readonly peakRssMiB: number;
  readonly bytes: number;
  readonly size: string;
  ratio?: number;
}

export interface PeersOptions {
  readonly quick: boolean;
  readonly write: boolean;
  readonly root: string;
  readonly ctx: BenchContext;
  readonly only?: string | undefined;
  readonly concurrency?: number | undefined;
}

export function startChild(cmd: string, args: string[], env: Record<string, string>, pattern: RegExp, cwd: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), 30000);
    const on = (d: Buffer) => {
      // Once started, output is only drained (request logs would grow this string without end).
      if (started) return;
      out += d.toString();
      const m = pattern.exec(out);
      if (m !== null) {
        started = true;
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (d: Buffer) => {
      if (!started) out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`));
    });
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await exited;
}

function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not Linux or not permitted: the peak then covers the process lifetime.
  }
}

function peakMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]) / 1024;
  } catch {
    return NaN;
  }
}

export async function signedPut(base: string, path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<void> {
  const date = new Date().toUTCString();
  const oss = Object.keys(headers).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${headers[k]}\n`).join('');
  const sig = createHmac('sha1', SK).update(`PUT\n\n${headers['content-type'] ?? ''}\n${date}\n${oss}${path}`).digest('base64');
  const res = await request(base + path, { method: 'PUT', headers: { ...headers, date, authorization: `OSS ${AK}:${sig}` }, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`PUT ${path}: ${res.statusCode} ${text}`);
}

/** URL of one image operation in each peer's dialect. */
export function opPath(peer: string, file: string, w: number, f: Fmt, q = f === 'avif' ? 50 : 80): string {
  switch (peer) {
    case 'halftone':
    case 'halftone-nocache':
      return `/bench/${file}?x-oss-process=image/resize,w_${w}${f === 'png' ? '' : `/quality,Q_${q}`}/format,${f}`;
    case 'plain':
      return `/${file}?w=${w}&f=${f}&q=${q}`;
    case 'ipx':
      return `/w_${w},f_${f}${f === 'png' ? '' : `,q_${q}`}/${file}`;
    default:
      return '/';
  }
}

/**
 * The quality the peers must be asked for to do Halftone's work on `q`-quality requests: OSS's
 * `Q_` never raises quality above the source JPEG's (spec oss-img.md §3.4: source 73 + `Q_80` →
 * 73), so Halftone encodes min(q, estimated source quality); plain sharp and IPX are given that
 * quality explicitly (estimated with Halftone's own reader), else they would encode more bytes.
 */
export function peerQualities(dir: string, files: readonly string[], q: number): Map<string, number> {
  return new Map(files.map((f) => [f, Math.min(q, estimateJpegQuality(readFileSync(join(dir, f))) ?? q)]));
}

async function measure(peer: Peer, w: Workload, c: number, durationS: number, wrk: boolean): Promise<{ reqPerSec: number; p50: number; p99: number; requests: number; errors: number; peak: number }> {
  let n = 0;
  // One warm-up request (module loading, first-use allocation, cache fill for cached workloads).
  await (await request(peer.base + w.path(peer.id, n++))).body.dump();
  resetPeak(peer.child.pid!);
  if (wrk && w.amount === undefined) {
    // Duration-based workloads: wrk, cycling through the workload's paths (COPIES of them).
    const r = await runWrk(peer.base, Array.from({ length: COPIES }, () => w.path(peer.id, n++)), c, durationS);
    return { reqPerSec: r.ok / r.seconds, p50: r.p50, p99: r.p99, requests: r.ok, errors: r.errors, peak: peakMiB(peer.child.pid!) };
  }
  const started = performance.now();
  const result = await autocannon({
    url: peer.base,
    connections: c,
    ...(w.amount === undefined ? { duration: durationS } : { amount: w.amount }),
    // Slow encoders on a loaded machine: a request may legitimately take minutes at c=8.
    timeout: 900,
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, path: w.path(peer.id, n++) }) }],
  });
  const seconds = (performance.now() - started) / 1000;
  const ok = result['2xx'];
  return {
    reqPerSec: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: ok,
    errors: result.errors + result.timeouts + result.non2xx,
    peak: peakMiB(peer.child.pid!),
  };
}

async function probeOutput(peer: Peer, path: string): Promise<{ bytes: number; size: string }> {
  const res = await request(peer.base + path);
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) return { bytes: 0, size: `HTTP ${res.statusCode}` };
  const m = await sharp(body).metadata();
  return { bytes: body.length, size: `${m.format} ${m.width}×${m.height}` };
}

/** HALFTONE_* settings of the bench's own environment, passed on to the Halftone peers (tuning runs). */
export function halftoneSettingsFromEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('HALFTONE_') && e[1] !== undefined));
}

/**
 * A temp work dir whose `files/` holds the sources every peer serves: {@link COPIES} copies of
 * the big JPEG (`src-<i>.jpg`) and of the RGBA PNG (`rgba-<i>.png`), and the corpus photos.
 */
export async function prepareSources(ctx: BenchContext, prefix: string): Promise<{ work: string; files: string; photos: string[] }> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const files = join(work, 'files');
  await mkdir(files, { recursive: true });
  const jpeg = await bigJpeg(ctx);
  const png = await rgbaPng(ctx);
  for (let i = 0; i < COPIES; i++) {
    await writeFile(join(files, `src-${i}.jpg`), jpeg);
    await writeFile(join(files, `rgba-${i}.png`), png);
  }
  const photosDir = join(ctx.corpusDir, 'photos');
  const photos = existsSync(photosDir) ? (await readdir(photosDir)).filter((f) => f.endsWith('.jpg')).sort() : [];
  for (const p of photos) await copyFile(join(photosDir, p), join(files, p));
  return { work, files, photos };
}

export async function runPeers(o: PeersOptions): Promise<void> {
  const log = o.ctx.log;
  const c = o.concurrency ?? 8;
  const durationS = o.quick ? 3 : 10;
  const rounds = o.quick ? 1 : 3;
  ensureBuilt();
  const { work, files, photos } = await prepareSources(o.ctx, 'halftone-peers-');
  if (photos.length === 0) log('corpus photos not found: the mixed workload is skipped');

  const peers: Peer[] = [];
  const children: ChildProcess[] = [];
  try {
    const node = process.execPath;
    const halftone = async (id: string, label: string, env: Record<string, string>) => {
      const dataDir = join(work, id);
      const { child, port } = await startChild(node, [join(o.root, 'dist/main.js')], {
        // As npm start runs it (MALLOC_ARENA_MAX, docs/operations-perf.md "Memory allocator").
        ...LAUNCH_ENV,
        ...halftoneSettingsFromEnv(),
        PORT: '0', HALFTONE_HOST: '127.0.0.1', HALFTONE_DATA_DIR: dataDir, HALFTONE_ACCESS_KEY_ID: AK, HALFTONE_ACCESS_KEY_SECRET: SK, ...env,
      }, /listening on http:\/\/127\.0\.0\.1:(\d+)/, o.root);
      children.push(child);
      const base = `http://127.0.0.1:${port}`;
      await signedPut(base, '/bench/', undefined, { 'x-oss-acl': 'public-read' });
      for (const f of await readdir(files)) await signedPut(base, `/bench/${f}`, readFileSync(join(files, f)), { 'content-type': f.endsWith('.png') ? 'image/png' : 'image/jpeg' });
      peers.push({ id, label, base, child });
    };
    await halftone('halftone', 'halftone', {});
    await halftone('halftone-nocache', 'halftone (no cache)', { HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0', HALFTONE_HOT_CACHE_BYTES: '0' });
    for (const [id, label, args] of [
      ['plain', 'plain sharp', [join(o.root, 'bench/peers/plain-server.mjs'), files]],
      ['ipx', 'ipx', [join(o.root, 'bench/peers/ipx-server.mjs'), files]],
    ] as const) {
      const { child, port } = await startChild(node, [...args], {}, /listening (\d+)/, o.root);
      children.push(child);
      peers.push({ id, label, base: `http://127.0.0.1:${port}`, child });
    }
    const cachedBytes = (await request(`${peers[0]!.base}${opPath('halftone', 'src-0.jpg', 300, 'jpeg')}`)).body;
    const bareFile = join(work, 'bare.jpg');
    await writeFile(bareFile, Buffer.from(await cachedBytes.arrayBuffer()));
    {
      const { child, port } = await startChild(node, [join(o.root, 'bench/peers/plain-server.mjs'), '--bare', bareFile], {}, /listening (\d+)/, o.root);
      children.push(child);
      peers.push({ id: 'bare', label: 'bare node:http', base: `http://127.0.0.1:${port}`, child });
    }
    const ipxVersion = (JSON.parse(readFileSync(join(o.root, 'node_modules/ipx/package.json'), 'utf8')) as { version: string }).version;
    const ipxSharp = (JSON.parse(readFileSync(join(o.root, 'node_modules/ipx/node_modules/sharp/package.json'), 'utf8')) as { version: string }).version;

    const cold = ['halftone-nocache', 'plain', 'ipx'];
    const coldOp = (w: number, f: Fmt, kind: 'jpg' | 'png') => (peer: string, n: number) =>
      opPath(peer, kind === 'jpg' ? `src-${n % COPIES}.jpg` : `rgba-${n % COPIES}.png`, w, f);
    const mixed = photos.flatMap((p) => SRCSET.map((w) => [p, w] as const));
    const mixedQ = peerQualities(files, photos, 80);
    const workloads: Workload[] = [
      { id: 'jpeg300', title: '2725×2225 JPEG → 300 px JPEG q80 (cold)', peers: cold, reference: 'plain', path: coldOp(300, 'jpeg', 'jpg') },
      { id: 'webp300', title: '2725×2225 JPEG → 300 px WebP q80 (cold)', peers: cold, reference: 'plain', path: coldOp(300, 'webp', 'jpg') },
      { id: 'png500', title: '1024×768 RGBA PNG → 500 px PNG (cold)', peers: cold, reference: 'plain', path: coldOp(500, 'png', 'png') },
      { id: 'avif1000', title: '2725×2225 JPEG → 1000 px AVIF q50 (cold)', peers: cold, reference: 'plain', path: coldOp(1000, 'avif', 'jpg'), amount: o.quick ? c : 3 * c },
      {
        id: 'cached', title: '300 px JPEG, the same URL again and again (cached)', peers: ['halftone', 'bare', 'plain', 'ipx'], reference: 'bare',
        path: (peer: string) => (peer === 'bare' ? '/' : opPath(peer, 'src-0.jpg', 300, 'jpeg')),
      },
      ...(mixed.length === 0 ? [] : [{
        id: 'mixed', title: `${photos.length} corpus photos × srcset widths ${SRCSET.join('/')} → WebP q80`, peers: ['halftone', 'halftone-nocache', 'plain', 'ipx'], reference: 'plain',
        // One pass over every photo and width per round (the cached peer then answers repeats from its cache).
        amount: o.quick ? mixed.length : 2 * mixed.length,
        path: (peer: string, n: number): string => {
          const [p, w] = mixed[n % mixed.length]!;
          return opPath(peer, p, w, 'webp', peer.startsWith('halftone') ? 80 : mixedQ.get(p));
        },
      } satisfies Workload]),
    ].filter((w) => o.only === undefined || o.only.split(',').some((x) => w.id.includes(x.trim())));

    const wrk = wrkVersion();
    if (wrk === undefined) log('wrk not found (apt-get install wrk): autocannon drives every workload; it saturates near 2,000 req/s, so the cached figures are the load generator\'s');
    const loadBefore = loadAverage();
    const t0 = performance.now();
    const rows: Row[] = [];
    for (const w of workloads) {
      log(`• ${w.title} [${w.id}], c=${c}`);
      const acc = new Map<string, { req: number; secs: number; p50: number[]; p99: number[]; errors: number; peak: number }>();
      for (let r = 0; r < rounds; r++) {
        // Interleaved: each round visits every peer, in a rotated order.
        const order = w.peers.map((_, i) => w.peers[(i + r) % w.peers.length]!);
        for (const id of order) {
          const peer = peers.find((p) => p.id === id)!;
          const m = await measure(peer, w, c, durationS, wrk !== undefined);
          const a = acc.get(id) ?? { req: 0, secs: 0, p50: [], p99: [], errors: 0, peak: 0 };
          a.req += m.requests;
          a.secs += m.requests / Math.max(m.reqPerSec, 1e-9);
          a.p50.push(m.p50);
          a.p99.push(m.p99);
          a.errors += m.errors;
          a.peak = Math.max(a.peak, m.peak);
          acc.set(id, a);
          log(`    ${peer.label.padEnd(20)} ${m.reqPerSec.toFixed(1).padStart(8)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  peak RSS ${m.peak.toFixed(0)} MiB${m.errors > 0 ? `  ERRORS ${m.errors}` : ''}`);
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      for (const id of w.peers) {
        const a = acc.get(id)!;
        const peer = peers.find((p) => p.id === id)!;
        const out = id === 'bare' ? { bytes: readFileSync(bareFile).length, size: 'same bytes' } : await probeOutput(peer, w.path(id, 0));
        rows.push({
          workload: w.id, title: w.title, peer: peer.label, reqPerSec: a.req / a.secs, p50: median(a.p50), p99: median(a.p99),
          requests: a.req, errors: a.errors, peakRssMiB: a.peak, ...out,
        });
      }
      const ref = rows.find((x) => x.workload === w.id && x.peer === peers.find((p) => p.id === w.reference)!.label)!;
      for (const x of rows.filter((y) => y.workload === w.id)) x.ratio = x.reqPerSec / ref.reqPerSec;
    }
    const report = peersMarkdown(rows, workloads, {
      quick: o.quick, c, durationS, rounds, loadBefore, loadAfter: loadAverage(), seconds: (performance.now() - t0) / 1000, ipxVersion, ipxSharp, wrk,
    });
    process.stdout.write(`${report}\n`);
    if (o.write) {
      const png = await renderChart(rows, workloads.map((w) => ({ id: w.id, title: w.title, reference: peers.find((p) => p.id === w.reference)!.label })));
      await mkdir(join(o.root, 'docs', 'img'), { recursive: true });
      await writeFile(join(o.root, 'docs', 'img', 'bench-peers.png'), png);
      writePeersSection(join(o.root, 'docs', 'benchmarks.md'), report);
      log('wrote docs/benchmarks.md (peers section) and docs/img/bench-peers.png');
    }
  } finally {
    for (const ch of children) await stopChild(ch);
    await rm(work, { recursive: true, force: true });
  }
}

function peersMarkdown(rows: Row[], workloads: Workload[], m: {
  quick: boolean; c: number; durationS: number; rounds: number; loadBefore: string; loadAfter: string; seconds: number; ipxVersion: string; ipxSharp: string;
  wrk: string | undefined;
}): string {
  const mi = machineInfo();
  const lines = [
    '## Peers over HTTP: Halftone, plain sharp, IPX',
    '',
    `Generated by \`npm run bench -- --peers${m.quick ? ' --quick --write' : ''}\` (bench/peers/run.ts) on ${new Date().toISOString()} in ${m.seconds.toFixed(0)} s.`,
    m.quick
      ? '**Quick run on a loaded machine** (other work running; load average below): figures show the shape, not final values. Re-run `npm run bench -- --peers` on an idle machine for the record.'
      : 'Full run.',
    '',
    `- Machine: ${mi.cpuModel}, ${mi.nproc} CPUs, ${mi.memoryGiB} GiB, ${mi.platform}; Node ${mi.node}; Halftone's sharp ${mi.sharp} (libvips ${mi.libvips}); IPX ${m.ipxVersion} (its own sharp ${m.ipxSharp}); load average before ${m.loadBefore}, after ${m.loadAfter}.`,
    m.wrk === undefined
      ? `- Load generator: autocannon in the benchmark process (wrk was not installed, so the cached figures are autocannon's ceiling of roughly 2,000 req/s, not the servers'), ${m.c} connections, ${m.durationS} s per peer and round (AVIF and mixed: a fixed request count), ${m.rounds} interleaved round(s) with the peer order rotated each round; one warm-up request per peer before each measurement. All servers listen on 127.0.0.1.`
      : `- Load generator: ${m.wrk} (one thread, ${m.c} connections, ${m.durationS} s per peer and round; cold workloads cycle their ${COPIES} URLs through a Lua script) for the duration-based workloads; autocannon in the benchmark process for the fixed-count ones (AVIF and mixed). ${m.rounds} interleaved round(s) with the peer order rotated each round; one warm-up request per peer before each measurement. All servers listen on 127.0.0.1.`,
    `- Peers: \`halftone\` = the built server (dist/main.js), default configuration (result cache on), started as \`npm start\` starts it (MALLOC_ARENA_MAX=${LAUNCH_ENV['MALLOC_ARENA_MAX']}, 2 × CPU cores); \`halftone (no cache)\` = the same with HALFTONE_CACHE_MEMORY_BYTES=0, HALFTONE_CACHE_DISK_BYTES=0 and HALFTONE_HOT_CACHE_BYTES=0 (neither the result cache nor the hot response cache); \`plain sharp\` = bench/peers/plain-server.mjs (node:http + sharp, sharp defaults, the same encoder settings); \`ipx\` = IPX through its node server on the same files (no result cache); \`bare node:http\` = answers the cached variant's bytes from memory.`,
    '- Mixed workload: Halftone is asked for `Q_80`, which OSS caps at the source JPEG\'s estimated quality (spec §3.4; four corpus photos are q73); plain sharp and IPX are asked for that capped quality per photo, so all peers encode at the same quality.',
    `- Cold workloads cycle through ${COPIES} byte-identical copies of the source under different names, with Halftone's cache off: every request decodes and encodes (a new URL per request). Halftone is addressed with OSS URLs (\`?x-oss-process=image/resize,w_300/quality,Q_80/format,jpeg\`), IPX with \`/w_300,f_jpeg,q_80/<file>\`.`,
    '- req/s = successful responses ÷ wall time summed over rounds; p50/p99 = median over rounds of the load generator\'s latency percentiles (ms); peak RSS = the child\'s VmHWM, reset before each measurement (/proc/<pid>/clear_refs); ratio = req/s ÷ the reference peer\'s req/s (plain sharp; bare node:http for the cached workload).',
    '',
    '![Throughput relative to the reference peer](img/bench-peers.png)',
    '',
    '| Workload | Peer | req/s | ratio | p50 ms | p99 ms | peak RSS MiB | output | bytes | requests | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const w of workloads) {
    for (const r of rows.filter((x) => x.workload === w.id)) {
      lines.push(`| ${r.title} | ${r.peer} | ${r.reqPerSec.toFixed(r.reqPerSec < 10 ? 2 : 1)} | ${(r.ratio ?? 0).toFixed(2)}× | ${r.p50} | ${r.p99} | ${Number.isNaN(r.peakRssMiB) ? 'n/a' : r.peakRssMiB.toFixed(0)} | ${r.size} | ${r.bytes} | ${r.requests} | ${r.errors} |`);
    }
  }
  const ht = (id: string) => rows.find((x) => x.workload === id && x.peer === 'halftone (no cache)');
  const ipx = (id: string) => rows.find((x) => x.workload === id && x.peer === 'ipx');
  const vsIpx = ['jpeg300', 'webp300', 'png500', 'avif1000'].filter((id) => ht(id) && ipx(id)).map((id) => `${id} ${(ht(id)!.reqPerSec / ipx(id)!.reqPerSec).toFixed(2)}×`);
  if (vsIpx.length > 0) lines.push('', `Halftone (no cache) ÷ IPX, cold: ${vsIpx.join(', ')}.`);
  return lines.join('\n');
}
