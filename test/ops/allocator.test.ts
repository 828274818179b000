/**
 * The memory allocator setting (docs/operations-perf.md, "Memory allocator"): `npm start` runs node
 * with MALLOC_ARENA_MAX = 2 × CPU cores unless the operator set a value, the server prints what it runs with, and
 * a server started without any limit on glibc warns on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocatorInfo, allocatorWarning, LAUNCH_ENV } from '../../src/config/allocator.js';
import { ensureBuilt } from '../helpers/server.js';

const root = new URL('../..', import.meta.url).pathname;
const onGlibc = allocatorInfo({}).libc.startsWith('glibc');

test('allocatorInfo names what bounds glibc arenas, and only nothing at all is warned about', () => {
  const cases: [Record<string, string>, string | undefined][] = [
    [{}, undefined],
    [{ MALLOC_ARENA_MAX: '2' }, 'MALLOC_ARENA_MAX=2'],
    [{ MALLOC_ARENA_MAX: ' 4 ' }, 'MALLOC_ARENA_MAX=4'],
    [{ MALLOC_ARENA_MAX: 'lots' }, undefined],
    [{ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1:glibc.malloc.arena_max=3' }, 'glibc.malloc.arena_max=3'],
    [{ LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' }, 'LD_PRELOAD jemalloc'],
    [{ LD_PRELOAD: 'libtcmalloc_minimal.so.4' }, 'LD_PRELOAD tcmalloc_minimal'],
    [{ LD_PRELOAD: '/opt/lib/libfoo.so' }, undefined],
  ];
  for (const [env, limit] of cases) {
    const info = allocatorInfo(env, '2.36');
    assert.equal(info.libc, 'glibc 2.36');
    assert.equal(info.limit, limit, JSON.stringify(env));
    const warning = allocatorWarning(info);
    if (limit === undefined) assert.match(warning ?? '', /without an arena limit.*MALLOC_ARENA_MAX=\d+ \(2 × CPU cores\)/);
    else assert.equal(warning, undefined);
  }
  // Not glibc (musl's allocator has no per-thread arenas; other systems): nothing to advise.
  assert.equal(allocatorWarning(allocatorInfo({}, null)), undefined);
});

interface Started {
  readonly out: () => string;
  readonly stop: () => Promise<void>;
}

/** Starts `cmd args` in its own process group and waits for the server's listening line. */
async function launch(cmd: string, args: string[], env: Record<string, string>): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'halftone-alloc-'));
  const child = spawn(cmd, args, {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), PORT: '0', HALFTONE_HOST: '127.0.0.1', HALFTONE_DATA_DIR: dataDir, HALFTONE_LOG_LEVEL: 'warn', HALFTONE_ACCESS_KEY_ID: 'ak', HALFTONE_ACCESS_KEY_SECRET: 'sk', ...env },
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30000);
    const onData = (d: Buffer) => {
      out += d.toString();
      // The allocator line follows the listening line.
      if (/memory allocator .*\n/.test(out)) {
        clearTimeout(timer);
        setTimeout(resolve, 100); // a warning, if any, follows on stderr
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
  return {
    out: () => out,
    async stop() {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

test('npm start runs node with MALLOC_ARENA_MAX = 2 × CPU cores, keeps an operator value, and node started bare warns', { skip: onGlibc ? false : 'not a glibc system: the arena limit does not apply' }, async () => {
  ensureBuilt();
  // nproc, as the start script's shell computes it; the test helpers and the benchmark start node
  // with LAUNCH_ENV, which must be the same value.
  const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  assert.equal(LAUNCH_ENV['MALLOC_ARENA_MAX'], String(2 * cores));

  const viaNpm = await launch('npm', ['start', '--silent'], {});
  try {
    assert.match(viaNpm.out(), new RegExp(`halftone: memory allocator glibc [\\d.]+, MALLOC_ARENA_MAX=${2 * cores}\\n`));
    assert.doesNotMatch(viaNpm.out(), /warning: .*arena limit/);
  } finally {
    await viaNpm.stop();
  }

  const operator = await launch('npm', ['start', '--silent'], { MALLOC_ARENA_MAX: '4' });
  try {
    assert.match(operator.out(), /memory allocator glibc [\d.]+, MALLOC_ARENA_MAX=4\n/);
  } finally {
    await operator.stop();
  }

  const bare = await launch(process.execPath, [join(root, 'dist/main.js')], {});
  try {
    assert.match(bare.out(), /memory allocator glibc [\d.]+, no arena limit\n/);
    assert.match(bare.out(), /halftone: warning: glibc [\d.]+ malloc runs without an arena limit/);
  } finally {
    await bare.stop();
  }
});
