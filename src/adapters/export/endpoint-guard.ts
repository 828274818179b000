/**
 * The remote-fetch address policy applied to export endpoints (user-supplied storage URLs): the
 * URL is vetted with the source fetcher's rules (checkUrl: http(s) only, no credentials, no
 * blocked ports, no loopback/private literals unless the origin is in HALFTONE_ALLOWED_ORIGINS),
 * and every connection the storage SDK opens goes through an agent whose DNS lookup refuses
 * forbidden addresses — so a host name that resolves (or re-resolves) to a private address is
 * refused at connect time too.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction as NetLookup } from 'node:net';
import { AppError } from '../../core/errors.js';
import { checkUrl, classifyAddress, mayConnect, originMayBePrivate, parseAllowList, type AllowList, type UrlPolicy } from '../source/address-policy.js';

export interface EndpointGuardOptions {
  /** HALFTONE_ALLOWED_ORIGINS: listed origins may be private addresses. */
  readonly allowedOrigins?: readonly string[];
  /** HALFTONE_ANY_PUBLIC_ORIGIN: false = only listed origins. Default true. */
  readonly anyPublicOrigin?: boolean;
  /** Host name resolver (default: the OS resolver, all addresses); tests inject one. */
  readonly lookup?: (hostname: string) => Promise<readonly LookupAddress[]>;
}

export interface GuardedEndpoint {
  readonly url: URL;
  /** Agents to hand to the SDK; their lookups refuse forbidden addresses. */
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  destroy(): void;
}

export interface EndpointGuard {
  /** Vets an endpoint URL; throws EXPORT_TARGET_NOT_ALLOWED. */
  guard(endpoint: string): GuardedEndpoint;
}

const notAllowed = (why: string, cause?: unknown): AppError =>
  new AppError('EXPORT_TARGET_NOT_ALLOWED', why, cause === undefined ? {} : { cause });

export function createEndpointGuard(opts: EndpointGuardOptions = {}): EndpointGuard {
  const allowList: AllowList = parseAllowList(opts.allowedOrigins ?? []);
  const policy: UrlPolicy = { allowList, anyPublicOrigin: opts.anyPublicOrigin ?? true };
  const resolve = opts.lookup ?? ((hostname: string) => new Promise<readonly LookupAddress[]>((ok, fail) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? fail(err) : ok(addresses)));
  }));
  return {
    guard(endpoint) {
      const checked = checkUrl(endpoint, policy);
      if (!checked.ok) {
        const code = checked.error.code;
        throw notAllowed(
          code === 'FETCH_INVALID_URL' ? `The storage endpoint is not allowed: ${checked.error.publicMessage}.` : 'The storage endpoint must be a publicly reachable host.',
          checked.error,
        );
      }
      const url = checked.url;
      const privateAllowed = originMayBePrivate(allowList, url.protocol, url.hostname, url.port);
      const lookup = ((hostname: string, options: LookupAllOptions | number | undefined, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
        const wantAll = typeof options === 'object' && options !== null && options.all === true;
        resolve(hostname).then((addresses) => {
          for (const a of addresses) {
            const cls = classifyAddress(a.address) ?? 'reserved';
            if (!mayConnect(cls, privateAllowed)) {
              return callback(notAllowed('The storage endpoint must be a publicly reachable host.', new Error(`${hostname} -> ${a.address} (${cls})`)), '');
            }
          }
          const first = addresses[0];
          if (first === undefined) return callback(new Error(`no address for ${hostname}`), '');
          if (wantAll) return callback(null, [...addresses]);
          return callback(null, first.address, first.family);
        }, (err: Error) => callback(err, ''));
      }) as unknown as NetLookup;
      const httpAgent = new HttpAgent({ lookup, keepAlive: false });
      const httpsAgent = new HttpsAgent({ lookup, keepAlive: false });
      return { url, httpAgent, httpsAgent, destroy: () => { httpAgent.destroy(); httpsAgent.destroy(); } };
    },
  };
}

/** The AppError an SDK call failed with when the guard refused a connection, if any. */
export function guardRefusal(err: unknown): AppError | undefined {
  for (let e: unknown = err, i = 0; e !== null && typeof e === 'object' && i < 6; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof AppError && e.code === 'EXPORT_TARGET_NOT_ALLOWED') return e;
    // Some SDKs re-wrap transport errors and keep only the code.
    if ((e as { code?: unknown }).code === 'EXPORT_TARGET_NOT_ALLOWED') return notAllowed('The storage endpoint must be a publicly reachable host.', err);
  }
  return undefined;
}
