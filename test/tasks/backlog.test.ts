/**
 * The job backlog cap (HALFTONE_MAX_JOB_BACKLOG) through the built server: with that many tasks
 * queued or running, a new compression task is refused with 503, Retry-After and the PicWish
 * envelope before its upload is read, and so is a new video animation (OSS ServiceUnavailable);
 * once the backlog drains, tasks are accepted again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import sharp from 'sharp';
import { startServer } from '../helpers/server.js';
import { KEY, query, settle, submit } from './client.js';
import { oss } from '../video/client.js';
import { noFfmpeg, specClip, tempDir } from '../video/helpers.js';

/** A loopback origin that accepts requests and never answers (until closed). */
async function startHangingOrigin(): Promise<{ url: string; origin: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(() => undefined);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/photo.jpg`, origin,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The built server with a task backlog of 2, allowed to fetch from `origin` (whose downloads may hang for a minute). */
function startBacklogOfTwo(origin: string) {
  return startServer({
    env: {
      HALFTONE_API_KEYS: KEY, HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_MAX_JOB_BACKLOG: '2',
      HALFTONE_ALLOWED_ORIGINS: origin, HALFTONE_TASK_FETCH_TIMEOUT_MS: '60000',
    },
  });
}

test('compression tasks: a full backlog answers 503 with Retry-After before reading the upload; a drained one accepts again', async () => {
  const hanging = await startHangingOrigin();
  const server = await startBacklogOfTwo(hanging.origin);
  try {
    // Two tasks whose downloads hang: both running, the backlog is full.
    const held = [await submit(server.url, { image_url: hanging.url }), await submit(server.url, { image_url: hanging.url })];
    for (const a of held) assert.equal(a.status, 200, JSON.stringify(a.body));
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } }).jpeg().toBuffer();
    const refused = await submit(server.url, { image_file: { data: photo, name: 'p.jpg' }, quality: '50' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.status, 503);
    assert.match(refused.body.message, /Too many compression tasks are waiting/);
    assert.equal(refused.headers.get('retry-after'), '5');
    // Queries still answer: the held tasks are running (state 2, downloading).
    const q = await query(server.url, held[0]!.body.data!.task_id);
    assert.equal(q.status, 200);
    assert.ok([0, 2].includes(q.body.data!.state as number), JSON.stringify(q.body));
    // The origin gives up: both downloads fail (state -3), the backlog drains.
    hanging.close();
    for (const a of held) assert.equal((await settle(server.url, a.body.data!.task_id)).data?.state, -3);
    const accepted = await submit(server.url, { image_file: { data: photo, name: 'p.jpg' }, quality: '50', sync: '1' });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.data?.state, 1);
  } finally {
    hanging.close();
    await server.stop();
  }
});

/**
 * A task form sent in two halves: the second only when `release` resolves, so the server has
 * counted the backlog for the request but cannot submit it yet. Resolves with the status.
 */
function slowSubmit(base: string, fields: Record<string, string>, release: Promise<void>): Promise<number> {
  const boundary = 'halftone-backlog-test';
  const body = Buffer.from(Object.entries(fields).map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${boundary}--\r\n`);
  const half = Math.floor(body.length / 2);
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/tasks/visual/imgcompress`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(body.subarray(0, half));
    void release.then(() => req.end(body.subarray(half)));
  });
}

test('compression tasks: submissions whose forms are still arriving never pass the backlog cap together', async () => {
  const hanging = await startHangingOrigin();
  const server = await startBacklogOfTwo(hanging.origin);
  try {
    // Six forms, each counted by the server before any of them can be queued: only room reserved
    // until the submit keeps the count exact (a count alone would let all six through).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const answered: number[] = [];
    const statuses = Array.from({ length: 6 }, () => slowSubmit(server.url, { image_url: hanging.url }, released).then((s) => (answered.push(s), s)));
    // Four are refused before their forms are complete; the two with room wait for the rest.
    const deadline = Date.now() + 10_000;
    while (answered.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(answered, [503, 503, 503, 503]);
    release();
    assert.deepEqual((await Promise.all(statuses)).sort(), [200, 200, 503, 503, 503, 503]);
  } finally {
    hanging.close();
    await server.stop();
  }
});

test('video animations: a full backlog answers OSS 503 ServiceUnavailable with Retry-After', { skip: noFfmpeg }, async () => {
  const dir = tempDir();
  const server = await startServer({ env: { HALFTONE_MAX_JOB_BACKLOG: '1', HALFTONE_JOB_CONCURRENCY: '1' } });
  try {
    assert.equal((await oss(server.url, 'PUT', 'clips', '')).status, 200);
    assert.equal((await oss(server.url, 'PUT', 'clips', 'a.mp4', { body: readFileSync(specClip(dir, 640, 360, 10)) })).status, 200);
    const body = `x-oss-async-process=video/animation,f_gif,w_320,fps_10|sys/saveas,o_${Buffer.from('out/a.gif').toString('base64url')}`;
    const send = () => oss(server.url, 'POST', 'clips', 'a.mp4', { query: [['x-oss-async-process', undefined]], body });
    const first = await send();
    assert.equal(first.status, 200, first.text);
    // Submitted right after: the first (seconds of ffmpeg) is still queued or running.
    const second = await send();
    assert.equal(second.status, 503, second.text);
    assert.match(second.text, /<Code>ServiceUnavailable<\/Code>/);
    assert.equal(second.headers['retry-after'], '5');
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
