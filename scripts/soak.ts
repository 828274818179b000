/**
 * Soak run (issue 10): a spawned server under a saturating mix of valid and hostile requests for a
 * bounded time. Asserts: no crash, no answer other than the expected one per request kind (valid →
 * 200, hostile → a 4xx refusal; no 5xx), RSS flat after warm-up (mean of the last third of the run
 * within 25 % + 64 MB of the middle third), every stored object's hash unchanged at the end, and
 * `halftone doctor` consistent after a graceful stop. Loopback only.
 *
 *   npm run soak                      # 10 minutes, 8 clients
 *   npm run soak -- --seconds 60 --concurrency 4
 *
 * Prints a JSON summary; writes it to $HALFTONE_SECURITY_REPORT/soak.json when set. Exit 1 on a
 * failed assertion. test/security/soak.test.ts runs it for 60 s in CI.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import {
  corpusHostileFiles, currentRss, generatedHostileFiles, healthy, oss, record, startSuite, stopSuite, type HostileFile, type SuiteContext,
} from '../test/security/harness.js';

const root = new URL('..', import.meta.url).pathname;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export interface SoakOptions {
  readonly seconds: number;
  readonly concurrency: number;
}

export interface SoakResult {
  readonly seconds: number;
  readonly concurrency: number;
  readonly requests: number;
  readonly byKind: Record<string, Record<string, number>>;
  readonly unexpected: string[];
  readonly rssMB: { readonly samples: number[]; readonly warmupEnd: number; readonly middleMean: number; readonly lastMean: number; readonly peak: number };
  readonly storedObjects: number;
  readonly hashMismatches: string[];
  readonly doctorConsistent: boolean;
  readonly ok: boolean;
  readonly failures: string[];
}

interface Kind {
  readonly name: string;
  readonly weight: number;
  /** Sends one request; returns its status. */
  run(ctx: SuiteContext, n: number): Promise<number>;
  /** Whether a status is the expected answer for this kind. */
  expected(status: number): boolean;
}

async function get(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
  await res.arrayBuffer();
  return res.status;
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const ctx = await startSuite({ HALFTONE_ANY_PUBLIC_ORIGIN: 'false' });
  const failures: string[] = [];
  const stored = new Map<string, string>();
  const valid: { key: string; data: Buffer }[] = [];
  try {
    for (const name of ['kodim23-256.png', 'example-400x267.jpg', 'panda-100x50.png', 'codecs/f-exif-424x333.jpg', 'codecs/alpha-dice-300x225.heic']) {
      const data = readFileSync(join(root, 'test/fixtures', name));
      valid.push({ key: `valid/${name.replace('/', '_')}`, data });
    }
    // Hostile files: the generated ones and the small corpus ones (all of them if present).
    const hostile: HostileFile[] = [...(await generatedHostileFiles()), ...corpusHostileFiles().filter((f) => f.data.length < 3 * 1024 * 1024 && !f.mayDecode)];
    const hostileKeys = hostile.map((f, i) => ({ key: `hostile/${i}-${f.name.split('/').pop()}`, data: f.data }));
    for (const f of [...valid, ...hostileKeys]) {
      const r = await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, key: f.key, body: f.data });
      if (r.status !== 200) throw new Error(`seed ${f.key}: ${r.status}`);
      stored.set(f.key, md5(f.data));
      ctx.origin.files.set(f.key, f.data);
    }
    const pick = <T>(a: readonly T[], n: number): T => a[n % a.length]!;
    const enc = (k: string) => k.split('/').map(encodeURIComponent).join('/');
    const kinds: Kind[] = [
      {
        name: 'oss process (valid)', weight: 5, expected: (s) => s === 200,
        run: async (c, n) => (await oss(c.server, { method: 'GET', bucket: c.bucket, key: pick(valid, n).key, query: [['x-oss-process', `image/resize,w_${40 + (n % 200)}/format,${pick(['jpg', 'webp', 'png'], n)}`]] })).status,
      },
      {
        name: 'cloudflare stored (valid)', weight: 3, expected: (s) => s === 200,
        run: (c, n) => get(`${c.server.url}/cdn-cgi/image/width=${30 + (n % 150)},fit=cover,height=40,format=${pick(['webp', 'avif', 'png'], n)}/${c.bucket}/${enc(pick(valid, n).key)}`),
      },
      {
        name: 'cloudflare remote (valid)', weight: 2, expected: (s) => s === 200,
        run: (c, n) => get(`${c.server.url}/cdn-cgi/image/width=${20 + (n % 90)}/${c.origin.url}/${enc(pick(valid, n).key)}`),
      },
      {
        name: 'raw GET (valid)', weight: 2, expected: (s) => s === 200,
        run: async (c, n) => (await oss(c.server, { method: 'GET', bucket: c.bucket, key: pick(valid, n).key })).status,
      },
      {
        name: 'PUT new object (valid)', weight: 1, expected: (s) => s === 200,
        run: async (c, n) => {
          const key = `scratch/${n}.bin`;
          const data = randomBytes(1000 + (n % 50_000));
          const r = await oss(c.server, { method: 'PUT', bucket: c.bucket, key, body: data });
          if (r.status === 200) stored.set(key, md5(data));
          return r.status;
        },
      },
      {
        name: 'oss process (hostile file)', weight: 3, expected: (s) => s >= 400 && s < 500,
        run: async (c, n) => (await oss(c.server, { method: 'GET', bucket: c.bucket, key: pick(hostileKeys, n).key, query: [['x-oss-process', 'image/resize,w_64']] })).status,
      },
      {
        name: 'cloudflare stored (hostile file)', weight: 2, expected: (s) => s >= 400 && s < 500,
        run: (c, n) => get(`${c.server.url}/cdn-cgi/image/width=64/${c.bucket}/${enc(pick(hostileKeys, n).key)}`),
      },
      {
        name: 'cloudflare remote (hostile file)', weight: 1, expected: (s) => s >= 400 && s < 500,
        run: (c, n) => get(`${c.server.url}/cdn-cgi/image/width=64/${c.origin.url}/${enc(pick(hostileKeys, n).key)}`),
      },
      {
        // Upload checks headers only: a file with a valid header is stored (200) and refused at
        // delivery (see the hostile-files suite); everything else is refused at upload.
        name: 'hosted upload (hostile file)', weight: 1, expected: (s) => s === 200 || (s >= 400 && s < 500),
        run: (c, n) => {
          const f = pick(hostileKeys, n);
          const form = new FormData();
          form.set('file', new Blob([f.data]), 'x.jpg');
          return get(`${c.server.url}/client/v4/accounts/halftone/images/v1`, { method: 'POST', headers: { authorization: `Bearer ${c.apiToken}` }, body: form });
        },
      },
      {
        // Async task (sync=0): accepted at once (200); a hostile file then fails in the queue with
        // a negative state, an empty one is refused at submission (400).
        name: 'task API upload (valid + hostile)', weight: 1, expected: (s) => s === 200 || s === 400,
        run: (c, n) => {
          const f = n % 2 === 0 ? pick(valid, n >> 1) : pick(hostileKeys, n >> 1);
          const form = new FormData();
          form.set('image_file', new Blob([f.data]), f.key.split('/').pop() ?? 'x');
          form.set('quality', String(30 + (n % 60)));
          return get(`${c.server.url}/api/tasks/visual/imgcompress`, { method: 'POST', headers: { 'x-api-key': c.apiToken }, body: form });
        },
      },
      {
        name: 'abstract upload (valid)', weight: 1, expected: (s) => s === 200,
        run: (c, n) => {
          const form = new FormData();
          form.set('data', JSON.stringify({ lossy: n % 2 === 0, resize: { strategy: 'auto', width: 40 + (n % 100), height: 40 } }));
          form.set('image', new Blob([pick(valid, n).data]), pick(valid, n).key.split('/').pop() ?? 'x');
          return get(`${c.server.url}/v1/upload/`, { method: 'POST', headers: { authorization: `Bearer ${c.apiToken}` }, body: form });
        },
      },
      {
        name: 'abstract upload (hostile file)', weight: 1, expected: (s) => s === 400,
        run: (c, n) => {
          const form = new FormData();
          form.set('image', new Blob([pick(hostileKeys, n).data]), 'x.jpg');
          return get(`${c.server.url}/v1/upload/`, { method: 'POST', headers: { authorization: `Bearer ${c.apiToken}` }, body: form });
        },
      },
      {
        name: 'bad parameters', weight: 1, expected: (s) => s >= 400 && s < 500,
        run: async (c, n) => (await oss(c.server, { method: 'GET', bucket: c.bucket, key: pick(valid, n).key, query: [['x-oss-process', pick(['image/resize,w_0', 'image/nosuch', 'image/crop,x_99999,y_99999,w_10,h_10', 'image/rotate,361'], n)]] })).status,
      },
      {
        name: 'tampered signature', weight: 1, expected: (s) => s === 403,
        run: async (c, n) => (await oss(c.server, { method: 'GET', bucket: c.bucket, key: pick(valid, n).key, secret: 'wrong' })).status,
      },
    ];
    const totalWeight = kinds.reduce((s, k) => s + k.weight, 0);
    const byKind: Record<string, Record<string, number>> = {};
    const unexpected: string[] = [];
    const samples: number[] = [];
    let requests = 0;
    let n = 0;
    const pid = ctx.server.child.pid!;
    const start = Date.now();
    const deadline = start + opts.seconds * 1000;
    const sampler = setInterval(() => {
      try {
        samples.push(currentRss(pid) / 2 ** 20);
      } catch {
        // the process is gone: reported as a crash below
      }
    }, 1000);
    const worker = async () => {
      while (Date.now() < deadline && ctx.server.child.exitCode === null) {
        const i = n++;
        let w = (i * 7919) % totalWeight;
        const kind = kinds.find((k) => (w -= k.weight) < 0)!;
        let status: number | string;
        try {
          status = await kind.run(ctx, i);
        } catch (err) {
          status = `error ${(err as Error).message}`;
        }
        requests++;
        const counts = (byKind[kind.name] ??= {});
        counts[String(status)] = (counts[String(status)] ?? 0) + 1;
        if (typeof status !== 'number' || !kind.expected(status)) {
          if (unexpected.length < 50) unexpected.push(`${kind.name} #${i}: ${status}`);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    clearInterval(sampler);
    if (ctx.server.child.exitCode !== null || ctx.server.child.signalCode !== null) failures.push(`server exited (${ctx.server.child.exitCode ?? ctx.server.child.signalCode})`);
    if (!(await healthy(ctx))) failures.push('server not answering at the end');
    if (unexpected.length > 0) failures.push(`${unexpected.length} unexpected answers`);

    // RSS: warm-up = first third; compare the middle third with the last third.
    const third = Math.floor(samples.length / 3);
    const mean = (a: number[]) => (a.length === 0 ? 0 : a.reduce((s, x) => s + x, 0) / a.length);
    const middleMean = mean(samples.slice(third, 2 * third));
    const lastMean = mean(samples.slice(2 * third));
    if (samples.length >= 6 && lastMean > middleMean * 1.25 + 64) failures.push(`RSS grew after warm-up: ${middleMean.toFixed(0)} → ${lastMean.toFixed(0)} MB`);

    const hashMismatches: string[] = [];
    for (const [key, h] of stored) {
      const r = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key });
      if (r.status !== 200 || md5(r.body) !== h) hashMismatches.push(`${key}: ${r.status}`);
    }
    if (hashMismatches.length > 0) failures.push(`${hashMismatches.length} stored objects changed`);

    await ctx.server.stop({ keepDataDir: true });
    const doc = spawnSync(process.execPath, [join(root, 'bin/halftone.js'), 'doctor', '--data-dir', ctx.server.dataDir], { encoding: 'utf8' });
    const doctorConsistent = doc.status === 0;
    if (!doctorConsistent) failures.push(`doctor: ${doc.stdout}${doc.stderr}`);
    const result: SoakResult = {
      seconds: opts.seconds, concurrency: opts.concurrency, requests, byKind, unexpected,
      rssMB: { samples: samples.map((s) => Math.round(s)), warmupEnd: third, middleMean: Math.round(middleMean), lastMean: Math.round(lastMean), peak: Math.round(Math.max(0, ...samples)) },
      storedObjects: stored.size, hashMismatches, doctorConsistent, ok: failures.length === 0, failures,
    };
    await record(`soak-${opts.seconds}s`, result);
    return result;
  } finally {
    await stopSuite(ctx);
    spawnSync('rm', ['-rf', ctx.server.dataDir]);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '600' }, concurrency: { type: 'string', default: '8' } } });
  const res = await runSoak({ seconds: Number(values.seconds), concurrency: Number(values.concurrency) });
  console.log(JSON.stringify({ ...res, rssMB: { ...res.rssMB, samples: `${res.rssMB.samples.length} samples` } }, null, 2));
  process.exit(res.ok ? 0 : 1);
}
