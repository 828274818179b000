// Halftone playground: plain ES module, no build step, no third-party code.
// Talks to /playground/api/* for the shelf, the control catalogue and explain, and to the real
// dialect endpoints (OSS, Cloudflare, compression tasks, Abstract) like any client would.

const $ = (id) => document.getElementById(id);
const origin = location.origin;

const state = {
  config: null,
  catalogue: null,
  dialect: 'oss',
  key: '',
  original: null, // { blob, url, width, height, type, bytes }
  values: { oss: { resize: { w: '400' } }, cloudflare: { size: { width: '400' }, output: { format: 'auto' } }, tasks: { imgcompress: { quality: '75' } }, abstract: { options: { lossy: 'true', quality: '75' } } },
  typed: { oss: null, cloudflare: null, tasks: null, abstract: null },
  run: 0,
  resultUrl: '',
  resultType: '',
};

const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const LABELS = { oss: 'Process string', cloudflare: 'Options', tasks: 'Form fields', abstract: 'data JSON (without api_key)' };

// ------------------------------------------------------------------ helpers
function fmtBytes(n) {
  if (n === undefined || n === null) return '–';
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
function shortType(t) {
  return (t || '').replace(/^image\//, '').replace(/;.*$/, '') || '–';
}
function setText(id, t) {
  $(id).textContent = t;
}
function imageSize(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => resolve({ width: 0, height: 0 });
    img.src = url;
  });
}
async function getJson(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
function objectPath(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}
function encodeProcess(p) {
  return encodeURIComponent(p).replace(/%2C/gi, ',').replace(/%2F/gi, '/');
}

// ------------------------------------------------------------------ spec building
function buildSpec(dialect) {
  const typed = state.typed[dialect];
  if (typed !== null) return typed;
  const vals = state.values[dialect];
  const cat = state.catalogue[dialect];
  if (dialect === 'oss') {
    const parts = [];
    for (const a of cat) {
      const v = vals[a.name] || {};
      const set = a.controls.filter((c) => (v[c.key] ?? '') !== '');
      if (set.length === 0) continue;
      parts.push([a.name, ...set.map((c) => (c.key === '' ? v[c.key] : `${c.key}_${v[c.key]}`))].join(','));
    }
    return parts.length > 0 ? `image/${parts.join('/')}` : 'image/info';
  }
  const flat = [];
  for (const a of cat) for (const c of a.controls) {
    const v = (vals[a.name] || {})[c.key];
    if (v !== undefined && v !== '') flat.push([c.key, v]);
  }
  if (dialect === 'cloudflare') return flat.map(([k, v]) => `${k}=${v}`).join(',') || 'format=auto';
  if (dialect === 'tasks') return flat.map(([k, v]) => `${k}=${v}`).join('&');
  const data = {};
  for (const [k, v] of flat) {
    const val = v === 'true' ? true : v === 'false' ? false : /^-?\d+$/.test(v) ? Number(v) : v;
    if (k.startsWith('resize.')) (data.resize ??= {})[k.slice(7)] = val;
    else data[k] = val;
  }
  return JSON.stringify(data);
}

// ------------------------------------------------------------------ controls
function renderControls() {
  const box = $('controls');
  box.textContent = '';
  const d = state.dialect;
  for (const a of state.catalogue[d]) {
    const fs = document.createElement('fieldset');
    const lg = document.createElement('legend');
    lg.textContent = a.name;
    fs.append(lg);
    if (a.summary) {
      const p = document.createElement('p');
      p.className = 'summary';
      p.textContent = a.summary;
      fs.append(p);
    }
    for (const c of a.controls) {
      const row = document.createElement('label');
      row.className = 'row';
      const name = document.createElement('span');
      name.textContent = c.key === '' ? a.name : c.key;
      let input;
      if (c.type === 'enum' || c.type === 'boolean') {
        input = document.createElement('select');
        const choices = c.type === 'boolean' ? ['true', 'false'] : c.choices;
        for (const ch of ['', ...choices]) {
          const o = document.createElement('option');
          o.value = ch;
          o.textContent = ch === '' ? `— ${c.default ? `(default ${c.default})` : ''}` : ch;
          input.append(o);
        }
      } else {
        input = document.createElement('input');
        input.type = c.type === 'int' || c.type === 'float' ? 'number' : 'text';
        if (c.min !== undefined) input.min = String(c.min);
        if (c.max !== undefined) input.max = String(c.max);
        if (c.type === 'float') input.step = '0.1';
        input.placeholder = c.default ? `default ${c.default}` : c.min !== undefined ? `${c.min}–${c.max}` : '';
      }
      input.name = `${a.name}.${c.key}`;
      input.title = c.meaning;
      input.dataset.action = a.name;
      input.dataset.key = c.key;
      input.value = (state.values[d][a.name] || {})[c.key] ?? '';
      input.addEventListener('input', onControl);
      row.append(name, input);
      fs.append(row);
    }
    box.append(fs);
  }
}

let timer;
function onControl(e) {
  const t = e.target;
  const d = state.dialect;
  (state.values[d][t.dataset.action] ??= {})[t.dataset.key] = t.value;
  state.typed[d] = null;
  $('spec').value = buildSpec(d);
  schedule();
}
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = undefined;
    markPending();
    void render();
  }, 250);
  markPending();
}
/** Uploads and image loads in progress: each ends by scheduling a render. */
let inflight = 0;
/**
 * `#view[data-pending]`: a render is scheduled or will be (an upload or image load is in progress).
 * With `data-busy` (a render running) it tells automation when the page has settled.
 */
function markPending() {
  $('view').dataset.pending = String(inflight > 0 || timer !== undefined);
}
async function tracked(work) {
  inflight++;
  markPending();
  try {
    return await work();
  } finally {
    inflight--;
    markPending();
  }
}

function selectDialect(d) {
  state.dialect = d;
  for (const b of document.querySelectorAll('#dialects button')) b.setAttribute('aria-selected', String(b.dataset.dialect === d));
  $('key-row').hidden = d !== 'tasks' && d !== 'abstract';
  $('api-key').value = sessionStorage.getItem(`halftone-key-${d}`) ?? '';
  $('spec-label').firstChild.textContent = `${LABELS[d]} `;
  $('copy-sdk').hidden = d !== 'oss';
  $('spec').value = buildSpec(d);
  renderControls();
  schedule();
}

// ------------------------------------------------------------------ images
async function refreshShelf(select) {
  const { images } = await getJson('/playground/api/images');
  const sel = $('stored');
  sel.textContent = '';
  const none = document.createElement('option');
  none.value = '';
  none.textContent = images.length === 0 ? '(none yet — upload one)' : '—';
  sel.append(none);
  for (const img of images) {
    const o = document.createElement('option');
    o.value = img.key;
    o.textContent = `${img.key.replace(/^u\//, '')} (${fmtBytes(img.size)})`;
    sel.append(o);
  }
  if (select !== undefined) sel.value = select;
  return images;
}

function useImage(key) {
  return tracked(() => loadImage(key));
}
async function loadImage(key) {
  state.key = key;
  $('stored').value = key;
  const res = await fetch(`/${objectPath(state.config.bucket)}/${objectPath(key)}`);
  const blob = await res.blob();
  if (state.original?.url) URL.revokeObjectURL(state.original.url);
  const url = URL.createObjectURL(blob);
  const size = await imageSize(url);
  state.original = { blob, url, ...size, type: blob.type, bytes: blob.size };
  $('img-original').src = url;
  setText('o-dim', `${size.width}×${size.height}`);
  setText('o-fmt', shortType(blob.type));
  setText('o-bytes', fmtBytes(blob.size));
  schedule();
}

function upload(file) {
  return tracked(() => uploadFile(file));
}
async function uploadFile(file) {
  setText('upload-status', `Uploading ${file.name}…`);
  const res = await fetch('/playground/api/images', { method: 'POST', body: file, headers: { 'content-type': file.type || 'application/octet-stream' } });
  const text = await res.text();
  if (!res.ok) {
    setText('upload-status', `Upload refused (${res.status}): ${text}`);
    return;
  }
  const img = JSON.parse(text);
  setText('upload-status', `Stored as ${img.key}`);
  await refreshShelf(img.key);
  await useImage(img.key);
}

// ------------------------------------------------------------------ running a dialect
function sourcePath() {
  const { bucket, cfSourceBucket } = state.config;
  return cfSourceBucket === bucket ? objectPath(state.key) : `${objectPath(bucket)}/${objectPath(state.key)}`;
}

function showError(status, body) {
  const e = $('error');
  e.hidden = false;
  e.textContent = `HTTP ${status}\n${body}`;
}

/** Runs the current dialect; returns { url, blob, ms, curl, sdk } or throws after showing the error. */
async function execute(spec) {
  const d = state.dialect;
  const t0 = performance.now();
  if (d === 'oss' || d === 'cloudflare') {
    const url = d === 'oss'
      ? `${origin}/${objectPath(state.config.bucket)}/${objectPath(state.key)}?x-oss-process=${encodeProcess(spec)}`
      : `${origin}${state.config.cfPrefix}/${spec}/${sourcePath()}`;
    // The Accept header a browser sends for <img>, so format=auto negotiates as on a page.
    const res = await fetch(url, { headers: { accept: IMAGE_ACCEPT } });
    if (!res.ok) return { error: [res.status, await res.text()], url };
    const blob = await res.blob();
    return { url, blob, ms: performance.now() - t0, curl: `curl -o result '${url}'` };
  }
  const key = $('api-key').value;
  const form = new FormData();
  const name = state.key.split('/').pop();
  let endpoint;
  let headers = {};
  let curl;
  if (d === 'tasks') {
    endpoint = state.config.endpoints.tasks;
    headers = { 'X-API-KEY': key };
    form.append('image_file', state.original.blob, name);
    form.append('sync', '1');
    const fields = new URLSearchParams(spec);
    for (const [k, v] of fields) form.append(k, v);
    curl = `curl -X POST '${origin}${endpoint}' -H 'X-API-KEY: YOUR_KEY' -F 'image_file=@${name}' -F 'sync=1'${[...fields].map(([k, v]) => ` -F '${k}=${v}'`).join('')}`;
  } else {
    endpoint = state.config.endpoints.abstractUpload;
    let data;
    try {
      data = JSON.parse(spec || '{}');
    } catch {
      return { error: [0, 'The data JSON does not parse.'] };
    }
    form.append('image', state.original.blob, name);
    form.append('data', JSON.stringify({ api_key: key, ...data }));
    curl = `curl -X POST '${origin}${endpoint}' -F 'data=${JSON.stringify({ api_key: 'YOUR_KEY', ...data })}' -F 'image=@${name}'`;
  }
  const res = await fetch(endpoint, { method: 'POST', body: form, headers });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const resultUrl = d === 'tasks' ? body?.data?.image : body?.url;
  if (!res.ok || typeof resultUrl !== 'string' || (d === 'tasks' && body.data.state !== 1)) return { error: [res.status, text], curl };
  const img = await fetch(resultUrl);
  if (!img.ok) return { error: [img.status, await img.text()], url: resultUrl, curl };
  return { url: resultUrl, blob: await img.blob(), ms: performance.now() - t0, curl };
}

function sdkSnippet(spec) {
  return [
    "const OSS = require('ali-oss');",
    'const client = new OSS({',
    `  endpoint: '${origin}',`,
    `  bucket: '${state.config.bucket}',`,
    '  accessKeyId: process.env.OSS_ACCESS_KEY_ID,',
    '  accessKeySecret: process.env.OSS_ACCESS_KEY_SECRET,',
    '});',
    `// A signed URL (the playground bucket is public-read, so the plain URL works too):`,
    `const url = client.signatureUrl('${state.key}', { process: '${spec}' });`,
    `// Or download the processed image:`,
    `const { content } = await client.get('${state.key}', { process: '${spec}' });`,
  ].join('\n');
}

async function explain(spec) {
  const box = $('explain');
  if (state.dialect !== 'oss') {
    box.textContent = 'explain shows the planned sharp passes of OSS process strings; switch to OSS to see them.';
    return;
  }
  try {
    const res = await fetch(`/playground/api/explain?key=${encodeURIComponent(state.key)}&process=${encodeURIComponent(spec)}`);
    const body = await res.json();
    box.textContent = JSON.stringify(body.plan ?? body, null, 2);
  } catch (err) {
    box.textContent = String(err);
  }
}

async function render() {
  if (state.original === null) return;
  const run = ++state.run;
  const spec = $('spec').value.trim();
  $('view').dataset.busy = 'true';
  $('error').hidden = true;
  void explain(spec);
  let out;
  try {
    out = await execute(spec);
  } catch (err) {
    out = { error: [0, String(err)] };
  }
  if (run !== state.run) return;
  state.curl = out.curl ?? '';
  state.sdk = state.dialect === 'oss' ? sdkSnippet(spec) : '';
  if (out.error) {
    showError(out.error[0], out.error[1]);
    state.resultUrl = out.url ?? '';
    setText('result-url', state.resultUrl);
    for (const id of ['r-dim', 'r-fmt', 'r-bytes', 'saved', 'time']) setText(id, '–');
    $('view').dataset.busy = 'false';
    $('view').dataset.done = String(run);
    return;
  }
  const url = URL.createObjectURL(out.blob);
  const size = await imageSize(url);
  const img = $('img-result');
  if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
  img.src = url;
  state.resultUrl = out.url;
  setText('result-url', out.url);
  setText('r-dim', size.width > 0 ? `${size.width}×${size.height}` : '(not an image)');
  setText('r-fmt', shortType(out.blob.type));
  setText('r-bytes', fmtBytes(out.blob.size));
  const saved = state.original.bytes > 0 ? (1 - out.blob.size / state.original.bytes) * 100 : 0;
  setText('saved', `${saved.toFixed(1)} %`);
  setText('time', `${Math.round(out.ms)} ms`);
  $('view').dataset.busy = 'false';
  $('view').dataset.done = String(run);
}

// ------------------------------------------------------------------ split and copy
function setSplit(pct) {
  const p = Math.max(0, Math.min(100, pct));
  $('clip').style.clipPath = `inset(0 0 0 ${p}%)`;
  $('handle').style.left = `${p}%`;
  $('handle').setAttribute('aria-valuenow', String(Math.round(p)));
}
function wireSplit() {
  const box = $('compare');
  let dragging = false;
  const move = (e) => {
    const r = box.getBoundingClientRect();
    setSplit(((e.clientX - r.left) / r.width) * 100);
  };
  box.addEventListener('pointerdown', (e) => {
    dragging = true;
    box.setPointerCapture(e.pointerId);
    move(e);
  });
  box.addEventListener('pointermove', (e) => dragging && move(e));
  box.addEventListener('pointerup', () => (dragging = false));
  box.addEventListener('pointercancel', () => (dragging = false));
  $('handle').addEventListener('keydown', (e) => {
    const now = Number($('handle').getAttribute('aria-valuenow'));
    if (e.key === 'ArrowLeft') setSplit(now - 5);
    if (e.key === 'ArrowRight') setSplit(now + 5);
  });
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  setText('copied', `Copied ${what}.`);
}

// ------------------------------------------------------------------ start
async function start() {
  [state.config, state.catalogue] = await Promise.all([getJson('/playground/api/config'), getJson('/playground/api/ops')]);
  for (const b of document.querySelectorAll('#dialects button')) b.addEventListener('click', () => selectDialect(b.dataset.dialect));
  $('spec').addEventListener('change', () => {
    state.typed[state.dialect] = $('spec').value;
    schedule();
  });
  $('api-key').addEventListener('change', () => {
    sessionStorage.setItem(`halftone-key-${state.dialect}`, $('api-key').value);
    schedule();
  });
  $('upload').addEventListener('change', () => {
    const f = $('upload').files[0];
    if (f) void upload(f);
  });
  $('stored').addEventListener('change', () => $('stored').value && void useImage($('stored').value));
  $('copy-url').addEventListener('click', () => void copy(state.resultUrl, 'the URL'));
  $('copy-curl').addEventListener('click', () => void copy(state.curl, 'the curl command'));
  $('copy-sdk').addEventListener('click', () => void copy(state.sdk, 'the ali-oss snippet'));
  wireSplit();
  selectDialect('oss');
  const images = await refreshShelf();
  if (images.length > 0) await useImage(images[0].key);
  document.body.dataset.ready = 'true';
}

start().catch((err) => showError(0, String(err)));
