/**
 * Runs every ```bash example of docs/abstract-api.md with curl against a live server (the Abstract
 * harness listening on loopback; the image URL is a loopback origin allowed for the test) and
 * checks the `# expect:` line of each block. Keeps the documentation true.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { KEY, photo, startHarness, startOrigin, type Harness, type Origin } from './harness.js';

const doc = readFileSync(new URL('../../docs/abstract-api.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] as string);
const hasCurl = spawnSync('curl', ['--version']).status === 0;

let h: Harness;
let origin: Origin;
let dir: string;

before(async () => {
  origin = await startOrigin();
  h = await startHarness({ allowedOrigins: [origin.url] });
  const dog = await photo(1142, 430);
  origin.put('/dog.jpg', dog);
  dir = mkdtempSync(join(tmpdir(), 'halftone-doc-'));
  writeFileSync(join(dir, 'dog.jpg'), dog);
});

after(async () => {
  await h?.close();
  await origin?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('the documentation has curl examples with expectations', () => {
  assert.ok(blocks.length >= 6, `found ${blocks.length} bash blocks`);
  for (const b of blocks) assert.match(b, /^# expect: /, b);
});

for (const [i, block] of blocks.entries()) {
  const expect = (/^# expect: (.*)$/m.exec(block)?.[1] ?? '').trim();
  test(`docs example ${i + 1}: ${expect}`, { skip: hasCurl ? false : 'curl is not installed (apt-get install curl)' }, async () => {
    // Async spawn: the server runs in this process and must keep answering while curl waits.
    const { spawn } = await import('node:child_process');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', block], { cwd: dir, env: { PATH: process.env['PATH'] ?? '', HALFTONE: h.url, KEY, IMAGE_URL: `${origin.url}/dog.jpg` } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(out.code, 0, out.stderr);
    const file = /^file (\S+) (\d+)x(\d+)$/.exec(expect);
    if (file !== null) {
      const m = await sharp(readFileSync(join(dir, file[1] as string))).metadata();
      assert.equal(`${m.width}x${m.height}`, `${file[2]}x${file[3]}`);
      return;
    }
    const json = JSON.parse(out.stdout) as Record<string, any>;
    for (const part of expect.split(/\s+/)) {
      const [k, v] = part.split('=') as [string, string | undefined];
      if (k === 'error') assert.equal(json['error']?.code, v, out.stdout);
      else if (k.startsWith('details.')) assert.ok(Array.isArray(json['error']?.details?.[k.slice(8)]), out.stdout);
      else assert.equal(String(json[k]), v, `${k} in ${out.stdout}`);
    }
  });
}
