// Where a process spent its CPU: self time of a V8 .cpuprofile grouped by package (or project folder) and by function.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './env';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface CpuSummary {
  totalMs: number;
  /** Share of wall time the main thread was busy (not idle). */
  busy: number;
  byGroup: { group: string; ms: number; share: number }[];
  byFunction: { fn: string; ms: number; share: number }[];
}

/** node_modules/<package> (scoped too), a project folder, Node's own code, or V8's pseudo-frames. */
function groupOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const u = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1];
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  if (u.startsWith(ROOT)) return `${path.relative(ROOT, u).split(path.sep)[0]}/`;
  return u.split('/').slice(-2).join('/');
}

export function summarizeCpuProfile(file: string, top = 12): CpuSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const totalUs = prof.endTime - prof.startTime;
  const group = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const g = groupOf(url, functionName);
    group.set(g, (group.get(g) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${groupOf(url, functionName)}:${path.basename(url)}:${lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busyUs = totalUs - idle;
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ k, ms: us / 1000, share: us / busyUs }));
  return {
    totalMs: totalUs / 1000,
    busy: busyUs / totalUs,
    byGroup: rank(group).map(({ k, ms, share }) => ({ group: k, ms, share })),
    byFunction: rank(fns).map(({ k, ms, share }) => ({ fn: k, ms, share })),
  };
}
