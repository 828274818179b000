/**
 * wrk (Debian package `wrk`) as the peers benchmark's load generator for duration-based
 * workloads: a C load generator on its own thread, so it does not share the benchmark's event
 * loop (autocannon in-process saturated at ~2,000 req/s against a bare node:http server that wrk
 * measures at ~17,600 req/s on the same machine).
 */
import { spawnSync, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The wrk version line, or undefined when wrk is not on PATH. */
export function wrkVersion(): string | undefined {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (r.error !== undefined) return undefined;
  const m = /wrk\s+\S+/.exec(`${r.stdout}${r.stderr}`);
  return m === null ? 'wrk' : m[0];
}

export interface WrkResult {
  /** 2xx/3xx responses. */
  readonly ok: number;
  /** Non-2xx/3xx responses plus socket errors and timeouts. */
  readonly errors: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
}

/** `12.34ms` / `567.00us` / `1.20s` → milliseconds. */
function ms(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (m === null) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Parses wrk's report (run with --latency). */
export function parseWrk(out: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (total === null) throw new Error(`unexpected wrk output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]);
  const pct = (p: string) => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const requests = Number(total[1]);
  return {
    ok: requests - non2xx,
    errors: non2xx + socketErrors,
    seconds: ms(`${total[2]}${total[3]}`) / 1000,
    p50: Math.round(pct('50') * 100) / 100,
    p99: Math.round(pct('99') * 100) / 100,
  };
}

/**
 * Runs wrk against `base` for `durationS` with `connections` connections on one thread. With more
 * than one distinct path, a Lua script cycles through them (one path per request).
 */
export async function runWrk(base: string, paths: readonly string[], connections: number, durationS: number): Promise<WrkResult> {
  const distinct = [...new Set(paths)];
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', '--timeout', '120s'];
  let dir: string | undefined;
  if (distinct.length > 1) {
    dir = mkdtempSync(join(tmpdir(), 'halftone-wrk-'));
    const script = join(dir, 'paths.lua');
    writeFileSync(script, [
      `local paths = { ${paths.map((p) => JSON.stringify(p)).join(', ')} }`,
      'local i = 0',
      'request = function()',
      '  i = i + 1',
      '  return wrk.format("GET", paths[((i - 1) % #paths) + 1])',
      'end',
      '',
    ].join('\n'));
    args.push('-s', script);
  }
  args.push(base + (distinct.length === 1 ? distinct[0]! : '/'));
  try {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('wrk', args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`wrk failed: ${String(err)}\n${stderr}`))));
    });
    return parseWrk(out);
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
