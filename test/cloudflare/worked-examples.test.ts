/**
 * Every worked example of spec cloudflare-transform.md §4.3 and §5, through the HTTP route
 * (Fastify inject on the real app, real engine): exact output size and crop offset. Offsets are
 * read from the pixels of a synthetic source whose colours encode their coordinates.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinatePng, decode, readOffset, startHarness, type Harness } from './harness.js';

let h: Harness;

before(async () => {
  h = await startHarness();
  await h.put('img', 'src-1080x720.png', await coordinatePng(1080, 720));
  await h.put('img', 'src-612x613.png', await coordinatePng(612, 613));
  await h.put('img', 'src-900x900.png', await coordinatePng(900, 900));
  await h.put('img', 'src-1504x1646.png', await coordinatePng(1504, 1646));
});
after(async () => h.close());

interface Case {
  readonly options: string;
  readonly source?: string;
  readonly size: [number, number];
  /** Expected window offset in the scaled image (x, y). */
  readonly offset?: [number, number];
  /** Pad bands (top, bottom, left, right). */
  readonly bands?: [number, number, number, number];
}

const SRC: Record<string, [number, number]> = {
  'src-1080x720.png': [1080, 720],
  'src-612x613.png': [612, 613],
  'src-900x900.png': [900, 900],
  'src-1504x1646.png': [1504, 1646],
};

const CASES: readonly Case[] = [
  // §4.3
  { options: 'fit=scale-down,w=500,h=500', size: [500, 333], offset: [0, 0] },
  { options: 'fit=scale-down,w=2000,h=2000', size: [1080, 720], offset: [0, 0] },
  { options: 'fit=scale-down,w=2000', size: [1080, 720], offset: [0, 0] },
  { options: 'fit=contain,w=500,h=500', size: [500, 333], offset: [0, 0] },
  { options: 'fit=contain,w=2000,h=2000', size: [2000, 1333], offset: [0, 0] },
  { options: 'fit=scale-up,w=500,h=500', size: [1080, 720], offset: [0, 0] },
  { options: 'fit=scale-up,w=2000,h=2000', size: [2000, 1333], offset: [0, 0] },
  { options: 'fit=cover,w=500,h=500', size: [500, 500], offset: [125, 0] },
  { options: 'fit=cover,w=500,h=500,gravity=left', size: [500, 500], offset: [0, 0] },
  { options: 'fit=cover,w=2000,h=2000', size: [2000, 2000], offset: [500, 0] },
  { options: 'fit=crop,w=500,h=500', size: [500, 500], offset: [125, 0] },
  { options: 'fit=crop,w=1296,h=1296', size: [1080, 720], offset: [0, 0] },
  { options: 'fit=crop,w=1080,h=400,gravity=bottom', size: [1080, 400], offset: [0, 320] },
  { options: 'fit=aspect-crop,w=2000,h=1000', size: [1080, 540], offset: [0, 90] },
  { options: 'fit=aspect-crop,w=1920,h=1120', source: 'src-612x613.png', size: [612, 357], offset: [0, 128] },
  { options: 'fit=pad,w=500,h=500', size: [500, 500], bands: [83, 84, 0, 0] },
  { options: 'fit=pad,w=1080,h=1080', size: [1080, 1080], bands: [180, 180, 0, 0] },
  { options: 'fit=squeeze,w=1080,h=540', size: [1080, 540], offset: [0, 0] },
  { options: 'w=300,h=200,dpr=2,fit=cover', size: [600, 400], offset: [0, 0] },
  // §4.2 note: crop with the source larger in one axis only (our documented choice).
  { options: 'fit=crop,w=500,h=1000', size: [500, 720], offset: [290, 0] },
  // §5
  { options: 'fit=cover,w=300,h=900,gravity=0.33x0.5', source: 'src-900x900.png', size: [300, 900], offset: [198, 0] },
  { options: 'fit=cover,w=500,h=500,gravity=right', size: [500, 500], offset: [250, 0] },
  { options: 'fit=cover,w=500,h=500,g=0x1', size: [500, 500], offset: [0, 0] },
  { options: 'fit=crop,w=1080,h=400,gravity=top', size: [1080, 400], offset: [0, 0] },
  { options: 'fit=crop,w=1080,h=400,gravity=0.5x1', size: [1080, 400], offset: [0, 320] },
  { options: 'fit=crop,w=1080,h=400,gravity=0.5x0.25', size: [1080, 400], offset: [0, 80] },
  { options: 'fit=crop,w=1080,h=400', size: [1080, 400], offset: [0, 160] },
];

for (const c of CASES) {
  const source = c.source ?? 'src-1080x720.png';
  test(`${source} ${c.options} → ${c.size.join('x')}`, async () => {
    const res = await h.app.inject({ method: 'GET', url: `/cdn-cgi/image/${c.options}/img/${source}` });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['cf-resized']), /^internal=ok/);
    const img = await decode(res.rawPayload);
    assert.deepEqual([img.width, img.height], c.size);
    const [W, H] = SRC[source] as [number, number];
    if (c.offset !== undefined) {
      const ox = readOffset(img, 'x', W);
      const oy = readOffset(img, 'y', H);
      assert.ok(Math.abs(ox.offset - c.offset[0]) <= 1, `x offset ${ox.offset.toFixed(2)} (scale ${ox.scale.toFixed(4)}), expected ${c.offset[0]}`);
      assert.ok(Math.abs(oy.offset - c.offset[1]) <= 1, `y offset ${oy.offset.toFixed(2)} (scale ${oy.scale.toFixed(4)}), expected ${c.offset[1]}`);
    }
    if (c.bands !== undefined) {
      // Blue is 0 in the image and 255 in the white bands.
      const blueRow = (y: number) => img.data[(y * img.width + Math.floor(img.width / 2)) * img.channels + 2] as number;
      const blueCol = (x: number) => img.data[(Math.floor(img.height / 2) * img.width + x) * img.channels + 2] as number;
      const [top, bottom, left, right] = c.bands;
      let t = 0;
      while (t < img.height && blueRow(t) > 128) t++;
      let b = 0;
      while (b < img.height && blueRow(img.height - 1 - b) > 128) b++;
      let l = 0;
      while (l < img.width && blueCol(l) > 128) l++;
      let r = 0;
      while (r < img.width && blueCol(img.width - 1 - r) > 128) r++;
      assert.deepEqual([t, b, l, r], [top, bottom, left, right]);
    }
  });
}

test('1504×1646 PNG, h=200,dpr=2,fit=contain,format=json → 365×400 (spec §7.3 OBSERVED response)', async () => {
  const res = await h.app.inject({ method: 'GET', url: '/cdn-cgi/image/h=200,dpr=2,fit=contain,format=json/img/src-1504x1646.png' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/json');
  const body = JSON.parse(res.body) as { width: number; height: number; original: Record<string, unknown> };
  assert.equal(body.width, 365);
  assert.equal(body.height, 400);
  assert.equal(body.original['width'], 1504);
  assert.equal(body.original['height'], 1646);
  assert.equal(body.original['format'], 'image/png');
  assert.equal(typeof body.original['file_size'], 'number');
  assert.deepEqual(Object.keys(body).sort(), ['height', 'original', 'width']);
  assert.deepEqual(Object.keys(body.original).sort(), ['file_size', 'format', 'height', 'width']);
});
