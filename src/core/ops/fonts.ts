/**
 * Fonts for text watermarks. OSS names seven fonts (spec §3.3); Halftone bundles Noto Sans
 * (assets/fonts, OFL-1.1) and maps every name to it, so output never depends on fontconfig.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** OSS `type` values (decoded) that users may send. */
export const OSS_FONTS = ['wqy-zenhei', 'wqy-microhei', 'fangzhengshusong', 'fangzhengkaiti', 'fangzhengheiti', 'fangzhengfangsong', 'droidsansfallback'] as const;

// src/core/ops → ../../../assets; dist/core/ops → ../../../assets (same depth).
const BUNDLED = fileURLToPath(new URL('../../../assets/fonts/NotoSans-Regular.ttf', import.meta.url));

/** The font file for a requested family: every family maps to the bundled Noto Sans. */
export function defaultFontFile(_family: string): string {
  return BUNDLED;
}

/** Pango family name inside the bundled file. */
export const BUNDLED_FAMILY = 'Noto Sans';

export function bundledFontPresent(): boolean {
  return existsSync(BUNDLED);
}
