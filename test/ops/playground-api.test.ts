/**
 * The playground's server side: off unless enabled; uploads only into the playground bucket,
 * only real images (sniffed; HTML is refused), at most the size limit, at most the object limit
 * (oldest evicted); uploads are readable anonymously through the dialects; explain and the
 * control catalogue (generated from the operation registry) answer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startComposed, type ComposedServer } from './composed.js';
import { OPS } from '../../src/core/ops/index.js';

const JPEG = readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url));
const PNG = readFileSync(new URL('../fixtures/panda-100x50.png', import.meta.url));
let s: ComposedServer;

before(async () => {
  s = await startComposed({ HALFTONE_PLAYGROUND: 'true', HALFTONE_PLAYGROUND_MAX_BYTES: String(JPEG.length), HALFTONE_PLAYGROUND_MAX_OBJECTS: '2' });
});
after(() => s.close());

const upload = (body: Buffer | string, type = 'image/jpeg') => fetch(`${s.url}/playground/api/images`, { method: 'POST', body, headers: { 'content-type': type } });

test('playground is not mounted unless enabled', async () => {
  const off = await startComposed();
  try {
    for (const path of ['/playground/', '/playground/api/ops']) {
      const res = await fetch(`${off.url}${path}`);
      assert.notEqual(res.status, 200, path);
    }
    assert.equal((await fetch(`${off.url}/playground/api/images`, { method: 'POST', body: JPEG })).status >= 400, true);
  } finally {
    await off.close();
  }
});

test('uploads: images only, size-capped, count-capped, readable anonymously', async () => {
  const html = await upload('<html><script>alert(1)</script></html>', 'text/html');
  // Statuses follow the error catalogue (docs/errors.md).
  assert.equal(html.status, 400);
  assert.equal(((await html.json()) as { error: { code: string } }).error.code, 'UNSUPPORTED_FORMAT');
  const big = await upload(Buffer.concat([JPEG, Buffer.alloc(1)]));
  assert.equal(big.status, 400);
  assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'ENTITY_TOO_LARGE');
  assert.equal((await upload(Buffer.alloc(0))).status, 400);

  const keys: string[] = [];
  for (const body of [JPEG, PNG, JPEG]) {
    const res = await upload(body, 'application/octet-stream');
    assert.equal(res.status, 201);
    const img = (await res.json()) as { bucket: string; key: string; contentType: string; size: number };
    assert.equal(img.bucket, 'halftone-playground');
    assert.match(img.key, /^u\/\d+-[0-9a-f]{8}\.(jpg|png)$/);
    assert.equal(img.size, body.length);
    keys.push(img.key);
    await new Promise((r) => setTimeout(r, 5));
  }
  const list = (await (await fetch(`${s.url}/playground/api/images`)).json()) as { images: { key: string; contentType: string }[] };
  assert.deepEqual(list.images.map((i) => i.key), [keys[2], keys[1]], 'newest first; the oldest was evicted');
  assert.equal(list.images[1]!.contentType, 'image/png', 'stored with the sniffed type');
  assert.equal((await fetch(`${s.url}/halftone-playground/${keys[0]}`)).status, 404);
  const oss = await fetch(`${s.url}/halftone-playground/${keys[1]}?x-oss-process=image/resize,w_50`);
  assert.equal(oss.status, 200);
  const cf = await fetch(`${s.url}/cdn-cgi/image/width=20,format=png/halftone-playground/${keys[2]}`);
  assert.equal(cf.status, 200);
  assert.equal(cf.headers.get('content-type'), 'image/png');

  const explain = await fetch(`${s.url}/playground/api/explain?key=${encodeURIComponent(keys[2]!)}&process=${encodeURIComponent('image/resize,w_100/rotate,90')}`);
  assert.equal(explain.status, 200);
  const plan = (await explain.json()) as { source: { width: number }; plan: unknown };
  assert.equal(plan.source.width, 400);
  assert.ok(plan.plan);
  const bad = await fetch(`${s.url}/playground/api/explain?key=${encodeURIComponent(keys[2]!)}&process=resize,m_nope`);
  assert.equal(bad.status, 400);
  const outside = await fetch(`${s.url}/playground/api/explain?key=secret/file.jpg&process=resize,w_1`);
  assert.equal(outside.status, 404, 'explain only reads playground uploads');
});

test('the control catalogue comes from the operation registry', async () => {
  const cat = (await (await fetch(`${s.url}/playground/api/ops`)).json()) as Record<string, { name: string; summary: string; controls: { key: string; from?: string; type: string; min?: number; max?: number; choices?: string[] }[] }[]>;
  assert.deepEqual(Object.keys(cat).sort(), ['abstract', 'cloudflare', 'oss', 'tasks']);
  const resize = cat['oss']!.find((a) => a.name === 'resize')!;
  assert.equal(resize.summary, OPS.resize.summary);
  const w = resize.controls.find((c) => c.key === 'w')!;
  assert.deepEqual([w.from, w.type, w.min, w.max], ['resize.w', 'int', 1, 16384]);
  assert.deepEqual(resize.controls.find((c) => c.key === 'm')!.choices, ['lfit', 'mfit', 'fill', 'pad', 'fixed']);
  const bright = cat['oss']!.find((a) => a.name === 'bright')!.controls[0]!;
  assert.deepEqual([bright.key, bright.min, bright.max], ['', -100, 100]);
  // Every registry reference names a real parameter.
  for (const actions of Object.values(cat)) for (const a of actions) for (const c of a.controls) {
    if (c.from === undefined) continue;
    const [op, param] = c.from.split('.') as [keyof typeof OPS, string];
    assert.ok(OPS[op].params.some((p) => p.name === param), c.from);
  }
});
