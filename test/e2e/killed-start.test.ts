// A start killed outright (SIGKILL, the OOM killer) runs no exit hook: its embedded PostgreSQL and Temporal dev server
// outlive it. The next start on the same data dir stops them and starts its own, instead of failing on the data dir
// the old postmaster holds, or running a second Temporal server on the same SQLite file.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../scripts/config';
import { startSystem, type RunningSystem } from '../../scripts/lib/system';
import { ROOT } from '../support/paths';
import { quietRuntime } from '../support/stack';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'takedown-killed-'));
let running: RunningSystem | undefined;
const env = {
  TAKEDOWN_DATA_DIR: dataDir,
  PORT: '0',
  TEMPORAL_CLI_PATH: inject('temporalCliPath'),
  TAKEDOWN_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
  TAKEDOWN_ADMIN_TOKEN: 'killed-start-admin-token-0123456789',
};

/** The first start's servers, stopped here should the test fail before the second start stops them. */
const leftBehind: number[] = [];
afterAll(async () => {
  await running?.stop();
  for (const pid of leftBehind) if (commandLine(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** The live process `pid`'s command line ('' once it is gone, or a zombie). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

const pidIn = (file: string) => Number.parseInt(readFileSync(file, 'utf8'), 10);

it('stops the embedded servers a killed start left running, then starts on the same data dir', async () => {
  quietRuntime();
  // `npm start`'s own entry point, in a process of its own.
  const first = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    first.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Takedown is running')) resolve();
    });
    first.once('exit', (code) => reject(new Error(`the first start exited (${code}) before it was ready: ${out}`)));
  });
  const postmaster = pidIn(path.join(dataDir, 'postgres', 'postmaster.pid'));
  const temporal = pidIn(path.join(dataDir, 'temporal', 'server.pid'));
  leftBehind.push(postmaster, temporal);
  const exited = new Promise((resolve) => first.once('exit', resolve));
  first.kill('SIGKILL');
  await exited;
  // What the killed start left: its PostgreSQL and its Temporal server still run (neither writes to its closed pipe
  // at this log level).
  expect(commandLine(postmaster)).toContain(path.join(dataDir, 'postgres'));
  expect(commandLine(temporal)).toContain(path.join(dataDir, 'temporal', 'temporal.sqlite'));

  running = await startSystem(loadConfig(env), pino({ level: 'silent' }));
  const health = await fetch(`${running.apiUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(commandLine(postmaster)).toBe('');
  expect(commandLine(temporal)).toBe('');
  // The servers now running are the second start's own.
  expect(pidIn(path.join(dataDir, 'postgres', 'postmaster.pid'))).not.toBe(postmaster);
  expect(pidIn(path.join(dataDir, 'temporal', 'server.pid'))).not.toBe(temporal);
}, 180_000);
