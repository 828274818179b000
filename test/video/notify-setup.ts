/**
 * The video use case as a process composes it for the notify crash test, without ffmpeg or HTTP:
 * an embedded queue file, fs blobs and SQLite metadata in `dataDir`, one topic `T` → `hookUrl`, the
 * real webhook sender. The tools are a stand-in that is never reached (the test's task is cancelled
 * before it runs). Listeners passed in `before` are registered before the use case's own.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createEmbeddedQueue } from '../../src/adapters/queue/embedded.js';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createWebhookSender } from '../../src/adapters/notify/webhook.js';
import { createObjectService } from '../../src/app/oss-objects.js';
import { createVideoAnimations, type VideoAnimations } from '../../src/app/video-animation.js';
import type { EmbeddedJobQueue } from '../../src/adapters/queue/embedded.js';
import type { SettledListener } from '../../src/ports/job-queue.js';
import type { VideoTools } from '../../src/ports/video-tools.js';

export const TOPIC = 'T';

const tools: VideoTools = {
  describe: () => 'stand-in',
  available: () => true,
  probe: () => Promise.reject(new Error('not used by this test')),
  animate: () => Promise.reject(new Error('not used by this test')),
};

export interface VideoSetup {
  readonly queue: EmbeddedJobQueue;
  readonly video: VideoAnimations;
  readonly objects: ReturnType<typeof createObjectService>;
  readonly log: string[];
  close(): Promise<void>;
}

export async function openVideo(dataDir: string, hookUrl: string, before: SettledListener[] = []): Promise<VideoSetup> {
  await mkdir(dataDir, { recursive: true });
  const meta = createSqliteMetaStore({ file: join(dataDir, 'meta.sqlite') });
  const objects = createObjectService({ blobs: await createFsBlobStore({ dir: dataDir }), meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
  const queue = createEmbeddedQueue({ file: join(dataDir, 'jobs.sqlite'), concurrency: 2 });
  for (const listener of before) queue.onSettled(listener);
  const log: string[] = [];
  const video = createVideoAnimations({
    objects, queue, tools, webhook: createWebhookSender({ timeoutMs: 5000 }), topics: new Map([[TOPIC, [hookUrl]]]),
    limits: { maxDurationMs: 60_000, maxFrames: 100, maxSourceSide: 4096 }, maxBytes: 1 << 20, timeoutMs: 60_000,
    tmpDir: join(dataDir, 'tmp'), notifyBackoffMs: 50, log: (line) => void log.push(line),
  });
  return {
    queue, video, objects, log,
    async close() {
      await queue.close();
      await meta.close();
    },
  };
}
