/** The Cloudflare settings of the config schema: defaults and validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../src/config/schema.js';

test('Cloudflare defaults', () => {
  const r = load({});
  assert.ok(r.ok);
  assert.equal(r.config.cfPrefix, '/cdn-cgi/image');
  assert.equal(r.config.cfDefaultFit, 'scale-down');
  assert.equal(r.config.cfStrict, 'false');
  assert.equal(r.config.cfSourceBucket, '');
  assert.deepEqual(r.config.allowedOrigins, []);
  // Run contract: by default only public addresses are fetched, from any origin.
  assert.equal(r.config.anyPublicOrigin, 'true');
  assert.equal(r.config.apiKeys, '');
});

test('bad Cloudflare settings are all reported at once', () => {
  const r = load({ HALFTONE_CF_DEFAULT_FIT: 'cover', HALFTONE_CF_PREFIX: 'img/', HALFTONE_CF_STRICT: 'yes', HALFTONE_ANY_PUBLIC_ORIGIN: '1' });
  assert.ok(!r.ok);
  assert.equal(r.errors.length, 4, r.errors.join('\n'));
});

test('API keys keep their case (tokens are case-sensitive)', () => {
  const r = load({ HALFTONE_API_KEYS: 'AbC,dEf' });
  assert.ok(r.ok);
  assert.equal(r.config.apiKeys, 'AbC,dEf');
});

test('list settings keep their case (URL paths in allowed origins are case-sensitive)', () => {
  const r = load({ HALFTONE_ALLOWED_ORIGINS: 'https://Img.Example.com/Images/' });
  assert.ok(r.ok);
  assert.deepEqual(r.config.allowedOrigins, ['https://Img.Example.com/Images/']);
});
