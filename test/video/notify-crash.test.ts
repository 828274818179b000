/**
 * Video notifications survive a crash between a task settling and its deliveries being queued: a
 * child process settles a task (cancelled) that names a topic and is SIGKILLed in a settled
 * listener that runs before the use case's own; the next start on the same data dir announces the
 * task again and the loopback webhook receives the envelope, once, with the body the first
 * announcement would have sent (id and time derived from the task). Also: a task announced again
 * later (a further crash, say) sends nothing more, and the delivery jobs are kept as long as the task.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runUntilKilled } from '../helpers/killed-child.js';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { notifyEnvelope } from '../../src/app/video-animation.js';
import { openVideo } from './notify-setup.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'halftone-notify-crash-'));
let hook: Server | undefined;
after(() => {
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startHook(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, received };
}

/** Runs the child until its listener kills it; resolves with the TaskId it printed. */
async function runChild(dataDir: string, hookUrl: string): Promise<string> {
  const out = await runUntilKilled(join(import.meta.dirname, 'notify-crash-child.ts'), [dataDir, hookUrl], 'settle its task');
  const taskId = /^task (\S+)$/m.exec(out)?.[1];
  assert.ok(taskId, out);
  return taskId;
}

describe('video notifications across a crash', () => {
  it('a task settled just before a SIGKILL is notified after the restart, once, with a stable envelope', async () => {
    const { url, received } = await startHook();
    const dataDir = join(dir, 'data');
    const taskId = await runChild(dataDir, url);

    const first = await openVideo(dataDir, url);
    let task;
    try {
      task = await first.queue.get(taskId);
      assert.equal(task?.state, 'cancelled', 'settled before the crash');
      assert.equal(await first.queue.get(`${taskId}-notify-0`), undefined, 'the crash came before the delivery was queued');
      await first.queue.start();
      const end = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < end) await sleep(20);
      await sleep(200);
      assert.equal(received.length, 1, 'delivered once after the restart');
      const envelope = JSON.parse(received[0]!) as Record<string, string>;
      assert.match(envelope['id']!, /^[0-9A-F]{3}-[A-Za-z0-9]{27}$/);
      assert.equal(envelope['time'], String(task!.updatedAt), 'the time the task settled');
      const content = JSON.parse(envelope['content']!) as Record<string, unknown>;
      assert.deepEqual([content['TaskId'], content['Status'], content['Code']], [taskId, 'Cancelled', 'Cancelled']);
      // The body is a function of the settled task: any announcement of it builds this same body.
      assert.equal(received[0], JSON.stringify(notifyEnvelope(task!)));
      const delivery = await first.queue.get(`${taskId}-notify-0`);
      assert.equal(delivery?.state, 'succeeded');
      assert.ok(delivery.expiresAt! >= task!.expiresAt!, 'the delivery is kept at least as long as the task');
      assert.match(first.log.join('\n'), new RegExp(`notify ${taskId} → ${url} attempt 1: HTTP 200`));
    } finally {
      await first.close();
    }

    // Announced again later: the flag the queue keeps for an unfinished announcement is set back
    // by hand, as a crash during the first restart's listeners would have left it. The use case's
    // listener runs again and queues its delivery under the same id: nothing is sent twice.
    const db = new Database(join(dataDir, 'jobs.sqlite'));
    assert.equal(db.prepare('UPDATE jobs SET unannounced = 1 WHERE id = ?').run(taskId).changes, 1);
    db.close();
    const again = await openVideo(dataDir, url);
    try {
      const announced: string[] = [];
      again.queue.onSettled((j) => void announced.push(j.id));
      await again.queue.start();
      await sleep(500);
      assert.deepEqual(announced, [taskId], 'announced again');
      assert.equal(received.length, 1, 'but not delivered again');
    } finally {
      await again.close();
    }
  });
});
