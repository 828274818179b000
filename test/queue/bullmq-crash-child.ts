/**
 * Child process for the BullMQ queue's crash test: a worker on the Redis URL and key prefix given
 * in argv, with a handler that never finishes on its own. It prints `running <id>` when a handler
 * starts; the parent then SIGKILLs it. Jobs are submitted by the parent.
 */
import { createBullMQQueue } from '../../src/adapters/queue/bullmq.js';

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) throw new Error('usage: bullmq-crash-child.ts <redis-url> <prefix>');

const queue = createBullMQQueue({ url, prefix, concurrency: 2, lockDurationMs: 1000, stalledIntervalMs: 500 });
queue.register('slow', async (_payload, ctx) => {
  process.stdout.write(`running ${ctx.id}\n`);
  ctx.progress(30);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  return 'child';
});
await queue.start();
