/**
 * Hosted-images account state in the MetaStore: an `account/state.json` written by an older
 * Halftone is imported once (and kept as a backup); two instances on one MetaStore (two nodes)
 * creating variants and signing keys concurrently lose none of them; both see one default key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsBlobStore } from '../../src/adapters/storage/fs.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { createObjectService } from '../../src/app/oss-objects.js';
import { createHostedImages } from '../../src/app/hosted-images.js';
import type { MetaStore } from '../../src/ports/meta-store.js';

const dirs: string[] = [];
const stores: MetaStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `n` "nodes": each its own MetaStore handle on one SQLite file and its own object service on one blob dir. */
async function nodes(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-hosted-state-'));
  dirs.push(dir);
  const out = [];
  for (let i = 0; i < n; i++) {
    const meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
    stores.push(meta);
    const objects = createObjectService({ blobs: await createFsBlobStore({ dir }), meta, maxObjectBytes: 1 << 20, maxProcessBytes: 1 << 20 });
    out.push({ meta, objects, images: createHostedImages({ objects, documents: meta, accountHash: 'h' }) });
  }
  return out;
}

let legacy: Buffer;
before(() => {
  legacy = Buffer.from(JSON.stringify({
    variants: {
      public: { id: 'public', options: { fit: 'scale-down', width: 1366, height: 768, metadata: 'none' }, neverRequireSignedURLs: false },
      thumb: { id: 'thumb', options: { fit: 'cover', width: 100, height: 100 }, neverRequireSignedURLs: true },
    },
    config: { flexible_variants: true, browser_ttl: 7200 },
    keys: [{ name: 'default', value: 'a'.repeat(64) }, { name: 'old', value: 'b'.repeat(64) }],
  }));
});

test('an existing account/state.json is imported once and kept as a backup', async () => {
  const [a, b] = await nodes(2);
  await a!.objects.createBucket('halftone-images', 'private');
  await a!.objects.putObject({ bucket: 'halftone-images', key: 'account/state.json', body: legacy, contentType: 'application/json', headers: {}, meta: {}, acl: 'default' });
  assert.deepEqual(Object.keys(await a!.images.variants()).sort(), ['public', 'thumb']);
  assert.deepEqual(await b!.images.config(), { flexible_variants: true, browser_ttl: 7200 });
  assert.deepEqual((await b!.images.keys()).map((k) => k.value), ['a'.repeat(64), 'b'.repeat(64)]);
  // Changes go to the MetaStore; the old object stays as it was.
  await b!.images.deleteVariant('thumb');
  assert.deepEqual(Object.keys(await a!.images.variants()), ['public']);
  const backup = await a!.objects.loadObject('halftone-images', 'account/state.json');
  assert.deepEqual(backup.data, legacy);
  assert.equal((await a!.meta.getDocument('cloudflare-images/account'))?.version, 2);
});

test('two nodes creating variants and keys concurrently lose nothing; one default key', async () => {
  const [a, b] = await nodes(2);
  const [ka, kb] = await Promise.all([a!.images.keys(), b!.images.keys()]);
  assert.deepEqual(ka, kb, 'both nodes use the same generated default key');
  const variant = (id: string) => ({ id, options: { fit: 'scale-down', width: 10 + id.length } });
  await Promise.all([
    ...Array.from({ length: 15 }, (_, i) => a!.images.putVariant(variant(`a${i}`), 'create')),
    ...Array.from({ length: 15 }, (_, i) => b!.images.putVariant(variant(`b${i}`), 'create')),
    ...Array.from({ length: 5 }, (_, i) => (i % 2 === 0 ? a : b)!.images.createKey(`k${i}`)),
  ]);
  for (const n of [a, b]) {
    const names = Object.keys(await n!.images.variants()).sort();
    assert.equal(names.length, 31, names.join(','));
    assert.deepEqual((await n!.images.keys()).map((k) => k.name).sort(), ['default', 'k0', 'k1', 'k2', 'k3', 'k4']);
  }
  // A conflicting create: exactly one node wins, the other gets the dialect's error.
  const both = await Promise.allSettled([a!.images.putVariant(variant('same'), 'create'), b!.images.putVariant(variant('same'), 'create')]);
  assert.deepEqual(both.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
});
