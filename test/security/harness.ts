/**
 * Shared pieces of the security suites (issue 10): a V1 request signer over the real auth code,
 * peak-RSS readings of a spawned server, a loopback origin, and the table of dialects every
 * hostile file is sent through (see DIALECTS). Everything talks to 127.0.0.1 only.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { AddressInfo } from 'node:net';
import { v1Sign, v1StringToSign } from '../../src/http/oss/auth.js';
import { startServer, TEST_AK, TEST_SK, type RunningServer } from '../helpers/server.js';

export { TEST_AK, TEST_SK };

/** A response read whole. */
export interface Res {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface SignedRequest {
  readonly method: string;
  readonly bucket: string;
  readonly key?: string;
  /** Raw query pairs (unencoded); value undefined = `?name`. */
  readonly query?: readonly (readonly [string, string | undefined])[];
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Sign with this date string (default: now). */
  readonly date?: string;
  /** Leave the request unsigned. */
  readonly anonymous?: boolean;
  readonly secret?: string;
}

/** Builds the path and query of an OSS request the way the SDKs encode it. */
export function ossPath(bucket: string, key = '', query: SignedRequest['query'] = []): string {
  const k = key.split('/').map(encodeURIComponent).join('/');
  const qs = query.map(([n, v]) => (v === undefined ? encodeURIComponent(n) : `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)).join('&');
  return `/${bucket}${key === '' ? '/' : `/${k}`}${qs === '' ? '' : `?${qs}`}`;
}

/** The Authorization header of a V1-signed request. */
export function v1Authorization(r: SignedRequest, headers: Record<string, string>): string {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const sts = v1StringToSign({ method: r.method, bucket: r.bucket, key: r.key ?? '', headers: lower, query: r.query ?? [] }, lower['x-oss-date'] ?? lower['date'] ?? '');
  return `OSS ${TEST_AK}:${v1Sign(r.secret ?? TEST_SK, sts)}`;
}

/** Sends an OSS request (V1 header-signed unless anonymous) to a spawned server. */
export async function oss(server: { url: string }, r: SignedRequest): Promise<Res> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...r.headers };
  if (!r.anonymous) {
    if (headers['date'] === undefined) headers['x-oss-date'] ??= r.date ?? new Date().toUTCString();
    headers['authorization'] = v1Authorization(r, headers);
  }
  const res = await fetch(server.url + ossPath(r.bucket, r.key, r.query), {
    method: r.method, headers, ...(r.body === undefined ? {} : { body: r.body }),
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Peak resident set size (VmHWM) of a process in bytes. */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('VmHWM not found');
  return Number(m[1]) * 1024;
}

/** Current resident set size (VmRSS) in bytes. */
export function currentRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('VmRSS not found');
  return Number(m[1]) * 1024;
}

/** A loopback HTTP origin serving a mutable map of files (remote sources). */
export interface Origin {
  readonly url: string;
  readonly files: Map<string, Buffer>;
  close(): Promise<void>;
}

export async function startOrigin(): Promise<Origin> {
  const files = new Map<string, Buffer>();
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const data = files.get(name);
    if (data === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }).end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ------------------------------------------------------------------------------- hostile files

export interface HostileFile {
  readonly name: string;
  readonly data: Buffer;
  /** A reference decoder opens it fully: a processed 200 is an acceptable answer. */
  readonly mayDecode: boolean;
  /** Header-level bomb: must be refused with IMAGE_TOO_LARGE (checked before decoding). */
  readonly bomb: boolean;
  /** The bomb is only its frame count (each frame is small). */
  readonly frameBomb?: boolean;
  readonly svg: boolean;
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Small hostile files made here, so CI without the corpus still runs the suite. */
export async function generatedHostileFiles(): Promise<HostileFile[]> {
  const { deflateSync } = await import('node:zlib');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100000, 0);
  ihdr.writeUInt32BE(100000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(1 + 4 * 16))), pngChunk('IEND', Buffer.alloc(0)),
  ]);
  const sharp = (await import('sharp')).default;
  const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 200, g: 30, b: 60 } } }).jpeg().toBuffer();
  // Cut right after the SOF0 segment: a valid header, no scan data.
  let sof = -1;
  for (let i = 2; i < jpeg.length - 1; i++) if (jpeg[i] === 0xff && (jpeg[i + 1] === 0xc0 || jpeg[i + 1] === 0xc2)) { sof = i; break; }
  const sofEnd = sof + 2 + jpeg.readUInt16BE(sof + 2);
  const svgXxe = Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY web SYSTEM "http://127.0.0.1:9/x">]>\n'
    + '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100"><text x="0" y="20">&xxe;&web;</text></svg>\n');
  return [
    { name: 'gen/png_header_100000x100000.png', data: png, mayDecode: false, bomb: true, svg: false },
    { name: 'gen/jpeg_truncated_after_sof.jpg', data: jpeg.subarray(0, sofEnd), mayDecode: false, bomb: false, svg: false },
    { name: 'gen/zero_bytes.jpg', data: Buffer.alloc(0), mayDecode: false, bomb: false, svg: false },
    { name: 'gen/svg_external_entity.svg', data: svgXxe, mayDecode: false, bomb: false, svg: true },
  ];
}

/** `<repo>/../shared/corpus` (the worktrees reach it through a symlink). */
export const CORPUS = new URL('../../../shared/corpus/', import.meta.url).pathname;

// gif_logical_screen_65535x65535 is left out on purpose: libvips sizes a GIF by its frame (1x1),
// never allocating the logical screen, so it is a real 1x1 image here (manifest: opens).
const BOMBS = /bomb_|claims_|10000_frames|giant/;

/** Every file under corpus/broken with the manifest's verdict; empty when the corpus is absent. */
export function corpusHostileFiles(): HostileFile[] {
  const dir = join(CORPUS, 'broken');
  if (!existsSync(dir)) return [];
  const opens = new Map<string, boolean>();
  try {
    const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { files: { path: string; opens: boolean }[] };
    for (const f of manifest.files) opens.set(f.path, f.opens);
  } catch {
    // no manifest: every file must be refused or decode
  }
  const out: HostileFile[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const full = join(d, n);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const rel = relative(CORPUS, full);
        out.push({ name: rel, data: readFileSync(full), mayDecode: opens.get(rel) ?? true, bomb: BOMBS.test(n) && !n.startsWith('svg'), frameBomb: /_frames/.test(n), svg: n.endsWith('.svg') });
      }
    }
  };
  walk(dir);
  return out;
}

// ------------------------------------------------------------------------------- dialects

/** A running server plus what the dialect table needs. */
export interface SuiteContext {
  readonly server: RunningServer;
  readonly origin: Origin;
  readonly bucket: string;
  readonly apiToken: string;
}

/** How a dialect answered one hostile file. */
export type Outcome =
  | { readonly kind: 'refused'; readonly status: number; readonly code: string }
  | { readonly kind: 'processed'; readonly status: number; readonly contentType: string }
  | { readonly kind: 'pass-through'; readonly status: number }
  | { readonly kind: 'wrong'; readonly status: number; readonly why: string };

export interface Dialect {
  readonly name: string;
  /**
   * Documented: the dialect reads only the first frame of an animation (the task API, spec
   * compress-task-api.md §7 item 4; docs/compress-api.md), so a frame-count bomb is a one-frame
   * image there, not a refusal.
   */
  readonly firstFrameOnly?: boolean;
  /** What the dialect does with a file; `key` is the stored object (uploaded by the suite). */
  send(ctx: SuiteContext, file: HostileFile, key: string): Promise<Outcome>;
}

function ossOutcome(res: Res): Outcome {
  const type = res.headers.get('content-type') ?? '';
  if (res.status >= 400 && res.status < 500) {
    const m = /<Code>([^<]+)<\/Code>/.exec(res.body.toString('utf8'));
    if (!type.includes('application/xml') || m === null) return { kind: 'wrong', status: res.status, why: 'not an OSS XML error' };
    return { kind: 'refused', status: res.status, code: m[1]! };
  }
  if (res.status === 200 && type.startsWith('image/')) return { kind: 'processed', status: 200, contentType: type };
  return { kind: 'wrong', status: res.status, why: `${type} ${res.body.subarray(0, 200).toString('utf8')}` };
}

function cfOutcome(res: Res): Outcome {
  const type = res.headers.get('content-type') ?? '';
  if (res.status >= 400 && res.status < 500) {
    const m = /^ERROR (9\d{3}):/.exec(res.body.toString('utf8'));
    const hdr = res.headers.get('cf-resized') ?? '';
    if (m === null || !hdr.includes(`err=${m[1]}`)) return { kind: 'wrong', status: res.status, why: `not a Cloudflare error: ${res.body.subarray(0, 120).toString('utf8')}` };
    return { kind: 'refused', status: res.status, code: m[1]! };
  }
  if (res.status === 200 && type.startsWith('image/') && !type.includes('svg')) return { kind: 'processed', status: 200, contentType: type };
  return { kind: 'wrong', status: res.status, why: `${type} ${res.body.subarray(0, 200).toString('utf8')}` };
}

async function read(res: Response): Promise<Res> {
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Retries a request answered 429 after its Retry-After (the per-key limits are not under test here). */
async function unthrottled(send: () => Promise<Response>): Promise<Res> {
  for (let i = 0; ; i++) {
    const res = await read(await send());
    if (res.status !== 429 || i >= 20) return res;
    await new Promise((r) => setTimeout(r, 1000 * Math.max(1, Number(res.headers.get('retry-after') ?? '1'))));
  }
}

function jsonOf(res: Res): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(res.body.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Fetches a result URL (made absolute by the server from its Host) and classifies it. */
async function resultImage(ctx: SuiteContext, url: string): Promise<Outcome> {
  const u = new URL(url);
  const res = await read(await fetch(ctx.server.url + u.pathname + u.search));
  const type = res.headers.get('content-type') ?? '';
  if (res.status === 200 && type.startsWith('image/') && !type.includes('svg')) return { kind: 'processed', status: 200, contentType: type };
  return { kind: 'wrong', status: res.status, why: `result URL answered ${res.status} ${type}` };
}

/**
 * The compression task API (docs/compress-api.md): upload as `image_file` with sync=1. A hostile
 * file is a task that ends with a negative `data.state` (HTTP 200, the spec's task failure) or a
 * 4xx `{status, message}` at submission; an unfinished sync answer is polled to its end.
 */
const taskDialect: Dialect = {
  name: 'task API upload',
  firstFrameOnly: true,
  async send(ctx, file) {
    const base = `${ctx.server.url}/api/tasks/visual/imgcompress`;
    const headers = { 'x-api-key': ctx.apiToken };
    const res = await unthrottled(() => {
      const form = new FormData();
      form.set('sync', '1');
      form.set('image_file', new Blob([file.data]), file.name.split('/').pop() ?? 'x');
      return fetch(base, { method: 'POST', headers, body: form });
    });
    const json = jsonOf(res);
    if (json === undefined || json['status'] !== res.status || typeof json['message'] !== 'string') return { kind: 'wrong', status: res.status, why: `not a task API body: ${res.body.subarray(0, 200).toString('utf8')}` };
    if (res.status >= 400 && res.status < 500) return { kind: 'refused', status: res.status, code: String(res.status) };
    if (res.status !== 200) return { kind: 'wrong', status: res.status, why: String(json['message']) };
    let data = json['data'] as { task_id?: string; state?: number; image?: string } | undefined;
    for (let i = 0; data !== undefined && typeof data.state === 'number' && data.state >= 0 && data.state !== 1 && i < 600; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const polled = jsonOf(await unthrottled(() => fetch(`${base}/${data!.task_id ?? ''}`, { headers })));
      data = polled?.['data'] as typeof data;
    }
    if (data === undefined || typeof data.state !== 'number') return { kind: 'wrong', status: res.status, why: 'no task state' };
    if (data.state < 0) return { kind: 'refused', status: 200, code: `state ${data.state}` };
    if (data.state === 1 && typeof data.image === 'string') return resultImage(ctx, data.image);
    return { kind: 'wrong', status: 200, why: `task state ${data.state}` };
  },
};

/** The Abstract-style API (docs/abstract-api.md): `/v1/upload/`; refusals are `{error: {code, message, details}}`. */
const abstractDialect: Dialect = {
  name: 'abstract upload',
  async send(ctx, file) {
    const res = await unthrottled(() => {
      const form = new FormData();
      form.set('data', JSON.stringify({ lossy: true }));
      form.set('image', new Blob([file.data]), file.name.split('/').pop() ?? 'x');
      return fetch(`${ctx.server.url}/v1/upload/`, { method: 'POST', headers: { authorization: `Bearer ${ctx.apiToken}` }, body: form });
    });
    const json = jsonOf(res);
    if (res.status >= 400 && res.status < 500) {
      const error = json?.['error'] as { code?: unknown; message?: unknown } | undefined;
      if (typeof error?.code !== 'string' || typeof error.message !== 'string') return { kind: 'wrong', status: res.status, why: `not the Abstract envelope: ${res.body.subarray(0, 200).toString('utf8')}` };
      return { kind: 'refused', status: res.status, code: error.code };
    }
    if (res.status === 200 && typeof json?.['url'] === 'string') return resultImage(ctx, json['url']);
    return { kind: 'wrong', status: res.status, why: res.body.subarray(0, 200).toString('utf8') };
  },
};

/**
 * Every landed dialect that takes an image from a client. Adding a dialect = one entry here
 * (the hostile-file, soak and HTTP-fuzz suites iterate this table).
 */
export const DIALECTS: readonly Dialect[] = [
  {
    name: 'oss GET x-oss-process',
    async send(ctx, _file, key) {
      return ossOutcome(await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key, query: [['x-oss-process', 'image/resize,w_64/format,png']] }));
    },
  },
  {
    name: 'oss GET image/info',
    async send(ctx, _file, key) {
      const res = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key, query: [['x-oss-process', 'image/info']] });
      // info answers JSON for a readable header; that is the documented answer, not an image.
      if (res.status === 200 && (res.headers.get('content-type') ?? '').includes('json')) return { kind: 'pass-through', status: 200 };
      return ossOutcome(res);
    },
  },
  {
    name: 'oss POST sys/saveas',
    async send(ctx, _file, key) {
      const target = `saved/${key}.png`;
      const body = `x-oss-process=${encodeURIComponent(`image/resize,w_64/format,png|sys/saveas,o_${Buffer.from(target).toString('base64url')}`)}`;
      const res = await oss(ctx.server, { method: 'POST', bucket: ctx.bucket, key, query: [['x-oss-process', undefined]], body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      if (res.status === 200 && (res.headers.get('content-type') ?? '').includes('json')) {
        const saved = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key: target });
        return saved.status === 200 && (saved.headers.get('content-type') ?? '').startsWith('image/')
          ? { kind: 'processed', status: 200, contentType: saved.headers.get('content-type') ?? '' }
          : { kind: 'wrong', status: saved.status, why: 'saveas reported OK but the target is not an image' };
      }
      const out = ossOutcome(res);
      if (out.kind === 'refused') {
        const left = await oss(ctx.server, { method: 'HEAD', bucket: ctx.bucket, key: target });
        if (left.status !== 404) return { kind: 'wrong', status: res.status, why: 'refused saveas left a target object' };
      }
      return out;
    },
  },
  {
    name: 'oss GET raw object',
    async send(ctx, file, key) {
      const res = await oss(ctx.server, { method: 'GET', bucket: ctx.bucket, key });
      // Documented pass-through: a plain GET returns the stored bytes unchanged, as OSS does.
      if (res.status === 200 && res.body.equals(file.data)) return { kind: 'pass-through', status: 200 };
      return { kind: 'wrong', status: res.status, why: 'raw GET did not return the stored bytes' };
    },
  },
  {
    name: 'cloudflare stored object',
    async send(ctx, _file, key) {
      const path = `/cdn-cgi/image/width=64,format=png/${ctx.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
      return cfOutcome(await read(await fetch(ctx.server.url + path)));
    },
  },
  {
    name: 'cloudflare remote URL',
    async send(ctx, file, key) {
      ctx.origin.files.set(key, file.data);
      const path = `/cdn-cgi/image/width=64,format=png/${ctx.origin.url}/${key.split('/').map(encodeURIComponent).join('/')}`;
      return cfOutcome(await read(await fetch(ctx.server.url + path)));
    },
  },
  {
    name: 'hosted image upload',
    async send(ctx, file) {
      const form = new FormData();
      form.set('file', new Blob([file.data]), file.name.split('/').pop() ?? 'x');
      const res = await read(await fetch(`${ctx.server.url}/client/v4/accounts/halftone/images/v1`, {
        method: 'POST', headers: { authorization: `Bearer ${ctx.apiToken}` }, body: form,
      }));
      let json: { success?: boolean; errors?: { code: number }[]; result?: { id?: string } };
      try {
        json = JSON.parse(res.body.toString('utf8')) as typeof json;
      } catch {
        return { kind: 'wrong', status: res.status, why: 'not JSON' };
      }
      if (res.status >= 400 && res.status < 500 && json.success === false && json.errors?.[0] !== undefined) {
        return { kind: 'refused', status: res.status, code: String(json.errors[0].code) };
      }
      if (res.status === 200 && json.success === true && json.result?.id !== undefined) {
        // Accepted uploads must deliver as an image (or a Cloudflare-shaped refusal).
        const d = await read(await fetch(`${ctx.server.url}/cdn-cgi/imagedelivery/halftone/${json.result.id}/public`));
        // Upload checks the header only (size limits, format); a body that then fails to decode
        // is refused at delivery in the Cloudflare shape: stored, never served as an image.
        return cfOutcome(d);
      }
      return { kind: 'wrong', status: res.status, why: res.body.subarray(0, 200).toString('utf8') };
    },
  },
  taskDialect,
  abstractDialect,
];

/** Starts a server with every landed dialect mounted, remote fetches limited to the loopback origin, and a public-read-write bucket. */
export async function startSuite(extraEnv: Record<string, string> = {}): Promise<SuiteContext> {
  const origin = await startOrigin();
  const apiToken = 'security-suite-token';
  const server = await startServer({ env: { HALFTONE_ALLOWED_ORIGINS: origin.url, HALFTONE_ANY_PUBLIC_ORIGIN: 'false', HALFTONE_API_KEYS: apiToken, HALFTONE_TASK_RATE_LIMIT: '1000', HALFTONE_ABSTRACT_RATE_LIMIT: '1000', ...extraEnv } });
  const bucket = 'hostile';
  const made = await oss(server, { method: 'PUT', bucket, headers: { 'x-oss-acl': 'public-read-write' } });
  if (made.status !== 200) throw new Error(`bucket: ${made.status} ${made.body.toString()}`);
  return { server, origin, bucket, apiToken };
}

export async function stopSuite(ctx: SuiteContext): Promise<void> {
  await ctx.server.stop();
  await ctx.origin.close();
}

/** A request any healthy server answers: the health check. */
export async function healthy(ctx: { server: { url: string } }): Promise<boolean> {
  try {
    const res = await fetch(`${ctx.server.url}/healthz`, { signal: AbortSignal.timeout(30000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Records a suite's figures for docs/security.md: printed always, and written as JSON to
 * `$HALFTONE_SECURITY_REPORT/<name>.json` when that directory is set (scripts/security-report).
 */
export async function record(name: string, data: unknown): Promise<void> {
  const text = JSON.stringify(data, null, 2);
  const summary = typeof data === 'object' && data !== null ? Object.fromEntries(Object.entries(data).filter(([k]) => k !== 'perFile')) : data;
  console.log(`[security:${name}] ${JSON.stringify(summary)}`);
  const dir = process.env['HALFTONE_SECURITY_REPORT'];
  if (dir === undefined || dir === '') return;
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), `${text}\n`);
}

/** Rejects when `p` takes longer than `ms` (a hang guard, not a speed assertion). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}
