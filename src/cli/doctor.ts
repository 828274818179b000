/**
 * `halftone doctor [--data-dir <dir>] [--repair] [--json]`: checks the store of a data dir (see
 * src/app/doctor.ts). Exit 0 consistent (or everything repaired), 1 inconsistent.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { runDoctor } from '../app/doctor.js';
import { openDoctorStore } from '../doctor-store.js';

/** Exit code of the last doctor run (commander actions cannot return one). */
export let doctorExitCode = 0;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check the store: every object has its blob with the recorded size and MD5, no orphan blobs, temp files or parts of vanished uploads. Exit 1 when inconsistent.')
    .option('--data-dir <dir>', 'data directory (default: HALFTONE_DATA_DIR or ./data)')
    .option('--repair', 'remove orphan blobs, temp files and parts of vanished uploads (refused while a server or worker uses the data dir)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nRun it with the server stopped: the temp files and new blobs of in-flight writes look like orphans (--repair refuses while a server or worker holds the data dir).\n\nExamples:\n  halftone doctor --data-dir ./data\n  halftone doctor --data-dir ./data --repair')
    .action(async (opts: { dataDir?: string; repair?: boolean; json?: boolean }) => {
      const dir = resolve(opts.dataDir ?? process.env['HALFTONE_DATA_DIR'] ?? './data');
      const repair = opts.repair === true;
      const store = openDoctorStore(dir, repair);
      try {
        const report = await runDoctor(store, { repair });
        if (opts.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          for (const p of report.problems) process.stdout.write(`${p.repaired ? 'repaired' : 'PROBLEM'} ${p.kind}: ${p.detail}\n`);
          process.stdout.write(`${dir}: ${report.objects} objects, ${report.parts} parts, ${report.blobs} blobs, ${report.problems.length} problem(s)`
            + `${report.consistent ? (report.problems.length > 0 ? ', all repaired' : ', consistent') : ', INCONSISTENT'}\n`);
        }
        doctorExitCode = report.consistent ? 0 : 1;
      } finally {
        store.close();
      }
    });
}
