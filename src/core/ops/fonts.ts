/**
 * Fonts for text watermarks (spec oss-img.md §3.3, font table).
 *
 * OSS names seven fonts. Halftone bundles two files in `assets/fonts/` (licences beside them):
 * Noto Sans Regular (OFL-1.1; Latin, Greek, Cyrillic) and Droid Sans Fallback (Apache-2.0; CJK).
 * `droidsansfallback` is the real font; the WenQuanYi and FangZheng names are not redistributable
 * or not bundled and map to the stand-in "Noto Sans, then Droid Sans Fallback for what Noto lacks".
 * When the Droid file is missing, everything maps to Noto Sans alone (CJK renders as boxes).
 * Rendering never depends on the host's fontconfig: every bundled file is registered with libvips
 * through sharp's `fontfile` text option before use (see watermark.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** OSS `type` values (decoded) that users may send. */
export const OSS_FONTS = [
  'wqy-zenhei',
  'wqy-microhei',
  'fangzhengshusong',
  'fangzhengkaiti',
  'fangzhengheiti',
  'fangzhengfangsong',
  'droidsansfallback',
] as const;
export type OssFont = (typeof OSS_FONTS)[number];

/** The OSS default font (`type` absent). */
export const DEFAULT_OSS_FONT: OssFont = 'wqy-zenhei';

/** A font file shipped in assets/fonts and the family name fontconfig knows it by. */
export interface BundledFont {
  readonly file: string;
  readonly family: string;
}

// src/core/ops → ../../../assets and dist/core/ops → ../../../assets (same depth).
const asset = (name: string): string => fileURLToPath(new URL(`../../../assets/fonts/${name}`, import.meta.url));

/** Noto Sans Regular: always bundled, the last resort for every name. */
export const NOTO_SANS: BundledFont = { file: asset('NotoSans-Regular.ttf'), family: 'Noto Sans' };
/** Droid Sans Fallback (full CJK coverage). */
export const DROID_SANS_FALLBACK: BundledFont = { file: asset('DroidSansFallbackFull.ttf'), family: 'Droid Sans Fallback' };

/** Bundled fonts that are present on disk, in fallback order. */
export const BUNDLED_FONTS: readonly BundledFont[] = [NOTO_SANS, DROID_SANS_FALLBACK].filter((f) => existsSync(f.file));

/** How one OSS name renders: the primary file and the Pango family list (first family wins per glyph). */
export interface FontChoice {
  readonly file: string;
  /** Comma-separated Pango families, e.g. `Noto Sans, Droid Sans Fallback`. */
  readonly families: string;
  /** Whether the real OSS font is used (false = stand-in). */
  readonly exact: boolean;
}

const hasDroid = (): boolean => BUNDLED_FONTS.includes(DROID_SANS_FALLBACK);

/**
 * Resolves an OSS font name (decoded `type`). Unknown names get the stand-in, like the
 * non-bundled ones; the dialect decides whether an unknown name is an error.
 */
export function resolveFont(family: string): FontChoice {
  if (!hasDroid()) return { file: NOTO_SANS.file, families: NOTO_SANS.family, exact: false };
  if (family === 'droidsansfallback') {
    // The real font first; Noto only for the few glyphs Droid Sans Fallback lacks.
    return { file: DROID_SANS_FALLBACK.file, families: `${DROID_SANS_FALLBACK.family}, ${NOTO_SANS.family}`, exact: true };
  }
  return { file: NOTO_SANS.file, families: `${NOTO_SANS.family}, ${DROID_SANS_FALLBACK.family}`, exact: false };
}

/** The primary font file for a requested family (what the runner hands operations as `OpEnv.fontFile`). */
export function defaultFontFile(family: string): string {
  return resolveFont(family).file;
}

/** Pango family list for a font file returned by {@link defaultFontFile} (stand-in list otherwise). */
export function familiesForFile(file: string): string {
  if (file === DROID_SANS_FALLBACK.file) return resolveFont('droidsansfallback').families;
  return resolveFont('').families;
}

/** Whether the always-bundled Noto Sans file is present (checked by tests and at start). */
export function bundledFontPresent(): boolean {
  return existsSync(NOTO_SANS.file);
}
