/**
 * Child process of the notify crash test: the video use case on `dataDir` (argv) with topic `T` →
 * `hookUrl`. It submits a task that names the topic and cancels it; a settled listener registered
 * before the use case's own SIGKILLs the process, so the task is settled (cancelled) but its
 * notification was never queued. Prints `task <TaskId>` first.
 */
import { openVideo, TOPIC } from './notify-setup.js';

const [dataDir, hookUrl] = process.argv.slice(2);
if (!dataDir || !hookUrl) throw new Error('usage: notify-crash-child.ts <data-dir> <hook-url>');

const { objects, video } = await openVideo(dataDir, hookUrl, [
  (job) => {
    if (job.kind === 'video-animation') process.kill(process.pid, 'SIGKILL');
  },
]);
await objects.createBucket('src', 'private');
await objects.putObject({
  bucket: 'src', key: 'clip.mp4', body: Buffer.from('stand-in bytes: the task is cancelled before it runs'),
  contentType: 'video/mp4', headers: {}, meta: {}, acl: 'default',
});
const ack = await video.submit({
  bucket: 'src', key: 'clip.mp4', params: { format: 'gif', ss: 0, scaletype: 'fit' },
  saveas: { bucket: undefined, object: 'out.gif' }, topic: TOPIC,
});
process.stdout.write(`task ${ack.TaskId}\n`);
await video.cancel(ack.TaskId);
process.stdout.write('not killed\n');
