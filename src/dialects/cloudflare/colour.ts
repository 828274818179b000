/**
 * CSS colours for the Cloudflare dialect (`background`, `border`, `trim.border.color`):
 * `#RGB`, `#RGBA`, `#RRGGBB`, `#RRGGBBAA`, the 148 CSS named colours plus `transparent`,
 * `rgb()`/`rgba()` (numbers or percentages, comma or space separated, `/ alpha`) and
 * `hsl()`/`hsla()`. Pure.
 */
import type { Rgba } from '../../core/ir.js';

/** CSS Color Module Level 4 named colours (name:hex). */
const NAMED_SOURCE = `
  aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff beige:f5f5dc
  bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2 brown:a52a2a
  burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50
  cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b darkcyan:008b8b
  darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 darkkhaki:bdb76b
  darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc darkred:8b0000
  darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f
  darkslategrey:2f4f4f darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff
  dimgray:696969 dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0
  forestgreen:228b22 fuchsia:ff00ff gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700
  goldenrod:daa520 gray:808080 green:008000 greenyellow:adff2f grey:808080 honeydew:f0fff0
  hotpink:ff69b4 indianred:cd5c5c indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa
  lavenderblush:fff0f5 lawngreen:7cfc00 lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080
  lightcyan:e0ffff lightgoldenrodyellow:fafad2 lightgray:d3d3d3 lightgreen:90ee90 lightgrey:d3d3d3
  lightpink:ffb6c1 lightsalmon:ffa07a lightseagreen:20b2aa lightskyblue:87cefa
  lightslategray:778899 lightslategrey:778899 lightsteelblue:b0c4de lightyellow:ffffe0 lime:00ff00
  limegreen:32cd32 linen:faf0e6 magenta:ff00ff maroon:800000 mediumaquamarine:66cdaa
  mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db mediumseagreen:3cb371
  mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc mediumvioletred:c71585
  midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5 navajowhite:ffdead
  navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23 orange:ffa500 orangered:ff4500
  orchid:da70d6 palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee palevioletred:db7093
  papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd powderblue:b0e0e6
  purple:800080 rebeccapurple:663399 red:ff0000 rosybrown:bc8f8f royalblue:4169e1
  saddlebrown:8b4513 salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee sienna:a0522d
  silver:c0c0c0 skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa
  springgreen:00ff7f steelblue:4682b4 tan:d2b48c teal:008080 thistle:d8bfd8 tomato:ff6347
  turquoise:40e0d0 violet:ee82ee wheat:f5deb3 white:ffffff whitesmoke:f5f5f5 yellow:ffff00
  yellowgreen:9acd32`;

const NAMED: ReadonlyMap<string, string> = new Map(
  NAMED_SOURCE.trim().split(/\s+/).map((e) => e.split(':') as [string, string]),
);

function hex(h: string): Rgba | undefined {
  if (!/^[0-9a-f]+$/i.test(h)) return undefined;
  const full = h.length === 3 || h.length === 4 ? [...h].map((c) => c + c).join('') : h;
  if (full.length !== 6 && full.length !== 8) return undefined;
  const n = (i: number) => parseInt(full.slice(i, i + 2), 16);
  return { r: n(0), g: n(2), b: n(4), alpha: full.length === 8 ? Math.round((n(6) / 255) * 1000) / 1000 : 1 };
}

/** One rgb() channel: 0–255 or a percentage. */
function channel(s: string): number | undefined {
  const m = /^(-?[0-9]*\.?[0-9]+)(%?)$/.exec(s);
  if (m === null) return undefined;
  const v = m[2] === '%' ? (Number(m[1]) * 255) / 100 : Number(m[1]);
  return Math.round(Math.max(0, Math.min(255, v)));
}

function alphaValue(s: string | undefined): number | undefined {
  if (s === undefined) return 1;
  const m = /^([0-9]*\.?[0-9]+)(%?)$/.exec(s);
  if (m === null) return undefined;
  const v = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  return Math.max(0, Math.min(1, v));
}

function args(inner: string): string[] {
  // "1,2,3", "1 2 3", "1 2 3 / 0.5", "1,2,3,0.5"
  const [main = '', slash] = inner.split('/');
  const parts = main.split(/[\s,]+/).filter((x) => x !== '');
  if (slash !== undefined) parts.push(slash.trim());
  return parts;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

/** Parses a CSS colour (already percent-decoded), or undefined when it is not one. */
export function parseCssColour(input: string): Rgba | undefined {
  const s = input.trim().toLowerCase();
  if (s.startsWith('#')) return hex(s.slice(1));
  if (s === 'transparent') return { r: 0, g: 0, b: 0, alpha: 0 };
  const named = NAMED.get(s);
  if (named !== undefined) return hex(named);
  const fn = /^(rgba?|hsla?)\((.*)\)$/.exec(s);
  if (fn === null) return undefined;
  const a = args(fn[2] as string);
  if (a.length !== 3 && a.length !== 4) return undefined;
  const alpha = alphaValue(a[3]);
  if (alpha === undefined) return undefined;
  if (fn[1]?.startsWith('rgb')) {
    const [r, g, b] = a.slice(0, 3).map(channel);
    if (r === undefined || g === undefined || b === undefined) return undefined;
    return { r, g, b, alpha };
  }
  const h = Number((a[0] as string).replace(/deg$/, ''));
  const sat = /^([0-9.]+)%$/.exec(a[1] as string);
  const lig = /^([0-9.]+)%$/.exec(a[2] as string);
  if (!Number.isFinite(h) || sat === null || lig === null) return undefined;
  const [r, g, b] = hslToRgb(((h % 360) + 360) % 360, Math.min(1, Number(sat[1]) / 100), Math.min(1, Number(lig[1]) / 100));
  return { r, g, b, alpha };
}
