/** Table-driven tests of the Cloudflare option parser: every option, every alias, strict/lenient. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/core/errors.js';
import { cfRecipe, parseCfOptions, type CfOptions } from '../../src/dialects/cloudflare/parse.js';
import { isSlowConnection, resolveAutoWidth } from '../../src/dialects/cloudflare/hints.js';
import { parseCssColour } from '../../src/dialects/cloudflare/colour.js';

const VALID: ReadonlyArray<[string, Partial<CfOptions>]> = [
  ['anim=false', { anim: false }],
  ['anim=true', { anim: true }],
  ['background=%23ff0000', { background: { r: 255, g: 0, b: 0, alpha: 1 } }],
  ['background=red', { background: { r: 255, g: 0, b: 0, alpha: 1 } }],
  ['background=%23f00', { background: { r: 255, g: 0, b: 0, alpha: 1 } }],
  ['background=rgb%28240%2C40%2C145%29', { background: { r: 240, g: 40, b: 145, alpha: 1 } }],
  ['background=rgba%280%2C0%2C0%2C0.5%29', { background: { r: 0, g: 0, b: 0, alpha: 0.5 } }],
  ['background=hsl%28120%2C100%25%2C50%25%29', { background: { r: 0, g: 255, b: 0, alpha: 1 } }],
  ['blur=50', { blur: 50 }],
  ['blur=12.5', { blur: 12.5 }],
  ['brightness=0.5', { brightness: 0.5 }],
  ['compression=fast', { compression: 'fast' }],
  ['contrast=1.2', { contrast: 1.2 }],
  ['dpr=2', { dpr: 2 }],
  ['fit=scale-down', { fit: 'scale-down' }],
  ['fit=contain', { fit: 'contain' }],
  ['fit=scale-up', { fit: 'scale-up' }],
  ['fit=cover', { fit: 'cover' }],
  ['fit=crop', { fit: 'crop' }],
  ['fit=aspect-crop', { fit: 'aspect-crop' }],
  ['fit=pad', { fit: 'pad' }],
  ['fit=squeeze', { fit: 'squeeze' }],
  ['flip=h', { flip: { horizontal: true, vertical: false } }],
  ['flip=v', { flip: { horizontal: false, vertical: true } }],
  ['flip=hv', { flip: { horizontal: true, vertical: true } }],
  ['format=auto', { format: 'auto' }],
  ['f=webp', { format: 'webp' }],
  ['format=avif', { format: 'avif' }],
  ['format=jpeg', { format: 'jpeg' }],
  ['format=baseline-jpeg', { format: 'baseline-jpeg' }],
  ['format=png', { format: 'png' }],
  ['format=json', { format: 'json' }],
  ['gamma=0.5', { gamma: 0.5 }],
  ['gravity=auto', { gravity: { kind: 'auto' } }],
  ['g=face', { gravity: { kind: 'face', zoom: 0 } }],
  ['gravity=face,zoom=0.5', { gravity: { kind: 'face', zoom: 0.5 }, zoom: 0.5 }],
  ['gravity=face,face-zoom=1', { gravity: { kind: 'face', zoom: 1 }, zoom: 1 }],
  ['gravity=left', { gravity: { kind: 'point', x: 0, y: 0.5 } }],
  ['gravity=right', { gravity: { kind: 'point', x: 1, y: 0.5 } }],
  ['gravity=top', { gravity: { kind: 'point', x: 0.5, y: 0 } }],
  ['gravity=bottom', { gravity: { kind: 'point', x: 0.5, y: 1 } }],
  ['gravity=center', { gravity: { kind: 'point', x: 0.5, y: 0.5 } }],
  ['gravity=entropy', { gravity: { kind: 'entropy' } }],
  ['gravity=0.5x0.33', { gravity: { kind: 'point', x: 0.5, y: 0.33 } }],
  ['g=0x1', { gravity: { kind: 'point', x: 0, y: 1 } }],
  ['height=250', { height: 250 }],
  ['h=250', { height: 250 }],
  ['metadata=keep', { metadata: 'keep' }],
  ['metadata=copyright', { metadata: 'copyright' }],
  ['metadata=none', { metadata: 'none' }],
  ['onerror=redirect', { onerror: 'redirect' }],
  ['quality=50', { quality: 50 }],
  ['q=50', { quality: 50 }],
  ['quality=high', { quality: 90 }],
  ['quality=medium-high', { quality: 80 }],
  ['quality=medium-low', { quality: 60 }],
  ['q=low', { quality: 40 }],
  ['rotate=90', { rotate: 90 }],
  ['rotate=180', { rotate: 180 }],
  ['rotate=270', { rotate: 270 }],
  ['rotate=360', { rotate: 0 }],
  ['saturation=0', { saturation: 0 }],
  ['sharpen=1', { sharpen: 1 }],
  ['slow-connection-quality=50', { slowConnectionQuality: 50 }],
  ['scq=low', { slowConnectionQuality: 40 }],
  ['trim=border', { trim: { kind: 'border', tolerance: 245, keep: 0 } }],
  ['trim=20;30;20;0', { trim: { kind: 'sides', top: { unit: 'px', value: 20 }, right: { unit: 'px', value: 30 }, bottom: { unit: 'px', value: 20 }, left: { unit: 'px', value: 0 } } }],
  ['trim=0.1;0.2;0.1;0.2', { trim: { kind: 'sides', top: { unit: 'fraction', value: 0.1 }, right: { unit: 'fraction', value: 0.2 }, bottom: { unit: 'fraction', value: 0.1 }, left: { unit: 'fraction', value: 0.2 } } }],
  ['trim.left=30,trim.width=678', { trim: { kind: 'sides', top: { unit: 'px', value: 0 }, right: { unit: 'px', value: 0 }, bottom: { unit: 'px', value: 0 }, left: { unit: 'px', value: 30 }, width: 678 } }],
  ['trim.top=5,trim.height=678', { trim: { kind: 'sides', top: { unit: 'px', value: 5 }, right: { unit: 'px', value: 0 }, bottom: { unit: 'px', value: 0 }, left: { unit: 'px', value: 0 }, height: 678 } }],
  ['trim.border.tolerance=10', { trim: { kind: 'border', tolerance: 10, keep: 0 } }],
  ['trim=border,trim.border.color=%23ffffff,trim.border.keep=4', { trim: { kind: 'border', tolerance: 245, keep: 4, color: { r: 255, g: 255, b: 255, alpha: 1 } } }],
  ['upscale=generate', { upscale: 'generate' }],
  ['width=250', { width: 250 }],
  ['w=250', { width: 250 }],
  ['width=auto,wbreakpoints=960;320;768,wmobile=600,wdesktop=1000', { width: 'auto', wbreakpoints: [320, 768, 960], wmobile: 600, wdesktop: 1000 }],
  ['border.width=10,border.color=black', { border: { top: 10, right: 10, bottom: 10, left: 10, color: { r: 0, g: 0, b: 0, alpha: 1 } } }],
  ['border.top=1,border.left=2', { border: { top: 1, left: 2 } }],
  // Keys are case-insensitive; the last duplicate wins, aliases included.
  ['WIDTH=100', { width: 100 }],
  ['w=100,width=200', { width: 200 }],
  ['width=200,w=100', { width: 100 }],
];

for (const [input, expected] of VALID) {
  test(`parses ${input}`, () => {
    const { options, warnings } = parseCfOptions(input, { strict: true });
    assert.deepEqual(options, expected);
    assert.deepEqual(warnings, []);
  });
}

const INVALID: readonly string[] = [
  'width=abc', 'width=0', 'w=-5', 'height=1.5', 'quality=0', 'quality=101', 'q=best', 'fit=fill', 'format=gif', 'f=tiff',
  'gravity=northwest', 'gravity=1.5x0.5', 'rotate=45', 'blur=251', 'sharpen=11', 'brightness=255', 'dpr=0', 'dpr=11',
  'flip=x', 'anim=maybe', 'metadata=all', 'onerror=ignore', 'compression=slow', 'zoom=2', 'trim=1;2;3', 'trim=a;b;c;d',
  'background=%23zzzzzz', 'background=notacolour', 'trim.border.tolerance=300', 'upscale=magic', 'nonsense=1', 'draw=x', 'width',
];

for (const input of INVALID) {
  test(`strict refuses ${input} (INVALID_ARGUMENT → 9401)`, () => {
    assert.throws(() => parseCfOptions(input, { strict: true }), (e: unknown) => e instanceof AppError && e.code === 'INVALID_ARGUMENT' && e.status === 400);
  });
  test(`lenient ignores ${input} with a warning`, () => {
    const { options, warnings } = parseCfOptions(`${input},quality=70`);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(options.quality, 70);
    assert.equal(Object.keys(options).length, 1, JSON.stringify(options));
  });
}

test('no option at all is an error in both modes', () => {
  assert.throws(() => parseCfOptions(''), (e: unknown) => e instanceof AppError && e.code === 'MISSING_ARGUMENT');
  assert.throws(() => parseCfOptions(',,', { strict: true }), (e: unknown) => e instanceof AppError && e.code === 'MISSING_ARGUMENT');
});

test('segment=foreground is a clear error, never a silent no-op', () => {
  assert.throws(() => parseCfOptions('segment=foreground'), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED_OPTION');
});

test('dpr > 3 warns with the observed text', () => {
  assert.deepEqual(parseCfOptions('dpr=4,w=10').warnings, ['dpr > 3 should never be used']);
});

test('canonical order (spec §3) regardless of the order written', () => {
  const { options } = parseCfOptions('border.width=2,sharpen=1,blur=3,gamma=2,contrast=2,saturation=0,w=100,h=100,fit=pad,background=red,rotate=90,flip=h,trim=1;1;1;1');
  const { recipe } = cfRecipe(options, { defaultFit: 'scale-down' });
  assert.deepEqual(recipe.ops.map((o) => o.op), ['autoOrient', 'cfTrim', 'flip', 'rotate', 'flatten', 'cfResize', 'cfModulate', 'cfContrast', 'gamma', 'cfBlur', 'cfSharpen', 'border']);
});

test('dpr multiplies width, height and border widths', () => {
  const { options } = parseCfOptions('w=300,h=200,dpr=2,border.width=3');
  const { recipe, target } = cfRecipe(options, { defaultFit: 'scale-down' });
  assert.deepEqual(target, { width: 600, height: 400 });
  const b = recipe.ops.find((o) => o.op === 'border');
  assert.deepEqual(b?.params, { color: { r: 255, g: 255, b: 255, alpha: 1 }, top: 6, right: 6, bottom: 6, left: 6 });
});

test('default fit is configurable; single-dimension cover warns (spec §4.2)', () => {
  const a = cfRecipe(parseCfOptions('w=100').options, { defaultFit: 'contain' });
  assert.equal(a.recipe.ops.find((o) => o.op === 'cfResize')?.params && (a.recipe.ops[1]?.params as { fit: string }).fit, 'contain');
  const b = cfRecipe(parseCfOptions('w=100,fit=cover').options, { defaultFit: 'scale-down' });
  assert.deepEqual(b.warnings, ['cover fit mode needs both width and height']);
});

test('quality: default 85, scq replaces it only on slow connections, webp q=100 is lossless, baseline-jpeg', () => {
  assert.equal(cfRecipe(parseCfOptions('w=1').options, { defaultFit: 'scale-down' }).recipe.output.exactQuality, 85);
  const o = parseCfOptions('q=80,scq=40').options;
  assert.equal(cfRecipe(o, { defaultFit: 'scale-down', slowConnection: false }).recipe.output.exactQuality, 80);
  assert.equal(cfRecipe(o, { defaultFit: 'scale-down', slowConnection: true }).recipe.output.exactQuality, 40);
  assert.equal(cfRecipe(parseCfOptions('f=webp,q=100').options, { defaultFit: 'scale-down' }).recipe.output.lossless, true);
  assert.equal(cfRecipe(parseCfOptions('f=baseline-jpeg').options, { defaultFit: 'scale-down' }).recipe.output.interlace, false);
  assert.equal(cfRecipe(parseCfOptions('f=jpeg').options, { defaultFit: 'scale-down' }).recipe.output.interlace, true);
});

test('width=auto: breakpoints from client hints, else mobile/desktop widths', () => {
  const o = parseCfOptions('width=auto').options;
  assert.equal(resolveAutoWidth(o, { 'sec-ch-viewport-width': '400', 'sec-ch-dpr': '2' }).width, 960);
  assert.equal(resolveAutoWidth(o, { 'sec-ch-viewport-width': '300' }).width, 320);
  assert.equal(resolveAutoWidth(o, { 'sec-ch-viewport-width': '3000' }).width, 1200);
  assert.equal(resolveAutoWidth(o, { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148' }).width, 768);
  assert.equal(resolveAutoWidth(o, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' }).width, 1200);
  const custom = parseCfOptions('width=auto,wbreakpoints=100;500,wmobile=300,wdesktop=900').options;
  assert.equal(resolveAutoWidth(custom, { 'sec-ch-viewport-width': '200' }).width, 500);
  assert.equal(resolveAutoWidth(custom, { 'sec-ch-ua-mobile': '?1' }).width, 300);
});

test('slow connection hints (spec §8.2)', () => {
  assert.equal(isSlowConnection({}), false);
  assert.equal(isSlowConnection({ rtt: '200' }), true);
  assert.equal(isSlowConnection({ rtt: '100' }), false);
  assert.equal(isSlowConnection({ 'save-data': 'on' }), true);
  assert.equal(isSlowConnection({ ect: '3g' }), true);
  assert.equal(isSlowConnection({ ect: '4g' }), false);
  assert.equal(isSlowConnection({ downlink: '1.5' }), true);
  assert.equal(isSlowConnection({ downlink: '10' }), false);
});

test('CSS colours', () => {
  assert.deepEqual(parseCssColour('#11223344'), { r: 0x11, g: 0x22, b: 0x33, alpha: 0.267 });
  assert.deepEqual(parseCssColour('transparent'), { r: 0, g: 0, b: 0, alpha: 0 });
  assert.deepEqual(parseCssColour('rebeccapurple'), { r: 102, g: 51, b: 153, alpha: 1 });
  assert.deepEqual(parseCssColour('rgb(10 20 30 / 50%)'), { r: 10, g: 20, b: 30, alpha: 0.5 });
  assert.equal(parseCssColour('rgb(1,2)'), undefined);
});
