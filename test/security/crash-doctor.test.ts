/**
 * Crash safety (issue 10): SIGKILL at random points while PUT, multipart (parts + complete),
 * append, sys/saveas and CopyObject are in flight, over HALFTONE_CRASH_ITERATIONS iterations
 * (default 20; `npm run crash -- 200` for more) with a fixed seed (HALFTONE_CRASH_SEED). After each
 * restart: every object whose write was acknowledged exists with its content hash, every write
 * that was cut is absent or complete (never partial), earlier objects keep their hashes, and
 * `halftone doctor` finds the stopped store consistent. Half of the iterations first run
 * `doctor --repair` on the killed store (the other half let the server's start-up clean-up do it).
 * Finally doctor is shown to fail (exit 1) on a damaged store and to repair orphans.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../helpers/server.js';
import { oss, record } from './harness.js';

const ITERATIONS = Number(process.env['HALFTONE_CRASH_ITERATIONS'] ?? 20);
const SEED = Number(process.env['HALFTONE_CRASH_SEED'] ?? 20261123);
const root = new URL('../..', import.meta.url).pathname;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const B = 'crash';

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Doctor {
  status: number;
  report: { consistent: boolean; problems: { kind: string; repaired: boolean }[] };
}
function doctor(dataDir: string, repair = false): Doctor {
  const res = spawnSync(process.execPath, [join(root, 'bin/halftone.js'), 'doctor', '--data-dir', dataDir, '--json', ...(repair ? ['--repair'] : [])], { encoding: 'utf8' });
  assert.ok(res.stdout.trim().startsWith('{'), `doctor output: ${res.stdout} ${res.stderr}`);
  return { status: res.status ?? -1, report: JSON.parse(res.stdout) as Doctor['report'] };
}

/** What a key may hold after a crash: one of these content hashes (or 'png' = any valid PNG). */
interface Expect {
  acceptable: Set<string>;
  mustExist: boolean;
}

test(`SIGKILL during writes, ${ITERATIONS} iterations: acknowledged objects survive, nothing partial, doctor consistent`, async () => {
  const rand = mulberry32(SEED);
  const expect = new Map<string, Expect>();
  const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#c63' } }).png().toBuffer();
  let server: RunningServer = await startServer();
  const dataDir = server.dataDir;
  const stats = { iterations: 0, killedInFlight: 0, acknowledged: 0, cut: 0, orphansAfterKill: 0, tempFilesAfterKill: 0, repairedRuns: 0, verifiedObjects: 0 };
  try {
    assert.equal((await oss(server, { method: 'PUT', bucket: B })).status, 200);
    assert.equal((await oss(server, { method: 'PUT', bucket: B, key: 'src.png', body: png })).status, 200);
    expect.set('src.png', { acceptable: new Set([md5(png)]), mustExist: true });
    const victim = randomBytes(40000);
    assert.equal((await oss(server, { method: 'PUT', bucket: B, key: 'victim.bin', body: victim })).status, 200);
    expect.set('victim.bin', { acceptable: new Set([md5(victim)]), mustExist: true });

    for (let it = 0; it < ITERATIONS; it++) {
      const size = (max: number) => 1 + Math.floor(rand() * max);
      const ops: Promise<void>[] = [];
      const started = (key: string, hashes: string[]) => {
        const e = expect.get(key) ?? { acceptable: new Set<string>(), mustExist: false };
        for (const h of hashes) e.acceptable.add(h);
        expect.set(key, e);
        return e;
      };
      const ack = (key: string, hash: string) => {
        expect.set(key, { acceptable: new Set([hash]), mustExist: true });
        stats.acknowledged++;
      };
      const guard = (p: Promise<void>) => ops.push(p.catch(() => undefined));
      // PUT
      for (let j = 0; j < 2; j++) {
        const key = `it${it}/put${j}.bin`;
        const data = randomBytes(size(1_000_000));
        started(key, [md5(data)]);
        guard(oss(server, { method: 'PUT', bucket: B, key, body: data }).then((r) => { if (r.status === 200) ack(key, md5(data)); }));
      }
      // Overwrite of an existing object: old or new, never a mix.
      const fresh = randomBytes(size(600_000));
      started('victim.bin', [md5(fresh)]);
      guard(oss(server, { method: 'PUT', bucket: B, key: 'victim.bin', body: fresh }).then((r) => { if (r.status === 200) ack('victim.bin', md5(fresh)); }));
      // Multipart: initiate, two parts, complete.
      guard((async () => {
        const key = `it${it}/multipart.bin`;
        const p1 = randomBytes(size(400_000) + 100_000);
        const p2 = randomBytes(size(200_000));
        started(key, [md5(Buffer.concat([p1, p2]))]);
        const init = await oss(server, { method: 'POST', bucket: B, key, query: [['uploads', undefined]] });
        const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.body.toString())?.[1];
        if (uploadId === undefined) return;
        const etags: string[] = [];
        for (const [n, p] of [[1, p1], [2, p2]] as const) {
          const r = await oss(server, { method: 'PUT', bucket: B, key, query: [['partNumber', String(n)], ['uploadId', uploadId]], body: p });
          etags.push(r.headers.get('etag') ?? '');
        }
        const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
        const done = await oss(server, { method: 'POST', bucket: B, key, query: [['uploadId', uploadId]], body: xml, headers: { 'content-type': 'application/xml' } });
        if (done.status === 200) ack(key, md5(Buffer.concat([p1, p2])));
      })());
      // Append twice.
      guard((async () => {
        const key = `it${it}/append.bin`;
        const a = randomBytes(size(300_000));
        const b = randomBytes(size(300_000));
        started(key, [md5(a), md5(Buffer.concat([a, b]))]);
        const r1 = await oss(server, { method: 'POST', bucket: B, key, query: [['append', undefined], ['position', '0']], body: a });
        if (r1.status !== 200) return;
        ack(key, md5(a));
        expect.get(key)!.acceptable.add(md5(Buffer.concat([a, b])));
        const r2 = await oss(server, { method: 'POST', bucket: B, key, query: [['append', undefined], ['position', String(a.length)]], body: b });
        if (r2.status === 200) ack(key, md5(Buffer.concat([a, b])));
      })());
      // saveas
      guard((async () => {
        const key = `it${it}/saved.png`;
        started(key, ['png']);
        const body = `x-oss-process=${encodeURIComponent(`image/resize,w_${100 + it}/format,png|sys/saveas,o_${Buffer.from(key).toString('base64url')}`)}`;
        const r = await oss(server, { method: 'POST', bucket: B, key: 'src.png', query: [['x-oss-process', undefined]], body, headers: { 'content-type': 'text/plain' } });
        if (r.status === 200) {
          expect.set(key, { acceptable: new Set(['png']), mustExist: true });
          stats.acknowledged++;
        }
      })());
      // CopyObject of an acknowledged object.
      const sources = [...expect.entries()].filter(([k, e]) => e.mustExist && e.acceptable.size === 1 && !e.acceptable.has('png') && k !== 'victim.bin');
      if (sources.length > 0) {
        const [srcKey, srcE] = sources[Math.floor(rand() * sources.length)]!;
        const key = `it${it}/copy.bin`;
        const h = [...srcE.acceptable][0]!;
        started(key, [h]);
        guard(oss(server, { method: 'PUT', bucket: B, key, headers: { 'x-oss-copy-source': `/${B}/${encodeURIComponent(srcKey)}` } }).then((r) => { if (r.status === 200) ack(key, h); }));
      }

      await new Promise((r) => setTimeout(r, Math.floor(rand() * 1200)));
      const tmp = readdirSync(join(dataDir, 'tmp')).length;
      if (tmp > 0) stats.killedInFlight++;
      await server.kill();
      await Promise.all(ops);

      const afterKill = doctor(dataDir, it % 2 === 0);
      stats.orphansAfterKill += afterKill.report.problems.filter((p) => p.kind === 'orphan-blob').length;
      stats.tempFilesAfterKill += afterKill.report.problems.filter((p) => p.kind === 'temp-file').length;
      if (it % 2 === 0) {
        stats.repairedRuns++;
        assert.equal(afterKill.status, 0, `doctor --repair after kill ${it}: ${JSON.stringify(afterKill.report.problems)}`);
      }
      assert.ok(afterKill.report.problems.every((p) => p.kind === 'orphan-blob' || p.kind === 'temp-file' || p.kind === 'orphan-part'),
        `after kill ${it}, only orphans may be found: ${JSON.stringify(afterKill.report.problems)}`);

      server = await startServer({ dataDir });
      for (const [key, e] of [...expect.entries()]) {
        const r = await oss(server, { method: 'GET', bucket: B, key });
        if (r.status === 404) {
          assert.ok(!e.mustExist, `iteration ${it}: acknowledged object ${key} is gone`);
          expect.delete(key);
          stats.cut++;
          continue;
        }
        assert.equal(r.status, 200, `${key}: ${r.status}`);
        const h = md5(r.body);
        if (e.acceptable.has('png')) {
          const meta = await sharp(r.body).metadata();
          assert.equal(meta.format, 'png', `${key} is a complete PNG`);
          await sharp(r.body).raw().toBuffer();
        } else {
          assert.ok(e.acceptable.has(h), `iteration ${it}: ${key} holds content that was never written whole (md5 ${h})`);
        }
        expect.set(key, { acceptable: new Set([e.acceptable.has('png') ? 'png' : h]), mustExist: true });
        if (e.acceptable.has('png')) expect.get(key)!.acceptable = new Set(['png']);
        stats.verifiedObjects++;
      }
      await server.stop({ keepDataDir: true });
      const clean = doctor(dataDir);
      assert.equal(clean.status, 0, `doctor after restart ${it}: ${JSON.stringify(clean.report.problems)}`);
      assert.equal(clean.report.problems.length, 0);
      stats.iterations++;
      server = await startServer({ dataDir });
    }
  } finally {
    await server.stop({ keepDataDir: true });
  }

  // Doctor fails on damage and repairs orphans.
  const blobs = join(dataDir, 'blobs');
  const sub = readdirSync(blobs).find((d) => /^[0-9a-f]{2}$/.test(d) && readdirSync(join(blobs, d)).length > 0)!;
  const victimBlob = join(blobs, sub, readdirSync(join(blobs, sub))[0]!);
  const original = readFileSync(victimBlob);
  writeFileSync(victimBlob, original.subarray(1)); // one byte lost: a size mismatch for any object type
  const bad = doctor(dataDir);
  assert.equal(bad.status, 1);
  assert.ok(bad.report.problems.some((p) => p.kind === 'md5-mismatch' || p.kind === 'size-mismatch'));
  writeFileSync(victimBlob, original);
  mkdirSync(join(blobs, 'ab'), { recursive: true });
  writeFileSync(join(blobs, 'ab', `ab${'0'.repeat(30)}`), 'orphan');
  writeFileSync(join(dataDir, 'tmp', 'x.part'), 'partial');
  const orphans = doctor(dataDir);
  assert.equal(orphans.status, 1);
  assert.deepEqual(orphans.report.problems.map((p) => p.kind).sort(), ['orphan-blob', 'temp-file']);
  assert.equal(doctor(dataDir, true).status, 0);
  assert.equal(doctor(dataDir).report.problems.length, 0);
  await record('crash', { seed: SEED, ...stats });
  spawnSync('rm', ['-rf', dataDir]);
});
