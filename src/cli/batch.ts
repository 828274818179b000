/**
 * `halftone batch <dir> --oss '<process>' --out <dir>`: applies one OSS process string to every
 * image under a directory (recursively), writing results under `--out` with the same relative
 * paths (extension from the output format). A bounded number of files are processed at once; a
 * progress bar is drawn on stderr when it is a terminal; each failed file is reported on its own
 * line and the run ends with a summary of bytes saved. Exit code 1 when any file failed.
 */
import { availableParallelism } from 'node:os';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { transformOss } from '../app/transform-image.js';
import { isAppError } from '../core/errors.js';
import { writeOutput } from './io.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.heic', '.heif', '.tif', '.tiff', '.bmp']);
const EXT_OF_FORMAT: Record<string, string> = { jpeg: '.jpg', png: '.png', webp: '.webp', gif: '.gif', avif: '.avif', heic: '.heic', tiff: '.tiff', bmp: '.bmp' };

export interface BatchOptions {
  readonly oss: string;
  readonly out: string;
  readonly concurrency: number;
  /** Where progress and the summary go (stderr). */
  readonly stream?: NodeJS.WriteStream;
}

export interface BatchSummary {
  readonly files: number;
  readonly written: number;
  readonly failed: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Image files under `dir`, sorted, skipping dot-files and the output directory. */
async function listImages(dir: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) {
        if (full !== skip) await walk(full);
      } else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(full);
    }
  };
  await walk(dir);
  return out.sort();
}

function mib(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export async function runBatch(dir: string, opts: BatchOptions): Promise<BatchSummary> {
  const stream = opts.stream ?? process.stderr;
  const root = resolve(dir);
  const outRoot = resolve(opts.out);
  const files = await listImages(root, outRoot);
  const t0 = performance.now();
  const bar = stream.isTTY ? new SingleBar({ stream, format: 'batch [{bar}] {value}/{total} {file}', hideCursor: true, clearOnComplete: true }) : undefined;
  bar?.start(files.length, 0, { file: '' });
  let next = 0;
  let written = 0;
  let failed = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  const report = (line: string) => {
    // Keep the bar intact: clear its line, print, redraw.
    if (bar) stream.write('\r\x1b[K');
    stream.write(`${line}\n`);
    bar?.render();
  };
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i] as string;
      const rel = relative(root, file);
      try {
        const source = await readFile(file);
        const res = await transformOss(source, opts.oss, {
          loadObject: async (key) => {
            throw new Error(`watermark object ${JSON.stringify(key)}: image watermarks are not available in batch mode`);
          },
        });
        const base = rel.slice(0, rel.length - extname(rel).length);
        const target = join(outRoot, res.kind === 'image' ? `${base}${EXT_OF_FORMAT[res.format] ?? extname(rel)}` : `${base}.json`);
        await mkdir(dirname(target), { recursive: true });
        const data = res.kind === 'image' ? res.data : Buffer.from(`${res.body}\n`);
        await writeOutput(target, data);
        written++;
        bytesIn += source.length;
        bytesOut += data.length;
      } catch (err) {
        failed++;
        const what = isAppError(err) ? `${err.code}${err.ec ? ` ${err.ec}` : ''}: ${err.publicMessage}` : (err as Error).message;
        report(`halftone: ${rel.split(sep).join('/')}: ${what}`);
      }
      bar?.increment(1, { file: rel });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, files.length)) }, worker));
  bar?.stop();
  const saved = bytesIn > 0 ? ((1 - bytesOut / bytesIn) * 100).toFixed(1) : '0.0';
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  stream.write(`batch: ${files.length} file(s), ${written} written, ${failed} failed; ${mib(bytesIn)} → ${mib(bytesOut)} (${saved} % saved) in ${secs} s\n`);
  return { files: files.length, written, failed, bytesIn, bytesOut };
}

function parseConcurrency(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new InvalidArgumentError('expected an integer between 1 and 64');
  return Number(v);
}

/** Adds the `batch` command to the CLI. */
export function registerBatchCommand(program: Command): void {
  program
    .command('batch')
    .description('Apply an OSS process string to every image under a directory (recursively).')
    .requiredOption('--oss <process>', 'OSS process string, e.g. "image/resize,w_1200/format,webp"')
    .requiredOption('--out <dir>', 'output directory (same relative paths; the extension follows the output format)')
    .option('--concurrency <n>', 'files processed at once (default: CPU count, at most 4)', parseConcurrency, Math.min(4, availableParallelism()))
    .argument('<dir>', 'input directory')
    .addHelpText('after', '\nExample:\n  halftone batch photos --oss image/resize,w_1200/format,webp --out web\n\nFailed files are listed on stderr; the exit code is 1 when any file failed.')
    .action(async (dir: string, opts: { oss: string; out: string; concurrency: number }) => {
      const summary = await runBatch(dir, opts);
      if (summary.failed > 0) throw new Error(`${summary.failed} of ${summary.files} file(s) failed`);
    });
}
