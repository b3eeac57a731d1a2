// Embedded servers left running by a start whose process was killed outright (SIGKILL, the OOM killer: no exit hook
// ran). The next start on the same data dir stops them before it starts its own: PostgreSQL refuses a data dir that a
// leftover postmaster holds, and a second Temporal dev server on the same SQLite file would corrupt it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Leftover {
  server: 'postgres' | 'temporal';
  pid: number;
  /** Whether it was gone within the time allowed (after the last signal). */
  stopped: boolean;
}

export interface LeftoverSpec {
  server: Leftover['server'];
  /** The file its pid was written to; its first line. */
  pidFile: string;
  /**
   * Its program (its file name, or the line of the pid file that names it) and the argument naming this data dir
   * (`-D <dir>`, `--db-filename <file>`): a pid reused since by any other process (one merely naming the same path, say)
   * is left alone.
   */
  program: string | { pidFileLine: number };
  flag: string;
  value: string;
  /** The signal asking it to stop, and the one sent when it has not within `graceMs`. */
  signal: NodeJS.Signals;
  graceMs: number;
  force: NodeJS.Signals;
}

/** Process `pid`'s arguments, or none when it is gone or a zombie (an exited child its parent has not reaped). */
function argumentsOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    if (process.platform === 'linux') return [];
  }
  // Without /proc (macOS): ps, which prints nothing for a pid that is gone (paths with spaces are not told apart here).
  const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000 });
  return ps.status === 0 ? ps.stdout.trim().split(/\s+/) : [];
}

/** Whether process `pid` runs `program` with the spec's argument. */
function isTheServer(pid: number, program: string, spec: LeftoverSpec): boolean {
  const args = argumentsOf(pid);
  // The program is the first argument, or the second when an interpreter runs it (a wrapper script named as the CLI).
  return args.slice(0, 2).some((a) => path.basename(a) === program) && args.some((a, i) => a === spec.flag && args[i + 1] === spec.value);
}

/** The pid the spec's pid file names, and the program it runs; undefined when there is no such file or pid. */
function readPidFile(spec: LeftoverSpec): { pid: number; program: string } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(spec.pidFile, 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(lines[0], 10);
  const program = typeof spec.program === 'string' ? spec.program : path.basename(lines[spec.program.pidFileLine] ?? '');
  return Number.isInteger(pid) && pid > 1 && pid !== process.pid && program ? { pid, program } : undefined;
}

async function stopped(pid: number, program: string, spec: LeftoverSpec, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (!isTheServer(pid, program, spec)) return true;
  }
  return !isTheServer(pid, program, spec);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/**
 * Stops each server whose pid file names a live process running on this data dir. The caller holds the data dir's lock
 * (lockDataDir), so a live one is no other start's. Returns what it found.
 */
export async function stopLeftoverServers(specs: LeftoverSpec[]): Promise<Leftover[]> {
  const found: Leftover[] = [];
  await Promise.all(
    specs.map(async (spec) => {
      const named = readPidFile(spec);
      if (!named || !isTheServer(named.pid, named.program, spec)) return;
      const { pid, program } = named;
      signal(pid, spec.signal);
      let gone = await stopped(pid, program, spec, spec.graceMs);
      if (!gone) {
        signal(pid, spec.force);
        gone = await stopped(pid, program, spec, 5_000);
      }
      found.push({ server: spec.server, pid, stopped: gone });
    }),
  );
  return found;
}
