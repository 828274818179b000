/**
 * `halftone gc [--dry-run] [--grace-ms <ms>] [--json]`: one sweep of orphaned blobs (written, but
 * no object or part row refers to them) older than the grace period, with the server's
 * configuration (HALFTONE_* environment). Safe while nodes run (src/app/blob-gc.ts).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { resolve } from 'node:path';

/** Exit code of the last gc run (commander actions cannot return one). */
export let gcExitCode = 0;

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('Remove orphaned blobs (no metadata row refers to them, e.g. left by a node killed mid-upload) older than the grace period, from the configured storage (HALFTONE_STORAGE, HALFTONE_S3_*, HALFTONE_META).')
    .option('--dry-run', 'list the orphans, remove nothing')
    .option('--grace-ms <ms>', 'only blobs older than this (default HALFTONE_BLOB_GC_GRACE_MS, 24 h)', (v: string) => {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a positive integer (milliseconds)');
      return Number(v);
    })
    .option('--json', 'print the report as JSON')
    .addHelpText('after', [
      '',
      'Safe while nodes run, and on several nodes at once: a blob younger than the grace period is never',
      'removed, and its reference is checked again right before removal. Keep the grace period longer than',
      'the longest upload. Serving nodes on S3 also sweep every HALFTONE_BLOB_GC_INTERVAL_MS.',
      '',
      'Examples:',
      '  halftone gc --dry-run',
      '  HALFTONE_STORAGE=s3 HALFTONE_S3_BUCKET=img HALFTONE_META=postgres DATABASE_URL=postgres://... halftone gc',
    ].join('\n'))
    .action(async (opts: { dryRun?: boolean; graceMs?: number; json?: boolean }) => {
      const [{ load }, { composeBlobsAndMeta }, { sweepOrphanBlobs }] = await Promise.all([
        import('../config/schema.js'), import('../compose-shared.js'), import('../app/blob-gc.js'),
      ]);
      const loaded = load(process.env);
      if (!loaded.ok) {
        console.error('halftone: invalid configuration:');
        for (const e of loaded.errors) console.error(`  - ${e}`);
        gcExitCode = 2;
        return;
      }
      const stores = await composeBlobsAndMeta(loaded.config, resolve(loaded.config.dataDir));
      try {
        const dryRun = opts.dryRun === true;
        const report = await sweepOrphanBlobs(stores, { graceMs: opts.graceMs ?? loaded.config.blobGcGraceMs, dryRun });
        if (opts.json === true) process.stdout.write(`${JSON.stringify({ dryRun, ...report }, null, 2)}\n`);
        else {
          for (const o of report.orphans) process.stdout.write(`${dryRun ? 'orphan' : 'removed'} ${o.id} (written ${new Date(o.lastModified).toISOString()})\n`);
          process.stdout.write(`${report.scanned} blobs, ${report.orphans.length} orphaned, ${report.removed} removed${dryRun ? ' (dry run)' : ''}\n`);
        }
        gcExitCode = 0;
      } finally {
        await stores.close();
      }
    });
}
