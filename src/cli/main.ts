/**
 * `npx halftone <command>`: the command-line door to the same use cases the server runs.
 *
 * Exit codes: 0 success; 1 the work failed (unreadable file, server error); 2 the request was
 * invalid (bad parameters, unsupported or corrupt image, usage error). Errors print one line:
 * `halftone: <CODE>[ <EC>]: <message>`.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { transformOss } from '../app/transform-image.js';
import { explainOss } from '../app/explain.js';
import { compressImage, targetFormatOf, MAX_KBYTE } from '../app/compress.js';
import type { TargetFormat } from '../core/compress/target-size.js';
import { isAppError } from '../core/errors.js';
import { readInput, writeOutput } from './io.js';
import { registerBatchCommand } from './batch.js';
import { registerAnimate } from './animate.js';
import { doctorExitCode, registerDoctor } from './doctor.js';
import { registerWorker, workerExitCode } from './worker.js';
import { gcExitCode, registerGc } from './gc.js';

const noObjects = async (key: string): Promise<Buffer> => {
  throw new Error(`watermark object ${JSON.stringify(key)}: image watermarks read other objects; on the CLI pass --objects <dir>`);
};

/** Loads watermark objects from a directory given with --objects (keys are relative paths). */
function objectLoader(dir: string | undefined): (key: string) => Promise<Buffer> {
  if (!dir) return noObjects;
  return async (key) => {
    const { resolve, sep } = await import('node:path');
    const root = resolve(dir);
    const full = resolve(root, key);
    if (!full.startsWith(root + sep)) throw new Error(`watermark key ${JSON.stringify(key)} escapes ${dir}`);
    return readInput(full);
  };
}

function parseSize(v: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected WIDTHxHEIGHT, e.g. 400x267');
  return { width: Number(m[1]), height: Number(m[2]) };
}

function parseIntIn(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`expected an integer between ${min} and ${max}`);
    return Number(v);
  };
}

function parseTargetFormat(v: string): TargetFormat {
  const f = targetFormatOf(v);
  if (!f) throw new InvalidArgumentError('expected jpeg (jpg), webp, avif or png');
  return f;
}

/** The output format a file name asks for (`out.webp` → webp), if any. */
function formatFromName(path: string): TargetFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(path);
  return m?.[1] === undefined ? undefined : targetFormatOf(m[1]);
}

export function buildCli(): Command {
  const program = new Command();
  program
    .name('halftone')
    .description('Halftone: self-hosted image processing and optimisation (OSS process strings, target-size compression, video → animation, store maintenance and background jobs).')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('transform')
    .description('Apply an OSS process string to an image file (use - for stdin/stdout).')
    .requiredOption('--oss <process>', 'OSS process string, e.g. "image/resize,w_300/quality,q_80"')
    .option('--objects <dir>', 'directory that image watermarks (watermark,image_...) are read from')
    .argument('<in>', 'input image file, or - for stdin')
    .argument('<out>', 'output file, or - for stdout')
    .addHelpText('after', '\nExamples:\n  halftone transform --oss image/resize,w_300/format,webp photo.jpg thumb.webp\n  cat a.png | halftone transform --oss image/circle,r_100/format,png - - > round.png')
    .action(async (input: string, output: string, opts: { oss: string; objects?: string }) => {
      const source = await readInput(input);
      const res = await transformOss(source, opts.oss, { loadObject: objectLoader(opts.objects) });
      await writeOutput(output, res.kind === 'image' ? res.data : `${res.body}\n`);
      if (output !== '-' && res.kind === 'image') {
        process.stderr.write(`${output}: ${res.format} ${res.width}x${res.height}, ${res.data.length} bytes\n`);
      }
    });

  program
    .command('compress')
    .description('Compress an image to at most a target file size, in JPEG, WebP, AVIF or PNG (use - for stdin/stdout).')
    .requiredOption('--kbyte <KB>', `target size in KB of 1024 bytes (1-${MAX_KBYTE}); the output is never larger`, parseIntIn(1, MAX_KBYTE))
    .option('--format <format>', 'jpeg|webp|avif|png (default: from the output file extension, else the source format, else jpeg)', parseTargetFormat)
    .option('--width <px>', 'output width (height follows the aspect ratio unless --height is given)', parseIntIn(1, 16383))
    .option('--height <px>', 'output height (width follows the aspect ratio unless --width is given)', parseIntIn(1, 16383))
    .argument('<in>', 'input image file, or - for stdin')
    .argument('<out>', 'output file, or - for stdout')
    .addHelpText('after', '\nExamples:\n  halftone compress --kbyte 200 photo.jpg small.jpg\n  halftone compress --kbyte 50 --width 800 photo.png small.webp\n  cat a.png | halftone compress --kbyte 30 --format png - - > small.png\n\nThe quality is searched (palette colours for PNG); when even the lowest setting is too big the image is downscaled.')
    .action(async (input: string, output: string, opts: { kbyte: number; format?: TargetFormat; width?: number; height?: number }) => {
      const source = await readInput(input);
      const format = opts.format ?? (output === '-' ? undefined : formatFromName(output));
      const res = await compressImage(source, {
        kbyte: opts.kbyte,
        ...(format ? { format } : {}),
        ...(opts.width === undefined ? {} : { width: opts.width }),
        ...(opts.height === undefined ? {} : { height: opts.height }),
      });
      await writeOutput(output, res.data);
      const setting = res.colours !== undefined ? `${res.colours} colours (quantiser quality ${res.quality ?? '-'})` : res.quality !== undefined ? `quality ${res.quality}` : 'lossless';
      process.stderr.write(
        `${output === '-' ? 'stdout' : output}: ${res.format} ${res.width}x${res.height}${res.scaled ? ' (downscaled)' : ''}, ${res.data.length} of ${res.targetBytes} bytes, ${setting}, ${res.encodes} encodes\n`,
      );
    });

  program
    .command('explain')
    .description('Print the parsed recipe and the planned sharp passes as JSON, without processing.')
    .requiredOption('--oss <process>', 'OSS process string')
    .option('--size <WxH>', 'assume a JPEG source of this size when no file is given', parseSize)
    .argument('[in]', 'optional input image, probed for its real size and format')
    .addHelpText('after', '\nExample:\n  halftone explain --oss image/resize,w_100/rotate,90/blur,r_3,s_2 --size 400x267')
    .action(async (input: string | undefined, opts: { oss: string; size?: { width: number; height: number } }) => {
      const bytes = input ? await readInput(input) : undefined;
      const out = await explainOss(opts.oss, { ...(bytes ? { bytes } : {}), ...(opts.size ?? {}) });
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  program
    .command('info')
    .description('Print the OSS image/info JSON of an image file (size, format, frames, EXIF).')
    .argument('<in>', 'input image file, or - for stdin')
    .action(async (input: string) => {
      const res = await transformOss(await readInput(input), 'image/info', { loadObject: noObjects });
      process.stdout.write(`${res.kind === 'json' ? res.body : ''}\n`);
    });

  registerBatchCommand(program);
  registerAnimate(program);
  registerDoctor(program);
  registerWorker(program);
  registerGc(program);

  return program;
}

/** Runs the CLI and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return argv[0] === 'doctor' ? doctorExitCode : argv[0] === 'worker' ? workerExitCode : argv[0] === 'gc' ? gcExitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isAppError(err)) {
      process.stderr.write(`halftone: ${err.code}${err.ec ? ` ${err.ec}` : ''}: ${err.publicMessage}\n`);
      return err.status >= 500 ? 1 : 2;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`halftone: ${e.code === 'ENOENT' ? `no such file: ${e.path ?? ''}` : e.message}\n`);
    return 1;
  }
}
