/**
 * The resize strategies as pure geometry (spec abstract-api.md §5): every worked example with its
 * exact output size and crop offsets / pad bands, plus the decisions the spec leaves open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CENTRE, cropModePoint, planResize, type AbstractResize } from '../../src/dialects/abstract/resize.js';
import { isAbstractValidationError } from '../../src/dialects/abstract/validation.js';

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
const r = (o: Partial<AbstractResize> & Pick<AbstractResize, 'strategy'>): AbstractResize => ({ focal: CENTRE, background: WHITE, ...o });
const size = (p: { width: number; height: number }) => `${p.width}x${p.height}`;
const DOG = [1142, 430] as const;

test('exact stretches to w×h (§5.1)', () => {
  const p = planResize(...DOG, r({ strategy: 'exact', width: 100, height: 75 }));
  assert.equal(size(p), '100x75');
  assert.deepEqual(p.steps, [{ op: 'resize', width: 100, height: 75 }]);
});

test('portrait: height exact, width follows (§5.2)', () => {
  assert.equal(size(planResize(...DOG, r({ strategy: 'portrait', height: 75 }))), '199x75');
  assert.equal(size(planResize(600, 800, r({ strategy: 'portrait', height: 75 }))), '56x75');
});

test('landscape: width exact, height follows (§5.3)', () => {
  assert.equal(size(planResize(...DOG, r({ strategy: 'landscape', width: 100 }))), '100x38');
  assert.equal(size(planResize(600, 800, r({ strategy: 'landscape', width: 100 }))), '100x133');
});

test('auto follows rule A (fit inside the box), table of §5.4', () => {
  const auto = (W: number, H: number, w: number, h: number) => size(planResize(W, H, r({ strategy: 'auto', width: w, height: h })));
  assert.equal(auto(1142, 430, 100, 75), '100x38');
  assert.equal(auto(600, 800, 100, 75), '56x75');
  assert.equal(auto(500, 500, 100, 75), '75x75');
  assert.equal(auto(1000, 900, 100, 50), '56x50');
});

test('portrait, landscape and auto never enlarge', () => {
  for (const s of [r({ strategy: 'portrait', height: 900 }), r({ strategy: 'landscape', width: 2000 }), r({ strategy: 'auto', width: 3000, height: 3000 })]) {
    const p = planResize(...DOG, s);
    assert.equal(size(p), '1142x430');
    assert.deepEqual(p.steps, []);
  }
});

test('fit covers then crops at the crop_mode anchor (§5.5)', () => {
  const fit = (W: number, H: number, mode?: string) => planResize(W, H, r({ strategy: 'fit', width: 100, height: 75, focal: mode === undefined ? CENTRE : cropModePoint(mode) }));
  assert.deepEqual(fit(...DOG).steps, [{ op: 'resize', width: 199, height: 75 }, { op: 'extract', left: 50, top: 0, width: 100, height: 75 }]);
  for (const m of ['w', 'l']) assert.equal((fit(...DOG, m).steps[1] as { left: number }).left, 0);
  for (const m of ['e', 'r']) assert.equal((fit(...DOG, m).steps[1] as { left: number }).left, 99);
  const portraitSrc = fit(600, 800);
  assert.deepEqual(portraitSrc.steps[0], { op: 'resize', width: 100, height: 133 });
  assert.equal((portraitSrc.steps[1] as { top: number }).top, 29);
  assert.equal((fit(600, 800, 'n').steps[1] as { top: number }).top, 0);
  assert.equal((fit(600, 800, 's').steps[1] as { top: number }).top, 58);
  assert.equal(size(fit(600, 800)), '100x75');
});

test('crop (a): anchored window of the unscaled source, then scale (§5.6)', () => {
  const c = planResize(...DOG, r({ strategy: 'crop', width: 100, height: 75 }));
  assert.deepEqual(c.steps, [{ op: 'extract', left: 521, top: 178, width: 100, height: 75 }]);
  const scaled = planResize(...DOG, r({ strategy: 'crop', width: 100, height: 75, scale: 50 }));
  assert.equal(size(scaled), '50x38');
  const se = planResize(...DOG, r({ strategy: 'crop', width: 100, height: 75, focal: cropModePoint('se') }));
  assert.deepEqual(se.steps[0], { op: 'extract', left: 1042, top: 355, width: 100, height: 75 });
  // Window wider than the source: clamped (→ 1142×75).
  assert.equal(size(planResize(...DOG, r({ strategy: 'crop', width: 2000, height: 75 }))), '1142x75');
});

test('crop (b): custom region x/y, intersected with the image (§5.6)', () => {
  const c = planResize(...DOG, r({ strategy: 'crop', x: 10, y: 20, width: 300, height: 200 }));
  assert.deepEqual(c.steps, [{ op: 'extract', left: 10, top: 20, width: 300, height: 200 }]);
  assert.equal(size(planResize(...DOG, r({ strategy: 'crop', x: 10, y: 20, width: 300, height: 200, scale: 50 }))), '150x100');
  // crop_mode is ignored with x/y.
  assert.deepEqual(planResize(...DOG, r({ strategy: 'crop', x: 10, y: 20, width: 300, height: 200, focal: cropModePoint('se') })).steps, c.steps);
  assert.equal(size(planResize(...DOG, r({ strategy: 'crop', x: 1100, y: 400, width: 300, height: 200 }))), '42x30');
  assert.throws(() => planResize(...DOG, r({ strategy: 'crop', x: 1142, y: 0, width: 10, height: 10 })), (e) => isAbstractValidationError(e) && 'resize' in e.fields);
});

test('square crops the shorter side (centre, or crop_mode) then resizes (§5.8)', () => {
  const dog = planResize(...DOG, r({ strategy: 'square', size: 100 }));
  assert.deepEqual(dog.steps, [{ op: 'extract', left: 356, top: 0, width: 430, height: 430 }, { op: 'resize', width: 100, height: 100 }]);
  const p = planResize(600, 800, r({ strategy: 'square', size: 300 }));
  assert.deepEqual(p.steps, [{ op: 'extract', left: 0, top: 100, width: 600, height: 600 }, { op: 'resize', width: 300, height: 300 }]);
  assert.equal((planResize(...DOG, r({ strategy: 'square', size: 100, focal: cropModePoint('w') })).steps[0] as { left: number }).left, 0);
  // Enlargement is allowed.
  assert.equal(size(planResize(50, 40, r({ strategy: 'square', size: 200 }))), '200x200');
});

test('fill fits inside and pads with centred bands (§5.9)', () => {
  const bg = { r: 91, g: 126, b: 156, alpha: 1 };
  const dog = planResize(...DOG, r({ strategy: 'fill', width: 100, height: 75, background: bg }));
  assert.deepEqual(dog.steps, [{ op: 'resize', width: 100, height: 38 }, { op: 'extend', top: 18, bottom: 19, left: 0, right: 0, background: bg }]);
  const p = planResize(600, 800, r({ strategy: 'fill', width: 100, height: 75 }));
  assert.deepEqual(p.steps, [{ op: 'resize', width: 56, height: 75 }, { op: 'extend', top: 0, bottom: 0, left: 22, right: 22, background: WHITE }]);
});

test('crop_mode: every documented value, unknown and absent mean centre (§5.7)', () => {
  const table: Record<string, [number, number]> = {
    n: [0.5, 0], t: [0.5, 0], nw: [0, 0], tl: [0, 0], ne: [1, 0], tr: [1, 0], w: [0, 0.5], l: [0, 0.5], c: [0.5, 0.5],
    e: [1, 0.5], r: [1, 0.5], se: [1, 1], br: [1, 1], sw: [0, 1], bl: [0, 1], s: [0.5, 1], b: [0.5, 1],
  };
  for (const [mode, [x, y]] of Object.entries(table)) assert.deepEqual(cropModePoint(mode), { x, y }, mode);
  assert.deepEqual(cropModePoint('middle'), CENTRE);
  assert.deepEqual(cropModePoint(undefined), CENTRE);
  assert.deepEqual(cropModePoint(7), CENTRE);
});

test('plans keep sharp pipeline order: [extract][resize][extract][extend] at most once each', () => {
  const order = ['extract', 'resize', 'extract', 'extend'];
  for (const strategy of ['exact', 'portrait', 'landscape', 'auto', 'fit', 'crop', 'square', 'fill'] as const) {
    for (const [W, H] of [[1142, 430], [600, 800], [500, 500], [3, 2000]]) {
      const p = planResize(W as number, H as number, r({ strategy, width: 100, height: 75, size: 100, scale: 50 }));
      let at = 0;
      for (const s of p.steps) {
        while (at < order.length && order[at] !== s.op) at++;
        assert.ok(at < order.length, `${strategy} ${W}x${H}: ${JSON.stringify(p.steps)}`);
        at++;
      }
      assert.ok(p.width >= 1 && p.height >= 1);
    }
  }
});
