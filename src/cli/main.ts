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
import { isAppError } from '../core/errors.js';
import { readInput, writeOutput } from './io.js';

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

export function buildCli(): Command {
  const program = new Command();
  program
    .name('halftone')
    .description('Halftone: self-hosted image processing and optimisation (OSS IMG process strings today).')
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

  return program;
}

/** Runs the CLI and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
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
