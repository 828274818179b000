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
} as const satisfies OpRegistry;
