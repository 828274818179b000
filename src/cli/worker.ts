/**
 * `halftone worker`: runs background jobs only (compression tasks, video animations and their
 * notifications), no HTTP listener. The composition is main.ts's, so a worker registers exactly
 * the handlers a serving node does. Needs the shared queue (HALFTONE_QUEUE=bullmq, REDIS_URL),
 * shared storage (HALFTONE_STORAGE=s3) and shared metadata (HALFTONE_META=postgres, DATABASE_URL).
 */
import type { Command } from 'commander';

/** Exit code of the worker (commander actions cannot return one). */
export let workerExitCode = 0;

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('Run background jobs (compression tasks, video animations, webhooks) from the shared queue, without serving HTTP. Configured by the same HALFTONE_* environment as the server.')
    .addHelpText('after', [
      '',
      'Needs HALFTONE_QUEUE=bullmq and REDIS_URL (the embedded queue is run by the server process itself),',
      'HALFTONE_STORAGE=s3 with the same HALFTONE_S3_* settings as the serving nodes, and HALFTONE_META=postgres',
      'with DATABASE_URL; it refuses to start otherwise (exit 2). Serving nodes with',
      'HALFTONE_RUN_JOBS=false leave every job to the workers. SIGTERM or SIGINT: running jobs finish,',
      'then the process exits (after at most HALFTONE_SHUTDOWN_GRACE_MS). See docs/deploy.md.',
      '',
      'Example:',
      '  HALFTONE_QUEUE=bullmq REDIS_URL=redis://127.0.0.1:6379 HALFTONE_STORAGE=s3 HALFTONE_S3_BUCKET=img \\',
      '    HALFTONE_META=postgres DATABASE_URL=postgres://... halftone worker',
    ].join('\n'))
    .action(async () => {
      const { runWorker } = await import('../compose-worker.js');
      workerExitCode = await runWorker(process.env);
    });
}
