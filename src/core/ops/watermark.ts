/**
 * watermark: draw an image, a text, or both side by side onto the image (spec oss-img.md §3.3).
 *
 * The mark is one 8-bit RGBA layer: the image part is another object of the bucket
 * (`env.loadObject`), run through its own process string (`env.processNested`), then scaled to
 * `P` % of the main width keeping its aspect; the text part is rendered by libvips/Pango with the
 * bundled fonts (fonts.ts) at `size` px in `color`, with an optional hard shadow and a clockwise
 * `rotate`; image and text sit side by side (`order`, `align`, `interval`). The layer gets opacity
 * `t`, is placed by `g`/`x`/`y`/`voffset` exactly per the spec's table (halves floored, positive
 * voffset moves down), is clipped to the image (sharp refuses overlays that overflow) and is
 * appended to the pass's composite layers. `fill_1` tiles it over the whole image on a grid that
 * passes through that position, `padx`/`pady` apart. Output size never changes.
 *
 * Memory stays bounded: a rotated text alone is computed only where it lands on the image; other
 * marks may not exceed {@link MAX_MARK_PIXELS} (or the image's own size when larger), else
 * WatermarkError.
 */
import type { OverlayOptions, Sharp } from 'sharp';
import { AppError, isAppError } from '../errors.js';
import type { Operation, WatermarkParams, WatermarkText } from '../ir.js';
import type { OpDefinition, OpEnv, ImageState } from './types.js';
import { Stage } from './types.js';
import { BUNDLED_FONTS, familiesForFile } from './fonts.js';
import { roundHalfUp } from './geometry.js';
import { libvipsRotatedSize } from './rotate.js';
import type { EncodedImage } from '../codecs/source.js';

/** 8-bit RGBA pixels. */
export interface Layer {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** 8-bit sRGBA pixels of `img` (grey, 16-bit and palette marks included). */
async function rawOf(img: Sharp): Promise<Layer> {
  const { data, info } = await img.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new AppError('WATERMARK_ERROR', 'The watermark image has an unsupported pixel format.');
  return { data, width: info.width, height: info.height };
}

function emptyLayer(width: number, height: number): Layer {
  return { data: Buffer.alloc(width * height * 4), width, height };
}

/** Copies `src` into `dst` at (x, y), clipping at the edges (plain copy, no blending). */
function blit(dst: Layer, src: Layer, x: number, y: number): void {
  for (let row = 0; row < src.height; row++) {
    const dy = y + row;
    if (dy < 0 || dy >= dst.height) continue;
    const x0 = Math.max(0, x);
    const x1 = Math.min(dst.width, x + src.width);
    if (x1 <= x0) continue;
    const s = (row * src.width + (x0 - x)) * 4;
    src.data.copy(dst.data, (dy * dst.width + x0) * 4, s, s + (x1 - x0) * 4);
  }
}

function escapeMarkup(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function hex(c: { r: number; g: number; b: number }): string {
  return `#${[c.r, c.g, c.b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * libvips registers a `fontfile` with fontconfig for the rest of the process. Registering every
 * bundled file once (a one-glyph render each) lets one Pango family list use all of them, e.g.
 * Latin glyphs from Noto Sans and CJK glyphs from Droid Sans Fallback, without any system font.
 */
let fontsRegistered: Promise<void> | undefined;
function registerBundledFonts(env: OpEnv): Promise<void> {
  fontsRegistered ??= (async () => {
    for (const f of BUNDLED_FONTS) {
      await env.sharp({ text: { text: 'x', font: `${f.family} 8px`, fontfile: f.file, dpi: 72 } } as never).raw().toBuffer();
    }
  })().catch((err: unknown) => {
    fontsRegistered = undefined;
    throw err;
  });
  return fontsRegistered;
}

/**
 * Most pixels a watermark layer may hold once rotated (≈ 160 MB of RGBA). A text at size 1000
 * rotated by 45° would need far more; only the part that falls on the image is computed then
 * (see {@link buildOverlay}), and fill/side-by-side marks beyond this are refused.
 */
export const MAX_MARK_PIXELS = 40_000_000;

/** The text part before rotation, plus the clockwise angle still to apply. */
interface TextPart {
  readonly layer: Layer;
  readonly rotate: number;
}

/**
 * Renders the text part: glyphs in `color` at `size` px (libvips crops the result to the ink)
 * with an optional hard shadow. Rotation is left to the caller so that a huge rotated text is
 * never materialised whole.
 */
async function renderText(t: WatermarkText, env: OpEnv): Promise<TextPart> {
  await registerBundledFonts(env);
  const fontfile = env.fontFile(t.font);
  const font = `${familiesForFile(fontfile)} ${t.size}px`;
  const textLayer = async (colour: string): Promise<Layer> => {
    try {
      return await rawOf(
        env.sharp({
          text: {
            text: `<span foreground="${colour}">${escapeMarkup(t.text)}</span>`,
            font,
            fontfile,
            rgba: true,
            // 72 dpi: one point is one pixel, so `size` is the pixel size OSS means.
            dpi: 72,
          },
        } as never),
      );
    } catch (err) {
      // Cairo cannot draw surfaces wider than 32767 px (e.g. 64 letters at size 1000).
      if (isAppError(err)) throw err;
      throw new AppError('WATERMARK_ERROR', `The watermark text is too large to render at size ${t.size}; use a smaller size or a shorter text.`, { cause: err });
    }
  };
  let layer = await textLayer(hex(t.color));
  if (t.shadow > 0) {
    // Hard drop shadow, down-right by size/20 (at least 1 px), black at `shadow` % opacity
    // (OSS does not document offset or softness).
    const off = Math.max(1, Math.round(t.size / 20));
    const shadow = await textLayer('#000000');
    for (let i = 3; i < shadow.data.length; i += 4) shadow.data[i] = Math.round(((shadow.data[i] as number) * t.shadow) / 100);
    const both = emptyLayer(layer.width + off, layer.height + off);
    blit(both, shadow, off, off);
    layer = await rawOf(
      env.sharp(both.data, { raw: { width: both.width, height: both.height, channels: 4 } } as never).composite([
        { input: layer.data, raw: { width: layer.width, height: layer.height, channels: 4 }, left: 0, top: 0 },
      ]),
    );
  }
  return { layer, rotate: t.rotate % 360 };
}

/** Size of `layer` once rotated (libvips' rotate canvas; 90° multiples swap or keep). */
function rotatedDims(layer: Layer, angle: number): { width: number; height: number } {
  return libvipsRotatedSize(angle, layer.width, layer.height);
}

/**
 * Rotates `layer` clockwise (sharp's positive angles are clockwise, as OSS's `rotate` means) with
 * transparent corners, keeping only `window` (in rotated coordinates) when given.
 *
 * Memory: called as rotate() then extract(), sharp rotates *before* a pre-resize extract and
 * materialises the whole rotated canvas (`copy_memory`, sharp pipeline.cc) — gigabytes for a
 * large rotated text. With a same-size resize configured first and extract() called before
 * rotate(), sharp instead rotates lazily after the (no-op) resize and cuts the window after the
 * rotation ("post" extract), so libvips computes only the window. test/ops checks that both
 * orders give identical pixels.
 */
export async function rotateLayer(
  layer: Layer,
  angle: number,
  env: Pick<OpEnv, 'sharp'>,
  window?: { left: number; top: number; width: number; height: number },
): Promise<Layer> {
  if (angle === 0 && !window) return layer;
  let img = env.sharp(layer.data, { raw: { width: layer.width, height: layer.height, channels: 4 } } as never);
  if (window) img = img.resize({ width: layer.width, height: layer.height, fit: 'fill' }).extract(window);
  if (angle !== 0) img = img.rotate(angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } });
  return rawOf(img);
}

/** Refuses a mark larger than {@link MAX_MARK_PIXELS} or, on bigger images, than the image itself. */
function checkMarkSize(width: number, height: number, main: ImageState): void {
  const budget = Math.max(MAX_MARK_PIXELS, main.width * main.height);
  if (width * height > budget) {
    throw new AppError('WATERMARK_ERROR', `The watermark would be ${width}×${height} pixels, more than the ${budget} allowed; use a smaller size.`);
  }
}

/** Loads and prepares the image part: its own chain, then `P` relative to the main width. */
async function renderImage(p: NonNullable<WatermarkParams['image']>, main: ImageState, env: OpEnv): Promise<Layer> {
  let buf: EncodedImage;
  try {
    buf = await env.loadObject(p.key);
  } catch (err) {
    if (isAppError(err) && err.code === 'NO_SUCH_KEY') {
      throw new AppError('WATERMARK_ERROR', `The watermark object ${JSON.stringify(p.key)} does not exist.`, { cause: err });
    }
    throw err;
  }
  let png: { data: Buffer; width: number; height: number };
  try {
    png = await env.processNested(buf, p.ops);
  } catch (err) {
    if (isAppError(err) && err.code !== 'INTERNAL') {
      throw new AppError('WATERMARK_ERROR', `The watermark image cannot be used: ${err.publicMessage}`, { cause: err });
    }
    throw err;
  }
  let img = env.sharp(png.data);
  if (p.percentOfMain !== undefined) {
    // P: watermark width = P% of the main width, height keeps the watermark's aspect (UNCONFIRMED rule).
    const width = Math.max(1, roundHalfUp((main.width * p.percentOfMain) / 100));
    const height = Math.max(1, roundHalfUp((png.height * width) / png.width));
    checkMarkSize(width, height, main);
    img = img.resize(width, height, { fit: 'fill' });
  }
  return rawOf(img);
}

/** Places image and text side by side (order, vertical align, interval). */
function sideBySide(image: Layer, text: Layer, p: WatermarkParams): Layer {
  const [first, second] = p.order === 0 ? [image, text] : [text, image];
  const width = first.width + p.interval + second.width;
  const height = Math.max(first.height, second.height);
  const y = (h: number): number => (p.align === 0 ? 0 : p.align === 1 ? Math.floor((height - h) / 2) : height - h);
  const out = emptyLayer(width, height);
  blit(out, first, 0, y(first.height));
  blit(out, second, first.width + p.interval, y(second.height));
  return out;
}

/** Position of a `ww×wh` mark on a `W×H` image, per the spec's table (halves floored). */
export function watermarkPosition(p: Pick<WatermarkParams, 'g' | 'x' | 'y' | 'voffset'>, W: number, H: number, ww: number, wh: number): { left: number; top: number } {
  const cx = Math.floor((W - ww) / 2);
  const cy = Math.floor((H - wh) / 2) + p.voffset;
  switch (p.g) {
    case 'nw': return { left: p.x, top: p.y };
    case 'north': return { left: cx, top: p.y };
    case 'ne': return { left: W - ww - p.x, top: p.y };
    case 'west': return { left: p.x, top: cy };
    case 'center': return { left: cx, top: cy };
    case 'east': return { left: W - ww - p.x, top: cy };
    case 'sw': return { left: p.x, top: H - wh - p.y };
    case 'south': return { left: cx, top: H - wh - p.y };
    case 'se': return { left: W - ww - p.x, top: H - wh - p.y };
  }
}

function withOpacity(layer: Layer, t: number): Layer {
  if (t >= 100) return layer;
  const data = Buffer.from(layer.data);
  for (let i = 3; i < data.length; i += 4) data[i] = Math.round(((data[i] as number) * t) / 100);
  return { ...layer, data };
}

/**
 * Left edges (or top edges) of the tiles of a `fill_1` watermark along one axis: tiles of `size`
 * separated by `gap`, aligned so that one tile sits exactly at `at` (the g/x/y position), repeated
 * both ways until the image of length `length` is covered.
 */
export function tileStarts(at: number, size: number, gap: number, length: number): number[] {
  const step = Math.max(1, size + gap);
  let first = at - Math.ceil(at / step) * step;
  while (first + size <= 0) first += step;
  const out: number[] = [];
  for (let v = first; v < length; v += step) out.push(v);
  return out;
}

/** The intersection of a w×h box at (left, top) with a W×H image, or null when it is empty. */
function visibleWindow(left: number, top: number, w: number, h: number, W: number, H: number): { left: number; top: number; width: number; height: number } | null {
  const l = Math.max(0, left);
  const t = Math.max(0, top);
  const r = Math.min(W, left + w);
  const b = Math.min(H, top + h);
  return r <= l || b <= t ? null : { left: l, top: t, width: r - l, height: b - t };
}

function layerOverlay(layer: Layer, left: number, top: number): OverlayOptions {
  return { input: layer.data, raw: { width: layer.width, height: layer.height, channels: 4 }, left, top };
}

/** The part of `mark` at (left, top) that lies on a W×H image, as a composite layer (or null). */
function clipped(mark: Layer, left: number, top: number, W: number, H: number): OverlayOptions | null {
  // sharp rejects overlays larger than the image, so cut the visible part out first.
  const win = visibleWindow(left, top, mark.width, mark.height, W, H);
  if (!win) return null;
  if (win.width === mark.width && win.height === mark.height) return layerOverlay(mark, left, top);
  const visible = emptyLayer(win.width, win.height);
  blit(visible, mark, left - win.left, top - win.top);
  return layerOverlay(visible, win.left, win.top);
}

/** Builds the composite layer of one watermark on a W×H image (null when nothing is visible). */
async function buildOverlay(p: WatermarkParams, state: ImageState, env: OpEnv): Promise<OverlayOptions | null> {
  if (p.t === 0) return null;
  const image = p.image ? await renderImage(p.image, state, env) : undefined;
  const text = p.text ? await renderText(p.text, env) : undefined;
  const W = state.width;
  const H = state.height;

  if (text && !image && !p.text?.fill && text.rotate !== 0) {
    // A rotated text alone: compute only the part of the rotated text that lands on the image.
    const dims = rotatedDims(text.layer, text.rotate);
    const pos = watermarkPosition(p, W, H, dims.width, dims.height);
    const win = visibleWindow(pos.left, pos.top, dims.width, dims.height, W, H);
    if (!win) return null;
    const part = await rotateLayer(text.layer, text.rotate, env, { left: win.left - pos.left, top: win.top - pos.top, width: win.width, height: win.height });
    return layerOverlay(withOpacity(part, p.t), win.left, win.top);
  }

  let textLayer: Layer | undefined;
  if (text) {
    const dims = rotatedDims(text.layer, text.rotate);
    checkMarkSize(dims.width, dims.height, state);
    textLayer = await rotateLayer(text.layer, text.rotate, env);
  }
  let mark: Layer;
  if (image && textLayer) {
    checkMarkSize(image.width + p.interval + textLayer.width, Math.max(image.height, textLayer.height), state);
    mark = sideBySide(image, textLayer, p);
  } else mark = (image ?? textLayer) as Layer;
  if (mark.width === 0 || mark.height === 0) return null;
  mark = withOpacity(mark, p.t);
  const pos = watermarkPosition(p, W, H, mark.width, mark.height);

  if (p.text?.fill) {
    // Tile the mark over the whole image on a grid through the g/x/y position, padx/pady apart.
    const canvas = emptyLayer(W, H);
    for (const y of tileStarts(pos.top, mark.height, p.text.pady, H)) {
      for (const x of tileStarts(pos.left, mark.width, p.text.padx, W)) blit(canvas, mark, x, y);
    }
    return layerOverlay(canvas, 0, 0);
  }
  return clipped(mark, pos.left, pos.top, W, H);
}

/**
 * Animated images run the plan once per frame with the same env and params: the layer is built
 * once per (run, watermark, frame size) instead of reloading the object and re-rendering text
 * for every frame. Keyed on the env first, so a new run never sees another run's watermark object.
 */
const overlayCache = new WeakMap<OpEnv, WeakMap<WatermarkParams, Map<string, Promise<OverlayOptions | null>>>>();

function overlayFor(p: WatermarkParams, state: ImageState, env: OpEnv): Promise<OverlayOptions | null> {
  let byParams = overlayCache.get(env);
  if (!byParams) overlayCache.set(env, (byParams = new WeakMap()));
  let bySize = byParams.get(p);
  if (!bySize) byParams.set(p, (bySize = new Map()));
  const key = `${state.width}x${state.height}`;
  let layer = bySize.get(key);
  if (!layer) bySize.set(key, (layer = buildOverlay(p, state, env)));
  return layer;
}

export const watermark: OpDefinition<'watermark'> = {
  name: 'watermark',
  summary: 'Draw an image watermark (another object, with its own process), a text, or both, at g/x/y with opacity t.',
  params: [
    { name: 't', type: 'int', range: '0–100', default: '100', meaning: 'opacity in percent' },
    { name: 'g', type: 'enum', range: 'nw north ne west center east sw south se', default: 'se', meaning: 'anchor' },
    { name: 'x', type: 'int', range: '0–4096', default: '10', meaning: 'horizontal margin from the anchored edge' },
    { name: 'y', type: 'int', range: '0–4096', default: '10', meaning: 'vertical margin from the anchored edge' },
    { name: 'voffset', type: 'int', range: '−1000–1000', default: '0', meaning: 'vertical shift (down) for west, center, east' },
    { name: 'image', type: 'object', meaning: 'object key + its own operations + P (percent of the main width)' },
    { name: 'text', type: 'object', meaning: 'text, font, color, size, shadow, rotate, fill, padx, pady' },
    { name: 'order', type: 'int', range: '0–1', default: '0', meaning: '0 image first, 1 text first' },
    { name: 'align', type: 'int', range: '0–2', default: '2', meaning: 'vertical alignment of the two parts: top, middle, bottom' },
    { name: 'interval', type: 'int', range: '0–1000', default: '0', meaning: 'gap between image and text' },
  ],
  stages: () => [Stage.COMPOSITE],
  animation: () => 'keep',
  geometry: (_p, state) => state,
  async apply(pass, p, state, env) {
    const layer = await overlayFor(p, state, env);
    if (layer) pass.overlays.push(layer);
    return state;
  },
};

/** The objects a recipe's image watermarks read (each once, in order). */
export function watermarkKeys(ops: readonly Operation[]): string[] {
  const keys = new Set<string>();
  for (const op of ops) if (op.op === 'watermark' && op.params.image !== undefined) keys.add(op.params.image.key);
  return [...keys];
}
