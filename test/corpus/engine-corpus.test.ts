/**
 * Extended suite over ../shared/corpus (skipped with a message when the corpus is absent):
 * - every orientation file comes out upright with auto-orient,1 (compared with the orientation-1
 *   file of the same series after both are reduced to 48 px: mean difference < 10 per channel);
 * - every file in formats/ either converts (resize to 64 px wide PNG with the right height) or
 *   gets a coded AppError, and the process never crashes;
 * - every file in broken/ gets a coded AppError or a correct image, within the time budget.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { transformOss } from '../../src/app/transform-image.js';
import { AppError } from '../../src/core/errors.js';
import { diff, rgba } from '../helpers/pixels.js';

const root = new URL('../../../shared/corpus/', import.meta.url).pathname;
const have = existsSync(root);
const skip = have ? false : 'corpus not found at ../shared/corpus (extended suite)';
const loadObject = async (key: string): Promise<Buffer> => {
  throw new AppError('NO_SUCH_KEY', key);
};

interface ManifestEntry {
  path: string;
  width?: number;
  height?: number;
  display_width?: number;
  display_height?: number;
  opens?: boolean;
}

function manifest(): Map<string, ManifestEntry> {
  if (!have) return new Map();
  const raw = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as { files?: ManifestEntry[] } | ManifestEntry[];
  const list = Array.isArray(raw) ? raw : raw.files ?? [];
  return new Map(list.map((e) => [e.path, e]));
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const full = join(dir, n);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

async function small(buf: Buffer): Promise<Buffer> {
  return sharp(buf).resize(48, 48, { fit: 'fill' }).png().toBuffer();
}

describe('corpus: orientation', { skip }, () => {
  for (const series of ['Landscape', 'Portrait']) {
    for (let o = 0; o <= 8; o++) {
      it(`${series}_${o}.jpg is upright with auto-orient,1`, async () => {
        const res = await transformOss(readFileSync(join(root, `orientation/${series}_${o}.jpg`)), 'image/auto-orient,1/format,png', { loadObject });
        assert.equal(res.kind, 'image');
        if (res.kind !== 'image') return;
        const [w, h] = series === 'Landscape' ? [1800, 1200] : [1200, 1800];
        assert.deepEqual([res.width, res.height], [w, h]);
        const upright = readFileSync(join(root, `orientation/${series}_1.jpg`));
        const d = diff(await rgba(await small(res.data)), await rgba(await small(upright))).mean;
        assert.ok(d < 10, `mean difference to ${series}_1 is ${d.toFixed(2)}`);
      });
    }
  }
  for (const f of ['camera_canon_orientation6_2048x1536.jpg', 'cmyk_orientation6_800x533.jpg']) {
    it(`${f} swaps to portrait`, async () => {
      const res = await transformOss(readFileSync(join(root, 'orientation', f)), 'image/auto-orient,1/resize,w_200', { loadObject });
      assert.ok(res.kind === 'image');
      assert.ok(res.height > res.width);
    });
  }
});

describe('corpus: every format converts or gets a coded error', { skip }, () => {
  const entries = manifest();
  for (const file of walk(join(root, 'formats'))) {
    const rel = file.slice(root.length);
    it(rel, { timeout: 60_000 }, async () => {
      const buf = readFileSync(file);
      try {
        const res = await transformOss(buf, 'image/resize,w_64/format,png', { loadObject });
        assert.ok(res.kind === 'image');
        assert.equal(res.width <= 64, true);
        const m = entries.get(rel) ?? entries.get(`corpus/${rel}`);
        const w = m?.width;
        const h = m?.height;
        if (w && h) {
          const expectedH = w > 64 ? Math.max(1, Math.floor((h * 64) / w + 0.5)) : h;
          assert.equal(res.height, expectedH, `height for ${w}x${h}`);
        }
        const meta = await sharp(res.data).metadata();
        assert.equal(meta.format, 'png');
      } catch (err) {
        assert.ok(err instanceof AppError, `${rel}: not a coded error: ${String(err)}`);
        assert.ok(err.status < 500 || err.code === 'ENCODER_UNAVAILABLE', `${rel}: ${err.code}`);
      }
    });
  }
});

describe('corpus: broken and hostile files', { skip }, () => {
  for (const file of walk(join(root, 'broken'))) {
    const rel = file.slice(root.length);
    it(rel, { timeout: 60_000 }, async () => {
      try {
        const res = await transformOss(readFileSync(file), 'image/resize,w_64/format,png', { loadObject });
        assert.ok(res.kind === 'image' && res.width <= 64);
      } catch (err) {
        assert.ok(err instanceof AppError, `${rel}: not a coded error: ${String(err)}`);
        assert.ok(err.status >= 400 && err.status < 500, `${rel}: status ${err.status}`);
      }
    });
  }
});
