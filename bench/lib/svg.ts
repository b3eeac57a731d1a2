// Hand-written SVG charts of latency distributions: CDFs and histograms with axes, ticks, labels and a legend.

export interface Series {
  label: string;
  values: readonly number[];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const BASE: Frame = { width: 760, height: 380, left: 70, right: 24, top: 44, bottom: 58 };
const LEGEND_ROW = 18;

/** The plot area stays the same; the legend rows go below the axis label. */
function frameFor(series: number): Frame {
  const extra = series * LEGEND_ROW + 8;
  return { ...BASE, height: BASE.height + extra, bottom: BASE.bottom + extra };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10_000) return `${+(v / 1000).toFixed(1)}k`;
  if (a >= 100) return String(Math.round(v));
  if (a >= 1) return String(+v.toFixed(1));
  return String(+v.toPrecision(2));
};

function niceStep(range: number, target: number): number {
  const raw = range / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

function linearTicks(lo: number, hi: number, target = 6): number[] {
  const step = niceStep(hi - lo || 1, target);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

interface XScale {
  lo: number;
  hi: number;
  log: boolean;
  at(v: number): number;
  ticks: number[];
}

function xScale(all: number[], log: boolean, f: Frame): XScale {
  const positive = all.filter((v) => Number.isFinite(v) && (!log || v > 0));
  // A loop, not Math.min(...values): spreading a few hundred thousand samples overflows the call stack.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of positive) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) {
    lo = log ? 1 : 0;
    hi = 10;
  }
  if (log) {
    // A little room either side, so the extreme samples do not sit on the axes.
    lo = lo / 1.3;
    hi = hi * 1.15;
  } else {
    lo = 0;
    hi = hi * 1.05 || 1;
  }
  const w = f.width - f.left - f.right;
  const at = log ? (v: number) => f.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * w : (v: number) => f.left + ((v - lo) / (hi - lo)) * w;
  const ticks = log ? logTicks(lo, hi) : linearTicks(lo, hi);
  return { lo, hi, log, at, ticks };
}

function axes(f: Frame, x: XScale, yTicks: { v: number; label: string }[], yAt: (v: number) => number, xLabel: string, yLabel: string, title: string): string[] {
  const parts: string[] = [];
  const bottom = f.height - f.bottom;
  parts.push(`<text x="${f.width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`);
  for (const t of yTicks) {
    const y = yAt(t.v);
    parts.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${f.left - 8}" y="${y + 4}" text-anchor="end" font-size="11">${esc(t.label)}</text>`);
  }
  // Thin out x labels that would overlap.
  let lastX = -Infinity;
  for (const t of x.ticks) {
    const px = x.at(t);
    parts.push(`<line x1="${px}" x2="${px}" y1="${f.top}" y2="${bottom}" stroke="#f0f0f0"/>`);
    parts.push(`<line x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>`);
    if (px - lastX >= 34) {
      parts.push(`<text x="${px}" y="${bottom + 19}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
      lastX = px;
    }
  }
  parts.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(f.left + f.width - f.right) / 2}" y="${bottom + 38}" text-anchor="middle" font-size="12">${esc(xLabel)}${x.log ? ' (log scale)' : ''}</text>`);
  parts.push(`<text transform="translate(18 ${(f.top + bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  return parts;
}

function legend(f: Frame, series: Series[], extra: (s: Series) => string): string[] {
  const parts: string[] = [];
  const x = f.left;
  const first = f.height - f.bottom + 62;
  series.forEach((s, i) => {
    const y = first + i * LEGEND_ROW;
    parts.push(`<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="3"/>`);
    parts.push(`<text x="${x + 24}" y="${y}" font-size="11.5">${esc(s.label)}${esc(extra(s))}</text>`);
  });
  return parts;
}

function wrap(f: Frame, parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function pctOf(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Cumulative distribution of each series (share of samples at or below x), with p50/p99 guides. */
export function cdfSvg(opts: { title: string; xLabel: string; series: Series[]; logX?: boolean }): string {
  const series = opts.series.filter((s) => s.values.length > 0);
  const f = frameFor(series.length);
  const all = series.flatMap((s) => [...s.values]);
  const x = xScale(all, opts.logX ?? false, f);
  const bottom = f.height - f.bottom;
  const yAt = (v: number) => bottom - v * (bottom - f.top);
  const parts = axes(
    f,
    x,
    [0, 0.25, 0.5, 0.75, 1].map((v) => ({ v, label: `${v * 100}%` })),
    yAt,
    opts.xLabel,
    'share of samples ≤ x',
    opts.title,
  );
  for (const [p, label] of [
    [0.5, 'p50'],
    [0.99, 'p99'],
  ] as const) {
    parts.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${yAt(p)}" y2="${yAt(p)}" stroke="#999" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${f.width - f.right - 4}" y="${yAt(p) - 4}" text-anchor="end" font-size="10" fill="#666">${label}</text>`);
  }
  series.forEach((s, i) => {
    const sorted = [...s.values].sort((a, b) => a - b);
    const n = sorted.length;
    const stride = Math.max(1, Math.floor(n / 600));
    const pts: string[] = [`${x.at(sorted[0]).toFixed(1)},${yAt(0).toFixed(1)}`];
    for (let k = 0; k < n; k += stride) {
      const px = x.at(sorted[k]).toFixed(1);
      pts.push(`${px},${yAt(k / n).toFixed(1)}`, `${px},${yAt((k + 1) / n).toFixed(1)}`);
    }
    pts.push(`${x.at(sorted[n - 1]).toFixed(1)},${yAt(1).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2" points="${pts.join(' ')}"/>`);
  });
  parts.push(
    ...legend(f, series, (s) => {
      const sorted = [...s.values].sort((a, b) => a - b);
      return `  (n=${sorted.length}, p50 ${fmt(pctOf(sorted, 50))}, p99 ${fmt(pctOf(sorted, 99))})`;
    }),
  );
  return wrap(f, parts);
}

/** Histograms on shared bins, as the share of each series' samples per bin (so series of different sizes compare). */
export function histogramSvg(opts: { title: string; xLabel: string; series: Series[]; bins?: number; logX?: boolean }): string {
  const series = opts.series.filter((s) => s.values.length > 0);
  const f = frameFor(series.length);
  const all = series.flatMap((s) => [...s.values]);
  const x = xScale(all, opts.logX ?? false, f);
  const nb = opts.bins ?? 40;
  const edges = Array.from({ length: nb + 1 }, (_, i) =>
    x.log ? 10 ** (Math.log10(x.lo) + ((Math.log10(x.hi) - Math.log10(x.lo)) * i) / nb) : x.lo + ((x.hi - x.lo) * i) / nb,
  );
  const shares = series.map((s) => {
    const counts = new Array<number>(nb).fill(0);
    for (const v of s.values) {
      let b = edges.findIndex((e, i) => i > 0 && v < e) - 1;
      if (b < 0) b = v < edges[0] ? 0 : nb - 1;
      counts[b] += 1;
    }
    return counts.map((c) => c / s.values.length);
  });
  const maxShare = Math.max(0.01, ...shares.flat());
  const bottom = f.height - f.bottom;
  const top = niceStep(maxShare, 4) * Math.ceil(maxShare / niceStep(maxShare, 4));
  const yAt = (v: number) => bottom - (v / top) * (bottom - f.top);
  const parts = axes(
    f,
    x,
    linearTicks(0, top, 4).map((v) => ({ v, label: `${+(v * 100).toFixed(1)}%` })),
    yAt,
    opts.xLabel,
    'share of samples per bin',
    opts.title,
  );
  shares.forEach((sh, i) => {
    const pts: string[] = [`${x.at(edges[0]).toFixed(1)},${yAt(0).toFixed(1)}`];
    sh.forEach((v, b) => {
      pts.push(`${x.at(edges[b]).toFixed(1)},${yAt(v).toFixed(1)}`, `${x.at(edges[b + 1]).toFixed(1)},${yAt(v).toFixed(1)}`);
    });
    pts.push(`${x.at(edges[nb]).toFixed(1)},${yAt(0).toFixed(1)}`);
    const color = PALETTE[i % PALETTE.length];
    parts.push(`<polygon fill="${color}" fill-opacity="0.18" stroke="${color}" stroke-width="1.6" points="${pts.join(' ')}"/>`);
  });
  parts.push(...legend(f, series, (s) => `  (n=${s.values.length})`));
  return wrap(f, parts);
}
