/**
 * Parser of the `POST /<key>?x-oss-process` body (spec oss-img.md §6):
 * `x-oss-process=<chain>|sys/saveas,o_<b64 key>[,b_<b64 bucket>]`.
 *
 * Pure. The value is decoded with decodeURIComponent (not a form decoder: `+` stays `+`), and the
 * base64 options are accepted in all four spellings (standard / URL-safe, padded / unpadded).
 */
import { AppError } from '../../core/errors.js';

export interface SaveAsTarget {
  /** Target key (decoded). */
  readonly object: string;
  /** Target bucket, or undefined for the source bucket. */
  readonly bucket: string | undefined;
}

export interface ProcessBody {
  /** The processing chain before `|sys/saveas` (`image/...` or `style/<name>`). */
  readonly process: string;
  readonly saveas: SaveAsTarget | undefined;
}

/** Decodes standard or URL-safe base64, with or without padding; BAD_REQUEST otherwise. */
export function decodeAnyBase64(raw: string): string {
  const fail = (): never => {
    throw new AppError('BAD_REQUEST', 'Input is not base64 decoding.', { details: { value: raw.slice(0, 128) } });
  };
  const std = raw.replace(/-/g, '+').replace(/_/g, '/');
  const body = std.replace(/=+$/, '');
  if (body === '' || !/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1 || std.length - body.length > 2) fail();
  if (std.length !== body.length && std.length % 4 !== 0) fail();
  const buf = Buffer.from(body, 'base64');
  // Reject non-canonical trailing bits and invalid UTF-8 (round trip must reproduce the input).
  if (buf.toString('base64').replace(/=+$/, '') !== body) fail();
  const text = buf.toString('utf8');
  if (Buffer.from(text, 'utf8').compare(buf) !== 0) fail();
  return text;
}

/** Parses the POST body. */
export function parseProcessBody(body: string): ProcessBody {
  const trimmed = body.trim();
  if (!trimmed.startsWith('x-oss-process=')) {
    throw new AppError('MISSING_ARGUMENT', 'The request body must be x-oss-process=<process>.');
  }
  let value: string;
  try {
    value = decodeURIComponent(trimmed.slice('x-oss-process='.length));
  } catch {
    throw new AppError('BAD_REQUEST', 'The x-oss-process value is not valid percent-encoding.');
  }
  if (value === '') throw new AppError('MISSING_ARGUMENT', 'The x-oss-process value is empty.');
  const bar = value.indexOf('|sys/saveas');
  if (bar < 0) {
    if (value.includes('sys/saveas')) throw new AppError('INVALID_ARGUMENT', 'sys/saveas must follow the processing chain after "|".');
    return { process: value, saveas: undefined };
  }
  const process = value.slice(0, bar);
  const tail = value.slice(bar + 1);
  if (tail.includes('|')) throw new AppError('INVALID_ARGUMENT', 'Only one sys/saveas step is allowed, at the end.');
  const [name, ...opts] = tail.split(',');
  if (name !== 'sys/saveas') throw new AppError('INVALID_ARGUMENT', `Unknown step ${JSON.stringify(name)} after "|".`);
  let object: string | undefined;
  let bucket: string | undefined;
  for (const opt of opts) {
    if (opt === '') continue;
    const i = opt.indexOf('_');
    const k = i < 0 ? opt : opt.slice(0, i);
    const v = i < 0 ? '' : opt.slice(i + 1);
    if (k === 'o') object = decodeAnyBase64(v);
    else if (k === 'b') bucket = decodeAnyBase64(v);
    else throw new AppError('INVALID_ARGUMENT', `Unknown sys/saveas parameter ${JSON.stringify(k)}.`);
  }
  if (object === undefined) throw new AppError('MISSING_ARGUMENT', 'sys/saveas needs the target object (o_<base64>).');
  if (process === '') throw new AppError('MISSING_ARGUMENT', 'sys/saveas needs a processing chain before it.');
  return { process, saveas: { object, bucket } };
}
