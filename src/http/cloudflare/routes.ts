/**
 * The Cloudflare URL route: `GET <prefix>/<OPTIONS>/<SOURCE>` (default prefix `/cdn-cgi/image`),
 * spec cloudflare-transform.md §1.1, §10, §12, §13.
 *
 * The source is taken from the raw URL, not from Fastify's decoded parameters: Cloudflare builds it
 * by plain concatenation, so an absolute source keeps its own query string and encoding. A source
 * `http:/host/...` whose `//` a proxy collapsed is re-expanded. An absolute URL on this server's own
 * host is served from the store like a relative path (same-zone source).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, retryAfterSeconds } from '../../core/errors.js';
import { viaHasToken } from '../../ports/source-fetcher.js';
import type { CfRequest, CfResult, CfSource } from '../../app/cloudflare-transform.js';
import { cfErrorShape } from './errors.js';
import { objectAddress } from '../../app/cloudflare-transform.js';
import { offerHot, type HotOffer } from '../hot-cache.js';
import { clientGone } from '../client-gone.js';

export interface CfRouteDeps {
  /** Mount prefix without trailing slash (default `/cdn-cgi/image`). */
  readonly prefix?: string;
  readonly transform: (req: CfRequest) => Promise<CfResult>;
  /** Logs unexpected failures (the client sees only `ERROR 9523`). */
  readonly onInternalError?: (err: unknown, requestId: string) => void;
  /** Bucket of relative sources (HALFTONE_CF_SOURCE_BUCKET; empty = first path segment). */
  readonly sourceBucket?: string;
}

/** Every request header a transformation reads (besides Host and If-None-Match). */
const READ_HEADERS = ['accept', 'sec-ch-viewport-width', 'viewport-width', 'sec-ch-dpr', 'dpr', 'user-agent', 'sec-ch-ua-mobile', 'rtt', 'save-data', 'ect', 'downlink'];
const NOT_MODIFIED: HotOffer['notModified'] = { keep: ['etag', 'cache-control', 'vary', 'warning', 'x-content-type-options'], set: [['cf-resized', 'internal=ok/c']] };

/** Offers a stored source's answer to the hot cache, keyed on the headers it varies on. */
function offer(req: FastifyRequest, source: CfSource, sourceBucket: string, vary: readonly string[]): void {
  if (source.kind !== 'path') return;
  let bucket: string;
  try {
    bucket = objectAddress(source.path, sourceBucket).bucket;
  } catch {
    return;
  }
  offerHot(req.raw, { bucket, varyOn: hotVaryOn(vary), notModified: NOT_MODIFIED });
}

/**
 * The request headers a hot-cache entry of a transformation keys on, from its Vary: Accept alone
 * (format=auto) keys on Accept; any client or network hint keys on every header it may read.
 */
export function hotVaryOn(vary: readonly string[]): readonly string[] {
  return vary.length === 0 ? [] : vary.every((v) => v.toLowerCase() === 'accept') ? ['accept'] : READ_HEADERS;
}

/** Security headers Cloudflare sends on transformed responses (spec §12, OBSERVED). */
const CSP = "default-src 'none'; navigate-to 'none'; form-action 'none'; img-src data:; style-src 'unsafe-inline';";

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Splits `<OPTIONS>/<SOURCE>` (raw, after the prefix) into its parts; null when malformed. */
export function splitCfPath(rest: string): { options: string; source: string } | null {
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const source = rest.slice(slash + 1);
  if (source === '' || source.startsWith('?')) return null;
  return { options: rest.slice(0, slash), source };
}

/**
 * Turns the raw source text into a store path or an absolute URL (spec §1.1 rule 2). `host` is the
 * request's Host header: absolute URLs on it are same-zone and read from the store.
 */
export function resolveSource(raw: string, host: string | undefined): CfSource {
  const m = /^(https?):\/\/?(.*)$/i.exec(raw);
  if (m !== null) {
    const url = `${(m[1] as string).toLowerCase()}://${m[2] as string}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AppError('FETCH_INVALID_URL', 'The source URL is not valid.');
    }
    if (host !== undefined && parsed.host.toLowerCase() === host.toLowerCase()) {
      return { kind: 'path', path: decodePath(parsed.pathname) };
    }
    return { kind: 'url', url };
  }
  // Relative: the query string is not part of an object key.
  const q = raw.indexOf('?');
  return { kind: 'path', path: decodePath(q < 0 ? raw : raw.slice(0, q)) };
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new AppError('INVALID_URI', 'The source path is not valid percent-encoded UTF-8.');
  }
}

/** Whether the options segment asks for `onerror=redirect` (read before parsing can fail). */
export function wantsRedirect(options: string): boolean {
  return options.split(',').some((p) => /^onerror=redirect$/i.test(decodeSafe(p)));
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function warningHeader(texts: readonly string[]): string[] {
  // Header values carry Latin-1 only: other characters (an option name from the URL) become `?`.
  return texts.map((t) => `cf-images 299 "${t.replace(/["\\\r\n]/g, "'").replace(/[^\x20-\x7e]/g, '?')}"`);
}

function applyMeta(reply: FastifyReply, r: CfResult): void {
  reply.header('etag', r.etag);
  reply.header('cache-control', r.cacheControl);
  if (r.vary.length > 0) reply.header('vary', r.vary.join(', '));
  if (r.warnings.length > 0) reply.header('warning', warningHeader(r.warnings));
  reply.header('x-content-type-options', 'nosniff');
}

/** Presents an error the Cloudflare way (status, `ERROR <code>: <message>`, `Cf-Resized: err=`). */
export function presentCfError(reply: FastifyReply, req: FastifyRequest, err: unknown, onInternal?: (err: unknown, id: string) => void): FastifyReply {
  const e = isAppError(err) ? err : new AppError('INTERNAL', 'Internal error.', { cause: err });
  if (e.code === 'INTERNAL') onInternal?.(err, req.id);
  const shape = cfErrorShape(e.code);
  const originStatus = e.details?.['originStatus'];
  const status = e.code === 'FETCH_ORIGIN_REJECTED' && typeof originStatus === 'number' && originStatus >= 400 && originStatus < 500 ? originStatus : shape.status;
  const message = e.code === 'INTERNAL' ? 'Internal error' : e.publicMessage;
  if (e.code === 'OVERLOADED') reply.header('retry-after', String(retryAfterSeconds(e)));
  return reply
    .code(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cf-resized', `err=${shape.cf}`)
    // Errors are never cached for long (spec §13 recommendation).
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(`ERROR ${shape.cf}: ${message}`);
}

/** Registers the route on `app`. */
export function registerCloudflareRoutes(app: FastifyInstance, deps: CfRouteDeps): void {
  const prefix = (deps.prefix ?? '/cdn-cgi/image').replace(/\/+$/, '');
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = req.raw.url ?? req.url;
    const rest = raw.slice(prefix.length + 1);
    const parts = splitCfPath(rest);
    let source: CfSource | undefined;
    const redirect = parts !== null && wantsRedirect(parts.options);
    try {
      if (parts === null) throw new AppError('MISSING_ARGUMENT', `Expected ${prefix}/<options>/<source image>.`);
      if (viaHasToken(req.headers.via)) {
        throw new AppError('SOURCE_LOOP', 'The request comes from an image-resizing fetch (loop).');
      }
      source = resolveSource(parts.source, header(req, 'host'));
      const h = (n: string) => header(req, n);
      const result = await deps.transform({
        options: parts.options,
        source,
        // The client going away stops the download and takes the request out of the pipeline queue.
        signal: clientGone(reply.raw),
        headers: {
          accept: h('accept'), via: h('via'), 'if-none-match': h('if-none-match'),
          'sec-ch-viewport-width': h('sec-ch-viewport-width'), 'viewport-width': h('viewport-width'),
          'sec-ch-dpr': h('sec-ch-dpr'), dpr: h('dpr'), 'user-agent': h('user-agent'), 'sec-ch-ua-mobile': h('sec-ch-ua-mobile'),
          rtt: h('rtt'), 'save-data': h('save-data'), ect: h('ect'), downlink: h('downlink'),
        },
      });
      applyMeta(reply, result);
      if (result.kind === 'not-modified') {
        return reply.code(304).header('cf-resized', 'internal=ok/c').send();
      }
      offer(req, source, deps.sourceBucket ?? '', result.vary);
      if (result.kind === 'json') {
        const body = Buffer.from(result.body);
        reply.header('cf-resized', `internal=ok/j l=${body.length}`);
        return reply.code(200).header('content-type', 'application/json').send(req.method === 'HEAD' ? undefined : body);
      }
      reply.header('cf-resized', `internal=ok/m q=${result.quality} l=${result.data.length} f=${result.format} s=${result.width}x${result.height}${result.faces === undefined ? '' : ` fd=${result.faces}`}`);
      reply.header('content-security-policy', CSP);
      reply.header('content-length', String(result.data.length));
      return reply.code(200).header('content-type', result.contentType).send(req.method === 'HEAD' ? undefined : result.data);
    } catch (err) {
      // onerror=redirect: only for same-zone sources (spec §10); 307 is our choice (UNCONFIRMED).
      if (redirect && parts !== null && (source === undefined || source.kind === 'path') && !parts.source.match(/^https?:/i)) {
        const location = '/' + parts.source.replace(/^\/+/, '');
        return reply.code(307).header('location', location).header('cache-control', 'no-store').send();
      }
      if (redirect && source?.kind === 'path' && parts !== null) {
        return reply.code(307).header('location', parts.source.replace(/^(https?):\/\/?/i, '$1://')).header('cache-control', 'no-store').send();
      }
      return presentCfError(reply, req, err, deps.onInternalError);
    }
  };
  app.route({ method: ['GET', 'HEAD'], url: `${prefix}/*`, handler });
}
