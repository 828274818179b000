/**
 * The log line buffer (src/adapters/log/line-buffer.ts): order, hand-over by size and by delay, and
 * the synchronous flush at close/exit that writes the destination's own queue first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineBuffer } from '../../src/adapters/log/line-buffer.js';

function recorder() {
  const events: string[] = [];
  return {
    events,
    dest: { write: (chunk: string) => events.push(`write:${chunk}`), flushSync: () => events.push('dest-sync') },
    writeSync: (chunk: string) => events.push(`sync:${chunk}`),
  };
}

test('lines are handed over together once maxBytes accumulate, in order', () => {
  const r = recorder();
  const b = createLineBuffer(r.dest, { maxBytes: 10, maxDelayMs: 60_000, writeSync: r.writeSync });
  b.write('a1\n');
  b.write('b2\n');
  assert.deepEqual(r.events, []);
  b.write('c3\n');
  b.write('d4\n');
  assert.deepEqual(r.events, ['write:a1\nb2\nc3\nd4\n']);
  b.write('e5\n');
  b.flush();
  assert.deepEqual(r.events, ['write:a1\nb2\nc3\nd4\n', 'write:e5\n']);
  b.flush();
  assert.equal(r.events.length, 2, 'nothing pending: no write');
});

test('a pending line is handed over after maxDelayMs without more lines', async () => {
  const r = recorder();
  const b = createLineBuffer(r.dest, { maxBytes: 1 << 20, maxDelayMs: 20, writeSync: r.writeSync });
  b.write('late\n');
  assert.deepEqual(r.events, []);
  await new Promise((res) => setTimeout(res, 80));
  assert.deepEqual(r.events, ['write:late\n']);
});

test('flushSync writes the destination queue first, then the pending lines synchronously', async () => {
  const r = recorder();
  const b = createLineBuffer(r.dest, { maxBytes: 1 << 20, maxDelayMs: 20, writeSync: r.writeSync });
  b.write('x\n');
  b.write('y\n');
  b.flushSync();
  assert.deepEqual(r.events, ['dest-sync', 'sync:x\ny\n']);
  // The timer was cleared with the pending lines: nothing is written twice.
  await new Promise((res) => setTimeout(res, 60));
  assert.equal(r.events.length, 2);
});
