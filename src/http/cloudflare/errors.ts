/**
 * How Cloudflare presents Halftone's error codes (spec cloudflare-transform.md §13): a 9xxx code,
 * the HTTP status Cloudflare uses for it, a `text/plain` body `ERROR <code>: <message>` and the
 * header `Cf-Resized: err=<code>`.
 */
import type { ErrorCode } from '../../core/errors.js';

export interface CfErrorShape {
  readonly cf: number;
  readonly status: number;
}

/** Halftone code → Cloudflare 9xxx code and status. Codes not listed are 9523 / 500. */
export const CF_ERRORS: Partial<Record<ErrorCode, CfErrorShape>> = {
  INVALID_ARGUMENT: { cf: 9401, status: 400 },
  MISSING_ARGUMENT: { cf: 9401, status: 400 },
  BAD_REQUEST: { cf: 9401, status: 400 },
  UNKNOWN_ACTION: { cf: 9401, status: 400 },
  UNSUPPORTED_OPTION: { cf: 9401, status: 501 },
  INVALID_URI: { cf: 9406, status: 403 },
  IMAGE_TOO_LARGE: { cf: 9413, status: 403 },
  OUTPUT_TOO_LARGE: { cf: 9413, status: 403 },
  UNSUPPORTED_FORMAT: { cf: 9520, status: 415 },
  CORRUPT_IMAGE: { cf: 9516, status: 422 },
  ENCODER_UNAVAILABLE: { cf: 9516, status: 500 },
  NO_SUCH_KEY: { cf: 9404, status: 404 },
  NO_SUCH_BUCKET: { cf: 9404, status: 404 },
  ACCESS_DENIED: { cf: 9408, status: 403 },
  ENTITY_TOO_LARGE: { cf: 9402, status: 413 },
  TIMEOUT: { cf: 9529, status: 504 },
  OVERLOADED: { cf: 9527, status: 503 },
  // Logged only: the client is gone (nginx's 499).
  CLIENT_CLOSED: { cf: 9523, status: 499 },
  INTERNAL: { cf: 9523, status: 500 },
  SOURCE_LOOP: { cf: 9403, status: 508 },
  FETCH_INVALID_URL: { cf: 9406, status: 403 },
  FETCH_ORIGIN_NOT_ALLOWED: { cf: 9401, status: 403 },
  FETCH_FORBIDDEN_ADDRESS: { cf: 9401, status: 403 },
  FETCH_DNS_FAILED: { cf: 9407, status: 523 },
  FETCH_UNREACHABLE: { cf: 9510, status: 523 },
  FETCH_TIMEOUT: { cf: 9504, status: 524 },
  FETCH_TOO_LARGE: { cf: 9402, status: 413 },
  FETCH_TOO_MANY_REDIRECTS: { cf: 9421, status: 400 },
  FETCH_BAD_REDIRECT: { cf: 9420, status: 400 },
  FETCH_LOOP: { cf: 9403, status: 508 },
  FETCH_ORIGIN_NOT_FOUND: { cf: 9404, status: 404 },
  FETCH_ORIGIN_REJECTED: { cf: 9408, status: 403 },
  FETCH_ORIGIN_ERROR: { cf: 9509, status: 502 },
  FETCH_FAILED: { cf: 9402, status: 502 },
};

export function cfErrorShape(code: ErrorCode): CfErrorShape {
  return CF_ERRORS[code] ?? { cf: 9523, status: 500 };
}
