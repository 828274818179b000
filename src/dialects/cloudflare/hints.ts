/**
 * Request-dependent choices of the Cloudflare dialect, as pure functions of header values
 * (spec §6.2 `width=auto`, §8.2 `slow-connection-quality`). The HTTP layer passes the header
 * strings; nothing here sees a request.
 */
import { DEFAULT_BREAKPOINTS, type CfOptions } from './parse.js';

/** The request headers these choices read (lower-case names, as received). */
export interface ClientHints {
  readonly 'sec-ch-viewport-width'?: string | undefined;
  readonly 'viewport-width'?: string | undefined;
  readonly 'sec-ch-dpr'?: string | undefined;
  readonly dpr?: string | undefined;
  readonly 'user-agent'?: string | undefined;
  readonly 'sec-ch-ua-mobile'?: string | undefined;
  readonly rtt?: string | undefined;
  readonly 'save-data'?: string | undefined;
  readonly ect?: string | undefined;
  readonly downlink?: string | undefined;
}

export interface AutoWidth {
  readonly width: number;
  /** Headers the choice depended on, for `Vary`. */
  readonly vary: readonly string[];
}

const MOBILE_UA = /Mobi|Android|iPhone|iPod|IEMobile|BlackBerry|Opera Mini/i;

function positive(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * `width=auto`: with a viewport-width hint, the smallest breakpoint ≥ viewport × dpr (the largest
 * breakpoint when none is big enough); without hints, `wmobile` (768) for mobile user agents and
 * `wdesktop` (1200) otherwise.
 */
export function resolveAutoWidth(o: Pick<CfOptions, 'wbreakpoints' | 'wmobile' | 'wdesktop'>, h: ClientHints): AutoWidth {
  const viewport = positive(h['sec-ch-viewport-width']) ?? positive(h['viewport-width']);
  if (viewport !== undefined) {
    const dpr = positive(h['sec-ch-dpr']) ?? positive(h.dpr) ?? 1;
    const need = viewport * dpr;
    const points = o.wbreakpoints !== undefined && o.wbreakpoints.length > 0 ? o.wbreakpoints : DEFAULT_BREAKPOINTS;
    const width = points.find((p) => p >= need) ?? (points[points.length - 1] as number);
    return { width, vary: ['Sec-CH-Viewport-Width', 'Sec-CH-DPR'] };
  }
  const mobile = h['sec-ch-ua-mobile'] === '?1' || MOBILE_UA.test(h['user-agent'] ?? '');
  return { width: mobile ? o.wmobile ?? 768 : o.wdesktop ?? 1200, vary: ['User-Agent', 'Sec-CH-UA-Mobile'] };
}

/** Whether the network hints say "slow" (any one: RTT > 150, Save-Data on, ECT ≤ 3g, Downlink < 5). */
export function isSlowConnection(h: ClientHints): boolean {
  const rtt = h.rtt === undefined ? undefined : Number(h.rtt);
  if (rtt !== undefined && Number.isFinite(rtt) && rtt > 150) return true;
  if ((h['save-data'] ?? '').trim().toLowerCase() === 'on') return true;
  const ect = (h.ect ?? '').trim().toLowerCase();
  if (ect === 'slow-2g' || ect === '2g' || ect === '3g') return true;
  const down = h.downlink === undefined ? undefined : Number(h.downlink);
  return down !== undefined && Number.isFinite(down) && down < 5;
}

/** The network hint headers `slow-connection-quality` reads (for `Vary`). */
export const NETWORK_HINTS: readonly string[] = ['RTT', 'Save-Data', 'ECT', 'Downlink'];
