/**
 * The JavaScript JPEG/PNG header reader must agree with sharp's metadata() whenever it answers
 * (it may decline with null). Checked on the committed fixtures and, when present, on every JPEG
 * and PNG of ../shared/corpus (formats, orientation, photos, broken).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { fastJpegHeader, fastPngHeader } from '../../src/core/codecs/fast-header.js';
import { sniffFormat } from '../../src/core/codecs/sniff.js';

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const full = join(dir, n);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const fixtures = walk(new URL('../fixtures', import.meta.url).pathname);
const corpus = walk(new URL('../../../shared/corpus', import.meta.url).pathname);

describe('fast JPEG/PNG header agrees with sharp metadata()', () => {
  const files = [...fixtures, ...corpus].filter((f) => {
    const head = readFileSync(f).subarray(0, 64);
    const fmt = sniffFormat(Buffer.concat([head, Buffer.alloc(64)]));
    return fmt === 'jpeg' || fmt === 'png';
  });
  it(`covers ${files.length} files`, () => assert.ok(files.length >= 10));
  for (const file of files) {
    it(file.split('/').slice(-2).join('/'), async () => {
      const buf = readFileSync(file);
      const fast = sniffFormat(buf) === 'jpeg' ? fastJpegHeader(buf) : fastPngHeader(buf);
      if (fast === null) return; // declined: the caller falls back to metadata()
      const meta = await sharp(buf, { limitInputPixels: false }).metadata().catch(() => null);
      if (meta === null) return; // libvips cannot read the header either; decode will fail with a coded error
      const orientation = meta.orientation !== undefined && meta.orientation >= 1 && meta.orientation <= 8 ? meta.orientation : 1;
      assert.deepEqual(fast, { width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha === true, orientation, ...(meta.format === 'jpeg' && meta.isProgressive === true ? { progressive: true } : {}) });
    });
  }
});
