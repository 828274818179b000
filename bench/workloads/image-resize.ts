/**
 * Workload group: resize + re-encode through the OSS door, against the same work in plain sharp.
 *
 * Candidate: `transformOss(source, process, { loadObject })`, the use case the HTTP routes and the
 * CLI call (parse → probe → limits → plan → run → encode).
 * Baseline: the sharp call a user would write for the same result, with the encoder settings the
 * engine uses (src/core/pipeline/run.ts `encode()`, src/core/output/quality.ts):
 *   JPEG  quality = min(Q, source JPEG quality) = 80 (source is q90), mozjpeg off, baseline
 *   WebP  quality 80, effort 4
 *   AVIF  quality 50 (engine default), effort 4
 *   PNG   compressionLevel 6, adaptiveFiltering off (sharp's defaults)
 * The twin repeats the baseline with the engine's exact geometry (explicit height, fit fill) and
 * must be byte-identical to the engine's output: that proves the settings match.
 */
import sharp, { type Sharp } from 'sharp';
import { transformOss } from '../../src/app/transform-image.js';
import { AppError } from '../../src/core/errors.js';
import { cached, photoAt, withGradientAlpha } from '../lib/fixtures.js';
import type { BenchContext, Contender, OpOutput, PreparedWorkload, Workload, WorkloadGroup } from '../lib/types.js';

const PHOTOS = ['burano_canal_3984x2988.jpg', 'hato_3082x2048.jpg'] as const;

/** 2725×2225 JPEG q90 from a corpus photo (scaled to cover, centre-cropped). */
export async function bigJpeg(ctx: BenchContext): Promise<Buffer> {
  return cached(ctx, 'photo-2725x2225-q90.v1.jpg', async () => {
    const { img } = await photoAt(ctx, 2725, 2225, PHOTOS);
    return img.jpeg({ quality: 90 }).toBuffer();
  });
}

/** 1024×768 RGBA PNG: a photo with a left-to-right alpha gradient. */
export async function rgbaPng(ctx: BenchContext): Promise<Buffer> {
  return cached(ctx, 'photo-1024x768-rgba.v1.png', async () => {
    const { img } = await photoAt(ctx, 1024, 768, PHOTOS);
    return (await withGradientAlpha(img, 1024, 768)).png().toBuffer();
  });
}

const noObjects = async (key: string): Promise<Buffer> => {
  throw new AppError('NO_SUCH_KEY', `benchmark has no object ${key}`);
};

function engine(source: Buffer, process: string): Contender {
  return {
    label: 'halftone',
    code: `transformOss(buf, '${process}', { loadObject })`,
    async run(): Promise<OpOutput> {
      const res = await transformOss(source, process, { loadObject: noObjects });
      if (res.kind !== 'image') throw new Error(`expected an image from ${process}`);
      return { format: res.format, width: res.width, height: res.height, bytes: res.data.length, data: res.data };
    },
  };
}

function plain(label: string, code: string, build: () => Sharp): Contender {
  return {
    label,
    code,
    async run(): Promise<OpOutput> {
      const { data, info } = await build().toBuffer({ resolveWithObject: true });
      return { format: info.format === 'heif' ? 'avif' : info.format, width: info.width, height: info.height, bytes: data.length, data };
    },
  };
}

interface Spec {
  readonly id: string;
  readonly title: string;
  readonly input: string;
  readonly source: (ctx: BenchContext) => Promise<Buffer>;
  readonly srcW: number;
  readonly srcH: number;
  readonly width: number;
  readonly process: string;
  /** The encoder call, applied to a resized sharp pipeline; `code` is its source text. */
  readonly encoder: { readonly code: string; readonly apply: (img: Sharp) => Sharp };
}

function workload(spec: Spec): Workload {
  return {
    id: spec.id,
    title: spec.title,
    input: spec.input,
    async setup(ctx): Promise<PreparedWorkload> {
      const src = await spec.source(ctx);
      const h = Math.round((spec.srcH * spec.width) / spec.srcW);
      return {
        candidate: engine(src, spec.process),
        baseline: plain('plain sharp', `sharp(buf).resize(${spec.width})${spec.encoder.code}`, () => spec.encoder.apply(sharp(src).resize(spec.width))),
        twin: plain('plain sharp (exact geometry)', `sharp(buf).resize(${spec.width}, ${h}, { fit: 'fill' })${spec.encoder.code}`, () =>
          spec.encoder.apply(sharp(src).resize(spec.width, h, { fit: 'fill' })),
        ),
      };
    },
  };
}

const JPEG_IN = '2725×2225 JPEG q90 (corpus photo, cached in .tmp/bench)';

export const imageResize: WorkloadGroup = {
  id: 'image-resize',
  title: 'Resize and re-encode (OSS door vs plain sharp)',
  workloads: [
    workload({
      id: 'jpeg-300-jpeg',
      title: '2725×2225 JPEG → 300 px JPEG q80',
      input: JPEG_IN,
      source: bigJpeg,
      srcW: 2725,
      srcH: 2225,
      width: 300,
      process: 'image/resize,w_300/quality,Q_80',
      encoder: { code: '.jpeg({ quality: 80 })', apply: (i) => i.jpeg({ quality: 80 }) },
    }),
    workload({
      id: 'jpeg-300-webp',
      title: '2725×2225 JPEG → 300 px WebP q80',
      input: JPEG_IN,
      source: bigJpeg,
      srcW: 2725,
      srcH: 2225,
      width: 300,
      process: 'image/resize,w_300/format,webp/quality,Q_80',
      encoder: { code: '.webp({ quality: 80, effort: 4 })', apply: (i) => i.webp({ quality: 80, effort: 4 }) },
    }),
    workload({
      id: 'jpeg-1000-avif',
      title: '2725×2225 JPEG → 1000 px AVIF (q50, effort 4)',
      input: JPEG_IN,
      source: bigJpeg,
      srcW: 2725,
      srcH: 2225,
      width: 1000,
      process: 'image/resize,w_1000/format,avif',
      encoder: { code: '.avif({ quality: 50, effort: 4 })', apply: (i) => i.avif({ quality: 50, effort: 4 }) },
    }),
    workload({
      id: 'png-500-png',
      title: '1024×768 RGBA PNG → 500 px PNG',
      input: '1024×768 RGBA PNG (corpus photo + horizontal alpha gradient, cached in .tmp/bench)',
      source: rgbaPng,
      srcW: 1024,
      srcH: 768,
      width: 500,
      process: 'image/resize,w_500',
      encoder: { code: '.png()', apply: (i) => i.png() },
    }),
  ],
};
