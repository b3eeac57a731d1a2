// Summaries of measured samples: percentiles (nearest rank), means, spreads, and how they are printed.

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const mean = n === 0 ? NaN : s.reduce((a, b) => a + b, 0) / n;
  return { n, mean, min: s[0] ?? NaN, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[n - 1] ?? NaN };
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * The median: the middle value, or the mean of the two middle values of an even count. Not percentile(…, 50), which
 * takes the lower of the two: over the overhead benchmark's four block ratios that reported the second lowest.
 */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds, rounded to what a reader needs. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(1)} s`;
  if (v >= 100) return `${Math.round(v)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

export function num(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return '–';
  return v.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function int(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return Math.round(v).toLocaleString('en-GB');
}

export function bytes(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(2)} GiB`;
  if (a >= 1024 ** 2) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  if (a >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${Math.round(v)} B`;
}

export function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(0)} %` : '–';
}

/** A markdown table from a header row and rows of cells. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  // Text columns (SQL, names) read better left-aligned; numbers right-aligned.
  const texty = (i: number) => {
    const cells = rows.map((r) => String(r[i] ?? '')).filter((c) => c !== '');
    return cells.length > 0 && cells.filter((c) => /^[`A-Za-z*…]/.test(c)).length * 2 > cells.length;
  };
  const align = header.map((_, i) => (i === 0 || texty(i) ? '---' : '---:'));
  return [line(header), `|${align.map((a) => ` ${a} `).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
  return out;
}

export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));

/** Rejects when `p` has not settled within `msec`: a stuck case fails the benchmark instead of hanging it. */
export async function withTimeout<T>(p: Promise<T>, msec: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${Math.round(msec / 1000)} s`)), msec);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns a value; throws after `msec` without one. */
export async function until<T>(what: string, msec: number, check: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + msec;
  for (;;) {
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(msec / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * What the throughput targets ask of the takedown's CPU per case. The floor copies every Temporal primitive of a case,
 * so only the takedown's own work (its CPU beyond the floor's) can close the gap: a saving shared by both sides leaves
 * the ratio where it was, or lowers it.
 */
export function targetGap(takedownMs: number, floorMs: number): string {
  const own = takedownMs - floorMs;
  const at = (ratio: number) => {
    const needed = takedownMs - floorMs / ratio;
    const allowed = `${ratio}, the takedown may use ${ms(floorMs / ratio)} per case`;
    return needed <= 0 ? `${allowed}: met` : `${allowed}: ${ms(needed)} less (${num((needed / own) * 100, 0)} % of its own work)`;
  };
  return `The takedown's own work, its CPU beyond the floor's, is ${ms(own)} per case. Since the floor copies every Temporal
primitive of a case, only that work moves the ratio; a saving both sides share leaves it where it is or lowers it. For a
CPU-bound throughput ratio of ${at(0.67)}; of ${at(0.8)}.`;
}
