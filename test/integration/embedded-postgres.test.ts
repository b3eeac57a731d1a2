// The embedded PostgreSQL starts on another port when the one it chose is taken before it binds it: a Temporal dev
// server started beside it picks its own free ports at the same moment (seen once in CI's benchmark smoke run).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
