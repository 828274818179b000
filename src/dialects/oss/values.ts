/**
 * Value parsers shared by the OSS actions: integers in a range, enums, colours, URL-safe base64.
 * Each throws the AppError OSS would answer, with the EC where Alibaba documents one.
 */
import { AppError, invalidParam } from '../../core/errors.js';
import type { Rgba } from '../../core/ir.js';

const INT = /^[+-]?\d+$/;

/** Parses an integer in [min, max] or throws INVALID_ARGUMENT with `ec`. */
export function intIn(what: string, raw: string | undefined, min: number, max: number, ec?: string): number {
  if (raw === undefined || !INT.test(raw)) throw invalidParam(what, `integer between ${min} and ${max}`, raw, ec);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidParam(what, `integer between ${min} and ${max}`, raw, ec);
  return n;
}

export function oneOf<T extends string>(what: string, raw: string | undefined, values: readonly T[], ec?: string): T {
  if (raw !== undefined && (values as readonly string[]).includes(raw)) return raw as T;
  throw invalidParam(what, `one of ${values.join(', ')}`, raw, ec);
}

export function flag(what: string, raw: string | undefined, ec?: string): boolean {
  return intIn(what, raw, 0, 1, ec) === 1;
}

/** `RRGGBB` hex colour (case-insensitive). */
export function hexColour(what: string, raw: string | undefined): Rgba {
  if (raw === undefined || !/^[0-9a-fA-F]{6}$/.test(raw)) throw invalidParam(what, 'a colour as 6 hex digits (RRGGBB)', raw);
  const n = Number.parseInt(raw, 16);
  return { r: (n >> 16) & 0xff, g: (n >> 8) & 0xff, b: n & 0xff, alpha: 1 };
}

/**
 * Decodes OSS base64: URL-safe or standard alphabet, padded or not (spec §1.2, §3.3).
 * Undecodable input → 400 BadRequest "Input is not base64 decoding." (the docs' own message).
 */
export function decodeBase64(raw: string | undefined): string {
  if (raw === undefined || raw === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) throw notBase64();
  const std = raw.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) throw notBase64();
  const bytes = Buffer.from(std, 'base64');
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return text.decode(bytes);
  } catch {
    throw notBase64();
  }
}

function notBase64(): AppError {
  return new AppError('BAD_REQUEST', 'Input is not base64 decoding.');
}
