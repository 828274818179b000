/**
 * x-oss-async-process=video/animation over HTTP against the built server (loopback only):
 * the documented example 1 request end to end (JSON ack, task status, the GIF in the target
 * bucket under the expanded {autoext} key, exactly one Succeeded envelope at a loopback webhook
 * after a forced first-attempt failure), the spec's errors at submission, Failed tasks with Code
 * and Message, cancellation, a restart in the middle of a task, and the server staying up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { oss } from './client.js';
import { client as aliOss } from '../integration/oss-client.js';
import { decode, ffmpeg, noFfmpeg, specClip, tempDir } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const EXAMPLE_1 = 'x-oss-async-process=video/animation,f_gif,w_100,h_100,inter_1000|sys/saveas,b_b3V0YnVja2V0,o_b3V0b2JqcHJlZml4LnthdXRvZXh0fQ/notify,topic_QXVkaW9Db252ZXJ0';
const ASYNC: [string, string | undefined][] = [['x-oss-async-process', undefined]];

interface Hook {
  server: Server;
  url: string;
  received: { status: number; body: string }[];
}

/** Loopback webhook: answers 500 to the very first POST, 200 afterwards; records everything. */
async function startHook(): Promise<Hook> {
  const received: Hook['received'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const status = received.length === 0 ? 500 : 200;
      received.push({ status, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitTask(base: string, taskId: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await oss(base, 'GET', '', '', { query: [['x-oss-async-task', undefined], ['taskId', taskId]] });
    assert.equal(r.status, 200, r.text);
    const st = r.json();
    if (st['Status'] !== 'Running') return st;
    if (Date.now() > end) assert.fail(`task ${taskId} still running: ${r.text}`);
    await sleep(150);
  }
}

async function submit(base: string, bucket: string, key: string, body: string) {
  return oss(base, 'POST', bucket, key, { query: ASYNC, body });
}

describe('video/animation over HTTP', { skip: noFfmpeg }, () => {
  let srv: RunningServer;
  let hook: Hook;
  let dir: string;
  let clip: Buffer;

  before(async () => {
    dir = tempDir();
    clip = readFileSync(specClip(dir));
    hook = await startHook();
    srv = await startServer({ env: { HALFTONE_NOTIFY_TOPICS: `AudioConvert=${hook.url}`, HALFTONE_NOTIFY_BACKOFF_MS: '300' } });
    for (const b of ['srcbucket', 'outbucket']) assert.equal((await oss(srv.url, 'PUT', b, '')).status, 200);
    assert.equal((await oss(srv.url, 'PUT', 'srcbucket', 'videos/example.mp4', { body: clip })).status, 200);
  });
  after(async () => {
    await srv?.stop();
    hook?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('example 1: JSON ack, Succeeded task, outbucket/outobjprefix.gif, one Succeeded envelope after a retry', async () => {
    const ack = await submit(srv.url, 'srcbucket', 'videos/example.mp4', EXAMPLE_1);
    assert.equal(ack.status, 200, ack.text);
    const a = ack.json<{ EventId: string; RequestId: string; TaskId: string }>();
    assert.deepEqual(Object.keys(a), ['EventId', 'RequestId', 'TaskId']);
    assert.match(a.TaskId, /^MediaConvert-[0-9a-f-]{36}$/);
    assert.match(a.EventId, /^[0-9A-F]{3}-[A-Za-z0-9]{27}$/);
    assert.match(a.RequestId, /^[0-9A-F-]{36}$/);
    const st = await waitTask(srv.url, a.TaskId);
    assert.equal(st['Status'], 'Succeeded', JSON.stringify(st));
    assert.equal(st['Progress'], 100);
    assert.deepEqual(st['Targets'], [{ URI: '', Subtitle: { Extract: { URI: '' } }, Image: { Sprites: null, Snapshots: null, Animations: [{ URI: 'oss://outbucket/outobjprefix.gif' }] } }]);
    assert.deepEqual(st['Sources'], [{ URI: 'oss://srcbucket/videos/example.mp4', SubtitleSources: null }]);
    const gif = await oss(srv.url, 'GET', 'outbucket', 'outobjprefix.gif');
    assert.equal(gif.status, 200);
    const d = await decode(gif.body);
    assert.deepEqual([d.format, d.pages, d.width, d.height, ...new Set(d.delay)], ['gif', 10, 100, 100, 1000]);

    // Webhook: attempt 1 gets 500, the retry gets 200; nothing after that.
    const end = Date.now() + 20_000;
    while (hook.received.length < 2 && Date.now() < end) await sleep(100);
    await sleep(1500);
    assert.deepEqual(hook.received.map((r) => r.status), [500, 200]);
    assert.equal(hook.received[0]!.body, hook.received[1]!.body, 'a retry sends the same envelope');
    const env = JSON.parse(hook.received[1]!.body) as Record<string, string>;
    assert.deepEqual(Object.keys(env), ['id', 'source', 'type', 'subject', 'time', 'content']);
    assert.equal(env['source'], 'acs.imm');
    assert.equal(env['type'], 'imm:Task:MediaConvert');
    assert.match(env['time']!, /^\d{13}$/);
    const content = JSON.parse(env['content']!) as Record<string, unknown>;
    assert.equal(content['TaskId'], a.TaskId);
    assert.equal(content['Status'], 'Succeeded');
    assert.equal(content['TaskType'], 'MediaConvert');
    assert.equal(content['RequestId'], a.RequestId);
    assert.match(srv.output(), new RegExp(`notify ${a.TaskId} → ${hook.url} attempt 1: HTTP 500`));
    assert.match(srv.output(), new RegExp(`notify ${a.TaskId} → ${hook.url} attempt 2: HTTP 200`));
  });

  it('spec §4 examples 2 and 6 through the server (WebP 25 %, crop)', async () => {
    const two = await submit(srv.url, 'srcbucket', 'videos/example.mp4', `x-oss-async-process=video/animation,ss_5000,f_webp,pw_25,ph_25,fps_25,inter_500|sys/saveas,o_${b64('ex2/{barename}.{autoext}')}`);
    const six = await submit(srv.url, 'srcbucket', 'videos/example.mp4', `x-oss-async-process=${encodeURIComponent(`video/animation,f_gif,w_400,h_400,scaletype_crop,inter_1000|sys/saveas,o_${b64('ex6.gif')},b_${b64('outbucket')}`)}`);
    assert.equal((await waitTask(srv.url, two.json<{ TaskId: string }>().TaskId))['Status'], 'Succeeded');
    assert.equal((await waitTask(srv.url, six.json<{ TaskId: string }>().TaskId))['Status'], 'Succeeded');
    const w = await decode((await oss(srv.url, 'GET', 'srcbucket', 'ex2/example.webp')).body);
    assert.deepEqual([w.format, w.pages, w.width, w.height, ...new Set(w.delay)], ['webp', 10, 80, 45, 40]);
    const g = await decode((await oss(srv.url, 'GET', 'outbucket', 'ex6.gif')).body);
    assert.deepEqual([g.pages, g.width, g.height], [10, 400, 400]);
  });

  it('the ali-oss SDK (V1 and V4 signatures) can submit with the documented request shape', async () => {
    for (const opts of [{}, { authorizationV4: true, region: 'oss-cn-hangzhou' }]) {
      const c = aliOss({ bucket: 'srcbucket', endpoint: `http://localhost:${srv.port}`, sldEnable: true, ...opts });
      const body = 'x-oss-async-process=video/animation,f_gif,w_64,inter_2000|sys/saveas,o_' + Buffer.from('sdk/{barename}.{autoext}').toString('base64url');
      const res = await c.request({ ...c._objectRequestParams('POST', 'videos/example.mp4', { subres: 'x-oss-async-process' }), content: body, successStatuses: [200] });
      const ack = JSON.parse(Buffer.from(res.data).toString('utf8')) as { TaskId: string };
      assert.equal((await waitTask(srv.url, ack.TaskId))['Status'], 'Succeeded');
    }
    assert.deepEqual((await decode((await oss(srv.url, 'GET', 'srcbucket', 'sdk/example.gif')).body)).pages, 5);
  });

  it('errors at submission: unsigned, f_mp4, w_8, fps_300, no sys/saveas, JPEG, zero bytes, no source, unknown topic', async () => {
    const unsigned = await oss(srv.url, 'POST', 'srcbucket', 'videos/example.mp4', { query: ASYNC, body: EXAMPLE_1, anonymous: true });
    assert.deepEqual([unsigned.status, unsigned.code], [403, 'AccessDenied']);
    for (const body of [
      'x-oss-async-process=video/animation,f_mp4|sys/saveas,o_eA',
      'x-oss-async-process=video/animation,f_gif,w_8',
      'x-oss-async-process=video/animation,f_gif,fps_300|sys/saveas,o_eA',
      'x-oss-async-process=video/animation,f_gif,w_100',
    ]) {
      const r = await submit(srv.url, 'srcbucket', 'videos/example.mp4', body);
      assert.deepEqual([r.status, r.code], [400, 'InvalidArgument'], `${body}: ${r.text}`);
    }
    assert.match((await submit(srv.url, 'srcbucket', 'videos/example.mp4', 'x-oss-async-process=video/animation,f_gif,w_8')).text, /w but received &quot;8&quot;|w but received "8"/);
    await oss(srv.url, 'PUT', 'srcbucket', 'photo.jpg', { body: readFileSync(new URL('../fixtures/example-400x267.jpg', import.meta.url)) });
    await oss(srv.url, 'PUT', 'srcbucket', 'empty.mp4', { body: Buffer.alloc(0) });
    const ok = `x-oss-async-process=video/animation,f_gif|sys/saveas,o_${b64('x.gif')}`;
    const jpg = await submit(srv.url, 'srcbucket', 'photo.jpg', ok);
    assert.deepEqual([jpg.status, jpg.code], [400, 'BadRequest']);
    assert.match(jpg.text, /image \(jpeg\), not a video/);
    const empty = await submit(srv.url, 'srcbucket', 'empty.mp4', ok);
    assert.deepEqual([empty.status, empty.code], [400, 'BadRequest']);
    const missing = await submit(srv.url, 'srcbucket', 'nope.mp4', ok);
    assert.deepEqual([missing.status, missing.code], [404, 'NoSuchKey']);
    const topic = await submit(srv.url, 'srcbucket', 'videos/example.mp4', `${ok}/notify,topic_${b64('Other')}`);
    assert.deepEqual([topic.status, topic.code], [400, 'InvalidArgument']);
    const nobucket = await submit(srv.url, 'srcbucket', 'videos/example.mp4', `${ok.replace('|sys/saveas,', `|sys/saveas,b_${b64('nobucket')},`)}`);
    assert.deepEqual([nobucket.status, nobucket.code], [404, 'NoSuchBucket']);
  });

  it('failures known only after probing become Failed tasks with Code and Message', async () => {
    const trunc = join(dir, 'tail.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', trunc]);
    truncateSync(trunc, Math.floor(statSync(trunc).size / 2));
    const ten = join(dir, 'ten-hours.mkv');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x36:rate=1:duration=2', '-vf', 'setpts=N*36000/TB', '-vsync', '0', '-c:v', 'libx264', '-preset', 'ultrafast', ten]);
    const notVideo = join(dir, 'text.mp4');
    writeFileSync(notVideo, 'this is not a video at all, just some text that pretends to be one\n'.repeat(20));
    const cases: [string, string, string, RegExp][] = [
      [trunc, 'CORRUPT_VIDEO', 'BadRequest', /truncated or corrupt/],
      [ten, 'VIDEO_TOO_LARGE', 'EntityTooLarge', /lasts 36001\.0 s; this server accepts at most 3600 s/],
      [notVideo, 'NOT_A_VIDEO', 'BadRequest', /not a video/],
    ];
    for (const [file, halftoneCode, code, message] of cases) {
      assert.equal((await oss(srv.url, 'PUT', 'srcbucket', 'bad/input', { body: readFileSync(file) })).status, 200);
      const r = await submit(srv.url, 'srcbucket', 'bad/input', `x-oss-async-process=video/animation,f_gif,inter_1000|sys/saveas,o_${b64('bad.gif')}`);
      assert.equal(r.status, 200, r.text);
      const st = await waitTask(srv.url, r.json<{ TaskId: string }>().TaskId);
      assert.deepEqual([st['Status'], st['Code'], st['HalftoneCode']], ['Failed', code, halftoneCode], JSON.stringify(st));
      assert.match(String(st['Message']), message);
    }
    assert.equal((await oss(srv.url, 'GET', 'srcbucket', 'bad.gif')).status, 404, 'no partial output');
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, 'the server is still up');
  });

  it('status of an unknown task is 404; DELETE cancels a task; the server stays up', async () => {
    const unknown = await oss(srv.url, 'GET', '', '', { query: [['x-oss-async-task', undefined], ['taskId', 'MediaConvert-nope']] });
    assert.deepEqual([unknown.status, unknown.code], [404, 'ResourceNotFound']);
    const anon = await oss(srv.url, 'GET', '', '', { query: [['x-oss-async-task', undefined], ['taskId', 'x']], anonymous: true });
    assert.equal(anon.status, 403);
    // A long task (250 frames at 640×360), cancelled at once.
    await oss(srv.url, 'PUT', 'srcbucket', 'long.mp4', { body: readFileSync(specClip(dir, 640, 360, 10)) });
    const r = await submit(srv.url, 'srcbucket', 'long.mp4', `x-oss-async-process=video/animation,f_gif,inter_10|sys/saveas,o_${b64('long.gif')}`);
    const id = r.json<{ TaskId: string }>().TaskId;
    const del = await oss(srv.url, 'DELETE', '', '', { query: [['x-oss-async-task', undefined], ['taskId', id]] });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json()['Status'], 'Cancelled');
    assert.equal(del.json()['State'], 'cancelled');
    await sleep(500);
    assert.equal((await oss(srv.url, 'GET', 'srcbucket', 'long.gif')).status, 404);
    const again = await oss(srv.url, 'DELETE', '', '', { query: [['x-oss-async-task', undefined], ['taskId', id]] });
    assert.equal(again.json()['Status'], 'Cancelled', 'cancelling twice is harmless');
    const res = await fetch(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
  });
});

describe('video/animation tasks survive a restart', { skip: noFfmpeg }, () => {
  it('a task interrupted by SIGKILL completes after the restart', async () => {
    const dir = tempDir();
    const dataDir = tempDir('halftone-video-data-');
    let srv: RunningServer | undefined;
    try {
      srv = await startServer({ dataDir });
      assert.equal((await oss(srv.url, 'PUT', 'rbucket', '')).status, 200);
      assert.equal((await oss(srv.url, 'PUT', 'rbucket', 'clip.mp4', { body: readFileSync(specClip(dir, 640, 360, 10)) })).status, 200);
      const r = await submit(srv.url, 'rbucket', 'clip.mp4', `x-oss-async-process=video/animation,f_gif,inter_40,w_320|sys/saveas,o_${b64('clip.{autoext}')}`);
      assert.equal(r.status, 200, r.text);
      const id = r.json<{ TaskId: string }>().TaskId;
      await sleep(300);
      await srv.kill();
      srv = await startServer({ dataDir });
      const st = await waitTask(srv.url, id, 120_000);
      assert.equal(st['Status'], 'Succeeded', JSON.stringify(st));
      const d = await decode((await oss(srv.url, 'GET', 'rbucket', 'clip.gif')).body);
      assert.deepEqual([d.pages, d.width, d.height], [250, 320, 180]);
    } finally {
      await srv?.kill();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
