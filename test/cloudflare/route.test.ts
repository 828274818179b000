/**
 * The Cloudflare route end to end (inject on the real app and engine): format=auto negotiation,
 * format=json, headers (ETag/304, Cache-Control, Vary, Cf-Resized, Warning), 9xxx errors,
 * onerror=redirect, sources (store ACLs, remote origin through the real SSRF-safe fetcher on
 * loopback), the mount prefix, and pixels of flip/trim/rotate/background.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { createHttpFetcher } from '../../src/adapters/source/http.js';
import { acceptsExplicitly, negotiateAuto, negotiateModernFormat, originalFamily } from '../../src/core/output/negotiate.js';
import { coordinatePng, decode, startHarness, type Harness } from './harness.js';

let h: Harness;
let origin: Server;
let originUrl: string;
let originHits = 0;
let jpeg: Buffer;

before(async () => {
  jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg().toBuffer();
  origin = createServer((req, res) => {
    originHits++;
    if (req.url === '/a.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', etag: '"abc"', 'cache-control': 'public, max-age=86400' });
      res.end(jpeg);
    } else if (req.url === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const fetcher = createHttpFetcher({ version: 'test', allowedOrigins: [originUrl], anyPublicOrigin: false });
  h = await startHarness({}, fetcher);
  await h.put('img', 'photo.jpg', jpeg, { headers: { 'cache-control': 'public, max-age=604800' } });
  await h.put('img', 'grad.png', await coordinatePng(200, 100));
  await h.put('img', 'alpha.png', await sharp({ create: { width: 50, height: 50, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0 } } }).png().toBuffer());
  await h.put('img', 'notimage.txt', Buffer.from('hello, not an image'));
  await h.put('secret', 'a.jpg', jpeg, { acl: 'private' });
  // A framed image: 10 px black border around a 80×60 white-ish body with a red dot.
  const body = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 250, g: 250, b: 250 } } }).png().toBuffer();
  await h.put('img', 'framed.png', await sharp(body).extend({ top: 10, bottom: 10, left: 10, right: 10, background: { r: 0, g: 0, b: 0 } }).png().toBuffer());
});
after(async () => {
  await h.close();
  await new Promise((r) => origin.close(r));
});

const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

test('negotiate: AVIF → WebP → original, wildcards do not count', () => {
  assert.equal(negotiateModernFormat('image/avif,image/webp,*/*'), 'avif');
  assert.equal(negotiateModernFormat('image/webp,*/*'), 'webp');
  assert.equal(negotiateModernFormat('image/*,*/*;q=0.8'), null);
  assert.equal(negotiateModernFormat(undefined), null);
  assert.equal(negotiateModernFormat('image/avif;q=0,image/webp'), 'webp');
  assert.equal(acceptsExplicitly('IMAGE/AVIF', 'image/avif'), true);
  assert.equal(originalFamily({ source: 'webp', hasAlpha: false, animated: false }), 'jpeg');
  assert.equal(originalFamily({ source: 'webp', hasAlpha: true, animated: false }), 'png');
  assert.equal(originalFamily({ source: 'gif', hasAlpha: false, animated: true }), 'gif');
  assert.equal(negotiateAuto('image/avif,image/webp', { source: 'gif', hasAlpha: false, animated: true }), 'webp');
  assert.equal(negotiateAuto('text/html', { source: 'jpeg', hasAlpha: false, animated: false }), 'jpeg');
});

for (const [accept, type] of [
  ['image/avif,image/webp,image/apng,image/*,*/*;q=0.8', 'image/avif'],
  ['image/webp,image/*,*/*;q=0.8', 'image/webp'],
  ['image/*,*/*;q=0.8', 'image/jpeg'],
  ['', 'image/jpeg'],
] as const) {
  test(`format=auto with Accept "${accept}" → ${type}, Vary: Accept`, async () => {
    const res = await get('/cdn-cgi/image/width=100,format=auto/img/photo.jpg', accept === '' ? {} : { accept });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], type);
    assert.match(String(res.headers['vary']), /Accept/);
    const meta = await sharp(res.rawPayload).metadata();
    assert.equal(meta.width, 100);
    assert.equal(`image/${meta.format === 'heif' ? 'avif' : meta.format}`, type);
  });
}

test('format=auto does not pick AVIF past 1200 px (warning), explicit formats are honoured', async () => {
  const big = await get('/cdn-cgi/image/width=1500,fit=contain,format=auto/img/photo.jpg', { accept: 'image/avif,image/webp' });
  assert.equal(big.headers['content-type'], 'image/webp');
  assert.match(String(big.headers['warning']), /image too large for AVIF/);
  for (const [f, type] of [['webp', 'image/webp'], ['avif', 'image/avif'], ['jpeg', 'image/jpeg'], ['baseline-jpeg', 'image/jpeg'], ['png', 'image/png']]) {
    const res = await get(`/cdn-cgi/image/f=${f},w=50/img/photo.jpg`);
    assert.equal(res.headers['content-type'], type, f);
    assert.equal(res.headers['vary'], undefined);
  }
});

test('progressive JPEG by default, baseline for baseline-jpeg and tiny outputs', async () => {
  const prog = await sharp((await get('/cdn-cgi/image/f=jpeg,w=200/img/photo.jpg')).rawPayload).metadata();
  assert.equal(prog.isProgressive, true);
  const base = await sharp((await get('/cdn-cgi/image/f=baseline-jpeg,w=200/img/photo.jpg')).rawPayload).metadata();
  assert.equal(base.isProgressive, false);
  const tiny = await sharp((await get('/cdn-cgi/image/f=jpeg,w=40/img/photo.jpg')).rawPayload).metadata();
  assert.equal(tiny.isProgressive, false);
});

test('format=json for a stored JPEG', async () => {
  const res = await get('/cdn-cgi/image/width=100,format=json/img/photo.jpg');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(res.body), { width: 100, height: 75, original: { file_size: jpeg.length, width: 400, height: 300, format: 'image/jpeg' } });
});

test('headers: ETag cf-…:<origin etag>, 304 on If-None-Match, Cache-Control from the source, Cf-Resized, CSP', async () => {
  const res = await get('/cdn-cgi/image/w=120/img/photo.jpg');
  assert.equal(res.statusCode, 200);
  const etag = String(res.headers['etag']);
  assert.match(etag, /^"cf-[A-Za-z0-9_-]+:[0-9A-F]{32}"$/);
  assert.equal(res.headers['cache-control'], 'public, max-age=604800');
  assert.match(String(res.headers['cf-resized']), new RegExp(`^internal=ok/m q=85 l=${res.rawPayload.length} `));
  assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  const again = await get('/cdn-cgi/image/w=120/img/photo.jpg', { 'if-none-match': etag });
  assert.equal(again.statusCode, 304);
  assert.equal(again.rawPayload.length, 0);
  const other = await get('/cdn-cgi/image/w=121/img/photo.jpg', { 'if-none-match': etag });
  assert.equal(other.statusCode, 200);
  assert.notEqual(other.headers['etag'], etag);
});

test('lenient options: bad values are ignored with Warning: cf-images 299', async () => {
  const res = await get('/cdn-cgi/image/width=abc,quality=70/img/photo.jpg');
  assert.equal(res.statusCode, 200);
  assert.equal((await sharp(res.rawPayload).metadata()).width, 400);
  assert.match(String(res.headers['warning']), /^cf-images 299 "Expected an integer between 1 and 100000 for width but received 'abc'"$/);
  const cover = await get('/cdn-cgi/image/width=100,fit=cover/img/photo.jpg');
  assert.match(String(cover.headers['warning']), /cover fit mode needs both width and height/);
});

test('errors: 9xxx code, status, text body and Cf-Resized: err=', async () => {
  const cases: Array<[string, number, number]> = [
    ['/cdn-cgi/image/w=100/img/missing.jpg', 404, 9404],
    ['/cdn-cgi/image/w=100/nobucket/a.jpg', 404, 9404],
    ['/cdn-cgi/image/w=100/secret/a.jpg', 403, 9408],
    ['/cdn-cgi/image/w=100/img/notimage.txt', 415, 9520],
    ['/cdn-cgi/image/segment=foreground/img/photo.jpg', 501, 9401],
    ['/cdn-cgi/image/w=20000,fit=contain/img/photo.jpg', 403, 9413],
    ['/cdn-cgi/image/w=100', 400, 9401],
    [`/cdn-cgi/image/w=100/${originUrl}/missing.jpg`, 404, 9404],
    [`/cdn-cgi/image/w=100/${originUrl}/page.html`, 415, 9520],
    ['/cdn-cgi/image/w=100/http://127.0.0.2:8081/a.jpg', 403, 9401],
    ['/cdn-cgi/image/w=100/http://localhost:8082/a.jpg', 403, 9401],
  ];
  for (const [url, status, code] of cases) {
    const res = await get(url);
    assert.equal(res.statusCode, status, `${url}: ${res.body}`);
    assert.equal(res.headers['cf-resized'], `err=${code}`, url);
    assert.match(res.body, new RegExp(`^ERROR ${code}: `), url);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
  }
});

test('strict mode answers 400 / 9401 for a bad option', async () => {
  const strict = await startHarness({ strict: true });
  try {
    await strict.put('img', 'photo.jpg', jpeg);
    const res = await strict.app.inject({ method: 'GET', url: '/cdn-cgi/image/width=abc/img/photo.jpg' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.body, 'ERROR 9401: Expected an integer between 1 and 100000 for width but received "abc"');
  } finally {
    await strict.close();
  }
});

test('a request carrying the image-resizing Via marker is a loop (508 / 9403)', async () => {
  const res = await get('/cdn-cgi/image/w=10/img/photo.jpg', { via: '1.1 image-resizing' });
  assert.equal(res.statusCode, 508);
  assert.equal(res.headers['cf-resized'], 'err=9403');
});

test('onerror=redirect: same-zone sources get 307 to the original; remote ones keep the error', async () => {
  const res = await get('/cdn-cgi/image/w=100,onerror=redirect/img/notimage.txt');
  assert.equal(res.statusCode, 307);
  assert.equal(res.headers['location'], '/img/notimage.txt');
  assert.equal(res.headers['cache-control'], 'no-store');
  const bad = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/onerror=redirect,segment=foreground/img/photo.jpg' });
  assert.equal(bad.statusCode, 307);
  const remote = await get(`/cdn-cgi/image/w=100,onerror=redirect/${originUrl}/page.html`);
  assert.equal(remote.statusCode, 415);
});

test('remote source through the allow-listed loopback origin; collapsed // re-expanded; query kept', async () => {
  const res = await get(`/cdn-cgi/image/w=100/${originUrl}/a.jpg`);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await sharp(res.rawPayload).metadata()).width, 100);
  assert.match(String(res.headers['etag']), /:abc"$/);
  assert.equal(res.headers['cache-control'], 'public, max-age=86400');
  const collapsed = await get(`/cdn-cgi/image/w=90/${originUrl.replace('//', '/')}/a.jpg`);
  assert.equal(collapsed.statusCode, 200, collapsed.body);
});

test('an absolute URL on our own host is a same-zone store path', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/w=64/http://images.example/img/photo.jpg', headers: { host: 'images.example' } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await sharp(res.rawPayload).metadata()).width, 64);
});

test('configurable mount prefix', async () => {
  const other = await startHarness({}, undefined, '/img-cdn');
  try {
    await other.put('img', 'photo.jpg', jpeg);
    const ok = await other.app.inject({ method: 'GET', url: '/img-cdn/w=50/img/photo.jpg' });
    assert.equal(ok.statusCode, 200);
    assert.equal((await sharp(ok.rawPayload).metadata()).width, 50);
  } finally {
    await other.close();
  }
});

test('flip=h mirrors; rotate=90 turns after flipping; width refers to rotated axes', async () => {
  const flipped = await decode((await get('/cdn-cgi/image/flip=h/img/grad.png')).rawPayload);
  assert.ok((flipped.data[0] as number) > 250, 'left column carries the right edge after flip=h');
  const rotated = await decode((await get('/cdn-cgi/image/rotate=90,width=50/img/grad.png')).rawPayload);
  assert.deepEqual([rotated.width, rotated.height], [50, 100]);
  // flip=h then rotate=90: the top-left pixel is the source's bottom-right (x high, y high).
  const both = await decode((await get('/cdn-cgi/image/flip=h,rotate=90/img/grad.png')).rawPayload);
  assert.deepEqual([both.width, both.height], [100, 200]);
  assert.ok((both.data[0] as number) > 240 && (both.data[1] as number) > 240, `got ${both.data[0]},${both.data[1]}`);
});

test('trim: fixed sides, fractions, window, border detection (+ keep)', async () => {
  const sides = await decode((await get('/cdn-cgi/image/trim=10;20;30;40/img/grad.png')).rawPayload);
  assert.deepEqual([sides.width, sides.height], [140, 60]);
  const frac = await decode((await get('/cdn-cgi/image/trim=0.1;0.2;0.1;0.2/img/grad.png')).rawPayload);
  assert.deepEqual([frac.width, frac.height], [120, 80]);
  const win = await decode((await get('/cdn-cgi/image/trim.left=30,trim.width=50,trim.height=40/img/grad.png')).rawPayload);
  assert.deepEqual([win.width, win.height], [50, 40]);
  const border = await get('/cdn-cgi/image/trim=border/img/framed.png');
  assert.match(String(border.headers['cf-resized']), /s=80x60/);
  assert.deepEqual(Object.values(await sharp(border.rawPayload).metadata()).length > 0, true);
  const b = await sharp(border.rawPayload).metadata();
  assert.deepEqual([b.width, b.height], [80, 60]);
  const keep = await sharp((await get('/cdn-cgi/image/trim=border,trim.border.keep=4/img/framed.png')).rawPayload).metadata();
  assert.deepEqual([keep.width, keep.height], [88, 68]);
  const json = JSON.parse((await get('/cdn-cgi/image/trim=border,format=json/img/framed.png')).body) as { width: number };
  assert.equal(json.width, 80);
});

test('background flattens transparency; transparent PNGs stay PNG with alpha otherwise', async () => {
  const keep = await get('/cdn-cgi/image/w=20/img/alpha.png');
  assert.equal(keep.headers['content-type'], 'image/png');
  const k = await decode(keep.rawPayload);
  assert.equal(k.channels, 4);
  assert.equal(k.data[3], 0);
  const flat = await decode((await get('/cdn-cgi/image/w=20,background=%23ff0000,f=jpeg/img/alpha.png')).rawPayload);
  assert.deepEqual([...flat.data.subarray(0, 3)].map((v) => v > 200), [true, false, false]);
  const pad = await decode((await get('/cdn-cgi/image/w=100,h=50,fit=pad,background=lime/img/photo.jpg')).rawPayload);
  assert.deepEqual([...pad.data.subarray(0, 3)].map((v) => Math.round(v / 255)), [0, 1, 0]);
});

test('colour filters change pixels in the documented direction', async () => {
  const base = await decode((await get('/cdn-cgi/image/w=50,f=png/img/photo.jpg')).rawPayload);
  const mean = (d: { data: Buffer }) => [...d.data].reduce((a, b) => a + b, 0) / d.data.length;
  const bright = await decode((await get('/cdn-cgi/image/w=50,f=png,brightness=1.5/img/photo.jpg')).rawPayload);
  assert.ok(mean(bright) > mean(base));
  const grey = await decode((await get('/cdn-cgi/image/w=50,f=png,saturation=0/img/photo.jpg')).rawPayload);
  assert.ok(Math.abs((grey.data[0] as number) - (grey.data[2] as number)) <= 2);
  const light = await decode((await get('/cdn-cgi/image/w=50,f=png,gamma=0.5/img/photo.jpg')).rawPayload);
  assert.ok(mean(light) > mean(base) + 10, `gamma 0.5 lightens: ${mean(light)} vs ${mean(base)}`);
  const dark = await decode((await get('/cdn-cgi/image/w=50,f=png,gamma=2/img/photo.jpg')).rawPayload);
  assert.ok(mean(dark) < mean(base) - 10, `gamma 2 darkens: ${mean(dark)} vs ${mean(base)}`);
  const flat = await decode((await get('/cdn-cgi/image/w=50,f=png,contrast=0.5/img/photo.jpg')).rawPayload);
  assert.ok(Math.abs((flat.data[0] as number) - 128) < Math.abs((base.data[0] as number) - 128));
  const framed = await decode((await get('/cdn-cgi/image/w=50,f=png,border.width=5,border.color=blue/img/photo.jpg')).rawPayload);
  assert.deepEqual([framed.width, framed.height], [60, 48]);
  assert.deepEqual([...framed.data.subarray(0, 3)], [0, 0, 255]);
  for (const o of ['blur=20', 'sharpen=3', 'gravity=auto,fit=cover,w=50,h=50', 'gravity=face,fit=cover,w=50,h=50', 'compression=fast', 'metadata=keep', 'anim=false']) {
    const res = await get(`/cdn-cgi/image/${o}/img/photo.jpg`);
    assert.equal(res.statusCode, 200, `${o}: ${res.body}`);
  }
});

test('metadata: copyright keeps only Copyright/Artist, keep keeps EXIF, none strips (JPEG)', async () => {
  const exifr = (await import('exifr')).default;
  const tagged = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 9, b: 9 } } })
    .withExif({ IFD0: { Copyright: 'ACME Photos', Artist: 'Jane Doe', Make: 'CameraCo' } })
    .jpeg()
    .toBuffer();
  await h.put('img', 'tagged.jpg', tagged);
  const read = async (opts: string) => ((await exifr.parse((await get(`/cdn-cgi/image/${opts}/img/tagged.jpg`)).rawPayload, { pick: ['Copyright', 'Artist', 'Make'] })) ?? {}) as Record<string, string>;
  assert.deepEqual(await read('w=32'), { Copyright: 'ACME Photos', Artist: 'Jane Doe' });
  assert.deepEqual(await read('w=32,metadata=copyright'), { Copyright: 'ACME Photos', Artist: 'Jane Doe' });
  assert.deepEqual(await read('w=32,metadata=none'), {});
  assert.equal((await read('w=32,metadata=keep'))['Make'], 'CameraCo');
});

test('over a real socket: remote source, HEAD, width=auto and scq with client hints (Vary)', async () => {
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const remote = await fetch(`${base}/cdn-cgi/image/w=70/${originUrl}/a.jpg`);
  assert.equal(remote.status, 200);
  assert.equal((await sharp(Buffer.from(await remote.arrayBuffer())).metadata()).width, 70);
  const head = await fetch(`${base}/cdn-cgi/image/w=70/img/photo.jpg`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'image/jpeg');
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const auto = await fetch(`${base}/cdn-cgi/image/width=auto,fit=scale-up/img/photo.jpg`, { headers: { 'sec-ch-viewport-width': '700', 'sec-ch-dpr': '1' } });
  assert.equal((await sharp(Buffer.from(await auto.arrayBuffer())).metadata()).width, 768);
  assert.match(String(auto.headers.get('vary')), /Sec-CH-Viewport-Width/);
  const desktop = await fetch(`${base}/cdn-cgi/image/width=auto/img/photo.jpg`, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' } });
  assert.equal((await sharp(Buffer.from(await desktop.arrayBuffer())).metadata()).width, 400, 'scale-down never enlarges the 400 px source to 1200');
  const slow = await fetch(`${base}/cdn-cgi/image/w=100,q=90,scq=30/img/photo.jpg`, { headers: { ect: '2g' } });
  assert.match(String(slow.headers.get('cf-resized')), / q=30 /);
  assert.match(String(slow.headers.get('vary')), /ECT/);
  const fast = await fetch(`${base}/cdn-cgi/image/w=100,q=90,scq=30/img/photo.jpg`, { headers: { ect: '4g' } });
  assert.match(String(fast.headers.get('cf-resized')), / q=90 /);
});

test('animations: GIF stays animated GIF, format=auto gives animated WebP, anim=false a still', async () => {
  const frames = 3;
  const raw = Buffer.alloc(40 * 30 * 4 * frames);
  for (let i = 0; i < raw.length; i += 4) {
    const f = Math.floor(i / (40 * 30 * 4));
    raw[i] = f * 100;
    raw[i + 1] = 255 - f * 100;
    raw[i + 2] = 50;
    raw[i + 3] = 255;
  }
  const gif = await sharp(raw, { raw: { width: 40, height: 30 * frames, channels: 4, pageHeight: 30 } }).gif({ delay: [100, 100, 100], loop: 0 }).toBuffer();
  await h.put('img', 'anim.gif', gif);
  const same = await get('/cdn-cgi/image/w=20/img/anim.gif');
  assert.equal(same.headers['content-type'], 'image/gif');
  assert.equal((await sharp(same.rawPayload, { animated: true }).metadata()).pages, 3);
  const webp = await get('/cdn-cgi/image/w=20,f=auto/img/anim.gif', { accept: 'image/avif,image/webp' });
  assert.equal(webp.headers['content-type'], 'image/webp');
  assert.equal((await sharp(webp.rawPayload, { animated: true }).metadata()).pages, 3);
  const still = await get('/cdn-cgi/image/w=20,anim=false/img/anim.gif');
  assert.equal(still.headers['content-type'], 'image/png');
  assert.equal((await sharp(still.rawPayload, { animated: true }).metadata()).pages ?? 1, 1);
  const json = JSON.parse((await get('/cdn-cgi/image/format=json/img/anim.gif')).body) as { original: { frame_count?: number } };
  assert.equal(json.original.frame_count, 3);
});
