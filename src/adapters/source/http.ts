/**
 * The http(s) SourceFetcher: undici with an SSRF guard at connect time.
 *
 * Why at connect time: checking a host name and then letting the HTTP client resolve it again is
 * open to DNS rebinding (the second answer can be 127.0.0.1). Here undici's `connect` is replaced
 * by a function that resolves the host once, classifies every resolved address, and hands the
 * checked address itself to the real connector, so what was checked is what is connected to. The
 * TLS server name stays the original host, so certificates are still verified against it.
 *
 * Redirects are followed by hand (undici's automatic redirects are off) so every hop's URL goes
 * through the same vetting, and every new connection through the same connect-time check.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Agent, buildConnector } from 'undici';
import { loadUndici, type Undici } from './undici-lazy.js';
import { AppError, isAppError, type ErrorCode } from '../../core/errors.js';
import {
  DEFAULT_VIA_TOKEN,
  viaHasToken,
  type FetchedSource,
  type SourceFetcher,
  type SourceFetchOptions,
} from '../../ports/source-fetcher.js';
import { checkUrl, classifyAddress, mayConnect, originMayBePrivate, parseAllowList, type AllowList, type UrlPolicy } from './address-policy.js';

/** Resolves a host name to every address it has (tests inject one; the default uses the OS resolver). */
export type LookupFunction = (hostname: string) => Promise<readonly { readonly address: string; readonly family: number }[]>;

export interface HttpFetcherOptions {
  /** Halftone's version, for the fixed `User-Agent: Halftone/<version>`. */
  readonly version: string;
  /**
   * Allowed origins (HALFTONE_ALLOWED_ORIGINS): `[scheme://]host[:port][/path-prefix]`, host may be
   * `*.example.com`, port may be `*`. Listed origins may resolve to loopback/private/link-local/
   * unique-local addresses; metadata, multicast, unspecified and reserved addresses stay refused.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * true (default): any origin that resolves only to public addresses may be fetched, the list only
   * adds private access. false: only listed origins may be fetched (FETCH_ORIGIN_NOT_ALLOWED), on
   * the first URL and on every redirect.
   */
  readonly anyPublicOrigin?: boolean;
  /** The Via received-by token (default `image-resizing`, as the Cloudflare spec recommends). */
  readonly viaToken?: string;
  /** Host name resolver (default: the OS resolver through `dns.lookup`, all addresses). */
  readonly lookup?: LookupFunction;
  /** Time limit for one TCP/TLS connect, within the request's total budget (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Extra TLS options for the connector (tests use `ca`); never disables verification by default. */
  readonly tls?: { readonly ca?: string | Buffer | readonly (string | Buffer)[]; readonly rejectUnauthorized?: boolean };
}

/** The http fetcher, with a `close()` that releases pooled connections. */
export interface HttpSourceFetcher extends SourceFetcher {
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_ACCEPT = 'image/avif,image/webp,image/*,*/*;q=0.8';

const defaultLookup: LookupFunction = async (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

function fail(code: ErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): AppError {
  return new AppError(code, message, { ...(details === undefined ? {} : { details }), ...(cause === undefined ? {} : { cause }) });
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Maps a transport error (from undici or node) to a fetch error code. */
function transportCode(err: unknown): ErrorCode {
  const codes: string[] = [];
  for (let e: unknown = err, i = 0; e !== null && typeof e === 'object' && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
  }
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_NODATA' || c === 'EAI_FAIL')) return 'FETCH_DNS_FAILED';
  if (codes.some((c) => c === 'UND_ERR_CONNECT_TIMEOUT' || c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT' || c === 'ETIMEDOUT')) return 'FETCH_TIMEOUT';
  if (codes.some((c) => c === 'ECONNREFUSED' || c === 'EHOSTUNREACH' || c === 'ENETUNREACH' || c === 'EHOSTDOWN' || c === 'EADDRNOTAVAIL')) return 'FETCH_UNREACHABLE';
  return 'FETCH_FAILED';
}

function statusError(status: number, url: string): AppError {
  const details = { originStatus: status };
  if (status === 404 || status === 410) return fail('FETCH_ORIGIN_NOT_FOUND', `The source origin answered ${status}`, details, new Error(url));
  if (status >= 400 && status < 500) return fail('FETCH_ORIGIN_REJECTED', `The source origin answered ${status}`, details, new Error(url));
  return fail('FETCH_ORIGIN_ERROR', `The source origin answered ${status}`, details, new Error(url));
}

/**
 * Creates the SSRF-safe http(s) fetcher. Configuration comes in as options (never from the
 * environment); call `close()` on shutdown.
 */
export function createHttpFetcher(opts: HttpFetcherOptions): HttpSourceFetcher {
  const allowList: AllowList = parseAllowList(opts.allowedOrigins ?? []);
  const policy: UrlPolicy = { allowList, anyPublicOrigin: opts.anyPublicOrigin ?? true };
  const viaToken = opts.viaToken ?? DEFAULT_VIA_TOKEN;
  const lookup = opts.lookup ?? defaultLookup;
  const userAgent = `Halftone/${opts.version}`;

  /** Resolves once and checks every address; returns the checked address to connect to. */
  async function resolveChecked(hostname: string, privateAllowed: boolean): Promise<string> {
    let addresses: readonly { readonly address: string }[];
    if (isIP(hostname) !== 0) {
      addresses = [{ address: hostname }];
    } else {
      try {
        addresses = await lookup(hostname);
      } catch (err) {
        throw fail('FETCH_DNS_FAILED', 'The source host name could not be resolved', undefined, err);
      }
      if (addresses.length === 0) throw fail('FETCH_DNS_FAILED', 'The source host name could not be resolved', undefined, new Error(hostname));
    }
    // Every address must pass, not just the first: a name with one public and one private record
    // must not become a way in, whichever record the connector would have tried.
    for (const { address } of addresses) {
      const cls = classifyAddress(address) ?? 'reserved';
      if (!mayConnect(cls, privateAllowed)) {
        // Host and address go to the log only (the host may come from a redirect).
        throw fail('FETCH_FORBIDDEN_ADDRESS', 'The source host resolves to a forbidden address', undefined, new Error(`${hostname} -> ${address} (${cls})`));
      }
    }
    const first = addresses[0];
    if (first === undefined) throw fail('FETCH_DNS_FAILED', 'The source host name could not be resolved', undefined, new Error(hostname));
    return first.address;
  }

  const connector = (undici: Undici): buildConnector.connector => {
    const baseConnect = undici.buildConnector({
      timeout: opts.connectTimeoutMs ?? 10_000,
      ...(opts.tls?.ca === undefined ? {} : { ca: opts.tls.ca as string | Buffer | (string | Buffer)[] }),
      ...(opts.tls?.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: opts.tls.rejectUnauthorized }),
    });
    return (connectOpts, callback) => guardedConnect(baseConnect, connectOpts, callback);
  };
  const guardedConnect = (baseConnect: buildConnector.connector, ...[connectOpts, callback]: Parameters<buildConnector.connector>): void => {
    const { hostname, protocol } = connectOpts;
    const port = connectOpts.port === undefined || connectOpts.port === null ? '' : String(connectOpts.port);
    const urlHost = isIP(hostname) === 6 ? `[${hostname}]` : hostname.toLowerCase();
    const effectivePort = port === (protocol === 'https:' ? '443' : '80') ? '' : port;
    const privateAllowed = originMayBePrivate(allowList, protocol, urlHost, effectivePort);
    resolveChecked(hostname, privateAllowed).then(
      (address) => {
        // `host` (original name) still drives the TLS server name; only the dialled address changes.
        baseConnect({ ...connectOpts, hostname: address, host: connectOpts.host ?? hostname }, callback);
      },
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  };
  // undici (3.7 MB of heap) is loaded with the first remote fetch, not at startup.
  let pool: Promise<{ request: Undici['request']; agent: Agent }> | undefined;
  const client = () => (pool ??= loadUndici().then((undici) => ({
    request: undici.request,
    agent: new undici.Agent({
      connect: connector(undici),
      maxRedirections: 0,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
    }),
  })));

  async function fetchSource(input: string, options: SourceFetchOptions): Promise<FetchedSource> {
    const { signal, maxBytes, timeoutMs, maxRedirects } = options;
    if (!(maxBytes > 0) || !(timeoutMs > 0) || !(maxRedirects >= 0)) throw new TypeError('fetchSource: maxBytes and timeoutMs must be > 0, maxRedirects >= 0');
    signal?.throwIfAborted();
    const incomingVia = options.headers?.via;
    if (viaHasToken(incomingVia, viaToken)) {
      throw fail('FETCH_LOOP', 'Request loop: the source request already passed through image resizing');
    }
    const first = checkUrl(input, policy);
    if (!first.ok) throw first.error;

    const conditional = options.headers?.['if-none-match'] !== undefined || options.headers?.['if-modified-since'] !== undefined;
    // Anonymised request: a fixed set of headers, nothing from the client except what is listed.
    const headers: Record<string, string> = {
      'user-agent': userAgent,
      accept: options.headers?.accept ?? DEFAULT_ACCEPT,
      'accept-encoding': 'identity',
      via: incomingVia === undefined || incomingVia.trim() === '' ? `1.1 ${viaToken}` : `${incomingVia}, 1.1 ${viaToken}`,
    };
    if (options.headers?.['if-none-match'] !== undefined) headers['if-none-match'] = options.headers['if-none-match'];
    if (options.headers?.['if-modified-since'] !== undefined) headers['if-modified-since'] = options.headers['if-modified-since'];

    const controller = new AbortController();
    const timeoutError = fail('FETCH_TIMEOUT', `Fetching the source took longer than ${timeoutMs} ms`);
    const timer = setTimeout(() => controller.abort(timeoutError), timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });

    let url = first.url;
    try {
      for (let hop = 0; ; hop++) {
        const { request, agent } = await client();
        const res = await request(url, {
          dispatcher: agent,
          method: 'GET',
          headers,
          signal: controller.signal,
          maxRedirections: 0,
        });
        const h = res.headers;
        if (REDIRECT_STATUSES.has(res.statusCode)) {
          await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
          const location = header(h, 'location');
          if (location === undefined || location.trim() === '') throw fail('FETCH_BAD_REDIRECT', 'The source redirected without a Location');
          if (hop >= maxRedirects) throw fail('FETCH_TOO_MANY_REDIRECTS', `The source redirected more than ${maxRedirects} times`, { maxRedirects });
          // Keep an absolute Location as written so non-canonical host spellings are still seen.
          const loc = location.trim();
          let next: string;
          if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(loc)) next = loc;
          else if (/^[/\\]{2}/.test(loc)) next = `${url.protocol}${loc}`;
          else {
            try {
              next = new URL(loc, url).href;
            } catch (err) {
              throw fail('FETCH_BAD_REDIRECT', 'The source redirected to an invalid URL', undefined, err);
            }
          }
          const checked = checkUrl(next, policy, 'FETCH_BAD_REDIRECT');
          if (!checked.ok) throw checked.error;
          url = checked.url;
          continue;
        }
        const base = {
          contentType: header(h, 'content-type') ?? '',
          status: res.statusCode,
          finalUrl: url.href,
          ...optional('etag', header(h, 'etag')),
          ...optional('lastModified', header(h, 'last-modified')),
          ...optional('cacheControl', header(h, 'cache-control')),
          ...optional('expires', header(h, 'expires')),
          ...optional('date', header(h, 'date')),
          ...optional('vary', header(h, 'vary')),
          ...optionalAge(header(h, 'age')),
        };
        if (res.statusCode === 304 && conditional) {
          await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
          return { ...base, body: Buffer.alloc(0) };
        }
        if (res.statusCode < 200 || res.statusCode > 299) {
          await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
          throw statusError(res.statusCode, url.href);
        }
        const declared = Number(header(h, 'content-length'));
        if (Number.isFinite(declared) && declared > maxBytes) {
          discard(res.body);
          throw fail('FETCH_TOO_LARGE', `The source is larger than ${maxBytes} bytes`, { maxBytes });
        }
        // The body is held against the memory budget before it is read (its declared length), and
        // for whatever arrives beyond that; a refusal stops the download.
        const { memory } = options;
        let accounted = 0;
        // The cap is enforced on the bytes actually received: Content-Length may be absent or lie.
        const chunks: Buffer[] = [];
        let total = 0;
        try {
          if (memory !== undefined && Number.isFinite(declared) && declared > 0) {
            await memory.reserve(declared, controller.signal);
            accounted = declared;
          }
          for await (const chunk of res.body) {
            const buf = chunk as Buffer;
            total += buf.length;
            if (total > maxBytes) throw fail('FETCH_TOO_LARGE', `The source is larger than ${maxBytes} bytes`, { maxBytes });
            if (memory !== undefined && total > accounted) {
              memory.grow(total - accounted);
              accounted = total;
            }
            chunks.push(buf);
          }
        } catch (err) {
          discard(res.body);
          throw err;
        }
        return { ...base, body: Buffer.concat(chunks, total) };
      }
    } catch (err) {
      if (signal?.aborted === true && controller.signal.reason === signal.reason) throw signal.reason;
      if (controller.signal.aborted && controller.signal.reason === timeoutError) throw timeoutError;
      if (isAppError(err)) throw err;
      const code = transportCode(err);
      const message =
        code === 'FETCH_DNS_FAILED' ? 'The source host name could not be resolved'
        : code === 'FETCH_TIMEOUT' ? 'Connecting to the source origin timed out'
        : code === 'FETCH_UNREACHABLE' ? 'The source origin is unreachable'
        : 'The source download failed';
      throw fail(code, message, undefined, err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    fetchSource,
    close: async () => {
      if (pool !== undefined) await (await pool).agent.close();
    },
  };
}

/**
 * Aborts a response body. undici turns an early destroy into an 'error' event (RequestAbortedError);
 * without a listener that would be an uncaught exception that takes the server down.
 */
function discard(body: { on(event: 'error', fn: (err: Error) => void): unknown; destroy(): unknown }): void {
  body.on('error', () => undefined);
  body.destroy();
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function optionalAge(value: string | undefined): { age?: number } {
  if (value === undefined || !/^\d+$/.test(value.trim())) return {};
  return { age: Number(value.trim()) };
}
