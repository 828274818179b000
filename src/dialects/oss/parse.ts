/**
 * The OSS IMG dialect: `image/action,k_v,.../action,...` → Recipe (spec oss-img.md §1–§3).
 *
 * Pure: strings in, a Recipe or a coded AppError out. Styles (`style/<name>`) are resolved by the
 * caller, which owns the metadata store; this module only sees `image/...` chains.
 */
import { AppError } from '../../core/errors.js';
import type { Operation, OutputFormat, OutputSpec, QualitySpec, Recipe, TerminalKind } from '../../core/ir.js';
import { ACTIONS, type ActionArgs, type ParseContext } from './actions.js';

export interface OssParseOptions {
  /**
   * Reject unknown argument keys (default). OSS's behaviour is not documented; `false` ignores them,
   * for URLs written against the cloud that carry stray keys.
   */
  readonly strict?: boolean;
}

/** Splits one action into its name and arguments: `k_v` splits at the first `_`, else a bare value. */
function splitAction(segment: string): { name: string; args: ActionArgs } {
  const [name = '', ...rest] = segment.split(',');
  const keyed = new Map<string, string>();
  const bare: string[] = [];
  for (const part of rest) {
    if (part === '') continue;
    const i = part.indexOf('_');
    if (i > 0) keyed.set(part.slice(0, i), part.slice(i + 1));
    else bare.push(part);
  }
  return { name, args: { keyed, bare } };
}

/** Parses an OSS process value (already URL-decoded once). */
export function parseOssProcess(process: string, options: OssParseOptions = {}): Recipe {
  if (!process.startsWith('image/')) {
    if (process === 'image') throw noAction();
    throw new AppError('INVALID_ARGUMENT', `The process must start with "image/" (or "style/" for a style); received ${JSON.stringify(process.slice(0, 64))}.`);
  }
  return parseChain(process.slice('image/'.length), { strict: options.strict ?? true, nested: false, parseNested: parseChain });
}

/** Parses the chain after `image/`. Exported for the nested process string of image watermarks. */
export function parseChain(chain: string, ctx: ParseContext): Recipe {
  const segments = chain.split('/').filter((s) => s !== '');
  if (segments.length === 0) throw noAction();

  let autoOrient: Operation | undefined;
  const ops: Operation[] = [];
  const output: { format?: OutputFormat; quality?: QualitySpec; interlace?: boolean } = {};
  let terminal: TerminalKind | undefined;

  for (const segment of segments) {
    const { name, args } = splitAction(segment);
    // Own properties only: `valueOf`, `constructor`, `__proto__` are not actions.
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (action === undefined) {
      throw new AppError('UNKNOWN_ACTION', `The operation ${JSON.stringify(name)} is not supported.`, { ec: '0040-00000213' });
    }
    const res = action(args, ctx);
    switch (res.kind) {
      case 'op':
        // auto-orient runs before the chain wherever it is written; the last one wins.
        if (res.op.op === 'autoOrient') autoOrient = res.op;
        else ops.push(res.op);
        break;
      case 'format':
        output.format = res.format;
        break;
      case 'quality':
        // Q wins over q within one action; a later quality action replaces an earlier one.
        output.quality = res.quality;
        break;
      case 'interlace':
        output.interlace = res.interlace;
        break;
      case 'terminal':
        terminal = res.terminal;
        break;
      case 'none':
        break;
    }
  }
  if (terminal !== undefined && segments.length > 1) {
    const name = terminal === 'info' ? 'info' : 'average-hue';
    throw new AppError('INVALID_ARGUMENT', `The ${name} operation cannot be combined with other operations.`);
  }
  const allOps = autoOrient ? [autoOrient, ...ops] : ops;
  const out: OutputSpec = output;
  return terminal === undefined ? { ops: allOps, output: out } : { ops: [], output: out, terminal };
}

function noAction(): AppError {
  return new AppError('MISSING_ARGUMENT', 'The process string names no operation after "image/".', { ec: '0040-00000212' });
}
