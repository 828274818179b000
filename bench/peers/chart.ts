/**
 * The peers chart: throughput of each peer relative to the workload's reference peer, as grouped
 * horizontal bars (an SVG rendered to PNG by sharp/librsvg).
 */
import sharp from 'sharp';

interface ChartRow {
  readonly workload: string;
  readonly peer: string;
  readonly reqPerSec: number;
  readonly ratio?: number;
}

const COLOURS: Record<string, string> = {
  halftone: '#1f77b4',
  'halftone (no cache)': '#6baed6',
  'plain sharp': '#7f7f7f',
  ipx: '#ff7f0e',
  'bare node:http': '#2ca02c',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function renderChart(rows: readonly ChartRow[], workloads: readonly { id: string; title: string; reference: string }[]): Promise<Buffer> {
  const W = 1000;
  const left = 330;
  const barH = 16;
  const gap = 26;
  const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : 0);
  const maxRatio = Math.max(1.2, ...rows.map((r) => finite(r.ratio)));
  // Ratios span orders of magnitude (cached vs cold): a log scale keeps every bar readable.
  const logMax = Math.log10(maxRatio * 1.2);
  const logMin = Math.log10(0.05);
  const x = (ratio: number) => left + ((Math.log10(Math.max(ratio, 0.05)) - logMin) / (logMax - logMin)) * (W - left - 90);
  let y = 50;
  const parts: string[] = [];
  for (const w of workloads) {
    const rs = rows.filter((r) => r.workload === w.id);
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(w.title)} <tspan font-weight="normal" fill="#555">— ratio to ${esc(w.reference)}</tspan></text>`);
    y += 22;
    for (const r of rs) {
      const ratio = finite(r.ratio);
      parts.push(`<text x="${left - 6}" y="${y + 12}" font-size="12" text-anchor="end">${esc(r.peer)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(ratio) - left).toFixed(1)}" height="${barH}" fill="${COLOURS[r.peer] ?? '#999'}"/>`);
      parts.push(`<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + 12}" font-size="11">${ratio.toFixed(2)}× (${finite(r.reqPerSec).toFixed(finite(r.reqPerSec) < 10 ? 2 : 0)} req/s)</text>`);
      y += barH + 4;
    }
    y += gap;
  }
  const H = y + 20;
  const one = x(1);
  const ticks = [0.1, 0.5, 1, 2, 5, 10, 50, 100].filter((t) => t <= maxRatio * 1.2)
    .map((t) => `<text x="${x(t).toFixed(1)}" y="${H - 4}" font-size="10" text-anchor="middle" fill="#555">${t}×</text>`).join('\n');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="24" font-size="16" font-weight="bold">Throughput relative to the reference peer (log scale; 1× = reference)</text>
<line x1="${one.toFixed(1)}" y1="36" x2="${one.toFixed(1)}" y2="${H - 10}" stroke="#333" stroke-dasharray="4 3"/>
${parts.join('\n')}
${ticks}
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
