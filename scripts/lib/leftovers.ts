// Embedded servers left running by a start whose process was killed outright (SIGKILL, the OOM killer: no exit hook
// ran). The next start on the same data dir stops them before it starts its own: PostgreSQL refuses a data dir that a
// leftover postmaster holds, and a second Temporal dev server on the same SQLite file would corrupt it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
  /** A text its command line holds (its data dir or file): a pid reused by another process since is left alone. */
  marker: string;
  /** The signal asking it to stop, and the one sent when it has not within `graceMs`. */
  signal: NodeJS.Signals;
  graceMs: number;
  force: NodeJS.Signals;
}

/** Process `pid`'s command line, or '' when it is gone or a zombie (an exited child its parent has not reaped). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    if (process.platform === 'linux') return '';
  }
  // Without /proc (macOS): ps, which prints nothing for a pid that is gone.
  const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 5_000 });
  return ps.status === 0 ? ps.stdout.trim() : '';
}

function pidIn(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0], 10);
    return Number.isInteger(pid) && pid > 1 && pid !== process.pid ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function stopped(pid: number, marker: string, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (!commandLine(pid).includes(marker)) return true;
  }
  return !commandLine(pid).includes(marker);
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
      const pid = pidIn(spec.pidFile);
      if (pid === undefined || !commandLine(pid).includes(spec.marker)) return;
      signal(pid, spec.signal);
      let gone = await stopped(pid, spec.marker, spec.graceMs);
      if (!gone) {
        signal(pid, spec.force);
        gone = await stopped(pid, spec.marker, 5_000);
      }
      found.push({ server: spec.server, pid, stopped: gone });
    }),
  );
  return found;
}
