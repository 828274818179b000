/**
 * Hostile files through every landed dialect (issue 10): each corpus/broken file (when the corpus
 * is present) and a few generated here is stored, then sent through every entry of DIALECTS. Each
 * answer must be a 4xx in the dialect's own error shape, a documented pass-through (raw GET,
 * image/info JSON), or — only for files a reference decoder opens — a real processed image; never
 * an SVG served as an image. Every answer comes within a hang guard, the server answers the next
 * request, and its peak RSS stays bounded. Bombs are refused from their headers: a fresh server
 * refuses them all with IMAGE_TOO_LARGE while its peak RSS grows by less than 150 MB.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DIALECTS, corpusHostileFiles, generatedHostileFiles, healthy, oss, peakRss, record, startSuite, stopSuite, within,
  type HostileFile, type SuiteContext,
} from './harness.js';

const HANG_GUARD_MS = 120_000;
/** Peak RSS allowed over the whole run (the 24 MP photos of the corpus cost ~300 MB to decode). */
const PEAK_RSS_BOUND = 1024 * 1024 * 1024;
const BOMB_RSS_GROWTH = 150 * 1024 * 1024;

let files: HostileFile[] = [];
before(async () => {
  files = [...(await generatedHostileFiles()), ...corpusHostileFiles()];
  if (files.length < 10) console.log('hostile-files: ../shared/corpus/broken not found; running the generated files only');
});

async function store(ctx: SuiteContext, f: HostileFile, key: string): Promise<void> {
  const put = await oss(ctx.server, { method: 'PUT', bucket: ctx.bucket, key, body: f.data });
  assert.equal(put.status, 200, `PUT ${key}: ${put.body.toString()}`);
}

test('every hostile file through every dialect: a dialect-shaped 4xx, a pass-through, or a real image', async () => {
  const ctx = await startSuite();
  const counts: Record<string, Record<string, number>> = {};
  const perFile: Record<string, Record<string, string>> = {};
  try {
    for (const [i, f] of files.entries()) {
      const key = `f${i}/${f.name.split('/').pop()}`;
      await store(ctx, f, key);
      for (const d of DIALECTS) {
        const out = await within(d.send(ctx, f, key), HANG_GUARD_MS, `${d.name} ${f.name}`);
        const label = out.kind === 'refused' ? `${out.status} ${out.code}` : out.kind === 'wrong' ? `WRONG ${out.status}: ${out.why}` : `${out.status} ${out.kind}`;
        (perFile[f.name] ??= {})[d.name] = label;
        const c = (counts[d.name] ??= { refused: 0, processed: 0, 'pass-through': 0, wrong: 0 });
        c[out.kind] = (c[out.kind] ?? 0) + 1;
        assert.notEqual(out.kind, 'wrong', `${d.name} ${f.name}: ${label}`);
        // A frame-count bomb read as its first frame only (documented for that dialect) is a small image.
        const firstFrame = d.firstFrameOnly === true && f.frameBomb === true;
        if (out.kind === 'processed' && !firstFrame) {
          assert.ok(f.mayDecode, `${d.name} processed ${f.name}, which no reference decoder opens`);
          assert.ok(!f.svg, `${d.name} served ${f.name} (SVG) as a processed image`);
        }
        if (f.bomb && !firstFrame && d.name !== 'oss GET raw object' && d.name !== 'oss GET image/info') {
          assert.equal(out.kind, 'refused', `${d.name} did not refuse the bomb ${f.name}: ${label}`);
        }
        assert.ok(await healthy(ctx), `server down after ${d.name} ${f.name}`);
      }
    }
    const peak = peakRss(ctx.server.child.pid!);
    await record('hostile-files', { files: files.length, dialects: DIALECTS.map((d) => d.name), counts, peakRssMB: Math.round(peak / 2 ** 20), perFile });
    assert.ok(peak < PEAK_RSS_BOUND, `peak RSS ${Math.round(peak / 2 ** 20)} MB`);
  } finally {
    await stopSuite(ctx);
  }
});

test('bombs are refused from their headers: IMAGE_TOO_LARGE and little memory', async () => {
  const bombs = files.filter((f) => f.bomb);
  assert.ok(bombs.length >= 1);
  const ctx = await startSuite();
  try {
    for (const [i, f] of bombs.entries()) await store(ctx, f, `b${i}`);
    // Warm the engine (sharp load) on a tiny valid image so its fixed cost is not counted.
    const sharp = (await import('sharp')).default;
    await store(ctx, { name: 'ok.png', data: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer(), mayDecode: true, bomb: false, svg: false }, 'ok.png');
    const warm = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'ok.png', query: [['x-oss-process', 'image/resize,w_4']] });
    assert.equal(warm.status, 200);
    const before = peakRss(ctx.server.child.pid!);
    const codes: Record<string, string> = {};
    for (const [i, f] of bombs.entries()) {
      const res = await within(oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: `b${i}`, query: [['x-oss-process', 'image/resize,w_64']] }), HANG_GUARD_MS, f.name);
      const code = /<Code>([^<]+)<\/Code>/.exec(res.body.toString())?.[1] ?? '';
      codes[f.name] = `${res.status} ${code}`;
      assert.equal(res.status, 400, `${f.name}: ${res.body.toString()}`);
      assert.equal(code, 'ImageTooLarge', f.name);
    }
    // Byte limit: a 21 MB object (a valid PNG followed by padding) is refused before decoding.
    const big = Buffer.concat([await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer(), Buffer.alloc(21 * 1024 * 1024)]);
    await store(ctx, { name: 'big.png', data: big, mayDecode: false, bomb: true, svg: false }, 'big.png');
    const bigRes = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: 'big.png', query: [['x-oss-process', 'image/resize,w_4']] });
    codes['gen/21MB.png (byte limit)'] = `${bigRes.status} ${/<Code>([^<]+)<\/Code>/.exec(bigRes.body.toString())?.[1] ?? ''}`;
    assert.equal(codes['gen/21MB.png (byte limit)'], '400 ImageTooLarge');
    const growth = peakRss(ctx.server.child.pid!) - before;
    await record('bombs', { bombs: bombs.length, codes, peakRssGrowthMB: Math.round(growth / 2 ** 20) });
    assert.ok(growth < BOMB_RSS_GROWTH, `peak RSS grew by ${Math.round(growth / 2 ** 20)} MB while refusing bombs`);
  } finally {
    await stopSuite(ctx);
  }
});

after(() => undefined);
