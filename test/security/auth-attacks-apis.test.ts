/**
 * Auth attacks on the JSON APIs and the video jobs (issue 10, second wave), through the real
 * server on loopback:
 *
 * - task API (X-API-KEY) and Abstract API (api_key / Bearer): no key, a wrong key, and a key
 *   revoked by restarting the server with a different HALFTONE_API_KEYS → 401 in each dialect's
 *   shape; a burst beyond the per-key rate limit → 429 + Retry-After in each shape, while another
 *   key is unaffected;
 * - video/animation submission (x-oss-async-process): unsigned → 403 AccessDenied, a tampered
 *   signature → 403 SignatureDoesNotMatch, saveas into a missing bucket → 404 NoSuchBucket at
 *   submission, nothing written. Halftone has one OSS account (HALFTONE_ACCESS_KEY_ID): a signed
 *   request is the owner of every bucket, so saveas into another existing bucket is allowed for it,
 *   as for the synchronous sys/saveas (docs/security.md);
 * - hostile non-video sources submitted as a video: images and empty files are refused at
 *   submission (400 NOT_A_VIDEO), other junk ends as a Failed task; the server stays up.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startServer, type RunningServer } from '../helpers/server.js';
import { oss as ossClient } from '../video/client.js';
import { healthy, record } from './harness.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';
const tried: string[] = [];
const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  await record('auth-attacks-apis', { attacks: tried.length, tried });
});

const TASKS = '/api/tasks/visual/imgcompress';
const MISSING_TASK = `${TASKS}/00000000-0000-4000-8000-000000000000`;

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}
const taskGet = (s: RunningServer, key?: string) => call(s.url + MISSING_TASK, { headers: key === undefined ? {} : { 'x-api-key': key } });
const abstractUrl = (s: RunningServer, key?: string, how: 'body' | 'bearer' | 'query' = 'body') => call(`${s.url}/v1/url/${how === 'query' && key !== undefined ? `?api_key=${encodeURIComponent(key)}` : ''}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(how === 'bearer' && key !== undefined ? { authorization: `Bearer ${key}` } : {}) },
  // No url: an admitted request gets 400 validation_error, so 401/429 are told apart.
  body: JSON.stringify(how === 'body' && key !== undefined ? { api_key: key } : {}),
});

function expectTask(r: Awaited<ReturnType<typeof call>>, status: number, what: string): void {
  tried.push(`task API: ${what}`);
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
  assert.equal(r.json['status'], status, what);
  assert.equal(typeof r.json['message'], 'string', what);
}
function expectAbstract(r: Awaited<ReturnType<typeof call>>, status: number, code: string, what: string): void {
  tried.push(`Abstract API: ${what}`);
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
  const e = r.json['error'] as { code?: string; message?: string } | undefined;
  assert.equal(e?.code, code, what);
  assert.equal(typeof e?.message, 'string', what);
}

test('task and Abstract APIs: no key, wrong key, revoked key → 401 in each shape; a burst → 429 + Retry-After for that key only', async () => {
  let s = await startServer({ env: { HALFTONE_API_KEYS: `${KEY_A},${KEY_B}`, HALFTONE_TASK_RATE_LIMIT: '2', HALFTONE_ABSTRACT_RATE_LIMIT: '2' } });
  servers.push(s);
  expectTask(await taskGet(s), 401, 'no X-API-KEY');
  expectTask(await taskGet(s, 'wrong'), 401, 'wrong X-API-KEY');
  expectTask(await taskGet(s, `${KEY_A}x`), 401, 'X-API-KEY with one extra character');
  expectTask(await taskGet(s, KEY_A), 404, 'valid key (control)');
  expectAbstract(await abstractUrl(s), 401, 'unauthorized', 'no api_key');
  for (const how of ['body', 'bearer', 'query'] as const) expectAbstract(await abstractUrl(s, 'wrong', how), 401, 'unauthorized', `wrong key (${how})`);
  expectAbstract(await abstractUrl(s, KEY_A.slice(0, -1)), 401, 'unauthorized', 'key missing its last character');
  expectAbstract(await abstractUrl(s, KEY_A), 400, 'validation_error', 'valid key (control)');

  // Burst with key A beyond 2/s: some answers are 429 with Retry-After in the dialect's shape.
  const taskBurst = await Promise.all(Array.from({ length: 12 }, () => taskGet(s, KEY_A)));
  const taskLimited = taskBurst.filter((r) => r.status === 429);
  assert.ok(taskLimited.length >= 1, `task burst: ${taskBurst.map((r) => r.status).join(',')}`);
  for (const r of taskLimited) {
    expectTask(r, 429, 'burst beyond the per-key rate limit');
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  }
  assert.ok(taskBurst.every((r) => r.status === 429 || r.status === 404));
  // Key B is unaffected by key A's burst.
  expectTask(await taskGet(s, KEY_B), 404, 'another key right after the burst');

  const absBurst = await Promise.all(Array.from({ length: 12 }, () => abstractUrl(s, KEY_A)));
  const absLimited = absBurst.filter((r) => r.status === 429);
  assert.ok(absLimited.length >= 1, `abstract burst: ${absBurst.map((r) => r.status).join(',')}`);
  for (const r of absLimited) {
    expectAbstract(r, 429, 'too_many_requests', 'burst beyond the per-key rate limit');
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
  }
  assert.ok(absBurst.every((r) => r.status === 429 || r.status === 400));
  expectAbstract(await abstractUrl(s, KEY_B), 400, 'validation_error', 'another key right after the burst');

  // A task created with key A, then key A revoked (restart with HALFTONE_API_KEYS=B only).
  const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c33' } }).png().toBuffer();
  await new Promise((r) => setTimeout(r, 1100));
  const form = new FormData();
  form.set('image_file', new Blob([png]), 'a.png');
  const created = await call(s.url + TASKS, { method: 'POST', headers: { 'x-api-key': KEY_A }, body: form });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  const taskId = (created.json['data'] as { task_id: string }).task_id;
  await s.stop({ keepDataDir: true });
  servers.pop();
  s = await startServer({ dataDir: s.dataDir, env: { HALFTONE_API_KEYS: KEY_B } });
  servers.push(s);
  expectTask(await call(`${s.url}${TASKS}/${taskId}`, { headers: { 'x-api-key': KEY_A } }), 401, 'revoked key reading its own task');
  expectTask(await taskGet(s, KEY_A), 401, 'revoked key');
  expectAbstract(await abstractUrl(s, KEY_A), 401, 'unauthorized', 'revoked key');
  expectAbstract(await abstractUrl(s, KEY_A, 'bearer'), 401, 'unauthorized', 'revoked key (bearer)');
  const kept = await call(`${s.url}${TASKS}/${taskId}`, { headers: { 'x-api-key': KEY_B } });
  assert.equal(kept.status, 200, 'the task survives the restart for a valid key');
  expectAbstract(await abstractUrl(s, KEY_B), 400, 'validation_error', 'remaining key after the restart (control)');
});

test('video submission: unsigned, tampered signature, saveas into a missing bucket; non-video sources refused or Failed', async (t) => {
  const s = await startServer();
  servers.push(s);
  const b64 = (x: string) => Buffer.from(x).toString('base64url');
  assert.equal((await ossClient(s.url, 'PUT', 'vid', '')).status, 200);
  const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#36c' } }).jpeg().toBuffer();
  const sources: Record<string, Buffer> = {
    'image.jpg': jpeg, 'empty.mp4': Buffer.alloc(0), 'text.mp4': Buffer.from('this is not a video\n'.repeat(50)),
    'truncated.mp4': Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from('ftypisom'), Buffer.alloc(20)]),
  };
  for (const [k, v] of Object.entries(sources)) assert.equal((await ossClient(s.url, 'PUT', 'vid', k, { body: v })).status, 200);
  const body = (target: string, bucket?: string) => `x-oss-async-process=${encodeURIComponent('video/animation,f_gif,w_64,num_2')}|sys/saveas,o_${b64(target)}${bucket === undefined ? '' : `,b_${b64(bucket)}`}`;
  const submit = (key: string, b: string, opts: { anonymous?: boolean } = {}) => ossClient(s.url, 'POST', 'vid', key, { query: [['x-oss-async-process', undefined]], body: b, contentType: 'application/x-www-form-urlencoded', ...opts });
  const expect = (r: Awaited<ReturnType<typeof submit>>, status: number, code: string, what: string) => {
    tried.push(`video: ${what}`);
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.equal(r.code, code, what);
  };
  expect(await submit('text.mp4', body('out.gif'), { anonymous: true }), 403, 'AccessDenied', 'unsigned submission');
  // Tampered: a valid V1 signature for another key, replayed on this one.
  const date = new Date().toUTCString();
  const { v1Sign, v1StringToSign } = await import('../../src/http/oss/auth.js');
  const { TEST_AK, TEST_SK } = await import('../helpers/server.js');
  const sts = v1StringToSign({ method: 'POST', bucket: 'vid', key: 'other.mp4', headers: { date, 'content-type': 'application/x-www-form-urlencoded' }, query: [['x-oss-async-process', undefined]] }, date);
  const tampered = await fetch(`${s.url}/vid/text.mp4?x-oss-async-process`, {
    method: 'POST', body: body('out.gif'),
    headers: { date, 'content-type': 'application/x-www-form-urlencoded', authorization: `OSS ${TEST_AK}:${v1Sign(TEST_SK, sts)}` },
  });
  tried.push('video: signature of another key replayed');
  assert.equal(tampered.status, 403);
  assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  expect(await submit('text.mp4', body('out.gif', 'nosuchbucket')), 404, 'NoSuchBucket', 'saveas into a missing bucket');

  const ffmpeg = await submit('image.jpg', body('x.gif'));
  if (ffmpeg.status === 501) {
    t.skip('ffmpeg not found (apt-get install ffmpeg): non-video sources not tried');
    return;
  }
  expect(ffmpeg, 400, 'BadRequest', 'an image submitted as a video');
  expect(await submit('empty.mp4', body('x.gif')), 400, 'BadRequest', 'an empty file submitted as a video');
  for (const key of ['text.mp4', 'truncated.mp4']) {
    const r = await submit(key, body(`${key}.gif`));
    tried.push(`video: ${key} submitted as a video`);
    assert.equal(r.status, 200, r.text);
    const taskId = r.json<{ TaskId: string }>().TaskId;
    let state = '';
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 300 && !['failed', 'completed', 'cancelled'].includes(state); i++) {
      await new Promise((res) => setTimeout(res, 200));
      status = (await ossClient(s.url, 'GET', '', '', { query: [['x-oss-async-task', undefined], ['taskId', taskId]] })).json();
      state = String(status['State']);
    }
    assert.equal(state, 'failed', `${key}: ${JSON.stringify(status)}`);
    assert.equal((await ossClient(s.url, 'HEAD', 'vid', `${key}.gif`)).status, 404, `${key}: a failed task left a target`);
  }
  assert.ok(await healthy({ server: s }));
});
