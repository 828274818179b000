/**
 * Durable tasks (issue 6 acceptance): submit 20 async tasks, SIGKILL the server while some are
 * running, restart it on the same data dir, and every task ends in state 1 or a failure state —
 * none is lost, none stays stuck.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import sharp from 'sharp';
import { startServer } from '../helpers/server.js';
import { KEY, query, settle, submit } from './client.js';

test('20 async tasks survive a SIGKILL mid-run and all settle after the restart', async () => {
  const env = { HALFTONE_API_KEYS: KEY, HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_JOB_CONCURRENCY: '2' };
  // Big enough that a target-size search takes a while, so the kill lands mid-run.
  const photo = await sharp({ create: { width: 1400, height: 1000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 120, sigma: 45 } } }).png().toBuffer();
  const first = await startServer({ env });
  const ids: string[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const a = await submit(first.url, { sync: '0', kbyte: String(40 + i), format: i % 2 === 0 ? 'webp' : 'jpg', image_file: { data: photo, name: `p${i}.png` } });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      ids.push(a.body.data!.task_id);
    }
    // Wait until some task is running (state 2, 4 or 5).
    const end = Date.now() + 60000;
    let running = false;
    while (!running && Date.now() < end) {
      for (const id of ids) {
        const s = (await query(first.url, id)).body.data?.state as number;
        if (s >= 2) running = true;
      }
    }
    assert.ok(running, 'some task started running');
  } finally {
    await first.kill();
  }
  const second = await startServer({ dataDir: first.dataDir, env });
  try {
    const states: number[] = [];
    for (const id of ids) {
      const done = await settle(second.url, id, 240000);
      const s = done.data?.state as number;
      assert.ok(s === 1 || s < 0, `task ${id} ended in state ${s}`);
      if (s === 1) assert.ok(done.data?.image?.startsWith(`${second.url}/results/`));
      states.push(s);
    }
    assert.equal(states.length, 20);
    // Interrupted runs are re-run, so with a working engine every task succeeds.
    assert.deepEqual(states.filter((s) => s !== 1), [], `states: ${states.join(',')}`);
  } finally {
    await second.stop();
    rmSync(first.dataDir, { recursive: true, force: true });
  }
});
