/**
 * One process per data dir (src/adapters/storage/data-dir-lock.ts), through the doors users have:
 * a second `npm start` on the same directory refuses to start, `doctor --repair` refuses while a
 * server runs (a read-only doctor still reports), a worker takes the same lock, and a SIGKILLed
 * server leaves no stale lock behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir, DataDirInUseError } from '../../src/adapters/storage/data-dir-lock.js';
import { startServer, TEST_AK, TEST_SK, type RunningServer } from '../helpers/server.js';

const root = new URL('../..', import.meta.url).pathname;
let server: RunningServer;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server.stop();
});

/** Runs the built server on `dataDir` until it exits (it should: the directory is taken). */
function secondServer(dataDir: string) {
  return spawnSync(process.execPath, [join(root, 'dist/main.js')], {
    cwd: root, encoding: 'utf8', timeout: 20_000,
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', HALFTONE_HOST: '127.0.0.1', HALFTONE_DATA_DIR: dataDir, HALFTONE_ACCESS_KEY_ID: TEST_AK, HALFTONE_ACCESS_KEY_SECRET: TEST_SK, HALFTONE_LOG_LEVEL: 'warn' },
  });
}

function cli(args: readonly string[]) {
  return spawnSync(process.execPath, [join(root, 'bin/halftone.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });
}

test('a second server on the same data dir refuses to start, naming the owner', () => {
  const res = secondServer(server.dataDir);
  assert.equal(res.status, 2, res.stderr);
  assert.match(res.stderr, /is in use by another Halftone process \(server, pid \d+, since /);
  // The first one still serves.
  assert.match(server.output(), /listening on/);
});

test('doctor --repair refuses while the server runs; a read-only doctor still reports', () => {
  const repair = cli(['doctor', '--data-dir', server.dataDir, '--repair']);
  assert.notEqual(repair.status, 0);
  assert.match(repair.stderr, /in use by another Halftone process \(server, pid/);
  const check = cli(['doctor', '--data-dir', server.dataDir]);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /consistent/);
});

test('the lock is released by release() and taken again; a holder in this process is refused too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-lock-'));
  try {
    const a = lockDataDir(dir, 'test A');
    assert.throws(() => lockDataDir(dir, 'test B'), (err: unknown) => err instanceof DataDirInUseError && /test A, pid/.test(err.message));
    a.release();
    a.release();
    lockDataDir(dir, 'test C').release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SIGKILLed server leaves no stale lock: the next one starts on its data dir', async () => {
  const first = await startServer();
  await first.kill();
  const next = await startServer({ dataDir: first.dataDir });
  await next.stop();
});
