/**
 * The OSS `image/average-hue` answer: `{"RGB":"0xrrggbb"}`, the arithmetic mean of each colour
 * channel over opaque pixels (alpha > 0), rounded half up (spec oss-img.md §3.14; the averaging
 * method is UNCONFIRMED there, this is its recommendation).
 */
export function averageHue(data: Buffer, channels: number): string {
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  const hasAlpha = channels === 2 || channels === 4;
  for (let i = 0; i + channels <= data.length; i += channels) {
    if (hasAlpha && data[i + channels - 1] === 0) continue;
    const red = data[i] as number;
    r += red;
    g += channels >= 3 ? (data[i + 1] as number) : red;
    b += channels >= 3 ? (data[i + 2] as number) : red;
    n++;
  }
  const hex = (sum: number): string => (n === 0 ? 0 : Math.floor(sum / n + 0.5)).toString(16).padStart(2, '0');
  return JSON.stringify({ RGB: `0x${hex(r)}${hex(g)}${hex(b)}` });
}
