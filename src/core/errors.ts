/**
 * The one error catalogue of Halftone.
 *
 * Every failure a user can see carries a stable `code` from {@link ERROR_CATALOGUE}. The HTTP status
 * and each dialect's own spelling (OSS `Code`, Cloudflare 9xxx, task-API state, Abstract envelope)
 * are derived from the code by the presentation layers; core code only picks the code.
 *
 * `publicMessage` is what the client sees (short, safe); `cause` and `details` are for the log.
 */

export interface ErrorDefinition {
  /** HTTP status used by every dialect unless the dialect overrides it. */
  readonly status: number;
  /** The OSS XML `<Code>` for this error. */
  readonly oss: string;
  /** One line for docs/errors.md. */
  readonly doc: string;
}

export const ERROR_CATALOGUE = {
  // --- request / parameter errors -------------------------------------------------------------
  INVALID_ARGUMENT: { status: 400, oss: 'InvalidArgument', doc: 'A parameter value is out of range or malformed.' },
  MISSING_ARGUMENT: { status: 400, oss: 'MissingArgument', doc: 'A required parameter is absent.' },
  BAD_REQUEST: { status: 400, oss: 'BadRequest', doc: 'The request is malformed (e.g. crop start outside the image, undecodable base64).' },
  UNKNOWN_ACTION: { status: 400, oss: 'InvalidArgument', doc: 'The processing string names an action that does not exist.' },
  // --- image / source errors ---------------------------------------------------------------------
  IMAGE_TOO_LARGE: { status: 400, oss: 'ImageTooLarge', doc: 'The source exceeds a size, dimension, pixel or frame limit (checked from the header, before decoding).' },
  OUTPUT_TOO_LARGE: { status: 400, oss: 'InvalidArgument', doc: 'The requested output exceeds an output dimension or pixel limit.' },
  UNSUPPORTED_FORMAT: { status: 400, oss: 'BadRequest', doc: 'The source is not an image in a supported format (or is not an image at all).' },
  CORRUPT_IMAGE: { status: 400, oss: 'BadRequest', doc: 'The source claims a supported format but cannot be decoded (truncated or corrupt).' },
  ENCODER_UNAVAILABLE: { status: 501, oss: 'NotImplemented', doc: 'The requested output format needs an encoder that is not installed on this server (the message says what to install).' },
  TARGET_SIZE_UNREACHABLE: { status: 400, oss: 'InvalidArgument', doc: 'A target file size (kbyte) is too small for the format even at the lowest setting on a 1x1 image, or after the allowed downscaling steps.' },
  WATERMARK_ERROR: { status: 400, oss: 'WatermarkError', doc: 'The watermark could not be drawn (missing watermark object, undecodable watermark image).' },
  // --- object store ------------------------------------------------------------------------------
  NO_SUCH_KEY: { status: 404, oss: 'NoSuchKey', doc: 'The object does not exist.' },
  NO_SUCH_BUCKET: { status: 404, oss: 'NoSuchBucket', doc: 'The bucket does not exist.' },
  NO_SUCH_STYLE: { status: 404, oss: 'NoSuchStyle', doc: 'The named style does not exist in the bucket.' },
  ACCESS_DENIED: { status: 403, oss: 'AccessDenied', doc: 'The caller may not perform this operation.' },
  // --- OSS object service (protocol, auth, storage) ----------------------------------------------
  SIGNATURE_MISMATCH: { status: 403, oss: 'SignatureDoesNotMatch', doc: 'The request signature does not match the one computed with the secret of the access key.' },
  INVALID_ACCESS_KEY: { status: 403, oss: 'InvalidAccessKeyId', doc: 'The access key id is unknown.' },
  REQUEST_EXPIRED: { status: 403, oss: 'AccessDenied', doc: 'The presigned URL has expired.' },
  TIME_SKEWED: { status: 403, oss: 'RequestTimeTooSkewed', doc: 'The request time differs from the server time by more than 15 minutes.' },
  INVALID_DIGEST: { status: 400, oss: 'InvalidDigest', doc: 'The Content-MD5 header does not match the body (or is not valid base64 MD5).' },
  INVALID_OBJECT_NAME: { status: 400, oss: 'InvalidObjectName', doc: 'The object key is empty, longer than 1023 bytes, contains NUL or a "." / ".." path segment.' },
  INVALID_BUCKET_NAME: { status: 400, oss: 'InvalidBucketName', doc: 'The bucket name does not follow the OSS naming rules.' },
  INVALID_URI: { status: 400, oss: 'InvalidURI', doc: 'The request path could not be decoded.' },
  BUCKET_ALREADY_EXISTS: { status: 409, oss: 'BucketAlreadyExists', doc: 'A bucket with this name already exists.' },
  BUCKET_NOT_EMPTY: { status: 409, oss: 'BucketNotEmpty', doc: 'A bucket can only be deleted when it holds no objects and no unfinished multipart uploads.' },
  NO_SUCH_UPLOAD: { status: 404, oss: 'NoSuchUpload', doc: 'The multipart upload does not exist (completed, aborted or never started).' },
  INVALID_PART: { status: 400, oss: 'InvalidPart', doc: 'A part listed in CompleteMultipartUpload was not uploaded or its ETag does not match.' },
  INVALID_PART_ORDER: { status: 400, oss: 'InvalidPartOrder', doc: 'The parts in CompleteMultipartUpload are not in ascending order.' },
  POSITION_NOT_EQUAL_TO_LENGTH: { status: 409, oss: 'PositionNotEqualToLength', doc: 'AppendObject position differs from the current object length.' },
  OBJECT_NOT_APPENDABLE: { status: 409, oss: 'ObjectNotAppendable', doc: 'AppendObject on an object that was not created by AppendObject.' },
  MALFORMED_XML: { status: 400, oss: 'MalformedXML', doc: 'The XML request body is malformed.' },
  ENTITY_TOO_LARGE: { status: 400, oss: 'EntityTooLarge', doc: 'The body (or the object to process) exceeds the size limit.' },
  INCOMPLETE_BODY: { status: 400, oss: 'IncompleteBody', doc: 'The request body ended before Content-Length bytes were received.' },
  INVALID_RANGE: { status: 416, oss: 'InvalidRange', doc: 'The requested Range cannot be satisfied.' },
  PRECONDITION_FAILED: { status: 412, oss: 'PreconditionFailed', doc: 'An If-Match / If-Unmodified-Since precondition failed.' },
  METHOD_NOT_ALLOWED: { status: 405, oss: 'MethodNotAllowed', doc: 'The method is not allowed on this resource.' },
  NOT_IMPLEMENTED: { status: 501, oss: 'NotImplemented', doc: 'The operation (sub-resource) is not implemented by Halftone.' },
  // --- generic -----------------------------------------------------------------------------------
  TIMEOUT: { status: 504, oss: 'RequestTimeout', doc: 'Processing took longer than its time budget.' },
  OVERLOADED: { status: 503, oss: 'ServiceUnavailable', doc: 'Too many requests are being processed; retry after the Retry-After interval.' },
  CLIENT_CLOSED: { status: 499, oss: 'RequestCanceled', doc: 'The client closed the connection while its request waited for a pipeline; the work was dropped and nothing was sent (499 appears in logs and metrics only).' },
  INSUFFICIENT_STORAGE: { status: 507, oss: 'InsufficientStorage', doc: "The server's disk (or quota, or metadata database) is full; nothing was stored. Halftone's own code: a hosted service never runs out of space." },
  INTERNAL: { status: 500, oss: 'InternalError', doc: 'An unexpected server error; the log has the cause.' },
  // --- remote source fetching (SourceFetcher) ------------------------------------------------------
  FETCH_INVALID_URL: { status: 400, oss: 'InvalidArgument', doc: 'The source URL is not a plain http(s) URL (other scheme, userinfo, non-canonical numeric host, blocked port, too long). Cloudflare 9406.' },
  FETCH_ORIGIN_NOT_ALLOWED: { status: 403, oss: 'AccessDenied', doc: 'The source origin is not in the allowed-origins list (HALFTONE_ALLOWED_ORIGINS). Cloudflare 9401.' },
  FETCH_FORBIDDEN_ADDRESS: { status: 403, oss: 'AccessDenied', doc: 'The source host is or resolves to a loopback, private, link-local, unique-local, metadata or reserved address and its origin is not allowed to be private. Cloudflare 9401.' },
  FETCH_DNS_FAILED: { status: 502, oss: 'InvalidArgument', doc: 'The source host name could not be resolved. Cloudflare 9407.' },
  FETCH_UNREACHABLE: { status: 502, oss: 'InvalidArgument', doc: 'The source origin refused or dropped the connection. Cloudflare 9510.' },
  FETCH_TIMEOUT: { status: 504, oss: 'RequestTimeout', doc: 'Fetching the source took longer than its time budget. Cloudflare 9504.' },
  FETCH_TOO_LARGE: { status: 413, oss: 'EntityTooLarge', doc: 'The source is larger than the download size cap (checked while streaming). Cloudflare 9402 (413).' },
  FETCH_TOO_MANY_REDIRECTS: { status: 400, oss: 'InvalidArgument', doc: 'The source redirected more times than allowed. Cloudflare 9421.' },
  FETCH_BAD_REDIRECT: { status: 400, oss: 'InvalidArgument', doc: 'The source redirected to an invalid URL (no Location, other scheme, userinfo). Cloudflare 9420.' },
  FETCH_LOOP: { status: 508, oss: 'InvalidArgument', doc: 'Request loop: the fetch would carry our own Via token again (Halftone fetching itself). Cloudflare 9403.' },
  FETCH_ORIGIN_NOT_FOUND: { status: 404, oss: 'NoSuchKey', doc: 'The source origin answered 404 or 410. Cloudflare 9404.' },
  FETCH_ORIGIN_REJECTED: { status: 502, oss: 'AccessDenied', doc: 'The source origin answered another 4xx (e.g. 403 to the anonymised request). Cloudflare 9408.' },
  FETCH_ORIGIN_ERROR: { status: 502, oss: 'InternalError', doc: 'The source origin answered 5xx or an unexpected status. Cloudflare 9509.' },
  FETCH_FAILED: { status: 502, oss: 'InternalError', doc: 'The source download failed (connection interrupted, malformed response). Cloudflare 9402.' },
  // --- Cloudflare dialect -------------------------------------------------------------------------
  UNSUPPORTED_OPTION: { status: 501, oss: 'NotImplemented', doc: 'A recognised option this server cannot perform (Cloudflare segment=foreground without a segmentation model). Cloudflare 9401 (501).' },
  SOURCE_LOOP: { status: 508, oss: 'InvalidArgument', doc: 'The transformation request itself carries the image-resizing Via marker (a resize of a resized response). Cloudflare 9403.' },
  // --- video → animation (x-oss-async-process=video/animation) -----------------------------------
  NOT_A_VIDEO: { status: 400, oss: 'BadRequest', doc: 'The source of video/animation is not a video (an image, an empty or unknown file): no video stream was found.' },
  CORRUPT_VIDEO: { status: 400, oss: 'BadRequest', doc: 'The source video cannot be decoded (truncated or corrupt): the probe failed or the stream ended before the planned frames.' },
  VIDEO_TOO_LARGE: { status: 400, oss: 'EntityTooLarge', doc: 'The source video exceeds the duration, side or byte limit (HALFTONE_VIDEO_MAX_DURATION_S, HALFTONE_VIDEO_MAX_BYTES), checked by probing before decoding.' },
  VIDEO_TOOLS_UNAVAILABLE: { status: 501, oss: 'NotImplemented', doc: 'No ffmpeg/ffprobe was found (system PATH, HALFTONE_FFMPEG_PATH / HALFTONE_FFPROBE_PATH, or the bundled npm binaries).' },
  NO_SUCH_TASK: { status: 404, oss: 'ResourceNotFound', doc: 'The async task id is unknown or its record has expired (Halftone status / cancel extension).' },
  // --- result export to the client's storage (Abstract-style API s3_store / azure_store) ---------
  EXPORT_TARGET_NOT_ALLOWED: { status: 403, oss: 'AccessDenied', doc: 'The export endpoint (s3_store / azure_store `endpoint`) is not a plain http(s) URL or is or resolves to a loopback, private, link-local, metadata or reserved address not listed in HALFTONE_ALLOWED_ORIGINS. Abstract: 400 validation_error.' },
  EXPORT_FAILED: { status: 502, oss: 'InternalError', doc: 'The storage service refused the export (credentials, bucket, container) or could not be reached. Abstract: 400 validation_error naming the service error code.' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface AppErrorOptions {
  /** OSS error code (EC) such as `0040-00000311`, where Alibaba documents one. */
  readonly ec?: string;
  /** Extra machine-readable details (safe to show). */
  readonly details?: Record<string, unknown>;
  /** The underlying error, for the log only. */
  readonly cause?: unknown;
}

/** An error with a stable code from the catalogue and a message that is safe to show to clients. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly publicMessage: string;
  readonly ec: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, publicMessage: string, options: AppErrorOptions = {}) {
    super(publicMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.publicMessage = publicMessage;
    this.ec = options.ec;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/**
 * A storage-exhaustion error from a write — the disk full (ENOSPC), a quota exceeded (EDQUOT), the
 * SQLite database full (SQLITE_FULL) — as INSUFFICIENT_STORAGE; undefined for any other error.
 * Presentation layers check it before answering an unexpected error as INTERNAL.
 */
export function storageFullError(err: unknown): AppError | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code !== 'ENOSPC' && code !== 'EDQUOT' && code !== 'SQLITE_FULL') return undefined;
  return new AppError('INSUFFICIENT_STORAGE', 'The server has no storage space left; nothing was stored.', { cause: err });
}

/** Retry-After seconds of an OVERLOADED error (every dialect): its `details.retryAfter`, a whole number ≥ 1; 1 without one. */
export function retryAfterSeconds(err: AppError): number {
  const after = Number(err.details?.['retryAfter']);
  return Number.isFinite(after) && after >= 1 ? Math.ceil(after) : 1;
}

/** Shorthand for the most common parameter error, worded as DESIGN.md §4.3 asks. */
export function invalidParam(
  what: string,
  expected: string,
  received: unknown,
  ec?: string,
): AppError {
  return new AppError(
    'INVALID_ARGUMENT',
    `Expected ${expected} for ${what} but received ${formatReceived(received)}`,
    ec === undefined ? {} : { ec },
  );
}

function formatReceived(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return v === '' ? 'an empty value' : JSON.stringify(v);
  return String(v);
}
