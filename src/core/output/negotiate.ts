/**
 * Output-format negotiation for dialects with `format=auto` (Cloudflare spec §7.2): AVIF when the
 * `Accept` header lists `image/avif`, else WebP when it lists `image/webp`, else the original
 * family. Pure functions: the HTTP layer passes the header value, never the request.
 */
import type { OutputFormat, SourceFormat } from '../ir.js';

/** Parsed `Accept` entries: lower-case media range → q (0–1). */
function acceptEntries(accept: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (accept === undefined) return out;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().split(';');
    const type = range.trim().toLowerCase();
    if (type === '') continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m !== null) q = Math.max(0, Math.min(1, Number(m[1])));
    }
    // The most favourable mention wins when a type is listed twice.
    out.set(type, Math.max(q, out.get(type) ?? 0));
  }
  return out;
}

/**
 * Whether `Accept` explicitly lists `mime` with q > 0. Wildcards (`image/*`, `*\/*`) do not count:
 * Cloudflare's behaviour for them is undocumented and treating them as "no modern format" is safe
 * (spec §7.2, UNCONFIRMED).
 */
export function acceptsExplicitly(accept: string | undefined, mime: string): boolean {
  return (acceptEntries(accept).get(mime) ?? 0) > 0;
}

/** The modern format `format=auto` picks from `Accept`, or null when neither AVIF nor WebP is listed. */
export function negotiateModernFormat(accept: string | undefined, options: { readonly avif?: boolean } = {}): 'avif' | 'webp' | null {
  if ((options.avif ?? true) && acceptsExplicitly(accept, 'image/avif')) return 'avif';
  if (acceptsExplicitly(accept, 'image/webp')) return 'webp';
  return null;
}

export interface FamilyInput {
  readonly source: SourceFormat;
  /** Whether the result has transparency the output must keep. */
  readonly hasAlpha: boolean;
  /** Whether the result is an animation that is kept. */
  readonly animated: boolean;
}

/**
 * The "original family" used when no format is requested or negotiation finds nothing (spec §7.1):
 * animations stay GIF; transparency needs PNG; JPEG stays JPEG, PNG stays PNG; other sources
 * (WebP, AVIF, HEIC, TIFF, BMP, still GIF) become JPEG, or PNG when they have alpha (a still GIF
 * becomes PNG, keeping its palette look lossless).
 */
export function originalFamily(f: FamilyInput): OutputFormat {
  if (f.animated) return 'gif';
  if (f.hasAlpha) return 'png';
  if (f.source === 'png' || f.source === 'gif') return 'png';
  return 'jpeg';
}

/** Everything `format=auto` decides. */
export function negotiateAuto(accept: string | undefined, f: FamilyInput, options: { readonly avif?: boolean } = {}): OutputFormat {
  const modern = negotiateModernFormat(accept, { avif: (options.avif ?? true) && !f.animated });
  // Animated output: only WebP can carry the animation among the modern formats.
  if (f.animated) return modern === 'webp' ? 'webp' : 'gif';
  return modern ?? originalFamily(f);
}
