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
