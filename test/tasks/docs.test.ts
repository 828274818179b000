/**
 * docs/compress-api.md stays true: every ```sh example runs with curl against a live server and
 * answers what the ```json block after it shows (status, message, and data.state when shown).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { startServer, type RunningServer } from '../helpers/server.js';
import { KEY, settle, startOrigin, type Origin } from './client.js';

const root = new URL('../..', import.meta.url).pathname;
const doc = readFileSync(new URL('../../docs/compress-api.md', import.meta.url), 'utf8');
const hasCurl = spawnSync('curl', ['--version']).status === 0;

interface Example {
  readonly sh: string;
  readonly expected?: { status: number; message: string; data?: { state?: number } };
}

function examples(): Example[] {
  const blocks = [...doc.matchAll(/```(sh|json)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] as string, text: m[2] as string }));
  const out: Example[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    if (b.lang !== 'sh') continue;
    const next = blocks[i + 1];
    // The sample answers abbreviate with "…" inside strings; still valid JSON.
    out.push(next?.lang === 'json' ? { sh: b.text, expected: JSON.parse(next.text) } : { sh: b.text });
  }
  return out;
}

let server: RunningServer;
let origin: Origin;
before(async () => {
  if (!hasCurl) return;
  origin = await startOrigin();
  server = await startServer({ env: { HALFTONE_API_KEYS: KEY, HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_TASK_SYNC_WAIT_MS: '300000', HALFTONE_ALLOWED_ORIGINS: origin.origin } });
});
after(async () => {
  await server?.stop();
  await origin?.rec.close();
});

test('every curl example of docs/compress-api.md answers as documented', { skip: hasCurl ? false : 'curl is not installed (apt-get install curl)' }, async () => {
  const list = examples();
  assert.ok(list.length >= 6, `found ${list.length} examples`);
  let taskId = '';
  for (const ex of list) {
    assert.match(ex.sh, /^curl /, 'examples are curl commands');
    // Asynchronous: the loopback origin lives in this process and must keep answering.
    const res = await promisify(execFile)('bash', ['-c', ex.sh], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', HALFTONE: server.url, KEY, IMAGE_URL: `${origin.origin}/cat.jpg`, TASK_ID: taskId },
    });
    const got = JSON.parse(res.stdout) as { status: number; message: string; data?: { task_id?: string; state?: number } };
    if (got.data?.task_id !== undefined) {
      taskId = got.data.task_id;
      // Let an async task finish so that the poll example shows the finished state.
      if (got.data.state === undefined) await settle(server.url, taskId);
    }
    if (ex.expected === undefined) continue;
    assert.equal(got.status, ex.expected.status, `${ex.sh}\n${res.stdout}`);
    assert.equal(got.message, ex.expected.message, ex.sh);
    if (ex.expected.data?.state !== undefined) assert.equal(got.data?.state, ex.expected.data.state, `${ex.sh}\n${res.stdout}`);
    if (ex.expected.data !== undefined) assert.equal(typeof got.data?.task_id, 'string');
  }
});
