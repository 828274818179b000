/**
 * Uploads that the APIs buffer in memory (Abstract `/v1/upload/`, PicWish compression tasks, the
 * hosted-images API's uploads and direct-upload URLs) are held against the memory budget before
 * their bodies are read, over real sockets: with a budget of one byte, the first upload (its body
 * still arriving) holds the budget, the second waits unread in the bounded queue, the third is
 * refused with the dialect's 503 and Retry-After; once the first finishes the second goes on.
 * A hosted-images upload by URL holds its download the same way (a loopback origin that stalls
 * bodies).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { imagesApi, photo, seriesValue, startPerfHarness, startStallingOrigin, until, type PerfHarness } from './harness.js';

const KEY = 'upload-key';
const TIGHT = { HALFTONE_MEMORY_BUDGET_BYTES: '1', HALFTONE_MAX_QUEUE: '1', HALFTONE_API_KEYS: KEY, HALFTONE_LOG_LEVEL: 'warn', HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_ABSTRACT_RATE_LIMIT: '1000' };

function multipart(boundary: string, file: Buffer, fileField: string, fields: Record<string, string>): Buffer {
  const parts = Object.entries(fields).map(([k, v]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  return Buffer.concat([
    ...parts,
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

interface Sent { readonly response: Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>; finish(): void }

/** POSTs `body` with its Content-Length; only its first half is sent until `finish()` (unless `whole`). */
function post(base: string, path: string, headers: Record<string, string>, body: Buffer, whole: boolean): Sent {
  const u = new URL(path, base);
  const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...headers, 'content-length': String(body.length) } });
  const response = new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.subarray(0, whole ? body.length : half));
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    req.end(whole ? undefined : body.subarray(half));
  };
  if (whole) finish();
  return { response, finish };
}

async function gauge(base: string, name: string): Promise<number | undefined> {
  return seriesValue(await (await fetch(`${base}/metrics`)).text(), name);
}

async function scenario(h: PerfHarness, base: string, send: (whole: boolean) => Sent, refusal: (r: { status: number; headers: IncomingMessage['headers']; body: string }) => void): Promise<void> {
  const first = send(false);
  try {
    await held(h, base, send, refusal, first);
  } finally {
    // Whatever happened, the first upload ends (a server closing waits for it otherwise).
    first.finish();
  }
}

async function held(h: PerfHarness, base: string, send: (whole: boolean) => Sent, refusal: (r: { status: number; headers: IncomingMessage['headers']; body: string }) => void, first: Sent): Promise<void> {
  await until('the first upload to be held', async () => ((await gauge(base, 'halftone_source_memory_held_bytes')) ?? 0) > 0);
  const second = send(true);
  await until('the second upload to wait', async () => (await gauge(base, 'halftone_source_memory_queue_depth')) === 1);
  const third = await send(true).response;
  assert.equal(third.status, 503, third.body);
  assert.match(String(third.headers['retry-after']), /^\d+$/);
  refusal(third);
  first.finish();
  const a = await first.response;
  assert.equal(a.status, 200, a.body);
  const b = await second.response;
  assert.equal(b.status, 200, b.body);
  await until('the holds to be released', async () => (await gauge(base, 'halftone_source_memory_held_bytes')) === 0);
  assert.equal(h.composed.perfStats().admission.holdQueued, 0);
}

test('Abstract uploads are held before they are read; beyond the queue, 503 service_unavailable', async () => {
  const h = await startPerfHarness(TIGHT);
  try {
    const base = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const jpeg = await photo(800, 600);
    const body = multipart('abstract-boundary', jpeg, 'image', { data: JSON.stringify({ api_key: KEY, lossy: true }) });
    const send = (whole: boolean) => post(base, '/v1/upload/', { 'content-type': 'multipart/form-data; boundary=abstract-boundary' }, body, whole);
    await scenario(h, base, send, (r) => {
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'service_unavailable');
    });
  } finally {
    await h.close();
  }
});

test('PicWish compression uploads are held before they are read; beyond the queue, 503 in the PicWish envelope', async () => {
  const h = await startPerfHarness(TIGHT);
  try {
    const base = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const jpeg = await photo(800, 600);
    const body = multipart('task-boundary', jpeg, 'image_file', { quality: '60' });
    const send = (whole: boolean) => post(base, '/api/tasks/visual/imgcompress', { 'content-type': 'multipart/form-data; boundary=task-boundary', 'x-api-key': KEY }, body, whole);
    await scenario(h, base, send, (r) => {
      assert.equal(typeof (JSON.parse(r.body) as { message: unknown }).message, 'string');
    });
  } finally {
    await h.close();
  }
});

/** The Images API's refusal: 503, `{success: false, errors: [{code: 5503}]}`. */
function imagesRefusal(r: { body: string }): void {
  const env = JSON.parse(r.body) as { success: boolean; errors: { code: number }[] };
  assert.equal(env.success, false);
  assert.equal(env.errors[0]?.code, 5503);
}

test('hosted-images uploads are held before they are read; beyond the queue, 503 with code 5503', async () => {
  const h = await startPerfHarness(TIGHT);
  try {
    const base = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const jpeg = await photo(800, 600);
    const body = multipart('images-boundary', jpeg, 'file', { metadata: '{"k":"v"}' });
    const send = (whole: boolean) => post(base, '/client/v4/accounts/halftone/images/v1', { 'content-type': 'multipart/form-data; boundary=images-boundary', authorization: `Bearer ${KEY}` }, body, whole);
    await scenario(h, base, send, imagesRefusal);
    const listed = await imagesApi(h, KEY, 'GET', '/v2');
    assert.equal((listed.result['images'] as unknown[]).length, 2, 'the two uploads that were held are stored; the refused one is not');
  } finally {
    await h.close();
  }
});

test('direct-upload URLs are held before they are read; beyond the queue, 503 with code 5503', async () => {
  const h = await startPerfHarness(TIGHT);
  try {
    const base = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const jpeg = await photo(800, 600);
    const urls: string[] = [];
    for (let i = 0; i < 3; i++) {
      const draft = await imagesApi(h, KEY, 'POST', '/v2/direct_upload');
      assert.equal(draft.status, 200);
      urls.push(new URL(draft.result['uploadURL'] as string).pathname);
    }
    const body = multipart('direct-boundary', jpeg, 'file', {});
    let next = 0;
    const send = (whole: boolean) => post(base, urls[next++]!, { 'content-type': 'multipart/form-data; boundary=direct-boundary' }, body, whole);
    await scenario(h, base, send, imagesRefusal);
  } finally {
    await h.close();
  }
});

test('a hosted-images upload by URL holds its download from the headers on; the next waits, the one after is refused (5503)', async () => {
  const jpeg = await photo(640, 480);
  const origin = await startStallingOrigin(jpeg);
  const originUrl = origin.url;
  const h = await startPerfHarness({ ...TIGHT, HALFTONE_ALLOWED_ORIGINS: originUrl, HALFTONE_ANY_PUBLIC_ORIGIN: 'false' });
  try {
    const base = await h.composed.app.listen({ port: 0, host: '127.0.0.1' });
    const byUrl = (name: string) => post(base, '/client/v4/accounts/halftone/images/v1', { 'content-type': 'multipart/form-data; boundary=url-boundary', authorization: `Bearer ${KEY}` },
      Buffer.from(`--url-boundary\r\nContent-Disposition: form-data; name="url"\r\n\r\n${originUrl}/${name}\r\n--url-boundary--\r\n`), true).response;
    const first = byUrl('a.jpg');
    await until('the first download to be held', async () => (await gauge(base, 'halftone_source_memory_held_bytes')) === jpeg.length);
    const second = byUrl('b.jpg');
    await until('the second download to wait for memory', async () => (await gauge(base, 'halftone_source_memory_queue_depth')) === 1);
    assert.deepEqual(origin.asked, ['a.jpg', 'b.jpg'], 'the waiting download has its headers, not its body');
    const third = await byUrl('c.jpg');
    assert.equal(third.status, 503, third.body);
    assert.match(String(third.headers['retry-after']), /^\d+$/);
    imagesRefusal(third);
    origin.open('a.jpg');
    const a = await first;
    assert.equal(a.status, 200, a.body);
    assert.equal((JSON.parse(a.body) as { result: { filename: string } }).result.filename, 'a.jpg');
    await until('the second download to be held', async () => (await gauge(base, 'halftone_source_memory_held_bytes')) === jpeg.length);
    origin.open('b.jpg');
    const b = await second;
    assert.equal(b.status, 200, b.body);
    await until('the holds to be released', async () => (await gauge(base, 'halftone_source_memory_held_bytes')) === 0);
    assert.equal(await gauge(base, 'halftone_source_memory_queue_depth'), 0);
  } finally {
    origin.release();
    await h.close();
    await origin.close();
  }
});
