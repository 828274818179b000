/**
 * `halftone batch`: every image under a directory (recursively) is processed into --out with the
 * same relative paths and the output format's extension; a corrupt file is reported on its own
 * line and makes the exit code 1 while the others are still written; the summary counts bytes;
 * the progress bar appears only on a terminal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { runBatch } from '../../src/cli/batch.js';
import { ensureBuilt } from '../helpers/server.js';

const root = new URL('../..', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'halftone-batch-'));
  mkdirSync(join(dir, 'in/sub'), { recursive: true });
  copyFileSync(join(fixtures, 'example-400x267.jpg'), join(dir, 'in/photo.jpg'));
  copyFileSync(join(fixtures, 'kodim23-256.png'), join(dir, 'in/sub/kodim.png'));
  writeFileSync(join(dir, 'in/broken.jpg'), 'this is not a JPEG');
  writeFileSync(join(dir, 'in/notes.txt'), 'ignored: not an image extension');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('batch CLI: outputs, per-file error, summary, exit code 1', () => {
  ensureBuilt();
  const out = join(dir, 'out');
  const res = spawnSync(process.execPath, [join(root, 'bin/halftone.js'), 'batch', join(dir, 'in'), '--oss', 'image/resize,w_100/format,webp', '--out', out, '--concurrency', '2'], { encoding: 'utf8' });
  assert.equal(res.status, 1, res.stderr);
  assert.equal(res.stdout, '');
  const lines = res.stderr.trim().split('\n');
  assert.deepEqual(lines.filter((l) => l.includes('broken.jpg')).length, 1, res.stderr);
  assert.match(res.stderr, /halftone: broken\.jpg: (CORRUPT_IMAGE|UNSUPPORTED_FORMAT)/);
  assert.match(res.stderr, /batch: 3 file\(s\), 2 written, 1 failed; .* → .* \(\d+\.\d % saved\) in \d+\.\d s/);
  assert.match(res.stderr, /halftone: 1 of 3 file\(s\) failed/);
  assert.ok(!res.stderr.includes('\x1b['), 'no progress bar when stderr is not a terminal');
  assert.ok(existsSync(join(out, 'photo.webp')));
  assert.ok(existsSync(join(out, 'sub/kodim.webp')));
  assert.ok(!existsSync(join(out, 'broken.webp')));
  assert.ok(!existsSync(join(out, 'notes.webp')) && !existsSync(join(out, 'notes.txt')));
});

test('batch: written files are the transformed images; the summary adds up; a terminal gets a bar', async () => {
  const out = join(dir, 'out2');
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100 }) as unknown as NodeJS.WriteStream;
  let text = '';
  (stream as unknown as PassThrough).on('data', (d: Buffer) => (text += d.toString()));
  rmSync(join(dir, 'in/broken.jpg'));
  const summary = await runBatch(join(dir, 'in'), { oss: 'image/resize,w_64', out, concurrency: 3, stream });
  assert.deepEqual({ files: summary.files, written: summary.written, failed: summary.failed }, { files: 2, written: 2, failed: 0 });
  const a = await sharp(join(out, 'photo.jpg')).metadata();
  const b = await sharp(join(out, 'sub/kodim.png')).metadata();
  assert.deepEqual([a.format, a.width, b.format, b.width], ['jpeg', 64, 'png', 64]);
  const { statSync } = await import('node:fs');
  assert.equal(summary.bytesOut, statSync(join(out, 'photo.jpg')).size + statSync(join(out, 'sub/kodim.png')).size);
  assert.match(text, /batch \[.*\] \d\/2/, 'progress bar drawn');
  assert.match(text, /batch: 2 file\(s\), 2 written, 0 failed/);
});
