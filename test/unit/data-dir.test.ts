// The data dir and the embedded servers' files are the owner's alone; a production start on embedded servers is warned about.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../scripts/config';
import { makeFilesOwnerOnly, makePrivateDir, PRIVATE_DIR_MODE, tightenDir, TRAVERSABLE_DIR_MODE } from '../../scripts/lib/data-dir';
import { embeddedInProduction, lockDataDir, recordApiUrl, resolveAdminToken } from '../../scripts/lib/runtime';
import { startTemporalDevServer } from '../../scripts/lib/temporal-server';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'takedown-datadir-'));
  dirs.push(dir);
  chmodSync(dir, 0o755);
  return dir;
};
const modeOf = (p: string) => statSync(p).mode & 0o777;

describe('the data dir', () => {
  it('is made owner-only (0700), its missing parents as usual, and an existing one is left to tightenDir', () => {
    const root = scratch();
    const dir = path.join(root, 'a', 'b', 'data');
    expect(makePrivateDir(dir)).toBe(true);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(path.join(root, 'a'))).toBe(0o777 & ~process.umask());
    chmodSync(dir, 0o755);
    expect(makePrivateDir(dir)).toBe(false);
    expect(modeOf(dir)).toBe(0o755);
  });

  it('is owner-only whichever helper makes it first: the lock, the API URL file, the generated admin token', () => {
    for (const make of [
      (d: string) => lockDataDir(d)(),
      (d: string) => recordApiUrl(d, 'http://127.0.0.1:3000')(),
      (d: string) => resolveAdminToken(loadConfig({ TAKEDOWN_DATA_DIR: d })),
    ]) {
      const dir = path.join(scratch(), 'data');
      make(dir);
      expect(modeOf(dir)).toBe(0o700);
    }
  });

  it('takes away what group and others may do beyond the allowed mode, and says what it changed', () => {
    const dir = path.join(scratch(), 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o775);
    expect(tightenDir(dir)).toEqual({ dir, from: '0775', to: '0700' });
    expect(modeOf(dir)).toBe(0o700);
    expect(tightenDir(dir)).toBeNull();
    // As root the embedded PostgreSQL's user passes through (0711); listing and reading stay the owner's.
    chmodSync(dir, 0o755);
    expect(tightenDir(dir, TRAVERSABLE_DIR_MODE)).toEqual({ dir, from: '0755', to: '0711' });
    expect(tightenDir(dir, TRAVERSABLE_DIR_MODE)).toBeNull();
    expect(tightenDir(dir, PRIVATE_DIR_MODE)).toEqual({ dir, from: '0711', to: '0700' });
    // The owner's own bits are kept; no dir, or a file, is nothing to do.
    chmodSync(dir, 0o507);
    expect(tightenDir(dir)).toEqual({ dir, from: '0507', to: '0500' });
    chmodSync(dir, 0o700);
    expect(tightenDir(path.join(dir, 'missing'))).toBeNull();
    writeFileSync(path.join(dir, 'f'), '');
    expect(tightenDir(path.join(dir, 'f'))).toBeNull();
  });

  it('makes files owner-only and skips missing ones', () => {
    const dir = scratch();
    const file = path.join(dir, 'temporal.sqlite');
    writeFileSync(file, '', { mode: 0o644 });
    chmodSync(file, 0o664);
    makeFilesOwnerOnly([file, `${file}-wal`]);
    expect(modeOf(file)).toBe(0o600);
  });

  it("makes the Temporal dev server's dir owner-only before the server starts, and leaves an existing one to its caller", async () => {
    const root = scratch();
    const cliPath = path.join(root, 'temporal');
    writeFileSync(cliPath, '#!/bin/sh\nexit 0\n');
    chmodSync(cliPath, 0o755);
    const fresh = path.join(root, 'data', 'temporal');
    const start = (dataDir: string) => startTemporalDevServer({ cliPath, dataDir, port: 0, uiPort: 0, startTimeoutMs: 500 });
    await expect(start(fresh)).rejects.toThrow(/did not answer/);
    expect(modeOf(fresh)).toBe(0o700);
    // startServices tightens <data dir>/temporal itself, with a log line; the tests' shared dir stays as they made it.
    const shared = path.join(root, 'shared');
    mkdirSync(shared, { mode: 0o711 });
    chmodSync(shared, 0o711);
    await expect(start(shared)).rejects.toThrow(/did not answer/);
    expect(modeOf(shared)).toBe(0o711);
  });
});

describe('a production start on embedded servers', () => {
  const TOKEN = { TAKEDOWN_ADMIN_TOKEN: 'a-production-admin-token-0123456789' };

  it('is warned about, naming what is embedded, and only in production where embedded servers may start', () => {
    const production = loadConfig({ NODE_ENV: 'production', ...TOKEN });
    const both = embeddedInProduction(production, { embedded: true });
    expect(both).toMatch(/NODE_ENV=production with embedded PostgreSQL \(DATABASE_URL is unset\) and the Temporal dev server \(TEMPORAL_ADDRESS is unset\)/);
    expect(both).toContain(production.dataDir);
    expect(both).toMatch(/set DATABASE_URL and TEMPORAL_ADDRESS/);
    const pgOnly = embeddedInProduction(loadConfig({ NODE_ENV: 'production', ...TOKEN, TEMPORAL_ADDRESS: 'temporal:7233' }), { embedded: true });
    expect(pgOnly).toMatch(/embedded PostgreSQL/);
    expect(pgOnly).not.toMatch(/Temporal dev server/);
    expect(embeddedInProduction(loadConfig({ NODE_ENV: 'production', ...TOKEN, DATABASE_URL: 'postgres://a@db/t', TEMPORAL_ADDRESS: 'temporal:7233' }), { embedded: true })).toBeNull();
    // Development, and entry points that never start embedded servers (npm run api / worker need both URLs).
    expect(embeddedInProduction(loadConfig({}), { embedded: true })).toBeNull();
    expect(embeddedInProduction(production, { embedded: false })).toBeNull();
  });
});
