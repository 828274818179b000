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
import { componentsFromSubsampling, jpegCoefficientBytes } from '../../src/core/codecs/jpeg-coefficients.js';

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
      const { coefficientBytes, ...header } = fast;
      assert.deepEqual(header, { width: meta.width, height: meta.height, hasAlpha: meta.hasAlpha === true, orientation, ...(meta.format === 'jpeg' && meta.isProgressive === true ? { progressive: true } : {}) });
      // The coefficient buffer from the SOF's sampling factors equals the one from libvips'
      // reading of the subsampling (for the notations it reports).
      if (header.progressive === true) {
        assert.ok(coefficientBytes !== undefined && coefficientBytes > 0);
        if (meta.channels === 3 && /^4:(2:0|2:2|4:4|4:0|1:1)$/.test(meta.chromaSubsampling ?? '')) {
          assert.equal(coefficientBytes, jpegCoefficientBytes(meta.width!, meta.height!, componentsFromSubsampling(meta.chromaSubsampling, 3)), meta.chromaSubsampling);
        }
      } else {
        assert.equal(coefficientBytes, undefined);
      }
    });
  }
});

describe('progressive JPEG coefficient buffer', () => {
  it('is the blocks of every component, rounded up to its sampling factors, at 128 bytes a block', () => {
    const c420 = [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }];
    // 6000×4000 4:2:0: luma 750×500 blocks, chroma 375×250 each.
    assert.equal(jpegCoefficientBytes(6000, 4000, c420), (750 * 500 + 2 * 375 * 250) * 128);
    // 4001×3001 4:2:0: luma 501 → 502 (a multiple of H = 2) × 376 blocks; chroma ceil(4001/16) = 251 × ceil(3001/16) = 188.
    assert.equal(jpegCoefficientBytes(4001, 3001, c420), (502 * 376 + 2 * 251 * 188) * 128);
    // 4:4:4 is 6 bytes a pixel (the model's fallback), greyscale 2.
    assert.equal(jpegCoefficientBytes(800, 600, [{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]), 800 * 600 * 6);
    assert.equal(jpegCoefficientBytes(800, 600, [{ h: 1, v: 1 }]), 800 * 600 * 2);
  });
  it('reads the notations sharp reports; unknown ones count every component at full resolution', () => {
    assert.deepEqual(componentsFromSubsampling('4:2:0', 3), [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling('4:2:2', 3), [{ h: 2, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling('4:4:0', 3), [{ h: 1, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling('4:1:1', 3), [{ h: 4, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling('4:4:4:4', 4), [{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling(undefined, 1), [{ h: 1, v: 1 }]);
    assert.deepEqual(componentsFromSubsampling('4:2:1', 3), [{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
  });
  it('is what the header reader reports for generated progressive JPEGs of each subsampling', async () => {
    const img = sharp({ create: { width: 1001, height: 757, channels: 3, background: { r: 10, g: 200, b: 90 } } });
    for (const [chromaSubsampling, comps] of [['4:2:0', [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }]], ['4:4:4', [{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]]] as const) {
      const buf = await img.clone().jpeg({ progressive: true, chromaSubsampling }).toBuffer();
      assert.equal(fastJpegHeader(buf)?.coefficientBytes, jpegCoefficientBytes(1001, 757, comps), chromaSubsampling);
    }
  });
});
