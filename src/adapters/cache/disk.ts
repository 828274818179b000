/**
 * Disk tier of the result cache: one file per entry under `<dir>/<2 hex>/<tag hash>-<key hash>.v`,
 * bounded in bytes with least-recently-used eviction, surviving restarts.
 *
 * - Writes go to `<dir>/tmp/` and are renamed into place, so an entry is either absent or whole;
 *   leftovers in `tmp/` (a crash mid-write) are removed at start.
 * - Each file holds a header (magic, JSON with the full key, metadata and data length) and the
 *   data; a read that finds a short or foreign file deletes it and reports a miss (e.g. a file
 *   truncated by a power loss before the rename reached the disk).
 * - The index (key hash → size, tag hash) lives in memory and is rebuilt at start from the file
 *   names and sizes, oldest modification time first; hits refresh the file's mtime so the LRU order
 *   survives a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CachedVariant, CacheTier } from '../../ports/result-cache.js';

const MAGIC = Buffer.from('HTC1');
const NAME = /^([0-9a-f]{16})-([0-9a-f]{40})\.v$/;

interface IndexEntry {
  readonly size: number;
  readonly tag: string;
}

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

export interface DiskTierOptions {
  readonly dir: string;
  /** Byte bound (> 0), counted as file sizes. */
  readonly maxBytes: number;
}

/** Opens (creating it when needed) the disk tier in `dir` and rebuilds its index. */
export async function createDiskTier(opts: DiskTierOptions): Promise<CacheTier> {
  const { dir, maxBytes } = opts;
  const tmp = join(dir, 'tmp');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });

  /** Insertion order = recency (oldest first). */
  const index = new Map<string, IndexEntry>();
  const byTag = new Map<string, Set<string>>();
  let bytes = 0;
  let evictions = 0;
  /** Writes in progress (close waits for them). */
  const pending = new Set<Promise<void>>();
  /** Purges seen while writes were in progress (tag hash → sequence number), so a late write is dropped. */
  const purgedAt = new Map<string, number>();
  let seq = 0;

  const pathOf = (kh: string, th: string) => join(dir, kh.slice(0, 2), `${th}-${kh}.v`);

  function add(kh: string, e: IndexEntry): void {
    const old = index.get(kh);
    if (old !== undefined) remove(kh);
    index.set(kh, e);
    bytes += e.size;
    let set = byTag.get(e.tag);
    if (set === undefined) byTag.set(e.tag, (set = new Set()));
    set.add(kh);
  }

  function remove(kh: string): IndexEntry | undefined {
    const e = index.get(kh);
    if (e === undefined) return undefined;
    index.delete(kh);
    bytes -= e.size;
    const set = byTag.get(e.tag);
    set?.delete(kh);
    if (set?.size === 0) byTag.delete(e.tag);
    return e;
  }

  async function drop(kh: string): Promise<void> {
    const e = remove(kh);
    if (e !== undefined) await unlink(pathOf(kh, e.tag)).catch(() => undefined);
  }

  async function evict(): Promise<void> {
    for (const kh of index.keys()) {
      if (bytes <= maxBytes) break;
      const e = remove(kh);
      if (e !== undefined) {
        evictions++;
        void unlink(pathOf(kh, e.tag)).catch(() => undefined);
      }
    }
  }

  // Rebuild the index from the files, oldest first.
  const found: { kh: string; th: string; size: number; mtime: number }[] = [];
  for (const sub of await readdir(dir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await readdir(join(dir, sub))) {
      const m = NAME.exec(name);
      const full = join(dir, sub, name);
      if (m === null || !m[2]!.startsWith(sub)) {
        await unlink(full).catch(() => undefined);
        continue;
      }
      const st = await stat(full).catch(() => undefined);
      if (st !== undefined) found.push({ kh: m[2]!, th: m[1]!, size: st.size, mtime: st.mtimeMs });
    }
  }
  found.sort((a, b) => a.mtime - b.mtime);
  for (const f of found) add(f.kh, { size: f.size, tag: f.th });
  // A smaller bound than last time: shrink now.
  await evict();

  return {
    async get(key) {
      const kh = hash(key, 40);
      const e = index.get(kh);
      if (e === undefined) return undefined;
      const file = pathOf(kh, e.tag);
      let buf: Buffer;
      try {
        buf = await readFile(file);
      } catch {
        remove(kh);
        return undefined;
      }
      const parsed = parse(buf, key);
      if (parsed === undefined) {
        await drop(kh);
        return undefined;
      }
      // Most recently used: move to the end of the order, and on disk for the next start.
      if (index.get(kh) === e) {
        index.delete(kh);
        index.set(kh, e);
      }
      const now = new Date();
      void utimes(file, now, now).catch(() => undefined);
      return parsed;
    },
    set(key, tag, value) {
      const p = write(key, tag, value).finally(() => {
        pending.delete(p);
        if (pending.size === 0) purgedAt.clear();
      });
      pending.add(p);
      return p;
    },
    async purge(tag) {
      const th = hash(tag, 16);
      if (pending.size > 0) purgedAt.set(th, ++seq);
      const keys = [...(byTag.get(th) ?? [])];
      // Out of the index at once (no later read finds them), then off the disk.
      const removed = keys.map((kh) => [kh, remove(kh)] as const);
      await Promise.all(removed.map(([kh, e]) => (e === undefined ? undefined : unlink(pathOf(kh, e.tag)).catch(() => undefined))));
      return keys.length;
    },
    get entries() {
      return index.size;
    },
    get bytes() {
      return bytes;
    },
    maxBytes,
    get evictions() {
      return evictions;
    },
    async close() {
      await Promise.allSettled([...pending]);
    },
  };

  async function write(key: string, tag: string, value: CachedVariant): Promise<void> {
    {
      const started = seq;
      const kh = hash(key, 40);
      const th = hash(tag, 16);
      const head = Buffer.from(JSON.stringify({ k: key, t: tag, m: value.meta, n: value.data.length }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(head.length);
      const size = MAGIC.length + 4 + head.length + value.data.length;
      if (size > maxBytes) return;
      const t = join(tmp, `${kh}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await mkdir(join(dir, kh.slice(0, 2)), { recursive: true });
        await writeFile(t, [MAGIC, len, head, value.data]);
        await rename(t, pathOf(kh, th));
      } catch (err) {
        await unlink(t).catch(() => undefined);
        throw err;
      }
      if ((purgedAt.get(th) ?? -1) > started) {
        // The source changed while this variant was being written.
        await unlink(pathOf(kh, th)).catch(() => undefined);
        return;
      }
      const old = index.get(kh);
      if (old !== undefined && old.tag !== th) await unlink(pathOf(kh, old.tag)).catch(() => undefined);
      add(kh, { size, tag: th });
      await evict();
    }
  }
}

/** Decodes an entry file; undefined when it is short, foreign or for another key. */
function parse(buf: Buffer, key: string): { value: CachedVariant; tag: string } | undefined {
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) return undefined;
  const headLen = buf.readUInt32BE(4);
  if (8 + headLen > buf.length) return undefined;
  let head: { k?: unknown; t?: unknown; m?: unknown; n?: unknown };
  try {
    head = JSON.parse(buf.subarray(8, 8 + headLen).toString('utf8')) as typeof head;
  } catch {
    return undefined;
  }
  if (head.k !== key || typeof head.t !== 'string' || typeof head.n !== 'number' || typeof head.m !== 'object' || head.m === null) return undefined;
  if (buf.length !== 8 + headLen + head.n) return undefined;
  return { value: { data: buf.subarray(8 + headLen), meta: head.m as Record<string, unknown> }, tag: head.t };
}
