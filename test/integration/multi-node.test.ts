/**
 * Scale-out acceptance (issue 9), on loopback only: s3rver, redis-server and PostgreSQL, two
 * `halftone serve` nodes (A, B; HALFTONE_RUN_JOBS=false: they serve and submit, never run jobs)
 * and two `halftone worker` processes, all sharing the bucket (objects, task inputs, results), the
 * BullMQ queue and the PostgreSQL MetaStore, each with its own data dir.
 *
 * - The real ali-oss client writes through A and reads processed images, lists, heads and deletes
 *   through B (and the reverse).
 * - 50 compression tasks and 5 video/animation jobs, submitted alternately to A and B, all
 *   complete although worker 1 is SIGKILLed while it runs a video job (seen as an ffmpeg child of
 *   that worker and a Running task with progress); each video job is completed exactly once (one
 *   completion line in all worker logs) and its GIF decodes whole; each task has one result.
 * - Every node and worker is then killed (SIGKILL) and restarted on the same services: no task,
 *   no video job and no object is lost, and every byte is the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { REDIS_MISSING, findRedisServer, startLocalRedis, type LocalRedis } from '../helpers/redis-server.js';
import { POSTGRES_MISSING, pgBin, startLocalPostgres, type LocalPostgres } from '../helpers/postgres-server.js';
import { scaleOutEnv, startWorker, type RunningWorker } from '../helpers/worker.js';
import { KEY, query, submit } from '../tasks/client.js';
import { oss } from '../video/client.js';
import { decode, noFfmpeg, specClip } from '../video/helpers.js';
import { client, type OssClient } from './oss-client.js';

const JPEG = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const PNG = readFileSync(new URL('../fixtures/panda-100x50.png', import.meta.url));
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string) => Buffer.from(s).toString('base64url');

const skip = !findRedisServer() ? REDIS_MISSING : pgBin() === undefined ? POSTGRES_MISSING : noFfmpeg;

/** Pids of the direct children of `pid` (Linux /proc). */
function childrenOf(pid: number): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses: split after the last ')'.
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) found.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

async function videoStatus(base: string, taskId: string): Promise<Record<string, unknown>> {
  const r = await oss(base, 'GET', '', '', { query: [['x-oss-async-task', undefined], ['taskId', taskId]] });
  assert.equal(r.status, 200, r.text);
  return r.json();
}

/** Upper bound on waiting: the BullMQ lock of a killed worker lapses after 30 s, its stalled check runs every 30 s. */
const SETTLE_MS = 150_000;

describe('multi-node scale-out: 2 nodes, 2 workers, S3 + Redis + PostgreSQL', { skip }, () => {
  let s3: LocalS3;
  let redis: LocalRedis;
  let pgServer: LocalPostgres;
  let env: Record<string, string>;
  const nodes: RunningServer[] = [];
  const workers: RunningWorker[] = [];
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'halftone-multinode-'));
    dirs.push(d);
    return d;
  };
  let nodeDirs: string[] = [];
  let workerDirs: string[] = [];
  const A = () => nodes[0]!.url;
  const B = () => nodes[1]!.url;
  const base = (i: number) => (i % 2 === 0 ? A() : B());
  let ossA: OssClient;
  let ossB: OssClient;
  let clip: Buffer;
  // What the first phase produced, checked again after the restart.
  const objects = new Map<string, string>(); // bucket/key → md5
  const tasks: { id: string; url: string; md5: string }[] = [];
  const videos: { taskId: string; key: string; md5: string }[] = [];

  const startNodes = async () => {
    for (const dir of nodeDirs) nodes.push(await startServer({ dataDir: dir, env: { ...env, HALFTONE_RUN_JOBS: 'false' } }));
    ossA = client({ bucket: 'shared', endpoint: A() });
    ossB = client({ bucket: 'shared', endpoint: B() });
  };
  const startWorkers = async () => {
    for (const dir of workerDirs) workers.push(await startWorker({ ...env, HALFTONE_DATA_DIR: dir }));
  };
  const killAll = async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(nodes.map((n) => n.kill()));
    workers.length = 0;
    nodes.length = 0;
  };

  before(async () => {
    [s3, redis, pgServer] = await Promise.all([startLocalS3('halftone-multinode'), startLocalRedis(), startLocalPostgres()]);
    const databaseUrl = await pgServer.createDatabase('halftone');
    env = scaleOutEnv({ s3, redis, databaseUrl, redisPrefix: 'multinode', apiKey: KEY });
    nodeDirs = [newDir(), newDir()];
    workerDirs = [newDir(), newDir()];
    await startNodes();
    await startWorkers();
    // 6 s, 25 fps, 160×90: ffmpeg runs long enough (60 frames out) to be caught running.
    clip = readFileSync(specClip(newDir(), 160, 90, 6));
  });

  after(async () => {
    await killAll();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await Promise.all([redis?.stop(), s3?.stop(), pgServer?.stop()]);
  });

  test('ali-oss writes through node A; node B reads processed images, lists, heads and deletes', async () => {
    await ossA.putBucket('shared');
    for (const [key, body] of [['img/example.jpg', JPEG], ['img/panda.png', PNG], ['tmp/gone.bin', Buffer.from('delete me through B')]] as const) {
      await ossA.put(key, body);
      objects.set(`shared/${key}`, md5(body));
    }
    // Processed through B, from the object A wrote.
    const r1 = await ossB.get('img/example.jpg', { process: 'image/resize,w_100' });
    const m1 = await sharp(r1.content as Buffer).metadata();
    assert.deepEqual([m1.format, m1.width, m1.height], ['jpeg', 100, 67]);
    const r2 = await ossB.get('img/example.jpg', { process: 'image/resize,m_fixed,w_64,h_40/format,webp' });
    const m2 = await sharp(r2.content as Buffer).metadata();
    assert.deepEqual([m2.format, m2.width, m2.height], ['webp', 64, 40]);
    const r3 = await ossB.get('img/panda.png', { process: 'image/crop,w_30,h_20,x_10,y_5/format,png' });
    const m3 = await sharp(r3.content as Buffer).metadata();
    assert.deepEqual([m3.format, m3.width, m3.height], ['png', 30, 20]);
    // Plain bytes, list and head through B.
    assert.equal(md5((await ossB.get('img/panda.png')).content as Buffer), md5(PNG));
    const listed = await ossB.listV2({ prefix: '' });
    assert.deepEqual((listed.objects ?? []).map((o: { name: string }) => o.name).sort(), ['img/example.jpg', 'img/panda.png', 'tmp/gone.bin']);
    const head = await ossB.head('img/example.jpg');
    assert.equal(Number(head.res.headers['content-length']), JPEG.length);
    // Deleted through B → gone for A.
    await ossB.delete('tmp/gone.bin');
    objects.delete('shared/tmp/gone.bin');
    await assert.rejects(ossA.head('tmp/gone.bin'), { status: 404 });
    // And the reverse: B writes, A reads processed.
    await ossB.put('img/from-b.jpg', JPEG);
    objects.set('shared/img/from-b.jpg', md5(JPEG));
    const r4 = await ossA.get('img/from-b.jpg', { process: 'image/resize,h_50/format,png' });
    const m4 = await sharp(r4.content as Buffer).metadata();
    assert.deepEqual([m4.format, m4.width, m4.height], ['png', 75, 50]);
  });

  test('hosted images: concurrent uploads and variant creation through A and B lose nothing', async () => {
    const api = (b: string, path: string) => `${b}/client/v4/accounts/halftone/images${path}`;
    const auth = { authorization: `Bearer ${KEY}` };
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#c33' } }).jpeg().toBuffer();
    const uploadTo = async (b: string, id: string) => {
      const form = new FormData();
      form.append('file', new Blob([photo]), `${id}.jpg`);
      form.append('id', id);
      const res = await fetch(api(b, '/v1'), { method: 'POST', headers: auth, body: form });
      assert.equal(res.status, 200, await res.clone().text());
    };
    const variantOn = async (b: string, id: string, width: number) => {
      const res = await fetch(api(b, '/v1/variants'), {
        method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ id, options: { fit: 'scale-down', width, height: 1000 }, neverRequireSignedURLs: true }),
      });
      assert.equal(res.status, 200, await res.clone().text());
    };
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => uploadTo(base(i), `pic/${i}`)),
      ...Array.from({ length: 10 }, (_, i) => variantOn(base(i), `w${i}`, 40 + i)),
    ]);
    for (const b of [A(), B()]) {
      const variants = (await (await fetch(api(b, '/v1/variants'), { headers: auth })).json()) as { result: { variants: Record<string, unknown> } };
      assert.deepEqual(Object.keys(variants.result.variants).sort(), ['public', ...Array.from({ length: 10 }, (_, i) => `w${i}`)].sort());
      const listed = (await (await fetch(api(b, '/v2?per_page=100'), { headers: auth })).json()) as { result: { images: { id: string }[] } };
      assert.deepEqual(listed.result.images.map((x) => x.id).sort(), Array.from({ length: 20 }, (_, i) => `pic/${i}`).sort());
    }
    // Delivered through the other node with a variant it did not create.
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base(i + 1)}/cdn-cgi/imagedelivery/halftone/pic/${i}/w${i}`);
      assert.equal(res.status, 200);
      const m = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      assert.equal(m.width, 40 + i);
    }
  });

  test('50 tasks and 5 video jobs across both nodes complete exactly once although a worker is SIGKILLed mid-job', async () => {
    await ossA.put('video/clip.mp4', clip);
    objects.set('shared/video/clip.mp4', md5(clip));
    const videoIds: { taskId: string; key: string }[] = [];
    // Worker 1 is running a video job: its ffmpeg child is alive and some task says Running with
    // progress. Watched from now on, while the compression tasks are submitted.
    const victim = workers[0]!;
    let ffmpegPids: number[] = [];
    const caught = (async () => {
      const end = Date.now() + 60_000;
      for (;;) {
        ffmpegPids = childrenOf(victim.child.pid!).filter((c) => c.comm.startsWith('ffmpeg')).map((c) => c.pid);
        if (ffmpegPids.length > 0) {
          const states = await Promise.all(videoIds.map((v) => videoStatus(A(), v.taskId)));
          if (states.some((s) => s['Status'] === 'Running' && (s['Progress'] as number) > 0)) break;
        }
        if (Date.now() > end) throw new Error(`worker 1 never ran a video job:\n${victim.output()}`);
        await sleep(10);
      }
      victim.child.kill('SIGKILL');
    })();
    // Video jobs first, so both workers start on one.
    for (let i = 0; i < 5; i++) {
      const key = `anim/out-${i}.gif`;
      const body = `x-oss-async-process=video/animation,f_gif,w_80,h_45,inter_100|sys/saveas,o_${b64(key)},b_${b64('shared')}`;
      const ack = await oss(base(i), 'POST', 'shared', 'video/clip.mp4', { query: [['x-oss-async-process', undefined]], body });
      assert.equal(ack.status, 200, ack.text);
      videoIds.push({ taskId: ack.json<{ TaskId: string }>().TaskId, key });
    }
    const taskIds: string[] = [];
    for (let i = 0; i < 50; i++) {
      const img = await sharp({ create: { width: 96 + i, height: 64, channels: 3, background: { r: (i * 5) % 256, g: 90, b: 200 } } }).png().toBuffer();
      const created = await submit(base(i), { sync: '0', quality: '60', format: 'jpg', image_file: { data: img, name: `t${i}.png` } });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      taskIds.push(created.body.data!.task_id);
    }
    await caught;
    await victim.exited;
    // Its ffmpeg would otherwise run on as an orphan.
    for (const pid of ffmpegPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }

    // Every video job succeeds; read through either node.
    for (const [i, v] of videoIds.entries()) {
      const stop = Date.now() + SETTLE_MS;
      let st = await videoStatus(base(i + 1), v.taskId);
      while (st['Status'] === 'Running' && Date.now() < stop) {
        await sleep(250);
        st = await videoStatus(base(i + 1), v.taskId);
      }
      assert.equal(st['Status'], 'Succeeded', JSON.stringify(st));
      const result = st['Result'] as { Frames: number; Width: number; Height: number; Size: number };
      const gif = await oss(base(i), 'GET', 'shared', v.key);
      assert.equal(gif.status, 200);
      assert.equal(gif.body.length, result.Size);
      const d = await decode(gif.body);
      assert.deepEqual([d.format, d.width, d.height, d.pages], ['gif', 80, 45, 60]);
      assert.equal(result.Frames, 60);
      // Whole: every frame decodes.
      await sharp(gif.body, { animated: true }).raw().toBuffer();
      videos.push({ ...v, md5: md5(gif.body) });
      objects.set(`shared/${v.key}`, md5(gif.body));
    }
    // Exactly once: one completion line per job across every worker's log (the killed one's too).
    const logs = workers.map((w) => w.output()).join('\n');
    for (const v of videoIds) {
      const lines = logs.split('\n').filter((l) => l.includes(`video task ${v.taskId}: `));
      assert.equal(lines.length, 1, `${v.taskId} completed ${lines.length} times:\n${logs}`);
    }
    assert.ok(videoIds.some((v) => !victim.output().includes(`video task ${v.taskId}: `) && workers[1]!.output().includes(`video task ${v.taskId}: `)), 'the interrupted job completed on worker 2');

    // Every task reaches state 1 with one result; results through either node.
    for (const [i, id] of taskIds.entries()) {
      const stop = Date.now() + SETTLE_MS;
      let a = await query(base(i + 1), id);
      while (a.status === 200 && a.body.data?.state !== 1 && (a.body.data?.state ?? 0) >= 0 && Date.now() < stop) {
        await sleep(250);
        a = await query(base(i + 1), id);
      }
      assert.equal(a.body.data?.state, 1, `${id}: ${JSON.stringify(a.body)}`);
      const url = a.body.data!.image!;
      const res = await fetch(url.replace(/^http:\/\/127\.0\.0\.1:\d+/, base(i)));
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      const m = await sharp(bytes).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['jpeg', 96 + i, 64]);
      tasks.push({ id, url, md5: md5(bytes) });
    }
    const resultIds = new Set(tasks.map((t) => new URL(t.url).pathname.split('/')[2]));
    assert.equal(resultIds.size, 50, 'one distinct result per task');
    const c = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const keys = new Set(((await c.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'results/' }))).Contents ?? []).map((o) => (o.Key ?? '').split('/')[1]));
    c.destroy();
    for (const id of resultIds) assert.ok(keys.has(id!), `result ${id} not in the bucket`);
    // At most one more: a compression run the kill interrupted after publishing, before acknowledging.
    assert.ok(keys.size <= 51, `${keys.size} result dirs`);
    assert.equal(workers[1]!.child.exitCode, null, 'worker 2 still runs');
  });

  test('SIGKILL every node and worker, restart all: no task, job or object is lost, bytes identical', async () => {
    assert.equal(tasks.length, 50);
    assert.equal(videos.length, 5);
    await killAll();
    await startNodes();
    await startWorkers();
    // Objects: listed through either node, byte-identical.
    for (const o of [ossA, ossB]) {
      const listed = await o.listV2({ prefix: '', 'max-keys': 1000 });
      const names = (listed.objects ?? []).map((x: { name: string }) => `shared/${x.name}`).sort();
      assert.deepEqual(names, [...objects.keys()].sort());
    }
    for (const [i, [path, sum]] of [...objects.entries()].entries()) {
      const key = path.slice('shared/'.length);
      assert.equal(md5((await (i % 2 === 0 ? ossA : ossB).get(key)).content as Buffer), sum, key);
    }
    // Tasks: still state 1 with the same result bytes.
    for (const [i, t] of tasks.entries()) {
      const a = await query(base(i), t.id);
      assert.equal(a.body.data?.state, 1, `${t.id}: ${JSON.stringify(a.body)}`);
      // Same result (the URL's origin is the answering node, whose port changed).
      assert.equal(a.body.data?.image?.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''), t.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''));
      const res = await fetch(t.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, base(i + 1)));
      assert.equal(res.status, 200);
      assert.equal(md5(Buffer.from(await res.arrayBuffer())), t.md5);
    }
    // Hosted images: the account state (MetaStore) and the images survive.
    const auth = { authorization: `Bearer ${KEY}` };
    const variants = (await (await fetch(`${B()}/client/v4/accounts/halftone/images/v1/variants`, { headers: auth })).json()) as { result: { variants: Record<string, unknown> } };
    assert.equal(Object.keys(variants.result.variants).length, 11);
    const pic = await fetch(`${A()}/cdn-cgi/imagedelivery/halftone/pic/7/w7`);
    assert.equal((await sharp(Buffer.from(await pic.arrayBuffer())).metadata()).width, 47);
    // Video jobs: still Succeeded, outputs unchanged.
    for (const [i, v] of videos.entries()) {
      const st = await videoStatus(base(i), v.taskId);
      assert.equal(st['Status'], 'Succeeded', JSON.stringify(st));
      assert.equal(md5((await oss(base(i + 1), 'GET', 'shared', v.key)).body), v.md5);
    }
  });
});
