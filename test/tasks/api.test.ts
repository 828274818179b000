/**
 * The compression task API end to end over loopback (spec compress-task-api.md): the worked
 * examples of §6, every validation rule of §2.1, the HTTP statuses of §4.4 and the failure states
 * reachable locally (-3, -5, -7), result URLs (fetch, tamper → 403).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../helpers/server.js';
import { closedPort, KEY, query, settle, startOrigin, submit, type Origin } from './client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let server: RunningServer;
let origin: Origin;
let deadPort: number;
let photo: Buffer;

before(async () => {
  origin = await startOrigin();
  deadPort = await closedPort();
  photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
  server = await startServer({
    env: {
      HALFTONE_API_KEYS: `other-key, ${KEY}`,
      HALFTONE_TASK_RATE_LIMIT: '1000',
      // Sync requests wait for the result even on a loaded machine (the fallback is tested apart).
      HALFTONE_TASK_SYNC_WAIT_MS: '300000',
      HALFTONE_ALLOWED_ORIGINS: `${origin.origin},http://127.0.0.1:${deadPort}`,
    },
  });
});
after(async () => {
  await server?.stop();
  await origin?.rec.close();
});

describe('worked examples (§6)', () => {
  test('6.1 async by URL, quality 70: task id, then polling shows the finished task with a result URL', async () => {
    const created = await submit(server.url, { sync: '0', image_url: `${origin.origin}/cat.jpg`, quality: '70' });
    assert.equal(created.status, 200);
    assert.equal(created.body.status, 200);
    assert.equal(created.body.message, 'success');
    assert.deepEqual(Object.keys(created.body.data ?? {}), ['task_id']);
    assert.match(created.body.data?.task_id ?? '', UUID);
    const done = await settle(server.url, created.body.data!.task_id);
    const d = done.data!;
    assert.equal(done.status, 200);
    assert.equal(done.message, 'success');
    assert.equal(d.state, 1);
    assert.equal(d.progress, 100);
    assert.equal(d.return_type, 1);
    assert.equal(d.state_detail, 'Complete');
    for (const t of [d.created_at, d.processed_at, d.completed_at]) assert.equal(typeof t, 'number');
    assert.ok(Math.abs((d.created_at as number) - Date.now() / 1000) < 120);
    assert.ok(d.image?.startsWith(`${server.url}/results/`), d.image);
    assert.match(d.image!, /\.jpg\?expires=\d+&signature=[A-Za-z0-9_-]+$/);
    const res = await fetch(d.image!);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 400);
    assert.ok(bytes.length < origin.jpeg.length, 'quality 70 is smaller than the quality-95 source');
  });

  test('6.2 async upload, PNG input with kbyte=200 and format=webp: a WebP of at most 200 KB', async () => {
    const big = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).png().toBuffer();
    const created = await submit(server.url, { sync: '0', kbyte: '200', format: 'webp', image_file: { data: big, name: 'photo.png' } });
    assert.equal(created.status, 200);
    const done = await settle(server.url, created.body.data!.task_id);
    assert.equal(done.data?.state, 1, JSON.stringify(done));
    assert.match(done.data!.image!, /\/photo\.webp\?/);
    const bytes = Buffer.from(await (await fetch(done.data!.image!)).arrayBuffer());
    assert.equal((await sharp(bytes).metadata()).format, 'webp');
    assert.ok(bytes.length <= 200 * 1024, `${bytes.length} > 200 KB`);
    assert.ok(bytes.length >= 0.8 * 200 * 1024, `${bytes.length} is far below the target`);
  });

  test('6.3 sync by URL, width=1200, return_type=2: base64 JPEG 1200 px wide, no data: prefix', async () => {
    const a = await submit(server.url, { sync: '1', width: '1200', return_type: '2', image_url: `${origin.origin}/cat.jpg` });
    assert.equal(a.status, 200);
    const d = a.body.data!;
    assert.equal(d.state, 1);
    assert.equal(d.progress, 100);
    assert.equal(d.return_type, 2);
    assert.match(d.task_id, UUID);
    assert.ok(!d.image!.startsWith('data:'));
    const img = Buffer.from(d.image!, 'base64');
    const meta = await sharp(img).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 1200);
    assert.equal(meta.height, 900);
    // Polling the same task answers the same base64.
    const again = await query(server.url, d.task_id);
    assert.equal(again.body.data?.image, d.image);
  });

  test('6.4 unreadable file: HTTP 200, state -7, progress 0, state_detail, created_at and completed_at', async () => {
    const a = await submit(server.url, { sync: '1', image_file: { data: Buffer.from('this is not an image at all'), name: 'x.jpg' } });
    assert.equal(a.status, 200);
    assert.equal(a.body.status, 200);
    assert.equal(a.body.message, 'success');
    const d = a.body.data!;
    assert.equal(d.state, -7);
    assert.equal(d.progress, 0);
    assert.equal(typeof d.state_detail, 'string');
    assert.equal(typeof d.created_at, 'number');
    assert.equal(typeof d.completed_at, 'number');
    assert.equal(d.image, undefined);
  });

  test('6.4 validation error: quality with kbyte → 400 with the spec message', async () => {
    const a = await submit(server.url, { quality: '80', kbyte: '100', image_url: `${origin.origin}/cat.jpg` });
    assert.equal(a.status, 400);
    assert.deepEqual(a.body, { status: 400, message: 'quality and kbyte cannot be used together' });
  });

  test('6.4 bad key → 401, unknown task → 404', async () => {
    const a = await submit(server.url, { image_url: `${origin.origin}/cat.jpg` }, { 'x-api-key': 'nope' });
    assert.equal(a.status, 401);
    assert.equal(a.body.status, 401);
    assert.equal(typeof a.body.message, 'string');
    const b = await query(server.url, '9d3f0c2e-6b1a-4c55-9a1e-2f1d7c0b8e11');
    assert.deepEqual([b.status, b.body.status], [404, 404]);
  });
});

describe('validation (§2.1) → 400', () => {
  const url = () => `${origin?.origin}/cat.jpg`;
  const cases: [string, () => Record<string, string | { data: Buffer; name: string }>, RegExp][] = [
    ['neither image_url nor image_file', () => ({ quality: '50' }), /One of image_url or image_file is required/],
    ['both image_url and image_file', () => ({ image_url: url(), image_file: { data: origin.jpeg, name: 'a.jpg' } }), /cannot be used together/],
    ['quality 0', () => ({ image_url: url(), quality: '0' }), /quality must be an integer between 1 and 100/],
    ['quality 101', () => ({ image_url: url(), quality: '101' }), /quality/],
    ['quality 7.5', () => ({ image_url: url(), quality: '7.5' }), /quality/],
    ['quality abc', () => ({ image_url: url(), quality: 'abc' }), /quality/],
    ['kbyte 51201', () => ({ image_url: url(), kbyte: '51201' }), /kbyte must be an integer between 0 and 51200/],
    ['kbyte -1', () => ({ image_url: url(), kbyte: '-1' }), /kbyte/],
    ['width 8001', () => ({ image_url: url(), width: '8001' }), /width must be an integer between 0 and 8000/],
    ['height x', () => ({ image_url: url(), height: 'x' }), /height/],
    ['format gif', () => ({ image_url: url(), format: 'gif' }), /format must be one of jpg, png, webp/],
    ['sync 2', () => ({ image_url: url(), sync: '2' }), /sync must be an integer between 0 and 1/],
    ['return_type 0', () => ({ image_url: url(), return_type: '0' }), /return_type/],
    ['return_type 3', () => ({ image_url: url(), return_type: '3' }), /return_type 3/],
    ['image_url not http(s) (blob:)', () => ({ image_url: 'blob:https://example.com/1234' }), /http or https URL/],
    ['image_url not a URL', () => ({ image_url: 'cat.jpg' }), /http or https URL/],
    ['image_file as a text field', () => ({ image_file: 'cat.jpg' }), /must be sent as a file/],
    ['empty image_file', () => ({ image_file: { data: Buffer.alloc(0), name: 'a.jpg' } }), /empty/],
  ];
  for (const [name, fields, message] of cases) {
    test(name, async () => {
      const a = await submit(server.url, fields());
      assert.equal(a.status, 400, JSON.stringify(a.body));
      assert.equal(a.body.status, 400);
      assert.match(a.body.message, message);
      assert.equal(a.body.data, undefined);
    });
  }

  test('a body that is neither multipart nor a form → 400', async () => {
    const res = await fetch(`${server.url}/api/tasks/visual/imgcompress`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { status: number }).status, 400);
  });

  test('kbyte=0, width=0 and height=0 mean "not set"; jpeg is an alias of jpg; empty fields are absent', async () => {
    const a = await submit(server.url, { sync: '1', image_url: url(), quality: '60', kbyte: '0', width: '0', height: '0', format: 'JPEG', return_type: '' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.data?.state, 1);
    const meta = await sharp(Buffer.from(await (await fetch(a.body.data!.image!)).arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 400, 300]);
  });
});

describe('HTTP statuses (§4.4)', () => {
  test('401 without X-API-KEY', async () => {
    const res = await fetch(`${server.url}/api/tasks/visual/imgcompress/9d3f0c2e-6b1a-4c55-9a1e-2f1d7c0b8e11`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { status: 401, message: 'Missing X-API-KEY header' });
  });

  test('every configured key works (comma-separated list)', async () => {
    const a = await query(server.url, '9d3f0c2e-6b1a-4c55-9a1e-2f1d7c0b8e11', { 'x-api-key': 'other-key' });
    assert.equal(a.status, 404);
  });

  test('404 for a malformed task id and for unknown paths under the API', async () => {
    assert.equal((await query(server.url, 'not-a-task')).status, 404);
    const res = await fetch(`${server.url}/api/tasks/visual/imgunknown`, { method: 'POST', headers: { 'x-api-key': KEY } });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { status: 404, message: 'Not found' });
  });

  test('413 for an upload over 20 MB, answered without waiting for the whole body', async () => {
    const huge = Buffer.alloc(21 * 1024 * 1024, 1);
    const a = await submit(server.url, { image_file: { data: huge, name: 'huge.jpg' } });
    assert.equal(a.status, 413);
    assert.equal(a.body.status, 413);
    assert.match(a.body.message, /20 MB/);
  });

  test('413 while streaming a chunked upload (no Content-Length)', async () => {
    const boundary = 'XbOuNdArY';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 2);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent === 0) ctrl.enqueue(head);
        if (sent >= 25) {
          ctrl.enqueue(Buffer.from(`\r\n--${boundary}--\r\n`));
          ctrl.close();
          return;
        }
        sent++;
        ctrl.enqueue(chunk);
      },
    });
    const res = await fetch(`${server.url}/api/tasks/visual/imgcompress`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { status: number }).status, 413);
  });

  test('application/x-www-form-urlencoded works for URL tasks', async () => {
    const res = await fetch(`${server.url}/api/tasks/visual/imgcompress`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sync: '1', image_url: `${origin.origin}/cat.jpg`, format: 'webp' }).toString(),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { state: number; image: string } };
    assert.equal(body.data.state, 1);
    assert.match(body.data.image, /\.webp\?/);
  });
});

describe('failure states reachable locally (§3.1)', () => {
  test('-3: image_url on a closed loopback port', async () => {
    const a = await submit(server.url, { sync: '1', image_url: `http://127.0.0.1:${deadPort}/cat.jpg` });
    assert.equal(a.status, 200);
    assert.equal(a.body.data?.state, -3);
    assert.equal(a.body.data?.progress, 0);
  });

  test('-3: image_url answering 404, and a private origin that is not allowed', async () => {
    assert.equal((await submit(server.url, { sync: '1', image_url: `${origin.origin}/missing.jpg` })).body.data?.state, -3);
    const before = origin.rec.requests.length;
    assert.equal((await submit(server.url, { sync: '1', image_url: 'http://127.0.0.2:9/cat.jpg' })).body.data?.state, -3);
    assert.equal(origin.rec.requests.length, before);
  });

  test('-5: image_url larger than 30 MB', async () => {
    const a = await submit(server.url, { sync: '1', image_url: `${origin.origin}/huge.jpg` });
    assert.equal(a.body.data?.state, -5, JSON.stringify(a.body));
  });

  test('-7: truncated JPEG by URL and random bytes by upload', async () => {
    assert.equal((await submit(server.url, { sync: '1', image_url: `${origin.origin}/corrupt.jpg` })).body.data?.state, -7);
    const noise = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 251));
    assert.equal((await submit(server.url, { sync: '1', image_file: { data: noise, name: 'n.png' } })).body.data?.state, -7);
  });
});

describe('compression behaviour', () => {
  test('kbyte on an upload: never above the target, within a few percent below', async () => {
    const a = await submit(server.url, { sync: '1', kbyte: '60', format: 'jpg', image_file: { data: photo, name: 'noise.png' } });
    assert.equal(a.body.data?.state, 1, JSON.stringify(a.body));
    const bytes = Buffer.from(await (await fetch(a.body.data!.image!)).arrayBuffer());
    assert.ok(bytes.length <= 60 * 1024 && bytes.length >= 0.9 * 60 * 1024, `${bytes.length}`);
  });

  test('kbyte for PNG output works (extension beyond the reference)', async () => {
    const a = await submit(server.url, { sync: '1', kbyte: '100', image_file: { data: photo, name: 'noise.png' } });
    assert.equal(a.body.data?.state, 1, JSON.stringify(a.body));
    const bytes = Buffer.from(await (await fetch(a.body.data!.image!)).arrayBuffer());
    assert.equal((await sharp(bytes).metadata()).format, 'png');
    assert.ok(bytes.length <= 100 * 1024, `${bytes.length}`);
  });

  test('both width and height: exact size; PNG with alpha to JPEG is flattened on white', async () => {
    const a = await submit(server.url, { sync: '1', width: '50', height: '20', format: 'jpg', image_url: `${origin.origin}/alpha.png` });
    const bytes = Buffer.from(await (await fetch(a.body.data!.image!)).arrayBuffer());
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [50, 20, 3]);
    // 50 % blue over white ≈ (132, 137, 227)
    assert.ok(Math.abs((data[0] as number) - 132) < 12 && Math.abs((data[2] as number) - 227) < 12, `${data[0]},${data[1]},${data[2]}`);
  });

  test('never larger than the input when nothing but quality was asked', async () => {
    const small = await sharp(origin.jpeg).jpeg({ quality: 20 }).toBuffer();
    const a = await submit(server.url, { sync: '1', quality: '100', image_file: { data: small, name: 's.jpg' } });
    const bytes = Buffer.from(await (await fetch(a.body.data!.image!)).arrayBuffer());
    assert.ok(bytes.length <= small.length);
  });

  test('result URL origin follows X-Forwarded-Proto', async () => {
    const a = await submit(server.url, { sync: '1', image_url: `${origin.origin}/cat.jpg` }, { 'x-api-key': KEY, 'x-forwarded-proto': 'https' });
    assert.ok(a.body.data?.image?.startsWith(`https://127.0.0.1:${server.port}/results/`), a.body.data?.image);
  });
});

describe('result URLs', () => {
  test('a tampered signature, name or expiry answers 403; an unknown id 403', async () => {
    const a = await submit(server.url, { sync: '1', image_url: `${origin.origin}/cat.jpg` });
    const good = new URL(a.body.data!.image!);
    assert.equal((await fetch(good)).status, 200);
    const sig = good.searchParams.get('signature')!;
    const tampered = [
      (() => { const u = new URL(good); u.searchParams.set('signature', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)); return u; })(),
      (() => { const u = new URL(good); u.pathname = u.pathname.replace(/[^/]+$/, 'other.jpg'); return u; })(),
      (() => { const u = new URL(good); u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)); return u; })(),
      (() => { const u = new URL(good); u.searchParams.delete('signature'); return u; })(),
    ];
    for (const u of tampered) {
      const res = await fetch(u);
      assert.equal(res.status, 403, u.href);
      assert.equal(((await res.json()) as { status: number }).status, 403);
    }
  });
});
