import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isAppError } from '../../core/errors.js';
import { createFsBlobStore } from './fs.js';

const dir = mkdtempSync(join(tmpdir(), 'halftone-blobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function text(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += (c as Buffer).toString();
  return s;
}

test('write, read, range, concat, list, remove', async () => {
  const store = await createFsBlobStore({ dir });
  const a = await store.write(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
  assert.equal(a.size, 11);
  assert.deepEqual(a.md5, createHash('md5').update('hello world').digest());
  assert.equal(await text(store.read(a.id)), 'hello world');
  assert.equal(await text(store.read(a.id, { start: 6, end: 10 })), 'world');
  const b = await store.write(Buffer.from('!'));
  const c = await store.write({ concat: [a.id, b.id] });
  assert.equal((await store.readAll(c.id)).toString(), 'hello world!');
  const ids: string[] = [];
  for await (const id of store.list()) ids.push(id);
  assert.deepEqual(ids.sort(), [a.id, b.id, c.id].sort());
  await store.remove(b.id);
  await store.remove(b.id); // idempotent
  assert.throws(() => store.read('../../etc/passwd'));
});

test('failed writes leave nothing behind (size cap, short body, stream error)', async () => {
  const store = await createFsBlobStore({ dir: join(dir, 'x') });
  const code = async (p: Promise<unknown>) => p.then(() => 'none', (e: unknown) => (isAppError(e) ? e.code : 'other'));
  assert.equal(await code(store.write(Buffer.alloc(10), { maxBytes: 5 })), 'ENTITY_TOO_LARGE');
  assert.equal(await code(store.write(Buffer.alloc(10), { expectedBytes: 11 })), 'INCOMPLETE_BODY');
  const failing = new Readable({
    read() {
      this.push(Buffer.alloc(100));
      this.destroy(new Error('client went away'));
    },
  });
  assert.equal(await code(store.write(failing)), 'other');
  assert.deepEqual(readdirSync(join(dir, 'x', 'tmp')), []);
  const ids: string[] = [];
  for await (const id of store.list()) ids.push(id);
  assert.deepEqual(ids, []);
});
