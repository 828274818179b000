/**
 * The playground in a real browser (issue 11 acceptance): headless Debian Chromium driven by
 * playwright-core against the built server on loopback. Upload an image, change a parameter and
 * see the result update, drag the split, copy the URL and fetch it; errors appear as the dialect
 * returns them; the Cloudflare tab negotiates a modern format; the compression-task and Abstract
 * tabs call the real APIs with the key typed into the page. Screenshots at desktop and phone
 * sizes are saved under test-artifacts/ and checked for non-blank rendering.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../helpers/server.js';

const root = new URL('../..', import.meta.url).pathname;
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined && process.env['CI'] !== 'true' ? 'Debian chromium is not installed (apt-get install chromium)' : false;
const ARTIFACTS = join(root, 'test-artifacts');
const FIXTURE = join(root, 'test/fixtures/example-400x267.jpg');

const API_KEY = 'playground-browser-key';

let server: RunningServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  server = await startServer({
    env: {
      HALFTONE_PLAYGROUND: 'true', HALFTONE_API_KEYS: API_KEY,
      // The page re-renders on every edit; the per-key limits are not what these tests are about.
      HALFTONE_TASK_RATE_LIMIT: '100', HALFTONE_ABSTRACT_RATE_LIMIT: '100',
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM as string,
    headless: true,
    // Loopback only: no background services, updates, sync or first-run traffic.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-extensions', '--disable-domain-reliability'],
  });
});
after(async () => {
  await browser?.close();
  if (!skip) await server.stop();
});

/** Waits until render number > `after` finished; returns its number. */
async function nextRender(page: Page, afterRun: number): Promise<number> {
  // Page code as a string: the test's type-check has no DOM library.
  // Settled: a render after `afterRun` finished, none is running, and none is scheduled or on its
  // way (an upload or image load in progress), so a later render cannot overwrite what is checked.
  await page.waitForFunction(`(() => { const v = document.getElementById('view').dataset; return Number(v.done ?? '0') > ${afterRun} && v.busy === 'false' && v.pending !== 'true'; })()`, undefined, { timeout: 60000 });
  return Number(await page.locator('#view').getAttribute('data-done'));
}

async function assertNotBlank(file: string): Promise<void> {
  const { channels } = await sharp(file).stats();
  const spread = channels.slice(0, 3).reduce((s, c) => s + c.stdev, 0);
  assert.ok(spread > 10, `${file} looks blank (channel stdev sum ${spread.toFixed(1)})`);
}

test('playground: upload, change a parameter, drag the split, copy the URL and fetch it', { skip }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('blob:')) foreign.push(r.url());
  });
  await page.goto(`${server.url}/playground/`);
  await page.waitForSelector('body[data-ready="true"]');

  // Upload: the default OSS recipe resize,w_400 keeps the 400×267 fixture at its size.
  await page.setInputFiles('#upload', FIXTURE);
  let run = await nextRender(page, 0);
  assert.equal(await page.textContent('#o-dim'), '400×267');
  assert.equal(await page.textContent('#r-dim'), '400×267');
  assert.match((await page.textContent('#upload-status')) ?? '', /Stored as u\//);
  assert.match((await page.textContent('#explain')) ?? '', /resize/, 'planned passes are shown');

  // Change a parameter: width 200 → the result updates to 200×134 and is smaller.
  await page.fill('input[name="resize.w"]', '200');
  run = await nextRender(page, run);
  assert.equal(await page.inputValue('#spec'), 'image/resize,w_200');
  assert.equal(await page.textContent('#r-dim'), '200×134');
  assert.equal(await page.textContent('#r-fmt'), 'jpeg');
  assert.match((await page.textContent('#saved')) ?? '', /^\d+\.\d %$/);
  assert.match((await page.textContent('#time')) ?? '', /^\d+ ms$/);

  // Drag the split from the middle to 20 %.
  const box = (await page.locator('#compare').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const now = Number(await page.getAttribute('#handle', 'aria-valuenow'));
  assert.ok(Math.abs(now - 20) <= 2, `split at ${now} %`);
  assert.match((await page.locator('#clip').getAttribute('style')) ?? '', /inset\(0px 0px 0px 2\d/);

  // Copy the URL and fetch it outside the browser.
  await page.click('#copy-url');
  await page.waitForSelector('#copied:has-text("Copied the URL")');
  const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
  assert.ok(copied.startsWith(`${server.url}/halftone-playground/u/`), copied);
  assert.match(copied, /\?x-oss-process=image\/resize,w_200$/);
  const res = await fetch(copied);
  assert.equal(res.status, 200);
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 200, 134]);

  // The curl command and the ali-oss snippet name the same request.
  await page.click('#copy-curl');
  await page.waitForSelector('#copied:has-text("curl")');
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), `curl -o result '${copied}'`);
  await page.click('#copy-sdk');
  await page.waitForSelector('#copied:has-text("ali-oss")');
  const sdk = (await page.evaluate('navigator.clipboard.readText()')) as string;
  assert.match(sdk, /signatureUrl\('u\/[^']+', \{ process: 'image\/resize,w_200' \}\)/);

  await page.screenshot({ path: join(ARTIFACTS, 'playground-desktop.png'), fullPage: true });
  await assertNotBlank(join(ARTIFACTS, 'playground-desktop.png'));

  // Errors appear as the dialect returns them (OSS XML with its code).
  await page.fill('#spec', 'image/resize,m_bogus,w_10');
  await page.press('#spec', 'Enter');
  run = await nextRender(page, run);
  assert.equal(await page.isVisible('#error'), true);
  const err = (await page.textContent('#error')) ?? '';
  assert.match(err, /^HTTP 400/);
  assert.match(err, /<Code>InvalidArgument<\/Code>/);

  // The Cloudflare tab: format=auto gives Chromium AVIF or WebP.
  await page.click('button[data-dialect="cloudflare"]');
  run = await nextRender(page, run);
  assert.equal(await page.inputValue('#spec'), 'width=400,format=auto');
  assert.ok(['avif', 'webp'].includes((await page.textContent('#r-fmt')) ?? ''), `format ${await page.textContent('#r-fmt')}`);
  assert.equal(await page.textContent('#r-dim'), '400×267');
  assert.match((await page.textContent('#result-url')) ?? '', /\/cdn-cgi\/image\/width=400,format=auto\/halftone-playground\/u\//);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(foreign, [], 'the playground loads nothing from outside the server');
  await context.close();
});

test('playground: the compression-task and Abstract tabs call the real APIs with the typed key', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const foreign: string[] = [];
  // (Chromium does not expose multipart bodies holding a file to the test; headers and URL only.)
  const posts: { url: string; headers: Record<string, string> }[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('blob:')) foreign.push(r.url());
    if (r.method() === 'POST' && !r.url().includes('/playground/api/')) posts.push({ url: r.url(), headers: r.headers() });
  });
  await page.goto(`${server.url}/playground/`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.setInputFiles('#upload', FIXTURE);
  let run = await nextRender(page, 0);
  const setSpec = async (spec: string) => {
    await page.fill('#spec', spec);
    await page.press('#spec', 'Enter');
    run = await nextRender(page, run);
  };
  const setKey = async (key: string) => {
    await page.fill('#api-key', key);
    await page.dispatchEvent('#api-key', 'change');
    run = await nextRender(page, run);
  };
  /** The result URL shown is on this server and answers the image the page displays. */
  const fetchResult = async () => {
    const url = (await page.textContent('#result-url')) ?? '';
    assert.ok(url.startsWith(`${server.url}/`), url);
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    return sharp(Buffer.from(await res.arrayBuffer())).metadata();
  };

  // Compression task: without a key the API's own 401 is shown.
  await page.click('button[data-dialect="tasks"]');
  run = await nextRender(page, run);
  assert.equal(await page.isVisible('#key-row'), true);
  assert.match((await page.textContent('#error')) ?? '', /^HTTP 401[\s\S]*Missing X-API-KEY header/);
  // With the key (sent as X-API-KEY): a sync task, then its result file.
  await setKey(API_KEY);
  await setSpec('format=webp&width=200');
  assert.equal(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');
  assert.equal(await page.textContent('#r-dim'), '200×134');
  assert.equal(await page.textContent('#r-fmt'), 'webp');
  const taskPost = posts.filter((p) => p.url.endsWith('/api/tasks/visual/imgcompress')).at(-1);
  assert.ok(taskPost, 'the page posted a task');
  assert.equal(taskPost.headers['x-api-key'], API_KEY);
  assert.match(taskPost.headers['content-type'] ?? '', /^multipart\/form-data/);
  let meta = await fetchResult();
  assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 200, 134]);
  // The key stays in this tab's sessionStorage for this dialect only.
  assert.equal(await page.evaluate("sessionStorage.getItem('halftone-key-tasks')"), API_KEY);
  // An API error in the dialect's own shape: quality and kbyte together.
  await setSpec('quality=50&kbyte=10');
  assert.match((await page.textContent('#error')) ?? '', /^HTTP 400[\s\S]*"status":400[\s\S]*quality and kbyte cannot be used together/);

  // Abstract: its own key field value (empty here), then api_key inside the data JSON.
  await page.click('button[data-dialect="abstract"]');
  run = await nextRender(page, run);
  assert.equal(await page.inputValue('#api-key'), '');
  assert.match((await page.textContent('#error')) ?? '', /^HTTP 401[\s\S]*"code":"unauthorized"/);
  await setKey(API_KEY);
  await setSpec('{"lossy":true,"quality":60,"resize":{"width":100,"height":75,"strategy":"exact"}}');
  assert.equal(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');
  assert.equal(await page.textContent('#r-dim'), '100×75');
  const abstractPost = posts.filter((p) => /\/v1\/upload\/$/.test(p.url)).at(-1);
  assert.ok(abstractPost, 'the page posted to /v1/upload/');
  // Neither a header nor the query carries the key: it can only have been api_key in the data part.
  assert.equal(abstractPost.headers['authorization'], undefined);
  assert.equal(abstractPost.headers['x-api-key'], undefined);
  assert.equal(new URL(abstractPost.url).search, '');
  meta = await fetchResult();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 100, 75]);
  // A wrong key is refused as Abstract refuses it.
  await setKey('not-the-key');
  assert.match((await page.textContent('#error')) ?? '', /^HTTP 401[\s\S]*Invalid API key provided/);

  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(foreign, [], 'the playground loads nothing from outside the server');
  await context.close();
});

test('the API docs UI renders from the package alone', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  await page.goto(`${server.url}/docs`);
  await page.waitForSelector('.opblock-tag-section', { timeout: 60000 });
  const tags = await page.locator('.opblock-tag').allTextContents();
  assert.ok(tags.some((t) => t.startsWith('images')), tags.join(' | '));
  assert.ok(await page.locator('.opblock').count() >= 20);
  assert.deepEqual(foreign, [], 'no CDN');
  await page.screenshot({ path: join(ARTIFACTS, 'docs-desktop.png') });
  await assertNotBlank(join(ARTIFACTS, 'docs-desktop.png'));
  await context.close();
});

test('playground: phone-sized screen renders without horizontal scrolling', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${server.url}/playground/`);
  await page.waitForSelector('body[data-ready="true"]');
  // The shelf already holds the image uploaded above: it is picked and rendered.
  await nextRender(page, 0);
  assert.notEqual(await page.textContent('#r-dim'), '–');
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(ARTIFACTS, 'playground-phone.png'), fullPage: true });
  await assertNotBlank(join(ARTIFACTS, 'playground-phone.png'));
  await context.close();
});
