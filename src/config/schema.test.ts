import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './schema.js';

test('defaults', () => {
  const r = load({});
  assert.ok(r.ok);
  assert.equal(r.config.port, 8080);
  assert.equal(r.config.dataDir, './data');
  assert.equal(r.config.accessKeyId, undefined);
  assert.deepEqual(r.config.cname, {});
});

test('every problem is reported at once', () => {
  const r = load({ PORT: 'x', HALFTONE_ACCESS_KEY_ID: 'a', HALFTONE_OSS_CNAME: 'nohost', HALFTONE_OSS_STYLE_DELIMITERS: '#' });
  assert.ok(!r.ok);
  assert.equal(r.errors.length, 4);
  assert.match(r.errors[0]!, /^PORT: expected integer between 0 and 65535 but received "x"/);
});

test('cname map and lists', () => {
  const r = load({ HALFTONE_OSS_CNAME: 'Img.Example.com=photos, cdn.test:8080=b2', HALFTONE_OSS_SOURCE_PROTECTION: '.JPG,.png' });
  assert.ok(r.ok);
  assert.deepEqual(r.config.cname, { 'img.example.com': 'photos', 'cdn.test:8080': 'b2' });
  // Lists keep their case; suffixes are compared case-insensitively by the route.
  assert.deepEqual(r.config.protectedSources, ['.JPG', '.png']);
});

test('HALFTONE_META=postgres needs a postgres:// DATABASE_URL, and the value is never echoed', () => {
  const bad = load({ HALFTONE_META: 'postgres', DATABASE_URL: 'mysql://u:secret@h/db' });
  assert.ok(!bad.ok);
  assert.ok(bad.errors.some((e) => e.startsWith('DATABASE_URL:')));
  assert.ok(!bad.errors.join('\n').includes('secret'));
  const wrong = load({ HALFTONE_META: 'mongo' });
  assert.ok(!wrong.ok && wrong.errors.some((e) => e.startsWith('HALFTONE_META:')));
  const ok = load({ HALFTONE_META: 'postgres', DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/halftone' });
  assert.ok(ok.ok);
  assert.equal(ok.config.meta, 'postgres');
});
