/**
 * The result-cache adapters (memory + disk tiers): byte bounds under 10,000 distinct variants,
 * LRU order, restart survival, crash leftovers, purges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResultCache } from '../../src/adapters/cache/tiered.js';
import { createDiskTier } from '../../src/adapters/cache/disk.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'halftone-cache-'));
}

/** Sum of the sizes of every file under `dir` (what the disk really holds). */
function du(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? du(p) : statSync(p).size;
  }
  return n;
}

const entry = (i: number, size: number) => ({ data: Buffer.alloc(size, i % 251), meta: { contentType: 'image/webp', i } });

test('the cache never exceeds its byte bounds after 10,000 distinct variants', async () => {
  const dir = tmp();
  try {
    const memoryBytes = 64 * 1024;
    const diskBytes = 256 * 1024;
    const cache = await createResultCache({ memoryBytes, diskBytes, dir });
    let maxMem = 0;
    let maxDisk = 0;
    for (let i = 0; i < 10_000; i++) {
      await cache.set(`variant-${i}`, `source-${i % 97}`, entry(i, 200 + (i * 37) % 1800));
      const s = cache.stats();
      maxMem = Math.max(maxMem, s.memoryBytes);
      maxDisk = Math.max(maxDisk, s.diskBytes);
    }
    await cache.close();
    const s = cache.stats();
    assert.ok(maxMem <= memoryBytes, `memory tier peaked at ${maxMem} > ${memoryBytes}`);
    assert.ok(maxDisk <= diskBytes, `disk tier peaked at ${maxDisk} > ${diskBytes}`);
    assert.ok(s.memoryEvictions > 0 && s.diskEvictions > 0, 'evictions happened');
    assert.ok(du(join(dir)) <= diskBytes, `files on disk: ${du(dir)} bytes`);
    // The newest entries are there, the oldest are gone.
    assert.equal((await cache.get('variant-9999'))?.meta['i'], 9999);
    assert.equal(await cache.get('variant-0'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disk entries survive a restart with their LRU order, and a smaller bound shrinks at start', async () => {
  const dir = tmp();
  try {
    let disk = await createDiskTier({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) {
      await disk.set(`k${i}`, 't', entry(i, 1000));
      await new Promise((r) => setTimeout(r, 5));
    }
    // Touch k0 so that it is the most recently used.
    assert.ok(await disk.get('k0'));
    await new Promise((r) => setTimeout(r, 20));
    await disk.close();
    const one = disk.bytes / 10;
    disk = await createDiskTier({ dir, maxBytes: Math.floor(one * 3.5) });
    assert.equal(disk.entries, 3);
    assert.ok((await disk.get('k0'))?.value.data.equals(entry(0, 1000).data), 'the recently used entry survived');
    assert.ok(await disk.get('k9'));
    assert.equal(await disk.get('k1'), undefined);
    assert.deepEqual((await disk.get('k8'))?.value.meta, { contentType: 'image/webp', i: 8 });
    assert.equal((await disk.get('k8'))?.tag, 't');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a crash never serves a partial entry: leftovers are removed, truncated files are misses', async () => {
  const dir = tmp();
  try {
    let disk = await createDiskTier({ dir, maxBytes: 1 << 20 });
    await disk.set('whole', 't', entry(1, 5000));
    await disk.set('cut', 't', entry(2, 5000));
    await disk.close();
    // A write interrupted before its rename, and an entry file cut short (power loss).
    writeFileSync(join(dir, 'tmp', 'abc.tmp'), Buffer.alloc(100));
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.v'));
    assert.equal(files.length, 2);
    disk = await createDiskTier({ dir, maxBytes: 1 << 20 });
    assert.equal(readdirSync(join(dir, 'tmp')).length, 0, 'tmp leftovers removed');
    // Cut the entry file of `cut` short, as a power loss before the data reached the disk would.
    const whole = await disk.get('whole');
    assert.ok(whole);
    for (const f of files) {
      const p = join(dir, f);
      if (readFileSync(p).includes(Buffer.from('"k":"cut"'))) truncateSync(p, 3000);
    }
    assert.equal(await disk.get('cut'), undefined, 'a truncated entry is a miss');
    assert.equal(disk.entries, 1, 'and is dropped');
    assert.ok((await disk.get('whole'))?.value.data.equals(entry(1, 5000).data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('purge removes every variant of a source from both tiers', async () => {
  const dir = tmp();
  try {
    const cache = await createResultCache({ memoryBytes: 1 << 20, diskBytes: 1 << 20, dir });
    await cache.set('a1', 'src-a', entry(1, 100));
    await cache.set('a2', 'src-a', entry(2, 100));
    await cache.set('b1', 'src-b', entry(3, 100));
    assert.equal(await cache.purge('src-a'), 2);
    assert.equal(await cache.get('a1'), undefined);
    assert.equal(await cache.get('a2'), undefined);
    assert.ok(await cache.get('b1'));
    const s = cache.stats();
    assert.equal(s.memoryEntries, 1);
    assert.equal(s.diskEntries, 1);
    assert.equal(s.purged, 2);
    await cache.close();
    assert.ok(existsSync(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
