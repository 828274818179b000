/**
 * Pure geometry of watermark, circle, indexcrop, rounded-corners, blur, rotate, bright, contrast and
 * sharpen against the worked examples of spec oss-img.md §3.3 and §3.8–§3.17 (exact integers, no
 * tolerance), plus the parameter mappings chosen for the UNCONFIRMED transfer functions.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { WatermarkParams } from '../../src/core/ir.js';
import type { ImageState } from '../../src/core/ops/types.js';
import { Stage } from '../../src/core/ops/types.js';
import { circle, circleRect } from '../../src/core/ops/circle.js';
import { indexcrop, indexCropRect } from '../../src/core/ops/indexcrop.js';
import { roundedCorners } from '../../src/core/ops/rounded-corners.js';
import { clampRadius } from '../../src/core/ops/radius.js';
import { rotate, rotatedSize, rotatePadding } from '../../src/core/ops/rotate.js';
import { blur, blurOptions } from '../../src/core/ops/blur.js';
import { bright } from '../../src/core/ops/bright.js';
import { contrast } from '../../src/core/ops/contrast.js';
import { sharpen } from '../../src/core/ops/sharpen.js';
import { watermark, watermarkPosition, tileStarts } from '../../src/core/ops/watermark.js';
import { brightLinear, contrastLinear } from '../../src/core/ops/linear-ops.js';
import { OSS_FONTS, resolveFont, defaultFontFile, NOTO_SANS, DROID_SANS_FALLBACK, bundledFontPresent } from '../../src/core/ops/fonts.js';
import { existsSync, statSync } from 'node:fs';

const S = (width: number, height: number, hasAlpha = false, frames = 1): ImageState => ({ width, height, hasAlpha, frames, orientation: 1 });
const EX = S(400, 267);
const dims = (s: ImageState): [number, number] => [s.width, s.height];

describe('circle geometry (§3.8)', () => {
  it('r_100 on 400×267 → 200×200, centred square', () => {
    assert.deepEqual(dims(circle.geometry({ r: 100 }, EX)), [200, 200]);
    assert.deepEqual(circleRect(100, 400, 267), { left: 100, top: 33, size: 200, r: 100 });
  });
  it('r_4096 → r clamped to floor(267/2) = 133 → 266×266', () => {
    assert.deepEqual(dims(circle.geometry({ r: 4096 }, EX)), [266, 266]);
    assert.deepEqual(circleRect(4096, 400, 267), { left: 67, top: 0, size: 266, r: 133 });
  });
  it('r exactly half of a square side keeps the whole image', () => {
    assert.deepEqual(circleRect(50, 100, 100), { left: 0, top: 0, size: 100, r: 50 });
  });
  it('a 1-px-wide image keeps one pixel instead of an empty image', () => {
    assert.deepEqual(dims(circle.geometry({ r: 10 }, S(1, 30))), [1, 1]);
  });
  it('corners become transparent for alpha outputs, white (no alpha added) otherwise', () => {
    assert.equal(circle.geometry({ r: 10 }, EX, { outputHasAlpha: true }).hasAlpha, true);
    assert.equal(circle.geometry({ r: 10 }, EX, { outputHasAlpha: false }).hasAlpha, false);
  });
  it('still images only (§4)', () => assert.equal(circle.animation({ r: 1 }), 'static'));
});

describe('indexcrop geometry (§3.9)', () => {
  const cases: [string, { axis: 'x' | 'y'; size: number; index: number }, [number, number], ReturnType<typeof indexCropRect>][] = [
    ['x_100,i_0 → columns 0–99', { axis: 'x', size: 100, index: 0 }, [100, 267], { left: 0, top: 0, width: 100, height: 267 }],
    ['x_150,i_2 → columns 300–399 (remainder)', { axis: 'x', size: 150, index: 2 }, [100, 267], { left: 300, top: 0, width: 100, height: 267 }],
    ['y_100,i_10 → only 3 pieces → original', { axis: 'y', size: 100, index: 10 }, [400, 267], null],
    ['x_100,y_100,i_1 → y wins → rows 100–199', { axis: 'y', size: 100, index: 1 }, [400, 100], { left: 0, top: 100, width: 400, height: 100 }],
    ['y_100,i_2 → rows 200–266', { axis: 'y', size: 100, index: 2 }, [400, 67], { left: 0, top: 200, width: 400, height: 67 }],
    ['x_400,i_0 → whole width', { axis: 'x', size: 400, index: 0 }, [400, 267], { left: 0, top: 0, width: 400, height: 267 }],
    ['x_4000,i_0 → one piece, clipped to the image', { axis: 'x', size: 4000, index: 0 }, [400, 267], { left: 0, top: 0, width: 400, height: 267 }],
    ['x_100,i_4 → past the last piece → original', { axis: 'x', size: 100, index: 4 }, [400, 267], null],
  ];
  for (const [name, p, want, rect] of cases) {
    it(name, () => {
      assert.deepEqual(dims(indexcrop.geometry(p, EX)), want);
      assert.deepEqual(indexCropRect(p, 400, 267), rect);
    });
  }
  it('is an extract (pre or post resize) and makes animations static (§4)', () => {
    assert.deepEqual(indexcrop.stages({ axis: 'x', size: 1, index: 0 }, EX), [[Stage.PRE_EXTRACT, Stage.POST_EXTRACT]]);
    assert.equal(indexcrop.animation({ axis: 'x', size: 1, index: 0 }), 'static');
  });
});

describe('rounded-corners geometry (§3.10)', () => {
  it('size unchanged; r_500 on 400×267 → radius 133', () => {
    assert.deepEqual(dims(roundedCorners.geometry({ r: 500 }, EX)), [400, 267]);
    assert.equal(clampRadius(500, 400, 267), 133);
    assert.equal(clampRadius(30, 400, 267), 30);
    assert.equal(clampRadius(10, 100, 100), 10);
  });
  it('composite stage only, static on animations', () => {
    assert.deepEqual(roundedCorners.stages({ r: 3 }, EX), [Stage.COMPOSITE]);
    assert.equal(roundedCorners.animation({ r: 3 }), 'static');
  });
});

describe('rotate geometry (§3.12)', () => {
  it('90 → 267×400, 180 → 400×267, 270 → 267×400, 0 and 360 → unchanged', () => {
    assert.deepEqual(dims(rotate.geometry({ angle: 90 }, EX)), [267, 400]);
    assert.deepEqual(dims(rotate.geometry({ angle: 180 }, EX)), [400, 267]);
    assert.deepEqual(dims(rotate.geometry({ angle: 270 }, EX)), [267, 400]);
    assert.deepEqual(dims(rotate.geometry({ angle: 0 }, EX)), [400, 267]);
    assert.deepEqual(dims(rotate.geometry({ angle: 360 }, EX)), [400, 267]);
  });
  it('45 → 472×472 (ceil of the bounding box)', () => {
    assert.deepEqual(dims(rotate.geometry({ angle: 45 }, EX)), [472, 472]);
  });
  it('uses ceil, not round: 2° on 400×267 is 410×281 (409.07 → 410)', () => {
    assert.deepEqual(rotatedSize(2, 400, 267), { width: 410, height: 281 });
    // libvips rounds to 409, so one column is padded on the right.
    assert.deepEqual(rotatePadding(2, 400, 267), { right: 1, bottom: 0 });
    assert.deepEqual(rotate.stages({ angle: 2 }, EX), [Stage.ROTATE, Stage.EXTEND]);
    assert.deepEqual(rotate.stages({ angle: 45 }, EX), [Stage.ROTATE]);
  });
  it('floating-point noise does not add a pixel (60° on 400×400: 400·(cos+sin) = 546.41 → 547; 2×0 exact)', () => {
    assert.deepEqual(rotatedSize(60, 400, 400), { width: 547, height: 547 });
    // 400·cos 60° = 200.00000000000003 must stay 200 + ... : a 400×1 strip at 60° is 201 (200.87) wide.
    assert.deepEqual(rotatedSize(60, 400, 1), { width: 201, height: 347 });
  });
  it('odd angles add alpha only when the output keeps it (white corners for JPEG)', () => {
    assert.equal(rotate.geometry({ angle: 45 }, EX, { outputHasAlpha: true }).hasAlpha, true);
    assert.equal(rotate.geometry({ angle: 45 }, EX, { outputHasAlpha: false }).hasAlpha, false);
    assert.equal(rotate.geometry({ angle: 90 }, EX, { outputHasAlpha: true }).hasAlpha, false);
  });
  it('keeps animation (§4; the runner rotates frame by frame)', () => assert.equal(rotate.animation({ angle: 90 }), 'keep'));
});

describe('size-preserving effects (§3.11, §3.15–§3.17)', () => {
  it('blur, bright, contrast, sharpen keep 400×267', () => {
    assert.deepEqual(dims(blur.geometry({ r: 3, s: 2 }, EX)), [400, 267]);
    assert.deepEqual(dims(bright.geometry({ value: 50 }, EX)), [400, 267]);
    assert.deepEqual(dims(contrast.geometry({ value: -50 }, EX)), [400, 267]);
    assert.deepEqual(dims(sharpen.geometry({ value: 100 }, EX)), [400, 267]);
  });
  it('blur: sigma s, kernel cut just past tap r', () => {
    assert.deepEqual(blurOptions({ r: 3, s: 2 }).sigma, 2);
    const m = blurOptions({ r: 3, s: 2 }).minAmplitude;
    // Tap 3 is inside the kernel, tap 4 outside.
    assert.ok(Math.exp(-9 / 8) > m && Math.exp(-16 / 8) < m, String(m));
    // Large r relative to s: libvips' accuracy floor (0.001) applies.
    assert.equal(blurOptions({ r: 50, s: 1 }).minAmplitude, 0.001);
    assert.ok(blurOptions({ r: 1, s: 50 }).minAmplitude <= 1);
  });
  it('bright: offset v·2.55 (50 → +127.5)', () => {
    assert.deepEqual(brightLinear(50), { a: 1, b: 127.5 });
    assert.deepEqual(brightLinear(-100), { a: 1, b: -255 });
  });
  it('contrast: 259(c+255)/(255(259−c)) around 128, c = v·2.55', () => {
    const z = contrastLinear(0);
    assert.equal(z.a, 1);
    assert.equal(z.b, 0);
    const h = contrastLinear(50); // c = 127.5 → f = 259·382.5/(255·131.5) ≈ 2.9544
    assert.ok(Math.abs(h.a - 2.95437) < 1e-4, String(h.a));
    assert.ok(Math.abs(h.a * 128 + h.b - 128) < 1e-9);
    const l = contrastLinear(-50); // c = −127.5 → f = 259·127.5/(255·386.5) ≈ 0.33506
    assert.ok(Math.abs(l.a - 0.33506) < 1e-4, String(l.a));
  });
  it('stages follow sharp: blur < sharpen < composite < linear', () => {
    assert.deepEqual(blur.stages({ r: 1, s: 1 }, EX), [Stage.BLUR]);
    assert.deepEqual(sharpen.stages({ value: 100 }, EX), [Stage.SHARPEN]);
    assert.deepEqual(bright.stages({ value: 1 }, EX), [Stage.LINEAR]);
    assert.deepEqual(contrast.stages({ value: 1 }, EX), [Stage.LINEAR]);
  });
  it('all four make animations static (§4)', () => {
    assert.equal(blur.animation({ r: 1, s: 1 }), 'static');
    assert.equal(bright.animation({ value: 1 }), 'static');
    assert.equal(contrast.animation({ value: 1 }), 'static');
    assert.equal(sharpen.animation({ value: 100 }), 'static');
  });
});

describe('watermark position (§3.3 table; main 400×267, panda 100×50)', () => {
  const P = (g: WatermarkParams['g'], x = 10, y = 10, voffset = 0) => ({ g, x, y, voffset });
  const cases: [string, ReturnType<typeof P>, { left: number; top: number }][] = [
    ['se default → (290, 207)', P('se'), { left: 290, top: 207 }],
    ['nw x_20 y_30 → (20, 30)', P('nw', 20, 30), { left: 20, top: 30 }],
    ['center voffset_-40 → (150, 68)', P('center', 10, 10, -40), { left: 150, top: 68 }],
    ['north → (150, y)', P('north'), { left: 150, top: 10 }],
    ['ne → (W−ww−x, y)', P('ne'), { left: 290, top: 10 }],
    ['west voffset_5 → (x, 108+5)', P('west', 10, 10, 5), { left: 10, top: 113 }],
    ['east → (W−ww−x, 108)', P('east'), { left: 290, top: 108 }],
    ['sw → (x, H−wh−y)', P('sw'), { left: 10, top: 207 }],
    ['south → (150, H−wh−y)', P('south'), { left: 150, top: 207 }],
  ];
  for (const [name, p, want] of cases) it(name, () => assert.deepEqual(watermarkPosition(p, 400, 267, 100, 50), want));
  it('P_30 panda (120×60) → (270, 197)', () => assert.deepEqual(watermarkPosition(P('se'), 400, 267, 120, 60), { left: 270, top: 197 }));
  it('voffset only moves west/center/east', () => {
    assert.deepEqual(watermarkPosition(P('nw', 0, 0, 100), 400, 267, 100, 50), { left: 0, top: 0 });
    assert.deepEqual(watermarkPosition(P('south', 0, 0, 100), 400, 267, 100, 50), { left: 150, top: 217 });
  });
  it('output size never changes; composite stage; animation kept', () => {
    const p: WatermarkParams = { t: 100, g: 'se', x: 10, y: 10, voffset: 0, order: 0, align: 2, interval: 0, image: { key: 'k', ops: [] } };
    assert.deepEqual(watermark.geometry(p, EX), EX);
    assert.deepEqual(watermark.stages(p, EX), [Stage.COMPOSITE]);
    assert.equal(watermark.animation(p), 'keep');
  });
  it('fill tiles: a grid through the anchored position covering the image', () => {
    // tile 100 wide, 20 apart, one tile at x = 290 on a 400-wide image: 50, 170, 290 and the partial −70.
    assert.deepEqual(tileStarts(290, 100, 20, 400), [-70, 50, 170, 290]);
    assert.deepEqual(tileStarts(0, 100, 0, 250), [0, 100, 200]);
    assert.deepEqual(tileStarts(-30, 100, 0, 150), [-30, 70]);
  });
});

describe('fonts (§3.3 font table)', () => {
  it('every OSS name resolves to a bundled file that exists', () => {
    assert.ok(bundledFontPresent());
    for (const name of OSS_FONTS) {
      const f = resolveFont(name);
      assert.ok(existsSync(f.file), `${name} → ${f.file}`);
      assert.equal(defaultFontFile(name), f.file);
    }
  });
  it('droidsansfallback is the real font; the others are the Noto + Droid stand-in', () => {
    assert.equal(resolveFont('droidsansfallback').file, DROID_SANS_FALLBACK.file);
    assert.equal(resolveFont('droidsansfallback').exact, true);
    assert.equal(resolveFont('wqy-zenhei').file, NOTO_SANS.file);
    assert.equal(resolveFont('wqy-zenhei').families, 'Noto Sans, Droid Sans Fallback');
    assert.equal(resolveFont('no-such-font').exact, false);
  });
  it('bundled font files stay small enough to commit (< 6 MB together)', () => {
    const total = [NOTO_SANS.file, DROID_SANS_FALLBACK.file].reduce((n, f) => n + statSync(f).size, 0);
    assert.ok(total < 6 * 1024 * 1024, String(total));
  });
});
