/**
 * Encoder quality from the OSS quality action (spec oss-img.md §3.4).
 *
 * `q` is relative to the source JPEG's estimated quality (source 80 + q_90 → 72); `Q` is absolute
 * but never raises quality above the source's; `Q` wins when both are given. Only JPEG and WebP
 * outputs use them. Without a quality action Halftone encodes JPEG at 85 and WebP at 80, capped at
 * the source's estimated JPEG quality (re-encoding above it only adds bytes): our documented
 * choice for the spec's UNCONFIRMED default.
 */
import type { OutputFormat, QualitySpec } from '../ir.js';
import { roundHalfUp } from '../ops/geometry.js';

export const DEFAULT_QUALITY: Readonly<Record<OutputFormat, number>> = {
  jpeg: 85, webp: 80, avif: 50, heic: 50, png: 100, gif: 100, tiff: 85, bmp: 100,
};

export function resolveQuality(format: OutputFormat, spec: QualitySpec | undefined, sourceJpegQuality: number | undefined): number {
  const def = DEFAULT_QUALITY[format];
  if (format !== 'jpeg' && format !== 'webp') return def;
  const src = sourceJpegQuality;
  if (spec?.absolute !== undefined) return clampQ(src === undefined ? spec.absolute : Math.min(spec.absolute, src));
  if (spec?.relative !== undefined) {
    // Relative only for JPEG sources; otherwise it behaves like Q.
    return clampQ(src === undefined ? spec.relative : roundHalfUp((src * spec.relative) / 100));
  }
  return clampQ(src === undefined ? def : Math.min(def, src));
}

function clampQ(q: number): number {
  return Math.max(1, Math.min(100, Math.round(q)));
}
