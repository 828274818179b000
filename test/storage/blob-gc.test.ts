/**
 * Orphan-blob sweep on a shared bucket (s3rver on loopback, SQLite MetaStore): only blobs older
 * than the grace period that no object or part row refers to are removed; a dry run removes
 * nothing; sweeps are idempotent and may run concurrently; `halftone gc` does the same from the CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3BlobStore, type S3BlobStore } from '../../src/adapters/storage/s3.js';
import { createSqliteMetaStore } from '../../src/adapters/meta/sqlite.js';
import { sweepOrphanBlobs } from '../../src/app/blob-gc.js';
import type { MetaStore } from '../../src/ports/meta-store.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3-server.js';
import { ensureBuilt } from '../helpers/server.js';

const root = new URL('../..', import.meta.url).pathname;

async function ids(blobs: S3BlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const id of blobs.list()) out.push(id);
  return out.sort();
}

describe('orphan-blob sweep (s3rver)', () => {
  let s3: LocalS3;
  let blobs: S3BlobStore;
  let meta: MetaStore;
  let dir: string;
  const later = () => Date.now() + 120_000;

  before(async () => {
    s3 = await startLocalS3('halftone-gc');
    dir = mkdtempSync(join(tmpdir(), 'halftone-gc-'));
    blobs = createS3BlobStore({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
    meta = createSqliteMetaStore({ file: join(dir, 'meta.sqlite') });
  });
  after(async () => {
    blobs?.destroy();
    await meta?.close();
    rmSync(dir, { recursive: true, force: true });
    await s3?.stop();
  });

  test('young blobs are kept; old unreferenced ones go; object and part blobs stay; dry run and repeat are no-ops', async () => {
    const obj = await blobs.write(Buffer.from('object bytes'));
    const part = await blobs.write(Buffer.from('part bytes'));
    const orphan = await blobs.write(Buffer.from('orphan: its metadata row was never committed'));
    await meta.createBucket({ name: 'b', acl: 'private', createdAt: 1, storageClass: 'Standard' });
    await meta.putObject({ bucket: 'b', key: 'k', blobId: obj.id, size: obj.size, etag: '"e"', contentType: 'text/plain', headers: {}, meta: {}, acl: 'default', type: 'Normal', lastModified: 1 });
    await meta.createUpload({ id: 'u', bucket: 'b', key: 'm', initiated: 1, template: { contentType: 'text/plain', headers: {}, meta: {}, acl: 'default' } });
    await meta.putPart({ uploadId: 'u', partNumber: 1, blobId: part.id, size: part.size, etag: '"p"', lastModified: 1 });

    // Within the grace period (an upload could be about to commit its row): nothing.
    const young = await sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000 });
    assert.deepEqual([young.scanned, young.orphans.length, young.removed], [3, 0, 0]);
    // Past it, dry run: listed, kept.
    const dry = await sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000, now: later, dryRun: true });
    assert.deepEqual(dry.orphans.map((o) => o.id), [orphan.id]);
    assert.equal(dry.removed, 0);
    assert.equal((await ids(blobs)).length, 3);
    // For real: only the orphan goes; the bytes of the others are intact.
    const real = await sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000, now: later });
    assert.equal(real.removed, 1);
    assert.deepEqual(await ids(blobs), [obj.id, part.id].sort());
    assert.equal((await blobs.readAll(obj.id)).toString(), 'object bytes');
    assert.equal((await blobs.readAll(part.id)).toString(), 'part bytes');
    const again = await sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000, now: later });
    assert.equal(again.removed, 0);
  });

  test('two nodes sweeping at once remove each orphan, without errors', async () => {
    const orphans = await Promise.all([1, 2, 3, 4].map((i) => blobs.write(Buffer.from(`orphan ${i}`))));
    const [a, b] = await Promise.all([
      sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000, now: later }),
      sweepOrphanBlobs({ blobs, meta }, { graceMs: 60_000, now: later }),
    ]);
    assert.ok(a.removed + b.removed >= 4);
    const left = await ids(blobs);
    for (const o of orphans) assert.ok(!left.includes(o.id));
    assert.equal(left.length, 2);
  });

  test('halftone gc --dry-run lists, halftone gc removes', async () => {
    ensureBuilt();
    const orphan = await blobs.write(Buffer.from('left by a node killed mid-PUT'));
    // S3 times have one-second precision: make the blob at least a second old.
    await new Promise((r) => setTimeout(r, 1100));
    const env = {
      PATH: process.env['PATH'] ?? '', HALFTONE_DATA_DIR: dir,
      HALFTONE_STORAGE: 's3', HALFTONE_S3_ENDPOINT: s3.endpoint, HALFTONE_S3_REGION: s3.region, HALFTONE_S3_BUCKET: s3.bucket,
      HALFTONE_S3_ACCESS_KEY_ID: s3.accessKeyId, HALFTONE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, HALFTONE_S3_FORCE_PATH_STYLE: 'true',
    };
    const gc = async (args: string[]) => {
      const child = spawn(process.execPath, [join(root, 'bin/halftone.js'), 'gc', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      return { code, out };
    };
    const dry = await gc(['--dry-run', '--grace-ms', '1000']);
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, new RegExp(`orphan ${orphan.id}`));
    assert.match(dry.out, /3 blobs, 1 orphaned, 0 removed \(dry run\)/);
    assert.ok((await ids(blobs)).includes(orphan.id));
    // The default grace period (24 h) protects it.
    const kept = await gc([]);
    assert.match(kept.out, /0 orphaned, 0 removed/);
    const real = await gc(['--grace-ms', '1000', '--json']);
    assert.equal(real.code, 0, real.out);
    const report = JSON.parse(real.out.slice(real.out.indexOf('{'))) as { removed: number; orphans: { id: string }[] };
    assert.equal(report.removed, 1);
    assert.deepEqual(report.orphans.map((o) => o.id), [orphan.id]);
    assert.ok(!(await ids(blobs)).includes(orphan.id));
    const bad = await gc(['--grace-ms', 'soon']);
    assert.notEqual(bad.code, 0);
  });
});
