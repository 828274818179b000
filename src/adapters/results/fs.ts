/**
 * File-system ResultFiles (+ ResultReader): short-lived result files under `<dataDir>/results`.
 *
 * Layout: one directory per result, `<dir>/<id>/` holding `data` and `meta.json`; it is written as
 * `<dir>/.tmp-<uuid>/` and renamed into place, so a reader never sees half a result. The id starts
 * with the expiry in base-36 seconds, so the sweep deletes expired results from the listing alone.
 *
 * URLs: `/results/<id>/<name>?expires=<unix s>&signature=<base64url HMAC-SHA256>` over
 * `<id>\n<name>\n<expires>` with a 32-byte secret generated once in `<dataDir>/results.secret`
 * (mode 0600). Verification is timing-safe; an expired URL answers `gone` even before the sweep.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublishOptions, PublishedResult, ResultFiles } from '../../ports/result-files.js';
import type { ResultLookup, ResultReader } from '../../ports/result-reader.js';

export interface FsResultFilesOptions {
  /** The data dir; results go to `<dataDir>/results`, the secret to `<dataDir>/results.secret`. */
  readonly dataDir: string;
  /** How often expired results are deleted (default 60 s); a sweep also runs at creation. */
  readonly sweepIntervalMs?: number;
  readonly now?: () => number;
}

export interface FsResultFiles extends ResultFiles, ResultReader {
  /** Deletes expired results and stale temp dirs; returns how many results were deleted. */
  sweep(): Promise<number>;
  /** Stops the periodic sweep. */
  close(): void;
}

interface Meta {
  readonly name: string;
  readonly contentType: string;
  readonly expiresAt: number;
  readonly size: number;
}

const ID_RE = /^([0-9a-z]{1,12})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Temp dirs older than this are leftovers of a crash. */
const STALE_TMP_MS = 10 * 60 * 1000;

async function loadSecret(file: string): Promise<Buffer> {
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32);
  try {
    await writeFile(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    throw err;
  }
}

/** Turns a caller's file name into a URL-safe one (keeps the extension). */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(-128);
  return NAME_RE.test(cleaned) ? cleaned : 'result';
}

export async function createFsResultFiles(options: FsResultFilesOptions): Promise<FsResultFiles> {
  const dir = join(options.dataDir, 'results');
  await mkdir(dir, { recursive: true });
  const secret = await loadSecret(join(options.dataDir, 'results.secret'));
  const now = options.now ?? Date.now;

  const sign = (id: string, name: string, expires: string): string =>
    createHmac('sha256', secret).update(`${id}\n${name}\n${expires}`).digest('base64url');

  async function sweep(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return 0;
    }
    let removed = 0;
    const nowSec = now() / 1000;
    for (const n of names) {
      if (n.startsWith('.tmp-')) {
        const st = await stat(join(dir, n)).catch(() => undefined);
        if (st && now() - st.mtimeMs > STALE_TMP_MS) await rm(join(dir, n), { recursive: true, force: true });
        continue;
      }
      const m = ID_RE.exec(n);
      if (m === null || parseInt(m[1] as string, 36) <= nowSec) {
        await rm(join(dir, n), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  await sweep();
  const timer = setInterval(() => void sweep().catch(() => 0), options.sweepIntervalMs ?? 60_000);
  timer.unref();

  return {
    async publish(bytes: Buffer, opts: PublishOptions): Promise<PublishedResult> {
      if (!Number.isFinite(opts.ttlMs) || opts.ttlMs <= 0) throw new RangeError(`ttlMs must be positive, got ${opts.ttlMs}`);
      const expiresSec = Math.ceil((now() + opts.ttlMs) / 1000);
      const id = `${expiresSec.toString(36)}-${randomUUID()}`;
      const name = safeFileName(opts.fileName);
      const meta: Meta = { name, contentType: opts.contentType, expiresAt: expiresSec * 1000, size: bytes.length };
      const tmp = join(dir, `.tmp-${randomUUID()}`);
      await mkdir(tmp);
      try {
        await writeFile(join(tmp, 'data'), bytes);
        await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
        await rename(tmp, join(dir, id));
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      const expires = String(expiresSec);
      return {
        id,
        path: `/results/${id}/${encodeURIComponent(name)}?expires=${expires}&signature=${sign(id, name, expires)}`,
        expiresAt: meta.expiresAt,
        size: bytes.length,
      };
    },

    async remove(id: string): Promise<void> {
      if (!ID_RE.test(id)) return;
      await rm(join(dir, id), { recursive: true, force: true });
    },

    async open(id, name, expires, signature): Promise<ResultLookup> {
      if (expires === undefined || signature === undefined || !/^\d{1,12}$/.test(expires)) return { kind: 'forbidden' };
      const want = Buffer.from(sign(id, name, expires));
      const got = Buffer.from(signature);
      if (got.length !== want.length || !timingSafeEqual(got, want)) return { kind: 'forbidden' };
      // Signed by us: the id and name are ours, but check their shape anyway before touching paths.
      if (!ID_RE.test(id) || !NAME_RE.test(name)) return { kind: 'gone' };
      if (Number(expires) * 1000 <= now()) return { kind: 'gone' };
      let meta: Meta;
      try {
        meta = JSON.parse(await readFile(join(dir, id, 'meta.json'), 'utf8')) as Meta;
      } catch {
        return { kind: 'gone' };
      }
      if (meta.name !== name || meta.expiresAt <= now()) return { kind: 'gone' };
      const file = join(dir, id, 'data');
      const st = await stat(file).catch(() => undefined);
      if (st === undefined) return { kind: 'gone' };
      return { kind: 'ok', stream: createReadStream(file), size: st.size, contentType: meta.contentType, fileName: meta.name, expiresAt: meta.expiresAt };
    },

    sweep,
    close() {
      clearInterval(timer);
    },
  };
}
