/**
 * The OSS `image/average-hue` answer (spec oss-img.md §3.14): `{"RGB":"0xrrggbb"}` with two
 * lower-case hex digits per channel. The averaging method is UNCONFIRMED in the spec; this follows
 * its recommendation: the arithmetic mean of each channel over the pixels that are not fully
 * transparent (alpha > 0), rounded half up (127.5 → 128 = 0x80). A fully transparent image
 * averages over all its pixels instead (there is no better colour to report).
 */

/** The mean colour of raw 8-bit pixels as `[r, g, b]` (integers 0–255). */
export function averageColour(data: Buffer | Uint8Array, channels: number): [number, number, number] {
  if (!(channels >= 1 && channels <= 4)) throw new RangeError(`averageColour: ${channels} channels`);
  const hasAlpha = channels === 2 || channels === 4;
  const sums = (skipTransparent: boolean): [number, number, number, number] => {
    let r = 0;
    let g = 0;
    let b = 0;
    let n = 0;
    for (let i = 0; i + channels <= data.length; i += channels) {
      if (skipTransparent && data[i + channels - 1] === 0) continue;
      const red = data[i] as number;
      r += red;
      g += channels >= 3 ? (data[i + 1] as number) : red;
      b += channels >= 3 ? (data[i + 2] as number) : red;
      n++;
    }
    return [r, g, b, n];
  };
  let [r, g, b, n] = sums(hasAlpha);
  if (n === 0 && hasAlpha) [r, g, b, n] = sums(false);
  // Round half up in integer arithmetic (no float drift on large images): floor((2·sum + n) / 2n).
  const mean = (sum: number): number => (n === 0 ? 0 : Math.floor((2 * sum + n) / (2 * n)));
  return [mean(r), mean(g), mean(b)];
}

/**
 * The OSS average-hue JSON body for raw 8-bit pixels (`channels` 1–4, interleaved, as
 * `sharp().raw()` produces them).
 */
export function averageHue(data: Buffer | Uint8Array, channels: number): string {
  const hex = (v: number): string => v.toString(16).padStart(2, '0');
  const [r, g, b] = averageColour(data, channels);
  return JSON.stringify({ RGB: `0x${hex(r)}${hex(g)}${hex(b)}` });
}
