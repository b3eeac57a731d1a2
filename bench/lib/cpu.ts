// CPU time by process over a phase (Linux /proc): the driver, the SUT, Temporal, PostgreSQL, and everything else on the machine.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Stat {
  ppid: number;
  /** utime + stime + cutime + cstime, in ms: the process and its reaped children. */
  cpuMs: number;
}

function readStat(pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(rest[i]);
    return { ppid: n(1), cpuMs: (n(11) + n(12) + n(13) + n(14)) * TICK_MS };
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** The pid of a process and of its children (PostgreSQL's backends are children of the postmaster). */
function treeCpu(root: number, pids: number[], stats: Map<number, Stat | null>): number {
  let total = 0;
  const seen = new Set<number>();
  const walk = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    const st = stats.get(pid);
    if (!st) return;
    total += st.cpuMs;
    for (const p of pids) if (stats.get(p)?.ppid === pid) walk(p);
  };
  walk(root);
  return total;
}

function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - idle) * TICK_MS;
}

/** The postmaster of the PostgreSQL whose data directory is `dataDir` (found by its command line). */
export function findPostmaster(dataDir: string): number | undefined {
  for (const pid of allPids()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('postgres')) && cmd.some((a) => a.startsWith(dataDir))) {
        const st = readStat(pid);
        // The postmaster is the one whose parent is not itself a postgres process of this cluster.
        if (st && !readFileSync(`/proc/${st.ppid}/cmdline`, 'utf8').includes(dataDir)) return pid;
      }
    } catch {
      // gone already
    }
  }
  return undefined;
}

export interface CpuSample {
  wallMs: number;
  machineBusyMs: number;
  byName: Record<string, number>;
  /** The SUT's threads: main (API + activities), the workflow threads, the SDK core (Rust), the rest (V8 GC, libuv). */
  sutThreads: Record<string, number>;
}

/** The threads of a process (`self`: this one) with their names, from /proc/<pid>/task; a thread that ended is left out. */
export function threadsOf(pid: number | 'self'): { tid: number; comm: string }[] {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      return [{ tid: Number(tid), comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() }];
    } catch {
      return [];
    }
  });
}

/**
 * Thread CPU of one process grouped by role, from /proc/<pid>/task/<tid>/{stat,comm}: the main thread, the workflow
 * threads (Node worker threads, whose ids the SUT reports: their name is just "node"), the SDK core's Rust threads
 * (tokio runtime, workflow processing, timers), and the rest.
 */
function threadCpu(pid: number | undefined, workflowThreads: ReadonlySet<number>): Record<string, number> {
  const out: Record<string, number> = {};
  if (!pid) return out;
  for (const { tid, comm } of threadsOf(pid)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(rest[11]) + Number(rest[12])) * TICK_MS;
      const group = tid === pid ? 'main' : workflowThreads.has(tid) ? 'workflow' : /^(tokio|workflow-proc|temporal)/.test(comm) ? 'core' : 'other';
      out[group] = (out[group] ?? 0) + ms;
    } catch {
      // the thread ended
    }
  }
  return out;
}

export class CpuMeter {
  private readonly workflowThreads: ReadonlySet<number>;

  constructor(
    private readonly roots: Record<string, number | undefined>,
    opts: { workflowThreads?: readonly number[] } = {},
  ) {
    this.workflowThreads = new Set(opts.workflowThreads ?? []);
  }

  sample(): CpuSample & { at: number } {
    const pids = allPids();
    const stats = new Map(pids.map((p) => [p, readStat(p)]));
    const byName: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.roots)) byName[name] = pid ? treeCpu(pid, pids, stats) : 0;
    const self = process.cpuUsage();
    byName.driver = (self.user + self.system) / 1000;
    return { at: performance.now(), wallMs: 0, machineBusyMs: machineBusyMs(), byName, sutThreads: threadCpu(this.roots.sut, this.workflowThreads) };
  }

  /** CPU used between two samples; "other" is the rest of the machine (other developers' work). */
  static diff(a: CpuSample & { at: number }, b: CpuSample & { at: number }): CpuSample & { other: number; cores: number } {
    const byName: Record<string, number> = {};
    for (const k of Object.keys(b.byName)) byName[k] = b.byName[k] - (a.byName[k] ?? 0);
    const sutThreads: Record<string, number> = {};
    for (const k of Object.keys(b.sutThreads)) sutThreads[k] = b.sutThreads[k] - (a.sutThreads[k] ?? 0);
    const ours = Object.values(byName).reduce((x, y) => x + y, 0);
    const machine = b.machineBusyMs - a.machineBusyMs;
    return { wallMs: b.at - a.at, machineBusyMs: machine, byName, sutThreads, other: Math.max(0, machine - ours), cores: os.cpus().length };
  }
}
