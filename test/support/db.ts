// A fresh database per test file on the shared PostgreSQL: migrated by the superuser that owns the tables, used through
// the application's role (takedown_app) with only the privileges db/roles.ts grants, as in production.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDb, type DbHandle } from '../../db/client';
import { migrateFor } from '../../db/migrate';

export interface TestDb extends DbHandle {
  name: string;
  /** The application role's URL (DATABASE_URL). */
  url: string;
  /** The owner's URL (MIGRATION_DATABASE_URL): a superuser. */
  ownerUrl: string;
  /** A superuser connection to the same database, outside the application's pool. */
  admin(): Promise<pg.Client>;
  /**
   * Runs `fn` as the superuser in one transaction with user triggers off (session_replication_role = replica):
   * rewriting history behind the application's back, past the append-only triggers.
   */
  tamper(fn: (q: (sql: string, params?: unknown[]) => Promise<pg.QueryResult>) => Promise<unknown>): Promise<void>;
  /** Undoes the record of the last `n` migrations (drizzle's table), so they count as pending and run again. */
  forgetLastMigrations(n: number): Promise<void>;
  drop(): Promise<void>;
}

async function onServer(sql: string): Promise<void> {
  const server = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await server.connect();
  try {
    await server.query(sql);
  } finally {
    await server.end();
  }
}

export async function freshDatabase(label: string, opts: { max?: number } = {}): Promise<TestDb> {
  const name = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const url = inject('pgAppUrlTemplate').replace('__DB__', name);
  const ownerUrl = inject('pgUrlTemplate').replace('__DB__', name);
  const handle = connectDb(url, { max: opts.max ?? 10, applicationName: `test-${label}` });
  await migrateFor(ownerUrl, handle.pool);
  const admin = async () => {
    const c = new pg.Client({ connectionString: ownerUrl });
    await c.connect();
    return c;
  };
  return {
    ...handle,
    name,
    url,
    ownerUrl,
    admin,
    async forgetLastMigrations(n) {
      const c = await admin();
      try {
        await c.query('DELETE FROM drizzle.__drizzle_migrations WHERE id IN (SELECT id FROM drizzle.__drizzle_migrations ORDER BY id DESC LIMIT $1)', [n]);
      } finally {
        await c.end();
      }
    },
    async tamper(fn) {
      const c = await admin();
      try {
        await c.query('BEGIN');
        await c.query('SET LOCAL session_replication_role = replica');
        await fn((sql, params) => c.query(sql, params));
        await c.query('COMMIT');
      } finally {
        await c.end();
      }
    },
    async drop() {
      await handle.close();
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Waits until `count` sessions of this database wait for a lock (of `locktype`, e.g. 'advisory' or 'transactionid', when
 * given), read from pg_locks on `monitor` (a connection other than the waiting ones): a test that lines up a lock wait
 * checks that it happened, rather than sleeping and hoping the other session got there (on a busy machine it may not).
 */
export async function waitForLockWaits(monitor: pg.Pool | pg.PoolClient | pg.Client, opts: { locktype?: string; count?: number } = {}): Promise<void> {
  const count = opts.count ?? 1;
  for (const until = Date.now() + 20_000; Date.now() < until; ) {
    const { rows } = await monitor.query<{ n: number }>(
      `SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
        WHERE NOT l.granted AND ($1::text IS NULL OR l.locktype = $1) AND s.datname = current_database()`,
      [opts.locktype ?? null],
    );
    if (rows[0].n >= count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`fewer than ${count} session(s) waited on a ${opts.locktype ?? 'any'} lock within 20 s`);
}
