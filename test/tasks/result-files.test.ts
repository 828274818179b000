/** The file-system ResultFiles adapter: atomic publish, signed URLs, expiry, sweep, secret file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { createFsResultFiles } from '../../src/adapters/results/fs.js';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'halftone-results-'));
}

function parts(path: string): { id: string; name: string; expires: string; signature: string } {
  const u = new URL(path, 'http://x');
  const [, , id, name] = u.pathname.split('/');
  return { id: id!, name: decodeURIComponent(name!), expires: u.searchParams.get('expires')!, signature: u.searchParams.get('signature')! };
}

test('publish → open by the signed path; the secret is generated once with mode 0600 and survives a restart', async () => {
  const d = dir();
  try {
    let t = Date.now();
    const rf = await createFsResultFiles({ dataDir: d, now: () => t });
    const pub = await rf.publish(Buffer.from('hello'), { contentType: 'image/webp', fileName: 'my photo.webp', ttlMs: 60_000 });
    assert.match(pub.path, /^\/results\/[0-9a-z]+-[0-9a-f-]{36}\/my_photo\.webp\?expires=\d+&signature=[A-Za-z0-9_-]{43}$/);
    assert.equal(pub.size, 5);
    assert.ok(pub.expiresAt >= t + 60_000 && pub.expiresAt < t + 61_000);
    assert.equal(statSync(join(d, 'results.secret')).mode & 0o777, 0o600);
    const p = parts(pub.path);
    const found = await rf.open(p.id, p.name, p.expires, p.signature);
    assert.equal(found.kind, 'ok');
    if (found.kind === 'ok') {
      assert.equal(await text(found.stream), 'hello');
      assert.equal(found.contentType, 'image/webp');
    }
    rf.close();
    // Same secret after a restart: the URL still verifies.
    const again = await createFsResultFiles({ dataDir: d, now: () => t });
    assert.equal((await again.open(p.id, p.name, p.expires, p.signature)).kind, 'ok');
    // Tampering: signature, name, expiry, id.
    const sig2 = (p.signature[0] === 'A' ? 'B' : 'A') + p.signature.slice(1);
    assert.equal((await again.open(p.id, p.name, p.expires, sig2)).kind, 'forbidden');
    assert.equal((await again.open(p.id, 'other.webp', p.expires, p.signature)).kind, 'forbidden');
    assert.equal((await again.open(p.id, p.name, String(Number(p.expires) + 1), p.signature)).kind, 'forbidden');
    assert.equal((await again.open(p.id.replace(/.$/, (c) => (c === '0' ? '1' : '0')), p.name, p.expires, p.signature)).kind, 'forbidden');
    assert.equal((await again.open(p.id, p.name, undefined, p.signature)).kind, 'forbidden');
    // Expiry: gone without waiting for the sweep, then the sweep deletes the files.
    t += 61_000;
    assert.equal((await again.open(p.id, p.name, p.expires, p.signature)).kind, 'gone');
    assert.equal(await again.sweep(), 1);
    assert.deepEqual(readdirSync(join(d, 'results')), []);
    again.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('remove deletes at once; a start-up sweep removes expired results and stale temp dirs', async () => {
  const d = dir();
  try {
    let t = Date.now();
    const rf = await createFsResultFiles({ dataDir: d, now: () => t });
    const a = await rf.publish(Buffer.from('a'), { contentType: 'image/png', fileName: 'a.png', ttlMs: 1000 });
    const b = await rf.publish(Buffer.from('b'), { contentType: 'image/png', fileName: 'b.png', ttlMs: 3_600_000 });
    await rf.remove(a.id);
    await rf.remove('not-an-id');
    const pa = parts(a.path);
    assert.equal((await rf.open(pa.id, pa.name, pa.expires, pa.signature)).kind, 'gone');
    const c = await rf.publish(Buffer.from('c'), { contentType: 'image/png', fileName: 'c.png', ttlMs: 1000 });
    rf.close();
    t += 5000;
    const later = await createFsResultFiles({ dataDir: d, now: () => t });
    const left = readdirSync(join(d, 'results'));
    assert.deepEqual(left, [b.id]);
    assert.ok(!left.includes(c.id));
    later.close();
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
