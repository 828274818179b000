/**
 * A real browser against the real server on loopback (issue 5 acceptance): headless Chromium
 * (Debian's `chromium`, driven by playwright-core) loads a page with `<img srcset>` pointing at
 * `/cdn-cgi/image/...,format=auto` and must receive AVIF or WebP; the page fetches a
 * `format=json` answer and parses it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { startHarness, type Harness } from './harness.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// CI installs Debian's chromium (.ci/run); elsewhere the test is skipped when it is missing.
const skip = CHROMIUM === undefined && process.env['CI'] !== 'true' ? 'Debian chromium is not installed' : false;

let h: Harness;
let base: string;
let browser: Browser | undefined;

const PAGE = `<!doctype html>
<html><body>
<img id="pic" alt="" sizes="200px"
     srcset="/cdn-cgi/image/width=200,format=auto/img/photo.jpg 200w, /cdn-cgi/image/width=400,format=auto/img/photo.jpg 400w">
<script>
  window.result = (async () => {
    const img = document.getElementById('pic');
    if (!img.complete) await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; });
    const res = await fetch('/cdn-cgi/image/width=200,format=json/img/photo.jpg');
    const info = await res.json();
    return { naturalWidth: img.naturalWidth, contentType: res.headers.get('content-type'), info };
  })();
</script>
</body></html>`;

before(async () => {
  if (skip) return;
  h = await startHarness();
  const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 30, g: 120, b: 200 } } }).jpeg().toBuffer();
  await h.put('img', 'photo.jpg', photo);
  await h.put('img', 'page.html', Buffer.from(PAGE), { contentType: 'text/html; charset=utf-8' });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM as string, headless: true, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  if (!skip) await h.close();
});

test('Chromium gets AVIF or WebP through <img srcset> with format=auto and parses format=json', { skip }, async () => {
  const page = await browser!.newPage();
  const images: { url: string; type: string; vary: string }[] = [];
  page.on('response', (r) => {
    if (r.url().includes('format=auto')) images.push({ url: r.url(), type: r.headers()['content-type'] ?? '', vary: r.headers()['vary'] ?? '' });
  });
  await page.goto(`${base}/img/page.html`);
  const result = (await page.evaluate('window.result')) as { naturalWidth: number; contentType: string; info: { width: number; height: number; original: { file_size: number; width: number; format: string } } };
  assert.ok(images.length >= 1, 'the browser requested a format=auto variant');
  for (const i of images) {
    assert.ok(i.type === 'image/avif' || i.type === 'image/webp', `${i.url} came back as ${i.type}`);
    assert.match(i.vary, /Accept/);
  }
  assert.ok(result.naturalWidth === 200 || result.naturalWidth === 400, `decoded width ${result.naturalWidth}`);
  assert.equal(result.contentType, 'application/json');
  assert.deepEqual(result.info, { width: 200, height: 150, original: { file_size: result.info.original.file_size, width: 800, height: 600, format: 'image/jpeg' } });
  await page.close();
});
