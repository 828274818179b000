/**
 * Child process for the contract's "settled listeners interrupted by a crash" case. It opens a queue
 * on the store named in argv (`embedded <file>` or `bullmq <url> <prefix>`) and settles three jobs:
 * `gone` is cancelled while queued, `ok` succeeds, `bad` fails (4xx). Its one settled listener
 * leaves the first two announcements unfinished (it returns a promise that never settles) and
 * SIGKILLs the process on the third, so the settlements are written but no listener ever finished.
 * It prints `settled <id>` for each call, before the kill.
 */
import { AppError } from '../../src/core/errors.js';
import type { JobQueue } from '../../src/ports/job-queue.js';

const [adapter, ...store] = process.argv.slice(2);

async function open(): Promise<JobQueue> {
  if (adapter === 'embedded' && store[0]) {
    const { createEmbeddedQueue } = await import('../../src/adapters/queue/embedded.js');
    return createEmbeddedQueue({ file: store[0], concurrency: 2 });
  }
  if (adapter === 'bullmq' && store[0] && store[1]) {
    const { createBullMQQueue } = await import('../../src/adapters/queue/bullmq.js');
    return createBullMQQueue({ url: store[0], prefix: store[1], concurrency: 2 });
  }
  throw new Error('usage: settle-crash-child.ts embedded <file> | bullmq <redis-url> <prefix>');
}

const queue = await open();
let calls = 0;
queue.onSettled((job) => {
  process.stdout.write(`settled ${job.id}\n`);
  if (++calls === 3) process.kill(process.pid, 'SIGKILL');
  return new Promise<void>(() => {});
});
queue.register('work', async (payload) => {
  if (payload === 'bad') throw new AppError('INVALID_ARGUMENT', 'Expected good input but received bad');
  return { done: payload };
});
await queue.submit('nobody-handles-this', null, { id: 'gone' });
await queue.cancel('gone');
await queue.submit('work', 'ok', { id: 'ok' });
await queue.submit('work', 'bad', { id: 'bad' });
await queue.start();
// Kept alive until the listener kills it (BullMQ keeps its connections open; the embedded queue
// would otherwise exit once its jobs are done).
setInterval(() => undefined, 1000);
