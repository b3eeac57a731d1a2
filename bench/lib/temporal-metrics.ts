// Counters from the Temporal dev server's own Prometheus endpoint: what each side asked of Temporal, per case.

/** The counters read, as "metric service operation" (service_name and operation labels; namespaces summed). */
export type Counters = Map<string, number>;

/** The kinds of counter kept, as the report names them. */
export const KIND = { frontend: 'frontend request', persistence: 'persistence', visibility: 'visibility store' } as const;

/** Which of the server's counters are kept: requests its frontend answered, and its persistence and visibility store operations. */
const KEPT: Record<string, string> = {
  service_requests: KIND.frontend,
  persistence_requests: KIND.persistence,
  visibility_persistence_requests: KIND.visibility,
};

const LINE = /^([a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$/;

export function parseCounters(text: string): Counters {
  const out: Counters = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || !(m[1] in KEPT)) continue;
    const service = /service_name="([^"]*)"/.exec(m[2])?.[1] ?? '';
    // The frontend's requests are what workers and clients send; the other services' requests are the server's own hops.
    if (m[1] === 'service_requests' && service !== 'frontend') continue;
    const op = /operation="([^"]*)"/.exec(m[2])?.[1] ?? '';
    const key = `${KEPT[m[1]]} ${op}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

export async function scrapeCounters(url: string): Promise<Counters> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return parseCounters(await res.text());
}

/** Adds `after − before` into `into`. */
export function addDelta(into: Counters, before: Counters, after: Counters): void {
  for (const [k, v] of after) into.set(k, (into.get(k) ?? 0) + v - (before.get(k) ?? 0));
}

export interface CounterRow {
  kind: string;
  operation: string;
  takedown: number;
  floor: number;
}

/**
 * Per-case counts of both sides, every counter either side used at least `min` times per case, by kind, the largest
 * differences first; each kind closes with its total.
 */
export function perCaseRows(takedown: Counters, takedownCases: number, floor: Counters, floorCases: number, min = 0.05): CounterRow[] {
  const rows: CounterRow[] = [];
  for (const kind of Object.values(KIND)) {
    const keys = new Set([...takedown.keys(), ...floor.keys()].filter((k) => k.startsWith(`${kind} `)));
    const all = [...keys].map((k) => ({ kind, operation: k.slice(kind.length + 1), takedown: (takedown.get(k) ?? 0) / takedownCases, floor: (floor.get(k) ?? 0) / floorCases }));
    if (all.length === 0) continue;
    const shown = all.filter((r) => r.takedown >= min || r.floor >= min).sort((a, b) => Math.abs(b.takedown - b.floor) - Math.abs(a.takedown - a.floor) || b.takedown - a.takedown);
    rows.push(...shown, { kind, operation: 'all', takedown: all.reduce((a, r) => a + r.takedown, 0), floor: all.reduce((a, r) => a + r.floor, 0) });
  }
  return rows;
}
