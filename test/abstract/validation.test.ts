/**
 * Every validation rule and error answer of the Abstract-style API (spec abstract-api.md §2–§7):
 * field-keyed 400 validation_error details, body caps enforced while streaming, source failures
 * mapped to the envelope, the SSRF refusal of private URLs, rate limiting (429).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { KEY, photo, postJson, postUpload, startHarness, startOrigin, type Harness, type Origin } from './harness.js';
import { parseOptions, parseUrlRequest } from '../../src/dialects/abstract/request.js';
import { isAbstractValidationError } from '../../src/dialects/abstract/validation.js';

let h: Harness;
let origin: Origin;
let small: Buffer;

before(async () => {
  origin = await startOrigin();
  h = await startHarness({ allowedOrigins: [origin.url] });
  small = await photo(64, 48);
  origin.put('/small.jpg', small);
  origin.put('/page.html', Buffer.from('<html>not an image</html>'), 'text/html');
  origin.put('/broken.jpg', small.subarray(0, 200));
});

after(async () => {
  await h.close();
  await origin.close();
});

const fieldsOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    if (isAbstractValidationError(e)) return e.fields;
    throw e;
  }
  assert.fail('expected a validation error');
};

test('option rules (pure): every field, all problems reported at once', () => {
  assert.deepEqual(fieldsOf(() => parseOptions({ lossy: 'yes', quality: 101 })), { lossy: ['Must be a boolean.'], quality: ['Must be an integer between 0 and 100.'] });
  assert.deepEqual(fieldsOf(() => parseOptions({ quality: -1 })), { quality: ['Must be an integer between 0 and 100.'] });
  assert.deepEqual(fieldsOf(() => parseOptions({ quality: 50.5 })), { quality: ['Must be an integer between 0 and 100.'] });
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: 'fit' })), { resize: ['Must be an object.'] });
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: {} })), { resize: { strategy: ['This is a required argument.'] } });
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy: 'zoom' } })), { resize: { strategy: ['Must be one of exact, portrait, landscape, auto, fit, crop, square, fill.'] } });
  const required: Record<string, string[]> = {
    exact: ['width', 'height'], portrait: ['height'], landscape: ['width'], auto: ['width', 'height'],
    fit: ['width', 'height'], crop: ['width', 'height'], square: ['size'], fill: ['width', 'height'],
  };
  for (const [strategy, fields] of Object.entries(required)) {
    const want = Object.fromEntries(fields.map((f) => [f, ['This is a required argument.']]));
    assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy } })), { resize: want }, strategy);
  }
  for (const bad of [0, -5, 1.5, 'abc', 10001]) {
    assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy: 'exact', width: bad, height: 10 } })), { resize: { width: ['Must be an integer between 1 and 10000.'] } }, String(bad));
  }
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy: 'crop', width: 10, height: 10, scale: 0 } })), { resize: { scale: ['Must be an integer between 1 and 1000.'] } });
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy: 'crop', width: 10, height: 10, x: -1 } })), { resize: { x: ['Must be a non-negative integer.'] } });
  assert.deepEqual(fieldsOf(() => parseOptions({ resize: { strategy: 'fill', width: 10, height: 10, background: 'nope' } })), { resize: { background: ['Must be a colour: #rgb, #rrggbb, rgb(r, g, b) or rgba(r, g, b, a).'] } });
  // crop_mode invalid → ignored (centre), not an error.
  assert.equal(parseOptions({ resize: { strategy: 'fit', width: 1, height: 1, crop_mode: 'zz' } }).resize?.focal.x, 0.5);
  assert.deepEqual(fieldsOf(() => parseOptions([])), { data: ['Must be a JSON object.'] });
  // Defaults.
  const d = parseOptions({ resize: { strategy: 'fill', width: 1, height: 1 } });
  assert.equal(d.lossy, false);
  assert.deepEqual(d.resize?.background, { r: 255, g: 255, b: 255, alpha: 1 });
  assert.equal(parseOptions({ lossy: 'true' }).lossy, true);
});

test('url rules (pure): required, string, http(s) only (blob:, file:, data: refused)', () => {
  assert.deepEqual(fieldsOf(() => parseUrlRequest({})), { url: ['This is a required argument.'] });
  assert.deepEqual(fieldsOf(() => parseUrlRequest({ url: '' })), { url: ['This is a required argument.'] });
  assert.deepEqual(fieldsOf(() => parseUrlRequest({ url: 5 })), { url: ['Must be a string.'] });
  for (const u of ['blob:https://example.com/550e8400', 'file:///etc/passwd', 'data:image/png;base64,AAAA', 'ftp://example.com/a.jpg']) {
    assert.deepEqual(fieldsOf(() => parseUrlRequest({ url: u })), { url: ['Must be a public http or https URL.'] }, u);
  }
  assert.deepEqual(fieldsOf(() => parseUrlRequest({ lossy: 3 })), { url: ['This is a required argument.'], lossy: ['Must be a boolean.'] });
});

test('export target rules (pure)', () => {
  assert.deepEqual(fieldsOf(() => parseOptions({ s3_store: {} })), { s3_store: { key: ['This is a required argument.'], secret: ['This is a required argument.'], bucket: ['This is a required argument.'] } });
  assert.deepEqual(fieldsOf(() => parseOptions({ azure_store: { account: 'a', key: 'k', container: 'c', endpoint: 'ftp://x' } })), { azure_store: { endpoint: ['Must be an http or https URL.'] } });
  assert.deepEqual(fieldsOf(() => parseOptions({ s3_store: { key: 'k', secret: 's', bucket: 'b', acl: 'everyone' } })), { s3_store: { acl: ['Must be private or public-read.'] } });
  assert.ok('azure_store' in (fieldsOf(() => parseOptions({ s3_store: { key: 'k', secret: 's', bucket: 'b' }, azure_store: { account: 'a', key: 'k', container: 'c' } })) as object));
  const s = parseOptions({ s3_store: { key: 'k', secret: 's', bucket: 'b', path: '/a/b.jpg' } }).store;
  assert.deepEqual(s, { kind: 's3', accessKeyId: 'k', secretAccessKey: 's', bucket: 'b', region: 'us-east-1', path: 'a/b.jpg' });
});

test('HTTP: validation errors come in the envelope with field-keyed details', async () => {
  const res = await postJson(h, '/v1/url/', { api_key: KEY, url: `${origin.url}/small.jpg`, quality: 500, resize: { strategy: 'crop', width: 10 } });
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, {
    error: { message: 'A validation error occurred.', code: 'validation_error', details: { quality: ['Must be an integer between 0 and 100.'], resize: { height: ['This is a required argument.'] } } },
  });
  const region = await postJson(h, '/v1/url/', { api_key: KEY, url: `${origin.url}/small.jpg`, resize: { strategy: 'crop', x: 500, y: 0, width: 10, height: 10 } });
  assert.equal(region.status, 400);
  assert.deepEqual(region.json.error.details, { resize: { x: ['The crop region lies outside the 64x48 image.'] } });
  const blob = await postJson(h, '/v1/url/', { api_key: KEY, url: 'blob:https://example.com/1234' });
  assert.deepEqual(blob.json.error.details, { url: ['Must be a public http or https URL.'] });
});

test('HTTP: unparseable bodies', async () => {
  const bad = await postJson(h, '/v1/url/', '{"api_key": ');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { error: { message: 'The request body is not valid JSON.', code: 'validation_error', details: {} } });
  // The typo of Abstract's own curl example.
  const typo = await postUpload(h, small, `{api_key": "${KEY}", "lossy": true}`);
  assert.equal(typo.status, 400);
  assert.deepEqual(typo.json.error.details, { data: ['Must be a valid JSON string, e.g. {"api_key": "…", "lossy": true}.'] });
  const noImage = await postUpload(h, undefined, { api_key: KEY });
  assert.equal(noImage.status, 400);
  assert.deepEqual(noImage.json.error.details, { image: ['This is a required argument.'] });
  const wrongMode = await postUpload(h, small, { api_key: KEY }, 'a.jpg', '/v1/url/');
  assert.equal(wrongMode.status, 400);
  assert.equal(wrongMode.json.error.code, 'validation_error');
  const notMultipart = await postJson(h, '/v1/upload/', { api_key: KEY });
  assert.equal(notMultipart.status, 400);
  assert.deepEqual(notMultipart.json.error.details, { image: ['This is a required argument.'] });
  const big = await postJson(h, '/v1/url/', JSON.stringify({ api_key: KEY, url: `${origin.url}/small.jpg`, pad: 'x'.repeat(70 * 1024) }));
  assert.equal(big.status, 400);
  assert.match(big.json.error.message, /may not exceed 65536 bytes/);
  // Without Content-Length (chunked), the cap is enforced while streaming.
  const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${h.url}/v1/url/`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(`{"api_key": "${KEY}", "pad": "`);
    for (let i = 0; i < 100; i++) req.write('x'.repeat(1024));
    req.end('"}');
  });
  assert.equal(chunked.status, 400);
  assert.match(JSON.parse(chunked.body).error.message, /may not exceed 65536 bytes/);
});

test('HTTP: upload size cap (32 MB) answers 400 details.image before the body is read in full', async () => {
  const boundary = 'halftoneboundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"api_key":"${KEY}"}\r\n--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const status = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(`${h.url}/v1/upload/`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
    });
    // The server closes the connection after answering: later write errors are expected.
    req.on('error', (e) => { if (!answered) reject(e); });
    req.write(head);
    const pump = () => {
      // 48 MB: the server answers once 32 MB have arrived and discards the rest.
      while (sent < 48 && !answered) {
        sent++;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end(`\r\n--${boundary}--\r\n`);
    };
    pump();
  }).catch((e: unknown) => ({ status: -1, body: String(e), sent: 0 }));
  assert.equal(status.status, 400, status.body);
  assert.deepEqual(JSON.parse(status.body).error.details, { image: ['The file may not exceed 32 MB.'] });
});

test('HTTP: remote source failures map to 400 details.url', async () => {
  const cases: [string, string][] = [
    [`${origin.url}/missing.jpg`, 'The image was not found at the URL (the server answered 404).'],
    [`${origin.url}/page.html`, 'The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, TIFF, BMP, HEIC).'],
    [`${origin.url}/broken.jpg`, 'The image is corrupt or truncated and cannot be decoded.'],
    // Private addresses not listed in HALFTONE_ALLOWED_ORIGINS are refused before any connection.
    ['http://127.0.0.2:8080/a.jpg', 'The URL must point to a publicly reachable host.'],
    [`http://localhost:${new URL(origin.url).port}/small.jpg`, 'The URL must point to a publicly reachable host.'],
    ['http://169.254.169.254/latest/meta-data/', 'The URL must point to a publicly reachable host.'],
  ];
  for (const [url, message] of cases) {
    const res = await postJson(h, '/v1/url/', { api_key: KEY, url });
    assert.equal(res.status, 400, url);
    assert.deepEqual(res.json, { error: { message: 'A validation error occurred.', code: 'validation_error', details: { url: [message] } } }, url);
  }
  const ok = await postJson(h, '/v1/url/', { api_key: KEY, url: `${origin.url}/small.jpg` });
  assert.equal(ok.status, 200);
  // The same problems in upload mode are reported under details.image.
  const text = await postUpload(h, Buffer.from('just some text'), { api_key: KEY }, 'notes.jpg');
  assert.equal(text.status, 400);
  assert.deepEqual(text.json.error.details, { image: ['The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF, TIFF, BMP, HEIC).'] });
  const empty = await postUpload(h, Buffer.alloc(0), { api_key: KEY }, 'empty.jpg');
  assert.deepEqual(empty.json.error.details, { image: ['The uploaded file is empty.'] });
});

test('HTTP: remote size cap is enforced (lowered cap for the test)', async () => {
  const capped = await startHarness({ allowedOrigins: [origin.url], deps: { fetch: { maxBytes: 1024, timeoutMs: 5000, maxRedirects: 0 } } });
  try {
    const res = await postJson(capped, '/v1/url/', { api_key: KEY, url: `${origin.url}/small.jpg` });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.error.details, { url: ['The file may not exceed 0 MB.'] });
  } finally {
    await capped.close();
  }
});

test('HTTP: rate limit answers 429 too_many_requests with Retry-After; the limiter sees the key', async () => {
  const seen: string[] = [];
  const limited = await startHarness({ routes: { rateLimit: async (key) => { seen.push(key); return seen.length > 1 ? { ok: false, retryAfterMs: 1500 } : { ok: true }; } } });
  try {
    const first = await postUpload(limited, small, { api_key: KEY });
    assert.equal(first.status, 200);
    const second = await postUpload(limited, small, { api_key: KEY });
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '2');
    assert.deepEqual(second.json, { error: { message: 'Too many requests; slow down.', code: 'too_many_requests', details: null } });
    assert.deepEqual(seen, [KEY, KEY]);
    // Bad keys are refused before the limiter is consulted.
    assert.equal((await postUpload(limited, small, { api_key: 'bad' })).status, 401);
    assert.equal(seen.length, 2);
  } finally {
    await limited.close();
  }
});

test('HTTP: an internal failure answers 500 server_error without details', async () => {
  const broken = await startHarness({ deps: { resultFiles: { publish: async () => { throw new Error('disk full'); }, remove: async () => {} } } });
  try {
    const res = await postUpload(broken, small, { api_key: KEY });
    assert.equal(res.status, 500);
    assert.deepEqual(res.json, { error: { message: 'An internal error occurred.', code: 'server_error', details: null } });
  } finally {
    await broken.close();
  }
});
