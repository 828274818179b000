/**
 * Pure SSRF policy for the source fetcher: IP address classification, URL vetting and origin
 * allow-list matching. No I/O here, so every rule is unit-testable without touching the network.
 *
 * Why hand-written: the rules are small, security-relevant and must cover embedded IPv4 forms
 * (IPv4-mapped, IPv4-compatible, NAT64, 6to4) that a plain "is private" check misses.
 */
import { isIP } from 'node:net';
import { AppError } from '../../core/errors.js';

/** What an address is, for the purpose of deciding whether we may connect to it. */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'metadata'
  | 'multicast'
  | 'unspecified'
  | 'reserved';

/**
 * Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS ECS task metadata, Alibaba Cloud,
 * AWS IPv6 IMDS). Classified before the range they sit in so the log names them for what they are.
 */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '169.254.169.253', '100.100.100.200']);
const METADATA_V6 = ['fd00:ec2::254', 'fd00:ec2::253'];

/** Parses a dotted-quad IPv4 address (canonical decimal form only) into a 32-bit unsigned number. */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

function v4ToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Parses an IPv6 address (optionally bracketed, optionally with a zone id, optionally with a
 * trailing dotted quad) into 16 bytes.
 */
export function parseIPv6(input: string): Uint8Array | undefined {
  let s = input;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s === '' || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const words: number[] = [];
  // A trailing dotted quad stands for the last two 16-bit words: rewrite it as two hex groups.
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (s.includes('.')) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const parseGroup = (g: string): number | undefined => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : undefined);
  const splitGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      const v = parseGroup(g);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  };
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = splitGroups(s.slice(0, dbl));
    const tail = splitGroups(s.slice(dbl + 2));
    if (head === undefined || tail === undefined) return undefined;
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return undefined;
    words.push(...head, ...new Array<number>(fill).fill(0), ...tail);
  } else {
    const all = splitGroups(s);
    if (all === undefined) return undefined;
    words.push(...all);
  }
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >>> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return bytes;
}

function inV4(n: number, base: string, bits: number): boolean {
  const b = parseIPv4(base);
  if (b === undefined) throw new Error(`bad constant ${base}`);
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~0 << (32 - bits)) >>> 0;
  return ((n & mask) >>> 0) === ((b & mask) >>> 0);
}

/** Classifies an IPv4 address given as a 32-bit number. */
export function classifyIPv4Number(n: number): AddressClass {
  const s = v4ToString(n);
  if (METADATA_V4.has(s)) return 'metadata';
  if (inV4(n, '0.0.0.0', 8)) return 'unspecified'; // "this network"; 0.0.0.0 reaches the local host on Linux
  if (inV4(n, '127.0.0.0', 8)) return 'loopback';
  if (inV4(n, '10.0.0.0', 8) || inV4(n, '172.16.0.0', 12) || inV4(n, '192.168.0.0', 16)) return 'private';
  if (inV4(n, '100.64.0.0', 10)) return 'private'; // carrier-grade NAT, internal to the provider
  if (inV4(n, '169.254.0.0', 16)) return 'link-local';
  if (inV4(n, '224.0.0.0', 4)) return 'multicast';
  if (
    inV4(n, '192.0.0.0', 24) || // IETF protocol assignments
    inV4(n, '192.0.2.0', 24) || inV4(n, '198.51.100.0', 24) || inV4(n, '203.0.113.0', 24) || // documentation
    inV4(n, '192.88.99.0', 24) || // 6to4 relay anycast
    inV4(n, '198.18.0.0', 15) || // benchmarking
    inV4(n, '240.0.0.0', 4) // reserved + 255.255.255.255 broadcast
  ) {
    return 'reserved';
  }
  return 'public';
}

function prefixMatch(bytes: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const bit = 7 - (i & 7);
    if ((((bytes[byte] ?? 0) >> bit) & 1) !== (((prefix[byte] ?? 0) >> bit) & 1)) return false;
  }
  return true;
}

function v4At(bytes: Uint8Array, offset: number): number {
  return (((bytes[offset] ?? 0) << 24) | ((bytes[offset + 1] ?? 0) << 16) | ((bytes[offset + 2] ?? 0) << 8) | (bytes[offset + 3] ?? 0)) >>> 0;
}

function bytesOf(s: string): number[] {
  const b = parseIPv6(s);
  if (b === undefined) throw new Error(`bad constant ${s}`);
  return [...b];
}
const P = {
  mapped: bytesOf('::ffff:0:0'),
  translated: bytesOf('::ffff:0:0:0'),
  nat64: bytesOf('64:ff9b::'),
  nat64Local: bytesOf('64:ff9b:1::'),
  sixToFour: bytesOf('2002::'),
  teredo: bytesOf('2001::'),
  doc: bytesOf('2001:db8::'),
  orchid: bytesOf('2001:10::'),
  discard: bytesOf('100::'),
  uniqueLocal: bytesOf('fc00::'),
  linkLocal: bytesOf('fe80::'),
  siteLocal: bytesOf('fec0::'),
  multicast: bytesOf('ff00::'),
  global: bytesOf('2000::'),
};
const METADATA_V6_BYTES = METADATA_V6.map(bytesOf);

/** Classifies an IPv6 address given as 16 bytes; embedded IPv4 forms are classified by their IPv4. */
export function classifyIPv6Bytes(b: Uint8Array): AddressClass {
  if (METADATA_V6_BYTES.some((m) => m.every((v, i) => v === b[i]))) return 'metadata';
  const zeroUpTo = (n: number): boolean => b.subarray(0, n).every((v) => v === 0);
  if (zeroUpTo(16)) return 'unspecified';
  if (zeroUpTo(15) && b[15] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d — connecting to it reaches the IPv4 host.
  if (prefixMatch(b, P.mapped, 96)) return classifyIPv4Number(v4At(b, 12));
  // SIIT IPv4-translated ::ffff:0:a.b.c.d
  if (prefixMatch(b, P.translated, 96)) return classifyIPv4Number(v4At(b, 12));
  // Deprecated IPv4-compatible ::a.b.c.d (some stacks still route it to the IPv4 host).
  if (zeroUpTo(12)) return classifyIPv4Number(v4At(b, 12));
  // NAT64 well-known prefix: the gateway connects to the embedded IPv4 address.
  if (prefixMatch(b, P.nat64, 96)) return classifyIPv4Number(v4At(b, 12));
  if (prefixMatch(b, P.nat64Local, 48)) return 'private'; // RFC 8215 local-use NAT64
  // 6to4: 2002:AABB:CCDD::/48 tunnels to IPv4 AA.BB.CC.DD.
  if (prefixMatch(b, P.sixToFour, 16)) {
    const inner = classifyIPv4Number(v4At(b, 2));
    return inner === 'public' ? 'public' : inner;
  }
  if (prefixMatch(b, P.doc, 32)) return 'reserved';
  // Teredo hides an obfuscated client IPv4 and a server IPv4; nothing legitimate needs it here.
  if (prefixMatch(b, P.teredo, 32)) return 'reserved';
  if (prefixMatch(b, P.orchid, 28)) return 'reserved';
  if (prefixMatch(b, P.discard, 64)) return 'reserved';
  if (prefixMatch(b, P.uniqueLocal, 7)) return 'unique-local';
  if (prefixMatch(b, P.linkLocal, 10)) return 'link-local';
  if (prefixMatch(b, P.siteLocal, 10)) return 'private'; // deprecated site-local
  if (prefixMatch(b, P.multicast, 8)) return 'multicast';
  // Only global unicast (2000::/3) is public; everything else is unassigned or special.
  if (prefixMatch(b, P.global, 3)) return 'public';
  return 'reserved';
}

/**
 * Classifies an IP address literal (IPv4 dotted quad, or IPv6 with or without brackets).
 * Returns undefined for anything that is not an IP literal (a host name).
 */
export function classifyAddress(address: string): AddressClass | undefined {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return classifyIPv4Number(v4);
  const v6 = parseIPv6(address);
  if (v6 !== undefined) return classifyIPv6Bytes(v6);
  return undefined;
}

/**
 * Address classes that an allowed origin may resolve to. Metadata, unspecified, multicast and
 * reserved addresses are never fetched, whatever the allow-list says.
 */
const ALLOWED_ORIGIN_MAY_REACH: ReadonlySet<AddressClass> = new Set(['public', 'loopback', 'private', 'link-local', 'unique-local']);

/** Whether a connection to an address of this class is permitted. */
export function mayConnect(cls: AddressClass, privateAllowed: boolean): boolean {
  if (cls === 'public') return true;
  return privateAllowed && ALLOWED_ORIGIN_MAY_REACH.has(cls);
}

// ------------------------------------------------------------------------------------------------
// Origin allow-list (HALFTONE_ALLOWED_ORIGINS)
// ------------------------------------------------------------------------------------------------

/**
 * One parsed allow-list entry. Grammar: `[scheme://]host[:port][/path-prefix]` where host may be
 * `*.example.com` (the apex and every subdomain, as in Cloudflare's "Sources" setting) and port may
 * be `*`. Without a scheme both http and https match; without a port only the scheme's default port
 * matches (origin semantics). A bare `*` means "any public origin" and never grants private access.
 */
export interface AllowEntry {
  readonly raw: string;
  readonly schemes: readonly ('http:' | 'https:')[];
  /** Lower-case host as the WHATWG URL parser normalises it (IP literals bracketed for IPv6). */
  readonly host: string;
  readonly wildcard: boolean;
  /** Port as a string ('' = scheme default) or '*' for any. */
  readonly port: string;
  /** Path prefix ('' = any path). */
  readonly pathPrefix: string;
}

export interface AllowList {
  readonly entries: readonly AllowEntry[];
  /** True when the list contains a bare `*`: any origin may be fetched if it is public. */
  readonly anyOrigin: boolean;
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Parses allow-list entries; throws a plain Error naming the bad entry (a configuration error). */
export function parseAllowList(entries: readonly string[]): AllowList {
  const out: AllowEntry[] = [];
  let anyOrigin = false;
  for (const rawEntry of entries) {
    const raw = rawEntry.trim();
    if (raw === '') continue;
    if (raw === '*') {
      anyOrigin = true;
      continue;
    }
    let rest = raw;
    let schemes: ('http:' | 'https:')[] = ['http:', 'https:'];
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
    if (m) {
      const scheme = `${(m[1] ?? '').toLowerCase()}:`;
      if (scheme !== 'http:' && scheme !== 'https:') throw new Error(`allowed origin ${JSON.stringify(raw)}: only http and https are supported`);
      schemes = [scheme];
      rest = rest.slice(m[0].length);
    }
    let wildcard = false;
    if (rest.startsWith('*.')) {
      wildcard = true;
      rest = rest.slice(2);
    }
    let anyPort = false;
    const portStar = /^([^/]*):\*(\/.*)?$/.exec(rest);
    if (portStar) {
      anyPort = true;
      rest = (portStar[1] ?? '') + (portStar[2] ?? '');
    }
    let url: URL;
    try {
      url = new URL(`${schemes[0]}//${rest}`);
    } catch {
      throw new Error(`allowed origin ${JSON.stringify(raw)} is not a valid origin`);
    }
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.hostname === '') {
      throw new Error(`allowed origin ${JSON.stringify(raw)} must be [scheme://]host[:port][/path]`);
    }
    if (wildcard && classifyAddress(url.hostname) !== undefined) {
      throw new Error(`allowed origin ${JSON.stringify(raw)}: wildcards apply to host names, not IP addresses`);
    }
    // URL drops the port when it equals the default of schemes[0]; with no scheme given, an
    // explicit :80 / :443 must stay explicit for the other scheme, so recover it from the raw text.
    let port = anyPort ? '*' : url.port;
    if (!anyPort && port === '' && schemes.length === 2) {
      const explicit = /^(\[[^\]]*\]|[^/:]*):(\d+)/.exec(rest);
      if (explicit) port = String(Number(explicit[2]));
    }
    out.push({
      raw,
      schemes,
      host: url.hostname,
      wildcard,
      port,
      pathPrefix: url.pathname === '/' ? '' : url.pathname,
    });
  }
  return { entries: out, anyOrigin };
}

function portMatches(entry: AllowEntry, protocol: string, port: string): boolean {
  if (entry.port === '*') return true;
  const effective = port === '' ? DEFAULT_PORT[protocol] : port;
  const wanted = entry.port === '' ? DEFAULT_PORT[protocol] : entry.port;
  return effective === wanted;
}

function hostMatches(entry: AllowEntry, hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  const e = entry.host.replace(/\.$/, '');
  if (h === e) return true;
  return entry.wildcard && h.endsWith(`.${e}`);
}

function pathMatches(prefix: string, pathname: string): boolean {
  if (prefix === '') return true;
  if (prefix.endsWith('/')) return pathname.startsWith(prefix);
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

/** The first allow-list entry matching the URL's scheme, host, port and path, if any. */
export function matchAllowList(list: AllowList, url: URL): AllowEntry | undefined {
  return list.entries.find(
    (e) => e.schemes.includes(url.protocol as 'http:') && hostMatches(e, url.hostname) && portMatches(e, url.protocol, url.port) && pathMatches(e.pathPrefix, url.pathname),
  );
}

/**
 * Whether connections to this origin (scheme, host, port; any path) may reach private addresses:
 * true when some allow-list entry names the origin. Used at connect time, where no path is known;
 * the path prefix was already checked on the URL before the request was made.
 */
export function originMayBePrivate(list: AllowList, protocol: string, hostname: string, port: string): boolean {
  return list.entries.some((e) => e.schemes.includes(protocol as 'http:') && hostMatches(e, hostname) && portMatches(e, protocol, port));
}

// ------------------------------------------------------------------------------------------------
// URL vetting
// ------------------------------------------------------------------------------------------------

/** Ports the Fetch standard refuses (cross-protocol attacks on SMTP, IRC, ...). */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139,
  143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659,
  4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Longest source URL we accept. */
export const MAX_URL_LENGTH = 8192;

/** Host names that always mean this machine, whatever DNS says. */
function isLocalName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain';
}

/** The host exactly as written in the URL text (before WHATWG normalisation), lower-cased. */
function rawHostOf(input: string): string | undefined {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:[/\\]*([^/\\?#]*)/.exec(input.trim());
  if (!m) return undefined;
  let authority = m[1] ?? '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? authority.toLowerCase() : authority.slice(0, end + 1).toLowerCase();
  }
  const colon = authority.indexOf(':');
  return (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
}

export type UrlCheck =
  | { readonly ok: true; readonly url: URL; readonly literal: AddressClass | undefined }
  | { readonly ok: false; readonly error: AppError };

export interface UrlPolicy {
  readonly allowList: AllowList;
  /** When false, only origins on the allow-list may be fetched (Cloudflare "Sources" mode). */
  readonly anyPublicOrigin: boolean;
}

/**
 * Vets a source URL before any connection: parses it with the WHATWG URL parser (which turns
 * `0x7f000001`, `2130706433` and `127.1` into `127.0.0.1`), refuses non-http(s) schemes, userinfo,
 * blocked ports, and hosts that are loopback names or literals of forbidden classes; then applies
 * the allow-list. Host names are checked again at connect time on their resolved addresses.
 *
 * `code` selects the error for an unparsable URL (FETCH_INVALID_URL for the first URL,
 * FETCH_BAD_REDIRECT for a Location header).
 */
export function checkUrl(input: string | URL, policy: UrlPolicy, badUrlCode: 'FETCH_INVALID_URL' | 'FETCH_BAD_REDIRECT' = 'FETCH_INVALID_URL'): UrlCheck {
  const text = typeof input === 'string' ? input : input.href;
  // The first URL came from the client and may be echoed back; a redirect target came from an
  // origin (possibly an allowed internal one) and goes to the log only.
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const bad = (why: string, code: 'FETCH_INVALID_URL' | 'FETCH_BAD_REDIRECT' | 'FETCH_FORBIDDEN_ADDRESS' | 'FETCH_ORIGIN_NOT_ALLOWED' = badUrlCode): UrlCheck => ({
    ok: false,
    error:
      badUrlCode === 'FETCH_BAD_REDIRECT'
        ? new AppError(code, why, { details: { redirect: true }, cause: new Error(`redirect target ${shown}`) })
        : new AppError(code, why, { details: { url: shown } }),
  });
  if (text.length > MAX_URL_LENGTH) return bad(`The source URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : new URL(input.href);
  } catch {
    return bad('The source URL is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad('Only http and https source URLs are supported');
  if (url.username !== '' || url.password !== '') return bad('Source URLs must not carry credentials');
  if (url.hostname === '') return bad('The source URL has no host');
  const port = url.port === '' ? Number(DEFAULT_PORT[url.protocol]) : Number(url.port);
  if (BAD_PORTS.has(port)) return bad(`Port ${port} is not allowed for source URLs`);
  url.hash = '';

  const allowed = matchAllowList(policy.allowList, url);
  const privateAllowed = originMayBePrivate(policy.allowList, url.protocol, url.hostname, url.port);
  if (allowed === undefined && !(policy.anyPublicOrigin || policy.allowList.anyOrigin)) {
    return bad('Transformation origin is not in allowed origins list', 'FETCH_ORIGIN_NOT_ALLOWED');
  }
  const literal = classifyAddress(url.hostname);
  if (literal !== undefined && !mayConnect(literal, privateAllowed)) {
    return bad(`The source host is a ${literal} address`, 'FETCH_FORBIDDEN_ADDRESS');
  }
  if (literal === undefined && isLocalName(url.hostname) && !privateAllowed) {
    return bad('The source host is a loopback name', 'FETCH_FORBIDDEN_ADDRESS');
  }
  // Non-canonical numeric spellings (hex, octal, single integer, shortened) have no legitimate use
  // and are a classic filter bypass; refuse them even where the canonical address would be fine.
  if (literal !== undefined && isIP(url.hostname) === 4) {
    const raw = rawHostOf(text);
    if (raw !== undefined && raw !== url.hostname) return bad('The source host is a non-canonical IPv4 address');
  }
  return { ok: true, url, literal };
}
