/**
 * The operation registry. Typed as {@link OpRegistry}, so adding an operation to the IR without a
 * definition here is a compile error. docs/operations.md is generated from this table.
 */
import type { OpRegistry } from './types.js';
import { autoOrient } from './auto-orient.js';
import { resize } from './resize.js';
import { crop } from './crop.js';
import { flatten } from './flatten.js';
import { watermark } from './watermark.js';
import { circle } from './circle.js';
import { indexcrop } from './indexcrop.js';
import { roundedCorners } from './rounded-corners.js';
import { blur } from './blur.js';
import { rotate } from './rotate.js';
import { bright } from './bright.js';
import { contrast } from './contrast.js';
import { sharpen } from './sharpen.js';
import { cfResize } from './cf-resize.js';
import { cfTrim } from './cf-trim.js';
import { flip } from './flip.js';
import { gamma } from './gamma.js';
import { cfModulate } from './cf-modulate.js';
import { cfContrast } from './cf-contrast.js';
import { cfBlur } from './cf-blur.js';
import { cfSharpen } from './cf-sharpen.js';
import { border } from './border.js';

export const OPS = {
  autoOrient,
  resize,
  crop,
  indexcrop,
  circle,
  roundedCorners,
  blur,
  rotate,
  bright,
  contrast,
  sharpen,
  watermark,
  flatten,
  cfResize,
  cfTrim,
  flip,
  gamma,
  cfModulate,
  cfContrast,
  cfBlur,
  cfSharpen,
  border,
} as const satisfies OpRegistry;
