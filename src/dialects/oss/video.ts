/**
 * Parser of the OSS asynchronous processing body for `video/animation` (spec
 * oss-video-animation.md §1.2, §2):
 * `x-oss-async-process=video/animation,<params>|sys/saveas,b_<b64>,o_<b64>[/notify,topic_<b64>]`,
 * plus the variables of the target key (`{autoext}`, `{barename}`, …).
 *
 * Pure. The value is decoded with decodeURIComponent (`+` stays `+`); base64 options are accepted
 * in all four spellings (standard / URL-safe, padded / unpadded).
 */
import { AppError, invalidParam } from '../../core/errors.js';
import type { AnimationFormat, AnimationParams, ScaleType } from '../../core/video/animation.js';
import { decodeAnyBase64 } from './saveas.js';

export interface AsyncProcessBody {
  /** The processing part before `|` (`video/animation,...` or `style/<name>`). */
  readonly process: string;
  readonly saveas: { readonly bucket: string | undefined; readonly object: string };
  /** Decoded notify topic, when `/notify,topic_...` was given. */
  readonly topic: string | undefined;
}

const SCALE_TYPES: readonly ScaleType[] = ['crop', 'stretch', 'fill', 'fit'];
const KEYS = new Set(['f', 'ss', 'num', 'inter', 'fps', 'w', 'h', 'pw', 'ph', 'scaletype']);
/** Largest integer accepted for ss / num / inter (keeps arithmetic exact). */
const MAX_INT = 2 ** 31 - 1;

function splitOptions(list: string): [string, string][] {
  return list.split(',').filter((o) => o !== '').map((o) => {
    const i = o.indexOf('_');
    return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
  });
}

/** Parses the POST body; throws INVALID_ARGUMENT / BAD_REQUEST with the spec's wording. */
export function parseAsyncProcessBody(body: string): AsyncProcessBody {
  const trimmed = body.trim();
  if (!trimmed.startsWith('x-oss-async-process=')) {
    throw new AppError('INVALID_ARGUMENT', 'The request body must be x-oss-async-process=<process>|sys/saveas,...');
  }
  let value: string;
  try {
    value = decodeURIComponent(trimmed.slice('x-oss-async-process='.length));
  } catch {
    throw new AppError('BAD_REQUEST', 'The x-oss-async-process value is not valid percent-encoding.');
  }
  const bar = value.indexOf('|');
  const process = bar < 0 ? value : value.slice(0, bar);
  if (process === '') throw new AppError('INVALID_ARGUMENT', 'The x-oss-async-process value is empty.');
  // Parameters first: an invalid parameter is reported even when sys/saveas is missing too.
  if (!process.startsWith('style/')) parseAnimationParams(process);
  if (bar < 0) throw new AppError('INVALID_ARGUMENT', 'Asynchronous processing needs a target: append |sys/saveas,o_<base64 key>[,b_<base64 bucket>].');
  let tail = value.slice(bar + 1);
  if (tail.includes('|')) throw new AppError('INVALID_ARGUMENT', 'Only one sys/saveas step is allowed, at the end.');
  let topic: string | undefined;
  // `,` never occurs in base64, so "/notify," cannot be part of an o_/b_ value.
  const n = tail.indexOf('/notify,');
  if (n >= 0) {
    for (const [k, v] of splitOptions(tail.slice(n + '/notify,'.length))) {
      if (k !== 'topic') throw new AppError('INVALID_ARGUMENT', `Unknown notify parameter ${JSON.stringify(k)}.`);
      topic = decodeAnyBase64(v);
    }
    if (topic === undefined || topic === '') throw new AppError('INVALID_ARGUMENT', 'notify needs a topic (topic_<base64 name>).');
    tail = tail.slice(0, n);
  }
  if (!tail.startsWith('sys/saveas')) throw new AppError('INVALID_ARGUMENT', `Unknown step ${JSON.stringify(tail.split(',')[0])} after "|"; expected sys/saveas.`);
  const rest = tail.slice('sys/saveas'.length);
  if (rest !== '' && !rest.startsWith(',')) throw new AppError('INVALID_ARGUMENT', `Unknown step ${JSON.stringify(tail.split(',')[0])} after "|"; expected sys/saveas.`);
  let object: string | undefined;
  let bucket: string | undefined;
  for (const [k, v] of splitOptions(rest)) {
    if (k === 'o') object = decodeAnyBase64(v);
    else if (k === 'b') bucket = decodeAnyBase64(v);
    else throw new AppError('INVALID_ARGUMENT', `Unknown sys/saveas parameter ${JSON.stringify(k)}.`);
  }
  if (object === undefined || object === '') throw new AppError('INVALID_ARGUMENT', 'sys/saveas needs the target object (o_<base64 key>).');
  return { process, saveas: { bucket, object }, topic };
}

function int(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw invalidParam(name, `integer between ${min} and ${max}`, raw);
  return Number(raw);
}

/** Parses `video/animation,<params>` (spec §2): ranges, defaults, required `f`. */
export function parseAnimationParams(process: string): AnimationParams {
  const [head, ...rest] = process.split(',');
  if (head !== 'video/animation') {
    throw new AppError('INVALID_ARGUMENT', `Expected video/animation (or style/<name>) but received ${JSON.stringify(head)}`);
  }
  const seen = new Map<string, string>();
  for (const [k, v] of splitOptions(rest.join(','))) {
    if (!KEYS.has(k)) throw new AppError('INVALID_ARGUMENT', `Unknown video/animation parameter ${JSON.stringify(k)}.`);
    seen.set(k, v);
  }
  const f = seen.get('f');
  if (f === undefined) throw new AppError('INVALID_ARGUMENT', 'video/animation needs the output format f (f_gif or f_webp).');
  if (f !== 'gif' && f !== 'webp') throw invalidParam('f', 'gif or webp', f);
  const get = (k: string, min: number, max: number): number | undefined => {
    const v = seen.get(k);
    return v === undefined ? undefined : int(k, v, min, max);
  };
  const fpsRaw = seen.get('fps');
  let fps: number | undefined;
  if (fpsRaw !== undefined) {
    // [0, 240] in the docs; 0 would mean an infinite frame delay and is rejected (spec §2.1.3).
    if (!/^\d+(\.\d+)?$/.test(fpsRaw) || Number(fpsRaw) <= 0 || Number(fpsRaw) > 240) throw invalidParam('fps', 'number greater than 0 and at most 240', fpsRaw);
    fps = Number(fpsRaw);
  }
  const st = seen.get('scaletype') ?? 'stretch';
  if (!SCALE_TYPES.includes(st as ScaleType)) throw invalidParam('scaletype', 'one of crop, stretch, fill, fit', st);
  return {
    format: f as AnimationFormat,
    ss: get('ss', 0, MAX_INT) ?? 0,
    num: get('num', 0, MAX_INT),
    inter: get('inter', 1, MAX_INT),
    fps,
    w: get('w', 32, 4096),
    h: get('h', 32, 4096),
    pw: get('pw', 1, 100),
    ph: get('ph', 1, 100),
    scaletype: st as ScaleType,
  };
}

/** What the target-key variables are computed from. */
export interface TargetContext {
  readonly bucket: string;
  readonly key: string;
  readonly format: AnimationFormat;
  /** Upload (last-modified) time of the source, epoch ms. */
  readonly uploadedAt: number;
  /** Task submission time, epoch ms. */
  readonly taskAt: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function timeVars(prefix: string, ms: number): Record<string, string> {
  const d = new Date(ms);
  return {
    [`${prefix}year`]: pad(d.getUTCFullYear(), 4), [`${prefix}mon`]: pad(d.getUTCMonth() + 1), [`${prefix}day`]: pad(d.getUTCDate()),
    [`${prefix}hour`]: pad(d.getUTCHours()), [`${prefix}min`]: pad(d.getUTCMinutes()), [`${prefix}sec`]: pad(d.getUTCSeconds()),
  };
}

/** The variables of the target key (docs/video.md lists them). */
export function targetVariables(c: TargetContext): Record<string, string> {
  const slash = c.key.lastIndexOf('/');
  const basename = c.key.slice(slash + 1);
  const dot = basename.lastIndexOf('.');
  return {
    autoext: c.format,
    bucket: c.bucket,
    key: c.key,
    dirname: slash < 0 ? '' : c.key.slice(0, slash),
    basename,
    barename: dot > 0 ? basename.slice(0, dot) : basename,
    ext: dot > 0 ? basename.slice(dot + 1) : '',
    index: '1',
    ...timeVars('', c.uploadedAt),
    ...timeVars('t_', c.taskAt),
  };
}

/** Expands `{name}` variables; `{{` and `}}` stand for literal braces. */
export function expandTargetKey(template: string, vars: Record<string, string>): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if ((ch === '{' || ch === '}') && template[i + 1] === ch) {
      out += ch;
      i++;
    } else if (ch === '{') {
      const end = template.indexOf('}', i);
      if (end < 0) throw new AppError('INVALID_ARGUMENT', 'The target key has a "{" without a matching "}" (write {{ for a literal brace).');
      const name = template.slice(i + 1, end);
      // Own names only: `{constructor}` or `{toString}` would otherwise expand Object's members.
      const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
      if (v === undefined) throw new AppError('INVALID_ARGUMENT', `Unknown variable {${name}} in the target key.`);
      out += v;
      i = end;
    } else if (ch === '}') {
      throw new AppError('INVALID_ARGUMENT', 'The target key has a "}" without a matching "{" (write }} for a literal brace).');
    } else out += ch;
  }
  return out;
}
