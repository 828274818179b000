/**
 * Child process for the embedded queue's crash test: opens the queue file given in argv, submits
 * `count` jobs, and runs them with a handler that never finishes on its own. It prints
 * `running <id>` when a handler starts; the parent then SIGKILLs it.
 */
import { createEmbeddedQueue } from '../../src/adapters/queue/embedded.js';

const [file, countArg] = process.argv.slice(2);
if (!file) throw new Error('usage: crash-child.ts <file> <count>');
const count = Number(countArg ?? '1');

const queue = createEmbeddedQueue({ file, concurrency: 2 });
queue.register('slow', async (_payload, ctx) => {
  process.stdout.write(`running ${ctx.id}\n`);
  ctx.progress(30);
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  return 'child';
});
for (let i = 0; i < count; i++) await queue.submit('slow', { i }, { id: `job-${i}`, attempts: 3 });
await queue.start();
