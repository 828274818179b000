/**
 * The playground's control catalogue (`GET /playground/api/ops`): for each dialect, the actions
 * or options a visitor can set, with type, range, default and meaning taken from the operation
 * registry (src/core/ops, the source of docs/operations.md). Only the dialect spelling (action and
 * key names) is written here; parameters the registry does not describe (output settings) carry
 * their own doc.
 */
import { OPS } from '../../core/ops/index.js';
import type { ParamDoc } from '../../core/ops/types.js';

export interface Control {
  /** Key in the dialect (`w` for OSS resize, `width` for Cloudflare); '' = the bare value (`rotate,90`). */
  readonly key: string;
  readonly type: 'int' | 'float' | 'enum' | 'boolean' | 'colour' | 'text';
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  readonly default?: string;
  readonly meaning: string;
  /** Registry source `op.param`, when the doc comes from the registry. */
  readonly from?: string;
}

export interface ActionDoc {
  readonly name: string;
  readonly summary: string;
  readonly controls: readonly Control[];
}

type Ref = readonly [key: string, op: keyof typeof OPS, param: string] | readonly [key: string, doc: Omit<Control, 'key'>];

function fromRegistry(key: string, op: keyof typeof OPS, param: string): Control {
  const p: ParamDoc | undefined = OPS[op].params.find((x) => x.name === param);
  if (p === undefined) throw new Error(`playground catalogue: ${op}.${param} is not in the operation registry`);
  const range = (p.range ?? '').replace(/−/g, '-');
  const nums = /(-?\d+(?:\.\d+)?)\s*[–-]\s*(-?\d+(?:\.\d+)?)/.exec(range);
  const base = { key, meaning: p.meaning, from: `${op}.${param}`, ...(p.default === undefined ? {} : { default: p.default }) };
  if (p.type === 'enum') {
    const choices = range.split(/[|\s]+/).filter((c) => c !== '');
    return { ...base, type: 'enum', choices };
  }
  if (p.type === 'boolean') return { ...base, type: 'boolean' };
  if (p.type === 'rgb' || p.type === 'rgba') return { ...base, type: 'colour' };
  if (p.type === 'int' || p.type === 'float') {
    return { ...base, type: p.type, ...(nums ? { min: Number(nums[1]), max: Number(nums[2]) } : {}) };
  }
  return { ...base, type: 'text' };
}

function action(name: string, summary: string | undefined, refs: readonly Ref[]): ActionDoc {
  const controls = refs.map((r) => (r.length === 3 ? fromRegistry(r[0], r[1], r[2]) : { key: r[0], ...r[1] }));
  return { name, summary: summary ?? '', controls };
}

const OSS_FORMATS = ['jpg', 'png', 'webp', 'avif', 'gif', 'bmp', 'tiff', 'heic'];

/** OSS `x-oss-process=image/<action>,<k>_<v>/…` actions. */
export function ossCatalogue(): ActionDoc[] {
  return [
    action('resize', OPS.resize.summary, [['m', 'resize', 'mode'], ['w', 'resize', 'w'], ['h', 'resize', 'h'], ['l', 'resize', 'l'], ['s', 'resize', 's'], ['p', 'resize', 'p'], ['limit', 'resize', 'limit'], ['color', 'resize', 'color']]),
    action('crop', OPS.crop.summary, [['w', 'crop', 'w'], ['h', 'crop', 'h'], ['x', 'crop', 'x'], ['y', 'crop', 'y'], ['g', 'crop', 'g']]),
    action('circle', OPS.circle.summary, [['r', 'circle', 'r']]),
    action('rounded-corners', OPS.roundedCorners.summary, [['r', 'roundedCorners', 'r']]),
    action('blur', OPS.blur.summary, [['r', 'blur', 'r'], ['s', 'blur', 's']]),
    action('rotate', OPS.rotate.summary, [['', 'rotate', 'angle']]),
    action('bright', OPS.bright.summary, [['', 'bright', 'value']]),
    action('contrast', OPS.contrast.summary, [['', 'contrast', 'value']]),
    action('sharpen', OPS.sharpen.summary, [['', 'sharpen', 'value']]),
    action('auto-orient', OPS.autoOrient.summary, [['', { type: 'enum', choices: ['0', '1'], default: '0', meaning: '1: apply the EXIF orientation' }]]),
    action('format', 'Output format', [['', { type: 'enum', choices: OSS_FORMATS, meaning: 'output container' }]]),
    action('quality', 'Output quality', [['q', { type: 'int', min: 1, max: 100, meaning: 'relative quality (percent of the source quality)' }], ['Q', { type: 'int', min: 1, max: 100, meaning: 'absolute quality' }]]),
    action('interlace', 'Progressive JPEG / interlaced PNG', [['', { type: 'enum', choices: ['0', '1'], default: '0', meaning: '1: progressive output' }]]),
  ];
}

/** Cloudflare `/cdn-cgi/image/<k>=<v>,…/<source>` options (one flat list: each control is an option). */
export function cloudflareCatalogue(): ActionDoc[] {
  return [
    action('size', OPS.cfResize.summary, [['width', 'cfResize', 'width'], ['height', 'cfResize', 'height'], ['fit', 'cfResize', 'fit'], ['gravity', { type: 'text', meaning: 'auto, face, left/right/top/bottom or a point 0.5x0.5' }], ['background', { type: 'text', meaning: 'pad colour (CSS), e.g. #ffffff' }]]),
    action('output', 'Output format and quality', [['format', { type: 'enum', choices: ['auto', 'avif', 'webp', 'jpeg', 'png', 'json'], meaning: 'auto negotiates AVIF/WebP from Accept' }], ['quality', { type: 'int', min: 1, max: 100, default: '85', meaning: 'encoder quality' }]]),
    action('adjust', 'Colour and detail', [['blur', 'cfBlur', 'radius'], ['sharpen', 'cfSharpen', 'value'], ['brightness', 'cfModulate', 'brightness'], ['saturation', 'cfModulate', 'saturation'], ['contrast', 'cfContrast', 'value'], ['gamma', 'gamma', 'value']]),
    action('orientation', 'Rotate and flip', [['rotate', { type: 'enum', choices: ['90', '180', '270'], meaning: 'clockwise rotation' }], ['flip', { type: 'enum', choices: ['h', 'v', 'hv'], meaning: 'mirror horizontally, vertically or both' }]]),
  ];
}

/** PicWish-style compression task fields (spec compress-task-api.md §2). */
export function tasksCatalogue(): ActionDoc[] {
  return [action('imgcompress', 'Compression task (multipart fields)', [
    ['format', { type: 'enum', choices: ['jpg', 'png', 'webp'], meaning: 'output container (default: the input format)' }],
    ['quality', { type: 'int', min: 1, max: 100, meaning: 'quality (not with kbyte)' }],
    ['kbyte', { type: 'int', min: 1, max: 51200, meaning: 'target size in KB (not with quality; not for PNG)' }],
    ['width', { type: 'int', min: 1, max: 8000, meaning: 'output width' }],
    ['height', { type: 'int', min: 1, max: 8000, meaning: 'output height' }],
  ])];
}

/** Abstract Images JSON options (spec abstract-api.md §2, §4, §5). */
export function abstractCatalogue(): ActionDoc[] {
  return [action('options', 'Abstract Images options (the `data` JSON)', [
    ['lossy', { type: 'boolean', default: 'false', meaning: 'lossy re-encode (large savings)' }],
    ['quality', { type: 'int', min: 0, max: 100, meaning: 'lossy quality' }],
    ['resize.strategy', { type: 'enum', choices: ['exact', 'portrait', 'landscape', 'auto', 'fit', 'crop', 'square', 'fill'], meaning: 'resize strategy' }],
    ['resize.width', { type: 'int', min: 1, max: 10000, meaning: 'width' }],
    ['resize.height', { type: 'int', min: 1, max: 10000, meaning: 'height' }],
    ['resize.size', { type: 'int', min: 1, max: 10000, meaning: 'side length (square, auto)' }],
  ])];
}

export function playgroundCatalogue() {
  return { oss: ossCatalogue(), cloudflare: cloudflareCatalogue(), tasks: tasksCatalogue(), abstract: abstractCatalogue() };
}
