/**
 * The Abstract-style API over real sockets: the worked examples of spec abstract-api.md §8, every
 * resize strategy with exact output sizes and pixel checks, the success body and the downloadable
 * result, remote sources from a loopback origin, and the SSRF refusal of a private URL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { request } from 'node:http';
import { coordinates, decodeCoordinate, download, KEY, photo, postJson, postUpload, startHarness, startOrigin, type Harness, type Origin } from './harness.js';
import { rgba, pixel, meanDiff } from '../helpers/pixels.js';

let h: Harness;
let origin: Origin;
let dog: Buffer;
let dogPng: Buffer;
let tall: Buffer;

before(async () => {
  origin = await startOrigin();
  h = await startHarness({ allowedOrigins: [origin.url] });
  dog = await photo(1142, 430);
  dogPng = await coordinates(1142, 430);
  tall = await coordinates(600, 800);
  origin.put('/test-images/dog.jpg', dog);
  origin.put('/dog.png', dogPng, 'image/png');
  origin.put('/not-an-image.jpg', Buffer.from('<html>hello</html>'), 'text/html');
});

after(async () => {
  await h.close();
  await origin.close();
});

async function dims(buf: Buffer): Promise<string> {
  const m = await sharp(buf).metadata();
  return `${m.width}x${m.height}`;
}

test('worked example 1: lossless compress by URL', async () => {
  const res = await postJson(h, '/v1/url/', { api_key: KEY, url: `${origin.url}/test-images/dog.jpg` }, { accept: 'application/json' });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const b = res.json;
  assert.deepEqual(Object.keys(b), ['original_size', 'original_height', 'original_width', 'final_size', 'bytes_saved', 'final_height', 'final_width', 'url']);
  assert.equal(b.original_size, dog.length);
  assert.equal(b.original_width, 1142);
  assert.equal(b.original_height, 430);
  assert.equal(b.final_width, 1142);
  assert.equal(b.final_height, 430);
  assert.equal(b.bytes_saved, b.original_size - b.final_size);
  assert.ok(b.bytes_saved > 0, `lossless optimisation saved ${b.bytes_saved} bytes`);
  assert.match(b.url, /^http:\/\/127\.0\.0\.1:\d+\/results\/[0-9a-f]{32}\/dog\.jpg\?/, b.url);
  const out = await download(b.url);
  assert.equal(out.length, b.final_size);
  assert.equal(await dims(out), '1142x430');
  assert.equal((await sharp(out).metadata()).format, 'jpeg');
  // Visually unchanged: re-encoded at the source's own quality.
  const md = await meanDiff(out, dog);
  assert.ok(md < 3, `mean diff ${md}`);
});

test('worked example 2: lossy + fit by URL', async () => {
  const res = await postJson(h, '/v1/url/', {
    api_key: KEY, url: `${origin.url}/test-images/dog.jpg`, lossy: true, quality: 70,
    resize: { width: 100, height: 75, strategy: 'fit', crop_mode: 'c' },
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.final_width, 100);
  assert.equal(res.json.final_height, 75);
  const out = await download(res.json.url);
  assert.equal(await dims(out), '100x75');
  assert.equal(out.length, res.json.final_size);
});

test('worked example 3: upload + square', async () => {
  const res = await postUpload(h, dog, { api_key: KEY, resize: { size: 100, strategy: 'square' } });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.final_width, 100);
  assert.equal(res.json.final_height, 100);
  assert.equal(res.json.original_size, dog.length);
  assert.match(res.json.url, /\/dog\.jpg\?/);
  assert.equal(await dims(await download(res.json.url)), '100x100');
});

test('worked example 4: bad key → 401 envelope', async () => {
  const res = await postJson(h, '/v1/url/', { api_key: 'ffffffffffffffffffffffffffffffff', url: `${origin.url}/test-images/dog.jpg` });
  assert.equal(res.status, 401);
  assert.deepEqual(res.json, { error: { message: 'Invalid API key provided.', code: 'unauthorized', details: null } });
  for (const body of [{ url: `${origin.url}/test-images/dog.jpg` }, { api_key: '', url: 'x' }, { api_key: 42 }]) {
    assert.equal((await postJson(h, '/v1/url/', body)).status, 401);
  }
  const up = await postUpload(h, dog, { api_key: 'nope' });
  assert.equal(up.status, 401);
  assert.equal(up.json.error.code, 'unauthorized');
});

test('worked example 5: missing url → 400 validation_error with details.url', async () => {
  const res = await postJson(h, '/v1/url/', { api_key: KEY });
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, { error: { message: 'A validation error occurred.', code: 'validation_error', details: { url: ['This is a required argument.'] } } });
});

test('both paths answer without the trailing slash; Bearer and query keys are accepted', async () => {
  const a = await postJson(h, '/v1/url', { url: `${origin.url}/dog.png` }, { authorization: `Bearer ${KEY}` });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  const b = await postJson(h, `/v1/url/?api_key=second-key`, { url: `${origin.url}/dog.png` });
  assert.equal(b.status, 200);
  const c = await postUpload(h, dogPng, { api_key: KEY }, 'coords.png', '/v1/upload');
  assert.equal(c.status, 200);
  assert.match(c.json.url, /\/coords\.png\?/);
});

/** Uploads the coordinate image with a resize and answers the decoded PNG output. */
async function resized(src: Buffer, resize: Record<string, unknown>, expect: string, lossy = false): Promise<Buffer> {
  const res = await postUpload(h, src, { api_key: KEY, lossy, resize }, 'src.png');
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(`${res.json.final_width}x${res.json.final_height}`, expect, JSON.stringify(resize));
  const out = await download(res.json.url);
  assert.equal(await dims(out), expect);
  return out;
}

test('exact, portrait, landscape and auto give the spec sizes', async () => {
  await resized(dogPng, { strategy: 'exact', width: 100, height: 75 }, '100x75');
  await resized(dogPng, { strategy: 'portrait', height: 75 }, '199x75');
  await resized(tall, { strategy: 'portrait', height: 75 }, '56x75');
  await resized(dogPng, { strategy: 'landscape', width: 100 }, '100x38');
  await resized(tall, { strategy: 'landscape', width: 100 }, '100x133');
  await resized(dogPng, { strategy: 'auto', width: 100, height: 75 }, '100x38');
  await resized(tall, { strategy: 'auto', width: 100, height: 75 }, '56x75');
  await resized(await coordinates(500, 500), { strategy: 'auto', width: 100, height: 75 }, '75x75');
  await resized(await coordinates(1000, 900), { strategy: 'auto', width: 100, height: 50 }, '56x50');
  // Never enlarged.
  await resized(tall, { strategy: 'landscape', width: 2000 }, '600x800');
});

test('fit: cover then crop at the crop_mode anchor (pixels match the reference geometry)', async () => {
  for (const [mode, left] of [['c', 50], ['w', 0], ['e', 99]] as const) {
    const out = await resized(dogPng, { strategy: 'fit', width: 100, height: 75, crop_mode: mode }, '100x75');
    const ref = await sharp(dogPng).resize(199, 75, { fit: 'fill', kernel: 'lanczos3' }).extract({ left, top: 0, width: 100, height: 75 }).png().toBuffer();
    assert.ok((await meanDiff(out, ref)) < 0.5, `crop_mode ${mode}`);
    const other = await sharp(dogPng).resize(199, 75, { fit: 'fill' }).extract({ left: left === 0 ? 99 : 0, top: 0, width: 100, height: 75 }).png().toBuffer();
    assert.ok((await meanDiff(out, other)) > 5, `crop_mode ${mode} differs from the opposite anchor`);
  }
  for (const [mode, top] of [['n', 0], ['s', 58], [undefined, 29]] as const) {
    const out = await resized(tall, { strategy: 'fit', width: 100, height: 75, ...(mode === undefined ? {} : { crop_mode: mode }) }, '100x75');
    const ref = await sharp(tall).resize(100, 133, { fit: 'fill', kernel: 'lanczos3' }).extract({ left: 0, top, width: 100, height: 75 }).png().toBuffer();
    assert.ok((await meanDiff(out, ref)) < 0.5, `crop_mode ${mode}`);
  }
});

test('crop: anchored windows and custom regions land on the documented source pixels', async () => {
  const at = async (resize: Record<string, unknown>, expect: string, x: number, y: number) => {
    const out = await rgba(await resized(dogPng, resize, expect));
    assert.deepEqual(decodeCoordinate(...(pixel(out, 0, 0).slice(0, 3) as [number, number, number])), { x, y }, JSON.stringify(resize));
    const [w, hh] = expect.split('x').map(Number) as [number, number];
    assert.deepEqual(decodeCoordinate(...(pixel(out, w - 1, hh - 1).slice(0, 3) as [number, number, number])), { x: x + w - 1, y: y + hh - 1 });
  };
  await at({ strategy: 'crop', width: 100, height: 75 }, '100x75', 521, 178);
  await at({ strategy: 'crop', width: 100, height: 75, crop_mode: 'se' }, '100x75', 1042, 355);
  await at({ strategy: 'crop', width: 100, height: 75, crop_mode: 'nw' }, '100x75', 0, 0);
  await at({ strategy: 'crop', width: 100, height: 75, crop_mode: 'bogus' }, '100x75', 521, 178);
  await at({ strategy: 'crop', x: 10, y: 20, width: 300, height: 200 }, '300x200', 10, 20);
  await at({ strategy: 'crop', x: 10, y: 20, width: 300, height: 200, crop_mode: 'se' }, '300x200', 10, 20);
  await at({ strategy: 'crop', width: 2000, height: 75 }, '1142x75', 0, 178);
  await resized(dogPng, { strategy: 'crop', width: 100, height: 75, scale: 50 }, '50x38');
  await resized(dogPng, { strategy: 'crop', x: 10, y: 20, width: 300, height: 200, scale: 50 }, '150x100');
});

test('square: centre crop of the shorter side, then resize', async () => {
  await resized(dogPng, { strategy: 'square', size: 100 }, '100x100');
  const full = await rgba(await resized(dogPng, { strategy: 'square', size: 430 }, '430x430'));
  assert.deepEqual(decodeCoordinate(...(pixel(full, 0, 0).slice(0, 3) as [number, number, number])), { x: 356, y: 0 });
  const t = await rgba(await resized(tall, { strategy: 'square', size: 600 }, '600x600'));
  assert.deepEqual(decodeCoordinate(...(pixel(t, 0, 0).slice(0, 3) as [number, number, number])), { x: 0, y: 100 });
  await resized(tall, { strategy: 'square', size: 300 }, '300x300');
});

test('fill: image centred, bands in the background colour (default white, transparent supported)', async () => {
  const out = await rgba(await resized(dogPng, { strategy: 'fill', width: 100, height: 75, background: 'rgb(91, 126, 156)' }, '100x75'));
  const bg = [91, 126, 156, 255];
  for (const y of [0, 17, 56, 74]) assert.deepEqual(pixel(out, 50, y), bg, `row ${y} is a band`);
  for (const y of [19, 54]) assert.notDeepEqual(pixel(out, 50, y), bg, `row ${y} is image`);
  const side = await rgba(await resized(tall, { strategy: 'fill', width: 100, height: 75, background: '#f60' }, '100x75'));
  for (const x of [0, 21, 78, 99]) assert.deepEqual(pixel(side, x, 40), [255, 102, 0, 255], `column ${x} is a band`);
  for (const x of [23, 76]) assert.notDeepEqual(pixel(side, x, 40), [255, 102, 0, 255]);
  const white = await rgba(await resized(tall, { strategy: 'fill', width: 100, height: 75 }, '100x75'));
  assert.deepEqual(pixel(white, 0, 0), [255, 255, 255, 255]);
  const clear = await rgba(await resized(tall, { strategy: 'fill', width: 100, height: 75, background: 'rgba(91, 126, 156, 0)' }, '100x75'));
  assert.equal(pixel(clear, 0, 40)[3], 0);
  assert.equal(pixel(clear, 50, 40)[3], 255);
  // JPEG output has no alpha: a transparent band becomes white.
  const res = await postUpload(h, dog, { api_key: KEY, resize: { strategy: 'fill', width: 100, height: 100, background: 'rgba(0,0,0,0)' } });
  const j = await rgba(await download(res.json.url));
  assert.ok(pixel(j, 50, 2).slice(0, 3).every((c) => c > 245), `band ${pixel(j, 50, 2).join(',')}`);
});

test('lossless PNG keeps every pixel; lossy PNG is palette-quantised and smaller', async () => {
  const src = await sharp(await photo(300, 200)).png({ compressionLevel: 0 }).toBuffer();
  const lossless = await postUpload(h, src, { api_key: KEY }, 'a.png');
  assert.equal(lossless.status, 200);
  const out = await download(lossless.json.url);
  assert.ok(lossless.json.bytes_saved > 0, `saved ${lossless.json.bytes_saved}`);
  assert.equal(await meanDiff(out, src), 0);
  // Already optimal: a lossless run never grows a file, it answers the input as it is.
  const again = await postUpload(h, out, { api_key: KEY }, 'a.png');
  assert.equal(again.json.bytes_saved, 0);
  assert.ok((await download(again.json.url)).equals(out), 'the input bytes come back unchanged');
  const lossy = await postUpload(h, src, { api_key: KEY, lossy: true, quality: 60 }, 'a.png');
  const q = await download(lossy.json.url);
  assert.ok(lossy.json.final_size < lossless.json.final_size, `lossy ${lossy.json.final_size} lossless ${lossless.json.final_size}`);
  assert.equal(q[25], 3, 'PNG colour type 3 (palette)');
});

test('lossy JPEG follows quality; a high quality may grow the file (negative bytes_saved)', async () => {
  const low = await photo(400, 300, 40);
  const q20 = await postUpload(h, low, { api_key: KEY, lossy: true, quality: 20 });
  const q100 = await postUpload(h, low, { api_key: KEY, lossy: true, quality: 100 });
  assert.ok(q20.json.final_size < q100.json.final_size, `${q20.json.final_size} vs ${q100.json.final_size}`);
  assert.ok(q100.json.bytes_saved < 0, `bytes_saved ${q100.json.bytes_saved}`);
  assert.equal(q100.json.bytes_saved, q100.json.original_size - q100.json.final_size);
  // quality is ignored without lossy.
  const a = await postUpload(h, low, { api_key: KEY, quality: 5 });
  const b = await postUpload(h, low, { api_key: KEY });
  assert.equal(a.json.final_size, b.json.final_size);
});

test('WebP, GIF (animated) and EXIF-rotated JPEG sources keep their format and report upright sizes', async () => {
  const webp = await sharp(await coordinates(300, 200)).webp({ quality: 90 }).toBuffer();
  const w = await postUpload(h, webp, { api_key: KEY, lossy: true, resize: { strategy: 'landscape', width: 150 } }, 'a.webp');
  assert.equal(w.status, 200);
  assert.equal((await sharp(await download(w.json.url)).metadata()).format, 'webp');
  assert.equal(`${w.json.final_width}x${w.json.final_height}`, '150x100');

  const frames = await Promise.all([0, 1, 2].map((i) => sharp({ create: { width: 80, height: 60, channels: 4, background: { r: i * 100, g: 50, b: 0, alpha: 1 } } }).png().toBuffer()));
  const gif = await sharp(frames, { join: { animated: true } }).gif({ delay: [100, 100, 100], loop: 0 }).toBuffer();
  const g = await postUpload(h, gif, { api_key: KEY, resize: { strategy: 'fill', width: 40, height: 40, background: '#000' } }, 'anim.gif');
  assert.equal(g.status, 200, JSON.stringify(g.json));
  const gm = await sharp(await download(g.json.url), { animated: true }).metadata();
  assert.equal(gm.format, 'gif');
  assert.equal(gm.pages, 3);
  assert.equal(`${gm.width}x${gm.pageHeight}`, '40x40');

  const rotated = await import('node:fs').then((fs) => fs.readFileSync(new URL('../fixtures/orientation/Landscape_6.jpg', import.meta.url)));
  const meta = await sharp(rotated).metadata();
  const r = await postUpload(h, rotated, { api_key: KEY }, 'Landscape_6.jpg');
  assert.equal(r.status, 200);
  assert.equal(meta.orientation, 6);
  assert.equal(`${r.json.original_width}x${r.json.original_height}`, `${meta.height}x${meta.width}`);
  const om = await sharp(await download(r.json.url)).metadata();
  assert.equal(`${om.width}x${om.height}`, `${meta.height}x${meta.width}`);
  assert.equal(om.orientation, undefined);
});

test('result URL follows Host and X-Forwarded-Proto', async () => {
  const body = JSON.stringify({ api_key: KEY, url: `${origin.url}/dog.png` });
  // fetch cannot set Host: plain node:http.
  const json = await new Promise<any>((resolve, reject) => {
    const req = request(`${h.url}/v1/url/`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https', host: 'images.example.test' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.match(json.url, /^https:\/\/images\.example\.test\/results\//, json.url);
});

test('a full disk while keeping the result: 507 insufficient_storage in the envelope', async () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const full = await startHarness({ allowedOrigins: [origin.url], deps: { resultFiles: { publish: async () => { throw enospc; }, remove: async () => undefined } } });
  try {
    const res = await fetch(`${full.url}/v1/url/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: KEY, url: `${origin.url}/dog.png` }) });
    assert.equal(res.status, 507);
    const json = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(json.error.code, 'insufficient_storage');
    assert.match(json.error.message, /no storage space left/);
  } finally {
    await full.close();
  }
});

test('with HALFTONE_PUBLIC_URL set, the result URL is on that origin whatever the Host', async () => {
  const pub = await startHarness({ allowedOrigins: [origin.url], routes: { publicUrl: 'https://img.example.com/' } });
  try {
    const res = await fetch(`${pub.url}/v1/url/`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'http' }, body: JSON.stringify({ api_key: KEY, url: `${origin.url}/dog.png` }) });
    assert.equal(res.status, 200);
    const json = (await res.json()) as { url: string };
    assert.match(json.url, /^https:\/\/img\.example\.com\/results\/[^/]+/, json.url);
  } finally {
    await pub.close();
  }
});
