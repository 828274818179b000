/**
 * Parses and validates the options of an Abstract-style request (spec abstract-api.md §2–§5): the
 * JSON body of `/v1/url/` or the `data` part of `/v1/upload/`. Every problem is collected and
 * reported at once as an AbstractValidationError with field-keyed details; nothing is fetched or
 * decoded before the options are valid.
 *
 * Export targets (`s3_store`, `azure_store`) follow Kraken.io's field names (the API whose
 * vocabulary Abstract mirrors); `endpoint` is Halftone's addition for S3-compatible servers and
 * Azure-compatible endpoints.
 */
import type { Rgba } from '../../core/ir.js';
import { parseCssColour } from '../cloudflare/colour.js';
import { CENTRE, cropModePoint, STRATEGIES, type AbstractResize, type Strategy } from './resize.js';
import { AbstractValidationError, REQUIRED, type FieldErrors } from './validation.js';

/** Largest width, height or size accepted in `resize`. */
export const MAX_DIMENSION = 10000;
/** Largest crop `scale` percentage. */
export const MAX_SCALE = 1000;

export interface S3StoreSpec {
  readonly kind: 's3';
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly bucket: string;
  readonly region: string;
  /** Object key; absent = the result file name. */
  readonly path?: string;
  readonly endpoint?: string;
  readonly acl?: 'private' | 'public-read';
}

export interface AzureStoreSpec {
  readonly kind: 'azure';
  readonly account: string;
  readonly accountKey: string;
  readonly container: string;
  readonly path?: string;
  readonly endpoint?: string;
}

export type StoreSpec = S3StoreSpec | AzureStoreSpec;

export interface AbstractOptions {
  /** As sent (the HTTP layer checks it); undefined when absent or not a string. */
  readonly apiKey: string | undefined;
  readonly lossy: boolean;
  readonly quality?: number;
  readonly resize?: AbstractResize;
  readonly store?: StoreSpec;
}

export interface AbstractUrlOptions extends AbstractOptions {
  readonly url: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown): boolean => v !== undefined && v !== null;

/** Reads the API key only (for answering 401 before reporting validation problems). */
export function apiKeyOf(body: unknown): string | undefined {
  return isObj(body) && typeof body['api_key'] === 'string' ? body['api_key'] : undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1 || v === '1') return true;
  if (v === 'false' || v === 0 || v === '0') return false;
  return undefined;
}

function int(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

/** Validates everything but `url` (the upload `data` part). */
export function parseOptions(body: unknown): AbstractOptions {
  const errors: FieldErrors = {};
  if (!isObj(body)) throw new AbstractValidationError({ data: ['Must be a JSON object.'] });
  let lossy = false;
  if (present(body['lossy'])) {
    const b = bool(body['lossy']);
    if (b === undefined) errors['lossy'] = ['Must be a boolean.'];
    else lossy = b;
  }
  let quality: number | undefined;
  if (present(body['quality'])) {
    const q = int(body['quality']);
    if (q === undefined || q < 0 || q > 100) errors['quality'] = ['Must be an integer between 0 and 100.'];
    else quality = q;
  }
  let resize: AbstractResize | undefined;
  if (present(body['resize'])) {
    const r = parseResize(body['resize']);
    if ('errors' in r) errors['resize'] = r.errors;
    else resize = r.resize;
  }
  const stores: StoreSpec[] = [];
  for (const [field, parse] of [['s3_store', parseS3], ['azure_store', parseAzure]] as const) {
    if (!present(body[field])) continue;
    const s = parse(body[field]);
    if ('errors' in s) errors[field] = s.errors;
    else stores.push(s.store);
  }
  if (stores.length > 1) errors['azure_store'] = ['Name one export target: s3_store or azure_store, not both.'];
  if (Object.keys(errors).length > 0) throw new AbstractValidationError(errors);
  return {
    apiKey: apiKeyOf(body),
    lossy,
    ...(quality === undefined ? {} : { quality }),
    ...(resize === undefined ? {} : { resize }),
    ...(stores[0] === undefined ? {} : { store: stores[0] }),
  };
}

/** Validates the JSON body of `/v1/url/`. */
export function parseUrlRequest(body: unknown): AbstractUrlOptions {
  let urlErrors: string[] | undefined;
  let url = '';
  if (isObj(body)) {
    const u = body['url'];
    if (!present(u) || u === '') urlErrors = [REQUIRED];
    else if (typeof u !== 'string') urlErrors = ['Must be a string.'];
    else if (!/^https?:\/\//i.test(u.trim())) urlErrors = ['Must be a public http or https URL.'];
    else url = u.trim();
  }
  let options: AbstractOptions | undefined;
  try {
    options = parseOptions(body);
  } catch (err) {
    if (!(err instanceof AbstractValidationError) || urlErrors === undefined) throw err;
    throw new AbstractValidationError({ url: urlErrors, ...err.fields });
  }
  if (urlErrors !== undefined) throw new AbstractValidationError({ url: urlErrors });
  return { ...options, url };
}

const DIMENSIONS_NEEDED: Readonly<Record<Strategy, readonly ('width' | 'height' | 'size')[]>> = {
  exact: ['width', 'height'],
  portrait: ['height'],
  landscape: ['width'],
  auto: ['width', 'height'],
  fit: ['width', 'height'],
  crop: ['width', 'height'],
  square: ['size'],
  fill: ['width', 'height'],
};

function parseResize(raw: unknown): { resize: AbstractResize } | { errors: string[] | FieldErrors } {
  if (!isObj(raw)) return { errors: ['Must be an object.'] };
  const errors: FieldErrors = {};
  let strategy: Strategy | undefined;
  const s = raw['strategy'];
  if (!present(s) || s === '') errors['strategy'] = [REQUIRED];
  else if (typeof s !== 'string' || !(STRATEGIES as readonly string[]).includes(s.trim().toLowerCase())) {
    errors['strategy'] = [`Must be one of ${STRATEGIES.join(', ')}.`];
  } else strategy = s.trim().toLowerCase() as Strategy;

  const dims: Partial<Record<'width' | 'height' | 'size', number>> = {};
  for (const f of ['width', 'height', 'size'] as const) {
    if (!present(raw[f])) continue;
    const n = int(raw[f]);
    if (n === undefined || n < 1 || n > MAX_DIMENSION) errors[f] = [`Must be an integer between 1 and ${MAX_DIMENSION}.`];
    else dims[f] = n;
  }
  if (strategy !== undefined) {
    for (const f of DIMENSIONS_NEEDED[strategy]) if (!present(raw[f])) errors[f] = [REQUIRED];
  }
  let scale: number | undefined;
  if (present(raw['scale'])) {
    const n = int(raw['scale']);
    if (n === undefined || n < 1 || n > MAX_SCALE) errors['scale'] = [`Must be an integer between 1 and ${MAX_SCALE}.`];
    else scale = n;
  }
  const offsets: Partial<Record<'x' | 'y', number>> = {};
  for (const f of ['x', 'y'] as const) {
    if (!present(raw[f])) continue;
    const n = int(raw[f]);
    if (n === undefined || n < 0) errors[f] = ['Must be a non-negative integer.'];
    else offsets[f] = n;
  }
  let background: Rgba = { r: 255, g: 255, b: 255, alpha: 1 };
  if (present(raw['background'])) {
    const c = typeof raw['background'] === 'string' ? parseCssColour(raw['background']) : undefined;
    if (c === undefined) errors['background'] = ['Must be a colour: #rgb, #rrggbb, rgb(r, g, b) or rgba(r, g, b, a).'];
    else background = c;
  }
  if (Object.keys(errors).length > 0 || strategy === undefined) return { errors };
  return {
    resize: {
      strategy,
      ...dims,
      ...offsets,
      ...(scale === undefined ? {} : { scale }),
      focal: present(raw['crop_mode']) ? cropModePoint(raw['crop_mode']) : CENTRE,
      background,
    },
  };
}

function strings(raw: Obj, required: readonly string[], optional: readonly string[], errors: FieldErrors): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [...required, ...optional]) {
    const v = raw[f];
    if (!present(v) || v === '') {
      if (required.includes(f)) errors[f] = [REQUIRED];
    } else if (typeof v !== 'string') errors[f] = ['Must be a string.'];
    else out[f] = v;
  }
  return out;
}

function checkEndpoint(v: string | undefined, errors: FieldErrors): void {
  if (v !== undefined && !/^https?:\/\/[^/]/i.test(v)) errors['endpoint'] = ['Must be an http or https URL.'];
}

function parseS3(raw: unknown): { store: S3StoreSpec } | { errors: string[] | FieldErrors } {
  if (!isObj(raw)) return { errors: ['Must be an object.'] };
  const errors: FieldErrors = {};
  const v = strings(raw, ['key', 'secret', 'bucket'], ['region', 'path', 'endpoint', 'acl', 'session_token'], errors);
  checkEndpoint(v['endpoint'], errors);
  if (v['acl'] !== undefined && v['acl'] !== 'private' && v['acl'] !== 'public-read') errors['acl'] = ['Must be private or public-read.'];
  if (Object.keys(errors).length > 0) return { errors };
  return {
    store: {
      kind: 's3',
      accessKeyId: v['key'] as string,
      secretAccessKey: v['secret'] as string,
      bucket: v['bucket'] as string,
      region: v['region'] ?? 'us-east-1',
      ...(v['session_token'] === undefined ? {} : { sessionToken: v['session_token'] }),
      ...(v['path'] === undefined ? {} : { path: v['path'].replace(/^\/+/, '') }),
      ...(v['endpoint'] === undefined ? {} : { endpoint: v['endpoint'] }),
      ...(v['acl'] === undefined ? {} : { acl: v['acl'] as 'private' | 'public-read' }),
    },
  };
}

function parseAzure(raw: unknown): { store: AzureStoreSpec } | { errors: string[] | FieldErrors } {
  if (!isObj(raw)) return { errors: ['Must be an object.'] };
  const errors: FieldErrors = {};
  const v = strings(raw, ['account', 'key', 'container'], ['path', 'endpoint'], errors);
  checkEndpoint(v['endpoint'], errors);
  if (Object.keys(errors).length > 0) return { errors };
  return {
    store: {
      kind: 'azure',
      account: v['account'] as string,
      accountKey: v['key'] as string,
      container: v['container'] as string,
      ...(v['path'] === undefined ? {} : { path: v['path'].replace(/^\/+/, '') }),
      ...(v['endpoint'] === undefined ? {} : { endpoint: v['endpoint'] }),
    },
  };
}
