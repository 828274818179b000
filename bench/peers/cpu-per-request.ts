/**
 * `npm run bench -- --peers --cpu [--quick] [--only <ids>] [--concurrency <n>]`: server CPU time
 * per request of Halftone (cache off), the plain `node:http` + sharp server and IPX on the cold
 * workloads, under the same request stream.
 *
 * Wall-clock req/s is disturbed by anything else running on the machine; the CPU time a server
 * spends per request much less so. For each workload, round and peer: one warm-up request, then
 * a fixed number of requests at a fixed concurrency; the CPU time of the server's child process
 * (user + system of all its threads, /proc/<pid>/stat) over those requests ÷ the request count.
 * Every peer's output (format, size, bytes) is compared with the plain server's; the mixed
 * workload (corpus photos × srcset widths → WebP) compares every variant's bytes.
 *
 * Linux only (reads /proc). HALFTONE_* variables of the environment are passed on to the Halftone
 * child (e.g. HALFTONE_VIPS_CONCURRENCY=1 to compare settings); Node arguments for it (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`, space-separated) go in HALFTONE_BENCH_NODE_ARGS; another
 * build of the server (to compare two versions) can be named in HALFTONE_BENCH_MAIN.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Pool } from 'undici';
import { ensureBuilt } from '../../test/helpers/server.js';
import { loadAverage } from '../lib/machine.js';
import { LAUNCH_ENV } from '../../src/config/allocator.js';
import type { BenchContext } from '../lib/types.js';
import { AK, COPIES, SK, halftoneSettingsFromEnv, prepareSources, SRCSET, opPath, peerQualities, signedPut, startChild, stopChild, type Fmt } from './run.js';

export interface CpuOptions {
  readonly quick: boolean;
  readonly root: string;
  readonly ctx: BenchContext;
  readonly only?: string | undefined;
  readonly concurrency?: number | undefined;
}

interface Server {
  readonly id: string;
  readonly label: string;
  readonly base: string;
  readonly child: ChildProcess;
}

interface CpuWorkload {
  readonly id: string;
  readonly title: string;
  /** Requests per peer and round. */
  readonly requests: number;
  path(peer: string, n: number): string;
}

const TICK_MS = 1000 / 100; // USER_HZ; Linux reports utime/stime in 1/100 s

/** User + system CPU of a process and all its threads (dead ones included), in ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

async function get(s: Server, pool: Pool, path: string): Promise<Buffer> {
  const res = await pool.request({ method: 'GET', path });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`${s.label} ${path}: HTTP ${res.statusCode} ${body.toString('utf8', 0, 300)}`);
  return body;
}

/**
 * Sends `count` requests with `c` in flight on fresh connections (an idle keep-alive connection
 * from an earlier measurement may be closed by the server just as it is reused); returns wall
 * seconds and CPU ms of the server.
 */
async function drive(s: Server, w: CpuWorkload, c: number, start: number, count: number): Promise<{ seconds: number; cpuMs: number }> {
  const pool = new Pool(s.base, { connections: c });
  await get(s, pool, w.path(s.id, start)); // warm-up
  let next = 0;
  const cpu0 = processCpuMs(s.child.pid!);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < count) await get(s, pool, w.path(s.id, start + next++));
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = processCpuMs(s.child.pid!) - cpu0;
  await pool.close();
  return { seconds, cpuMs };
}

async function describe(buf: Buffer): Promise<string> {
  const m = await sharp(buf).metadata();
  return `${m.format} ${m.width}×${m.height}`;
}

export async function runCpuPerRequest(o: CpuOptions): Promise<void> {
  const log = o.ctx.log;
  const c = o.concurrency ?? 8;
  const rounds = o.quick ? 2 : 4;
  ensureBuilt();
  const { work, files, photos } = await prepareSources(o.ctx, 'halftone-cpu-');

  const servers: Server[] = [];
  try {
    const node = process.execPath;
    {
      const nodeArgs = (process.env['HALFTONE_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
      const { child, port } = await startChild(node, [...nodeArgs, process.env['HALFTONE_BENCH_MAIN'] ?? join(o.root, 'dist/main.js')], {
        ...LAUNCH_ENV, HALFTONE_LOG_LEVEL: 'warn', ...halftoneSettingsFromEnv(),
        PORT: '0', HALFTONE_HOST: '127.0.0.1', HALFTONE_DATA_DIR: join(work, 'halftone'), HALFTONE_ACCESS_KEY_ID: AK, HALFTONE_ACCESS_KEY_SECRET: SK,
        HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0', HALFTONE_HOT_CACHE_BYTES: '0',
        // A request queued behind slow AVIF encodes on a loaded machine sends nothing for minutes;
        // the default idle timeout (120 s) would close its connection. Plain sharp and IPX have none.
        HALFTONE_IDLE_TIMEOUT_MS: '900000',
      }, /listening on http:\/\/127\.0\.0\.1:(\d+)/, o.root);
      const base = `http://127.0.0.1:${port}`;
      servers.push({ id: 'halftone-nocache', label: 'halftone (no cache)', base, child });
      await signedPut(base, '/bench/', undefined, { 'x-oss-acl': 'public-read' });
      for (const f of await readdir(files)) await signedPut(base, `/bench/${f}`, readFileSync(join(files, f)), { 'content-type': f.endsWith('.png') ? 'image/png' : 'image/jpeg' });
    }
    for (const [id, label, script] of [['plain', 'plain sharp', 'plain-server.mjs'], ['ipx', 'ipx', 'ipx-server.mjs']] as const) {
      const { child, port } = await startChild(node, [join(o.root, 'bench/peers', script), files], {}, /listening (\d+)/, o.root);
      servers.push({ id, label, base: `http://127.0.0.1:${port}`, child });
    }

    const coldOp = (w: number, f: Fmt, kind: 'jpg' | 'png') => (peer: string, n: number) =>
      opPath(peer, kind === 'jpg' ? `src-${n % COPIES}.jpg` : `rgba-${n % COPIES}.png`, w, f);
    const mixed = photos.flatMap((p) => SRCSET.map((w) => [p, w] as const));
    const mixedQ = peerQualities(files, photos, 80);
    const n = (full: number) => (o.quick ? Math.max(c, Math.round(full / 2)) : full);
    const workloads: CpuWorkload[] = [
      { id: 'jpeg300', title: '2725×2225 JPEG → 300 px JPEG q80', requests: n(64), path: coldOp(300, 'jpeg', 'jpg') },
      { id: 'webp300', title: '2725×2225 JPEG → 300 px WebP q80', requests: n(48), path: coldOp(300, 'webp', 'jpg') },
      { id: 'png500', title: '1024×768 RGBA PNG → 500 px PNG', requests: n(48), path: coldOp(500, 'png', 'png') },
      { id: 'avif1000', title: '2725×2225 JPEG → 1000 px AVIF q50', requests: n(8), path: coldOp(1000, 'avif', 'jpg') },
      ...(mixed.length === 0 ? [] : [{
        id: 'mixed', title: `${photos.length} corpus photos × srcset ${SRCSET.join('/')} → WebP q80`, requests: mixed.length,
        path: (peer: string, i: number) => {
          const [p, w] = mixed[i % mixed.length]!;
          // Halftone caps Q_80 at the source's quality (OSS rule); the peers are asked for that.
          return opPath(peer, p, w, 'webp', peer.startsWith('halftone') ? 80 : mixedQ.get(p));
        },
      }]),
    ].filter((w) => o.only === undefined || o.only.split(',').some((x) => w.id.includes(x.trim())));

    log(`CPU per request, c=${c}, ${rounds} interleaved rounds; load average ${loadAverage()}`);
    const lines: string[] = [
      `| Workload | Peer | CPU ms/req | ÷ plain | wall req/s (loaded) | output | bytes | same bytes as plain |`,
      '| --- | --- | ---: | ---: | ---: | --- | ---: | --- |',
    ];
    for (const w of workloads) {
      log(`• ${w.title} [${w.id}]: ${w.requests} requests per peer and round`);
      const acc = new Map<string, { cpu: number; secs: number; req: number; perRound: number[] }>();
      for (let r = 0; r < rounds; r++) {
        const order = servers.map((_, i) => servers[(i + r) % servers.length]!);
        for (const s of order) {
          const m = await drive(s, w, c, r * w.requests, w.requests);
          const a = acc.get(s.id) ?? { cpu: 0, secs: 0, req: 0, perRound: [] };
          a.cpu += m.cpuMs;
          a.secs += m.seconds;
          a.req += w.requests;
          a.perRound.push(m.cpuMs / w.requests);
          acc.set(s.id, a);
          log(`    ${s.label.padEnd(20)} ${(m.cpuMs / w.requests).toFixed(1).padStart(8)} CPU ms/req  ${(w.requests / m.seconds).toFixed(1).padStart(7)} req/s`);
        }
      }
      // Outputs: the first request's for the cold workloads, every variant for the mixed one.
      const samples = w.id === 'mixed' ? mixed.length : 1;
      const outputs = new Map<string, Buffer[]>();
      for (const s of servers) {
        const pool = new Pool(s.base, { connections: 1 });
        const bufs: Buffer[] = [];
        for (let i = 0; i < samples; i++) bufs.push(await get(s, pool, w.path(s.id, i)));
        outputs.set(s.id, bufs);
        await pool.close();
      }
      const plainCpu = acc.get('plain')!.cpu / acc.get('plain')!.req;
      for (const s of servers) {
        const a = acc.get(s.id)!;
        const cpu = a.cpu / a.req;
        const bufs = outputs.get(s.id)!;
        const ref = outputs.get('plain')!;
        const same = bufs.filter((b, i) => b.equals(ref[i]!)).length;
        const bytes = bufs.reduce((t, b) => t + b.length, 0);
        const out = samples === 1 ? await describe(bufs[0]!) : `${samples} variants`;
        const spread = a.perRound.map((x) => x.toFixed(1)).join('/');
        lines.push(`| ${w.title} | ${s.label} | ${cpu.toFixed(1)} (${spread}) | ${(cpu / plainCpu).toFixed(2)}× | ${(a.req / a.secs).toFixed(1)} | ${out} | ${bytes} | ${s.id === 'plain' ? '—' : samples === 1 ? (same === 1 ? 'yes' : 'no') : `${same}/${samples}`} |`);
      }
    }
    process.stdout.write(`\nServer CPU per request (user+system of the server process, all threads), c=${c}; "÷ plain" < 1 means cheaper than plain sharp. Load average after: ${loadAverage()}.\n\n${lines.join('\n')}\n`);
  } finally {
    for (const s of servers) await stopChild(s.child);
    await rm(work, { recursive: true, force: true });
  }
}
