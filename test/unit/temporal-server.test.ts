// Starting the dev server: a server that exits while starting is tried again, and the failure says what it printed.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { startTemporalDevServer } from '../../scripts/lib/temporal-server';

/** Ports handed out by the next freePort calls instead of a free one (then the real choice again). */
const taken: number[] = [];
vi.mock('../../scripts/lib/ports', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../scripts/lib/ports')>();
  return { freePort: async (preferred?: number, host?: string) => taken.shift() ?? real.freePort(preferred, host) };
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for the CLI that records each start, prints a line and exits with `code`, or never answers ('hang'). */
function fakeCli(code: number | 'hang', after = 0): { cliPath: string; dataDir: string; starts: () => number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-temporal-'));
  dirs.push(dir);
  const cliPath = path.join(dir, 'temporal');
  const end = code === 'hang' ? 'exec sleep 60' : `${after ? `sleep ${after}\n` : ''}exit ${code}`;
  writeFileSync(cliPath, `#!/bin/sh\necho start >> "${dir}/starts"\necho "bind: address already in use" >&2\n${end}\n`);
  chmodSync(cliPath, 0o755);
  return { cliPath, dataDir: path.join(dir, 'data'), starts: () => readFileSync(path.join(dir, 'starts'), 'utf8').trim().split('\n').length };
}

describe('startTemporalDevServer', () => {
  it('starts a server that exits while starting again, then fails with its output', async () => {
    const cli = fakeCli(1);
    const logged: string[] = [];
    const started = Date.now();
    const err = await startTemporalDevServer({ cliPath: cli.cliPath, dataDir: cli.dataDir, port: 0, uiPort: 0, log: (m) => logged.push(m) }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/exited with code 1 while starting; its last output:\nbind: address already in use/);
    expect(cli.starts()).toBe(3);
    expect(logged.filter((m) => m.includes('starting it again'))).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('does not start again a server that only failed to answer in time: it is stopped and the timeout reported', async () => {
    const cli = fakeCli('hang');
    const err = await startTemporalDevServer({ cliPath: cli.cliPath, dataDir: cli.dataDir, port: 0, uiPort: 0, startTimeoutMs: 1_500 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/did not answer within 1500 ms/);
    expect(cli.starts()).toBe(1);
  });

  it('does not take another server that answers on the port it was given for its own (that port was bound by another start first)', async () => {
    // The port chosen free, then bound by another Temporal server (the tests' own) before this one: this one fails to
    // bind and exits a moment later, while the other answers there meanwhile.
    const other = Number(inject('temporalAddress').split(':').pop());
    taken.push(other);
    const cli = fakeCli(1, 1);
    const err = await startTemporalDevServer({ cliPath: cli.cliPath, dataDir: cli.dataDir, port: 0, uiPort: 0 }).then(
      (dev) => new Error(`started, at ${dev.address}`),
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/exited with code 1 while starting/);
  }, 30_000);
});
