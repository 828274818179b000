/**
 * Recovers bucket and key from Host and path (spec oss-client.md §2.1): virtual-host on a service
 * domain, a cname map, else path-style. Keys are percent-decoded exactly once.
 */
import { AppError } from '../../core/errors.js';

export interface AddressConfig {
  /** Host suffix patterns for `<bucket>.<domain>`; `*` matches one run of `[a-z0-9-]`. */
  readonly serviceDomains: readonly string[];
  /** host (optionally host:port) → bucket. */
  readonly cname: Readonly<Record<string, string>>;
  /** Bucket for bucket-less paths on non-service hosts (IP-endpoint V4 presigned URLs); '' = none. */
  readonly defaultBucket: string;
}

export interface Address {
  readonly style: 'virtual-host' | 'cname' | 'path';
  /** '' for service-level requests (ListBuckets). */
  readonly bucket: string;
  /** '' for bucket-level requests. */
  readonly key: string;
}

const BUCKET_LABEL = /^([a-z0-9][a-z0-9_-]{1,61}[a-z0-9_])\.(.+)$/;

function domainMatcher(patterns: readonly string[]): (rest: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.toLowerCase().split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[a-z0-9-]+')}$`));
  return (rest) => res.some((r) => r.test(rest));
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError('INVALID_URI', 'The request path is not valid percent-encoded UTF-8.');
  }
}

/** Builds the resolver once per server. */
export function createAddressResolver(cfg: AddressConfig): (host: string | undefined, rawPath: string) => Address {
  const isServiceDomain = domainMatcher(cfg.serviceDomains);
  return (hostHeader, rawPath) => {
    const hostPort = (hostHeader ?? '').toLowerCase();
    const host = hostPort.startsWith('[') ? hostPort.slice(0, hostPort.indexOf(']') + 1) : hostPort.replace(/:\d+$/, '');
    const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
    const m = BUCKET_LABEL.exec(host);
    if (m !== null && isServiceDomain(m[2]!)) return { style: 'virtual-host', bucket: m[1]!, key: decodePath(path) };
    const mapped = cfg.cname[hostPort] ?? cfg.cname[host];
    if (mapped !== undefined) return { style: 'cname', bucket: mapped, key: decodePath(path) };
    if (cfg.defaultBucket !== '' && path !== '') {
      // Recipe A's signatureUrlV4 yields `/<key>` on the IP host; only when configured.
      const first = decodePath(path.split('/')[0]!);
      if (first !== cfg.defaultBucket) return { style: 'cname', bucket: cfg.defaultBucket, key: decodePath(path) };
    }
    const i = path.indexOf('/');
    if (i < 0) return { style: 'path', bucket: decodePath(path), key: '' };
    return { style: 'path', bucket: decodePath(path.slice(0, i)), key: decodePath(path.slice(i + 1)) };
  };
}
