/**
 * `halftone worker` in scale-out mode, on loopback: redis-server and s3rver, one serving node with
 * HALFTONE_RUN_JOBS=false (it submits and runs nothing) and two worker processes. Ten compression
 * tasks submitted through the node all complete although one worker is SIGKILLed while it works;
 * each task has exactly one result; the result URLs are served by a second serving node. Every
 * process has its own data dir: task inputs and results live in the S3 bucket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ensureBuilt, startServer, type RunningServer } from '../helpers/server.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { redisSkip, startLocalRedis, type LocalRedis } from '../helpers/redis-server.js';
import { scaleOutEnv, startWorker, type RunningWorker as Worker } from '../helpers/worker.js';
import { POSTGRES_MISSING, pgBin, startLocalPostgres, type LocalPostgres } from '../helpers/postgres-server.js';
import { KEY, query, submit } from '../tasks/client.js';

const root = new URL('../..', import.meta.url).pathname;
const skip = redisSkip() || (pgBin() === undefined ? POSTGRES_MISSING : false);

/** Polls until the task is terminal; long enough for BullMQ's stalled-job recovery (about a minute). */
async function settle(base: string, id: string, limitMs: number) {
  const end = Date.now() + limitMs;
  for (;;) {
    const a = await query(base, id);
    const s = a.body.data?.state as number;
    if (a.status === 200 && (s === 1 || s < 0)) return a.body;
    if (Date.now() > end) throw new Error(`task ${id}: ${a.status} ${JSON.stringify(a.body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('halftone worker (scale-out: BullMQ + S3)', { skip }, () => {
  let s3: LocalS3;
  let redis: LocalRedis;
  let pgServer: LocalPostgres;
  let nodeA: RunningServer;
  let nodeB: RunningServer | undefined;
  const workers: Worker[] = [];
  let env: Record<string, string>;
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'halftone-workers-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    s3 = await startLocalS3('halftone-workers');
    redis = await startLocalRedis();
    pgServer = await startLocalPostgres();
    env = {
      ...scaleOutEnv({ s3, redis, databaseUrl: await pgServer.createDatabase('workers'), redisPrefix: 'workertest', apiKey: KEY }),
      HALFTONE_TASK_TIMEOUT_MS: '300000',
    };
    nodeA = await startServer({ dataDir: newDir(), env: { ...env, HALFTONE_RUN_JOBS: 'false' } });
  });

  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await nodeB?.stop({ keepDataDir: true });
    await nodeA?.stop({ keepDataDir: true });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await redis?.stop();
    await pgServer?.stop();
    await s3?.stop();
  });

  /** Runs `halftone worker` with `settings` (plus PATH and a fresh data dir) until it exits. */
  const startRefusedWorker = async (settings: Record<string, string>): Promise<{ code: number | null; err: string }> => {
    const child = spawn(process.execPath, [join(root, 'bin/halftone.js'), 'worker'], {
      cwd: root, env: { PATH: process.env['PATH'] ?? '', ...settings, HALFTONE_DATA_DIR: newDir() }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    return { code, err };
  };

  test('--help describes the command', async () => {
    ensureBuilt();
    const child = spawn(process.execPath, [join(root, 'bin/halftone.js'), 'worker', '--help'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.match(out, /Usage: halftone worker/);
    assert.match(out, /HALFTONE_QUEUE=bullmq/);
    assert.match(out, /HALFTONE_RUN_JOBS=false/);
  });

  test('with the embedded queue a worker refuses to start, with the reason', async () => {
    ensureBuilt();
    const { code, err } = await startRefusedWorker({});
    assert.equal(code, 2);
    assert.match(err, /worker needs HALFTONE_QUEUE=bullmq/);
  });

  test('with fs storage a worker refuses to start, with the reason', async () => {
    const { code, err } = await startRefusedWorker({ ...env, HALFTONE_STORAGE: 'fs' });
    assert.equal(code, 2);
    assert.match(err, /worker needs HALFTONE_STORAGE=s3/);
  });

  test('with SQLite metadata a worker refuses to start, with the reason', async () => {
    const { code, err } = await startRefusedWorker({ ...env, HALFTONE_META: 'sqlite' });
    assert.equal(code, 2);
    assert.match(err, /worker needs HALFTONE_META=postgres/);
  });

  test('a serving node with HALFTONE_RUN_JOBS=false runs no job: tasks wait for a worker', async () => {
    const img = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#36c' } }).png().toBuffer();
    const created = await submit(nodeA.url, { sync: '0', quality: '60', image_file: { data: img, name: 'wait.png' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await new Promise((r) => setTimeout(r, 1500));
    const a = await query(nodeA.url, created.body.data!.task_id);
    assert.equal(a.status, 200);
    assert.equal(a.body.data?.state, 0, `no process runs jobs yet: ${JSON.stringify(a.body)}`);
    // The worker started next picks it up (checked with the others below).
    workers.push(await startWorker({ ...env, HALFTONE_DATA_DIR: newDir() }), await startWorker({ ...env, HALFTONE_DATA_DIR: newDir() }));
    const done = await settle(nodeA.url, created.body.data!.task_id, 60000);
    assert.equal(done.data?.state, 1, JSON.stringify(done));
  });

  test('10 tasks through the node complete exactly once although a worker is SIGKILLed mid-run; node B serves the results', async () => {
    assert.equal(workers.length, 2);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      // Noise PNGs with a size target: each takes several encodes, so the kill lands mid-job.
      const img = await sharp({ create: { width: 1400, height: 1000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).png().toBuffer();
      const created = await submit(nodeA.url, { sync: '0', kbyte: '120', format: 'webp', image_file: { data: img, name: `n${i}.png` } });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      ids.push(created.body.data!.task_id);
    }
    // Wait until the first worker is busy with a task (some task running), then kill it.
    const end = Date.now() + 60000;
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => (await query(nodeA.url, id)).body.data?.state));
      if (states.some((s) => s !== undefined && (s >= 2 || s === 1))) break;
      if (Date.now() > end) throw new Error('no task started');
      await new Promise((r) => setTimeout(r, 100));
    }
    workers[0]!.child.kill('SIGKILL');
    await workers[0]!.exited;

    nodeB = await startServer({ dataDir: newDir(), env: { ...env, HALFTONE_RUN_JOBS: 'false' } });
    const urls: string[] = [];
    for (const id of ids) {
      const done = await settle(nodeB.url, id, 240000);
      assert.equal(done.data?.state, 1, `${id}: ${JSON.stringify(done)}`);
      const url = done.data!.image!;
      urls.push(url);
      assert.ok(url.startsWith(`${nodeB.url}/results/`) || url.startsWith(`${nodeA.url}/results/`), url);
      // Fetched through node B whichever node built the URL.
      const res = await fetch(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, nodeB.url));
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal((await sharp(bytes).metadata()).format, 'webp');
      assert.ok(bytes.length <= 120 * 1024);
    }
    // Exactly once: ten distinct results; at most one more result directory exists (a run the kill
    // interrupted after publishing and before acknowledging; the sweep removes it at expiry).
    const resultIds = new Set(urls.map((u) => new URL(u).pathname.split('/')[2]));
    assert.equal(resultIds.size, 10);
    const c = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const keys = ((await c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'results/' }))).Contents ?? []).map((o) => (o.Key ?? '').slice('results/'.length));
    c.destroy();
    for (const id of resultIds) assert.ok(keys.includes(id!), `${id} not in ${keys.join(',')}`);
    // 10 + the task of the previous test + at most one orphan of the killed run.
    assert.ok(keys.length <= 12, keys.join(','));
    assert.equal(workers[1]!.child.exitCode, null, 'the surviving worker still runs');
  });

  test('SIGTERM: the worker finishes and exits 0', async () => {
    workers[1]!.child.kill('SIGTERM');
    assert.equal(await workers[1]!.exited, 0, workers[1]!.output());
  });
});
