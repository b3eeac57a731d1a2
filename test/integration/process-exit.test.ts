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

it('stops a PostgreSQL left running when the process exits', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'takedown-exit-'));
  try {
    const status = runScript(`const { startEmbeddedPostgres } = await import('./scripts/lib/postgres.ts');
      await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)}, port: 0 });
      process.exit(5);`);
    expect(status).toBe(5);
    const pid = Number(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        spawnSync('sleep', ['0.1']);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
