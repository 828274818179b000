/**
 * Compression task lifecycle with lowered limits: the processing cap (-8), the sync wait budget
 * falling back to the current state (§3.3), the per-key rate limit (429 + Retry-After),
 * retention (task and result URL answer 404 once expired), and the reference's PNG kbyte refusal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { KEY, query, settle, startOrigin, submit, type Fields, type Origin } from './client.js';

let origin: Origin;
const servers: RunningServer[] = [];

before(async () => {
  origin = await startOrigin();
});
after(async () => {
  for (const s of servers) await s.stop();
  await origin?.rec.close();
});

async function server(env: Record<string, string>): Promise<RunningServer> {
  const s = await startServer({ env: { HALFTONE_API_KEYS: KEY, HALFTONE_ALLOWED_ORIGINS: origin.origin, HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_TASK_SYNC_WAIT_MS: '300000', ...env } });
  servers.push(s);
  return s;
}

test('a task past the processing cap ends in state -8; sync answers the unfinished state when its budget runs out', async () => {
  const s = await server({ HALFTONE_TASK_TIMEOUT_MS: '1000', HALFTONE_TASK_SYNC_WAIT_MS: '200' });
  const a = await submit(s.url, { sync: '1', image_url: `${origin.origin}/slow.jpg` });
  assert.equal(a.status, 200);
  const d = a.body.data!;
  assert.match(d.task_id, /^[0-9a-f-]{36}$/);
  assert.ok((d.state as number) >= 0 && d.state !== 1, `sync fell back to a working state, got ${d.state}`);
  assert.equal(d.image, undefined);
  const done = await settle(s.url, d.task_id);
  assert.equal(done.data?.state, -8, JSON.stringify(done));
  assert.match(done.data?.state_detail ?? '', /Timed out/);
  assert.equal(typeof done.data?.completed_at, 'number');
});

test('per-key rate limit: the third request in a second answers 429 with Retry-After; other keys are not affected', async () => {
  const s = await startServer({ env: { HALFTONE_API_KEYS: `${KEY},second` } });
  servers.push(s);
  const id = '9d3f0c2e-6b1a-4c55-9a1e-2f1d7c0b8e11';
  const answers = [await query(s.url, id), await query(s.url, id), await query(s.url, id)];
  assert.deepEqual(answers.map((x) => x.status), [404, 404, 429]);
  const limited = answers[2]!;
  assert.equal(limited.body.status, 429);
  assert.match(limited.body.message, /2 per second/);
  const retry = Number(limited.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After ${limited.headers.get('retry-after')}`);
  // Creating tasks spends the same budget.
  const post = await submit(s.url, { image_url: `${origin.origin}/cat.jpg` });
  assert.equal(post.status, 429);
  assert.equal((await query(s.url, id, { 'x-api-key': 'second' })).status, 404);
  // A bad key is refused before it could spend anything.
  assert.equal((await query(s.url, id, { 'x-api-key': 'wrong' })).status, 401);
  await new Promise((r) => setTimeout(r, retry * 1000));
  assert.equal((await query(s.url, id)).status, 404);
});

test('retention: after it, the task answers 404, its result URL 404 and its files are deleted', async () => {
  const s = await server({ HALFTONE_TASK_RETENTION_MS: '6000' });
  const a = await submit(s.url, { sync: '1', image_url: `${origin.origin}/cat.jpg` });
  assert.equal(a.body.data?.state, 1);
  const url = a.body.data!.image!;
  assert.equal((await fetch(url)).status, 200);
  const b = await submit(s.url, { sync: '1', return_type: '2', image_file: { data: origin.jpeg, name: 'c.jpg' } });
  assert.equal(b.body.data?.state, 1);
  // Retention 6 s after creation; created_at and result URLs carry whole seconds.
  const last = (Math.max(a.body.data!.created_at!, b.body.data!.created_at!) + 1) * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, last + 6000 + 1200 - Date.now())));
  assert.equal((await query(s.url, a.body.data!.task_id)).status, 404);
  assert.equal((await query(s.url, b.body.data!.task_id)).status, 404);
  const res = await fetch(url);
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { status: 404, message: 'The result has expired or does not exist' });
  // A restart runs the sweeps at start-up: expired jobs, inputs and result files are gone.
  await s.stop({ keepDataDir: true });
  // An upload a crash left without its task is removed at start-up too.
  writeFileSync(join(s.dataDir, 'task-inputs', '0b7c2f3e-1111-4222-8333-444455556666.in'), 'orphan');
  const again = await startServer({ dataDir: s.dataDir, env: { HALFTONE_API_KEYS: KEY } });
  servers.push(again);
  assert.deepEqual(readdirSync(join(s.dataDir, 'results')).filter((n) => !n.startsWith('.')), []);
  assert.deepEqual(readdirSync(join(s.dataDir, 'task-inputs')), []);
});

test('HALFTONE_TASK_PNG_KBYTE=reject: kbyte with PNG output is refused as the reference does', async () => {
  const s = await server({ HALFTONE_TASK_PNG_KBYTE: 'reject' });
  const png = { data: origin.png, name: 'a.png' };
  const refused: Fields[] = [{ kbyte: '50', image_file: png }, { kbyte: '50', format: 'png', image_url: `${origin.origin}/cat.jpg` }, { kbyte: '50', image_url: `${origin.origin}/alpha.png` }];
  for (const fields of refused) {
    const a = await submit(s.url, fields);
    assert.deepEqual([a.status, a.body], [400, { status: 400, message: 'kbyte is not supported for png output' }]);
  }
  // §6.2: PNG input with format=webp is fine.
  const ok = await submit(s.url, { sync: '1', kbyte: '50', format: 'webp', image_file: png });
  assert.equal(ok.body.data?.state, 1);
});
