// A process that uses the embedded PostgreSQL keeps its own exit code (a failing test run must not exit 0, a passing one
// must not exit 1), and a PostgreSQL it started does not outlive it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../support/paths';

function runScript(code: string): number | null {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return r.status;
}

it('keeps the exit code set by the process', () => {
  expect(runScript(`await import('./scripts/lib/postgres.ts'); process.exitCode = 3;`)).toBe(3);
  expect(runScript(`await import('./scripts/lib/postgres.ts');`)).toBe(0);
});

/**
 * Whether the postmaster named in `dir`'s postmaster.pid is still alive 20 s on (false once it is gone): a fast
 * shutdown writes a checkpoint, which takes seconds on a machine the rest of the suite keeps busy.
 */
function postmasterOutlives(dir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    // A postmaster removes its pid file as it shuts down: no file, no postmaster.
    return false;
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
      spawnSync('sleep', ['0.1']);
    } catch {
      return false;
    }
  }
  return true;
}

it('stops a PostgreSQL left running when the process exits', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'takedown-exit-'));
  try {
    const status = runScript(`const { startEmbeddedPostgres } = await import('./scripts/lib/postgres.ts');
      await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)}, port: 0 });
      process.exit(5);`);
    expect(status).toBe(5);
    expect(postmasterOutlives(dir)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('stops a PostgreSQL still starting when the process exits (another part of the start failed meanwhile)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'takedown-exit-'));
  try {
    // Initialised and stopped first, so the second start is the postmaster's alone.
    expect(runScript(`const { startEmbeddedPostgres } = await import('./scripts/lib/postgres.ts');
      await (await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)}, port: 0 })).stop();`)).toBe(0);
    const status = runScript(`const { existsSync } = await import('node:fs');
      const { startEmbeddedPostgres } = await import('./scripts/lib/postgres.ts');
      startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)}, port: 0 }).catch(() => {});
      while (!existsSync(${JSON.stringify(path.join(dir, 'postgres', 'postmaster.pid'))})) await new Promise((r) => setTimeout(r, 10));
      process.exit(6);`);
    expect(status).toBe(6);
    expect(postmasterOutlives(dir)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
