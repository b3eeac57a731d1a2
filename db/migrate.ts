// Applies the committed drizzle-kit migrations; safe to run at every start and from several processes at once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { connectDb, type Db } from './client';
import { grantAppRole } from './roles';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Migrates the database `db` connects to, as its role (the tables' owner). With `appRole` (another role), grants that
 * role the application's privileges afterwards (db/roles.ts).
 */
export async function runMigrations(db: Db, opts: { appRole?: string; log?: MigrationLog } & LockRetryOptions = {}): Promise<void> {
  // drizzle's migrator is not safe against concurrent runners; an advisory lock serialises API and worker starting
  // together, and the grants after it (concurrent GRANTs on one table can fail with "tuple concurrently updated").
  const client = await db.$client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7461830)');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const { rows } = await client.query<{ me: string }>('SELECT current_user AS me');
    await withLockRetries(client, opts, () =>
      migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR }).catch((err: PgError) => {
        // A role without CREATE on the database cannot run drizzle's migrator, even on an up-to-date schema.
        if (pgCode(err) !== '42501') throw err;
        throw new Error(`role ${rows[0].me} may not migrate this database (${err.cause?.message ?? err.message}): MIGRATION_DATABASE_URL must name the tables' owner`, { cause: err });
      }),
    );
    // A database that a newer version has migrated keeps that version's grants: this older code would take back what the
    // newer one needs (a process of the previous release restarting during a rolling upgrade, or a rollback).
    if (opts.appRole && rows[0].me !== opts.appRole && (await appliedMigrations(client)) <= committedMigrations()) await grantAppRole(client, opts.appRole);
  } finally {
    await client.query('SELECT pg_advisory_unlock(7461830)').catch(() => {});
    client.release();
  }
}

type PgError = Error & { code?: string; cause?: { code?: string; message?: string } };
const pgCode = (err: PgError): string | undefined => err.code ?? err.cause?.code;

export type MigrationLog = { warn(obj: object, msg: string): void };

export interface LockRetryOptions {
  /**
   * How long one migration statement may wait for a table's lock (lock_timeout). A statement waiting for its lock holds
   * up every later query on that table, the running release's included, so it gives up instead, its transaction rolls
   * back, and the migration runs again after a pause in which those queries get through.
   */
  lockTimeoutMs?: number;
  /** The pauses between attempts; the last one repeats until `giveUpAfterMs`. */
  retryDelaysMs?: readonly number[];
  /** How long in all the migration keeps trying for its locks before the start fails. */
  giveUpAfterMs?: number;
}

const MIGRATION_LOCK_RETRIES = { lockTimeoutMs: 2_000, retryDelaysMs: [1_000, 2_000, 5_000, 10_000, 30_000], giveUpAfterMs: 15 * 60_000 } as const;

/** Runs `run` with lock_timeout set on `client`, again after a pause each time a statement's lock wait times out. */
async function withLockRetries(client: pg.ClientBase, opts: LockRetryOptions & { log?: MigrationLog }, run: () => Promise<void>): Promise<void> {
  const { lockTimeoutMs, retryDelaysMs, giveUpAfterMs } = { ...MIGRATION_LOCK_RETRIES, ...opts };
  const started = Date.now();
  // Set here, not before the advisory lock: waiting for another process's migration holds up no query of the app.
  await client.query(`SET lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        // 55P03 lock_not_available: the migration's transaction rolled back, holding nothing.
        if (pgCode(err as PgError) !== '55P03') throw err;
        const delayMs = retryDelaysMs[Math.min(attempt - 1, retryDelaysMs.length - 1)];
        const waitedMs = Date.now() - started;
        if (waitedMs + delayMs > giveUpAfterMs) {
          throw new Error(
            `migration gave up after ${attempt} attempts in ${Math.round(waitedMs / 1000)} s: each time a table it alters stayed locked for over ${lockTimeoutMs} ms by another transaction (see pg_stat_activity for long transactions)`,
            { cause: err },
          );
        }
        opts.log?.warn(
          { attempt, lockTimeoutMs, retryInMs: delayMs },
          'a migration statement waited too long for a table lock (another transaction holds it); rolled back, trying again',
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  } finally {
    // On a broken connection this fails too; the error that ended the migration is the one to report.
    await client.query('RESET lock_timeout').catch(() => {});
  }
}

/**
 * Migrates as the owner (ownerUrl) and grants the application's role (the one appPool logs in as). When both are the
 * same role there is nothing to grant; the caller warns, since that role can switch the append-only triggers off.
 */
export async function migrateFor(ownerUrl: string, appPool: pg.Pool, opts: { log?: MigrationLog } & LockRetryOptions = {}): Promise<void> {
  const { rows } = await appPool.query<{ me: string }>('SELECT current_user AS me');
  // No query timeout: waiting for another process's migration (the lock) or a long statement is not a failure.
  const owner = connectDb(ownerUrl, { max: 1, applicationName: 'takedown-migrate', queryTimeoutMs: 0 });
  try {
    await runMigrations(owner.db, { ...opts, appRole: rows[0].me });
  } finally {
    await owner.close();
  }
}

/** How many migrations this code commits (db/migrations/meta/_journal.json). */
export function committedMigrations(): number {
  return (JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
}

/** How many migrations the database has applied (drizzle's own table), 0 when it was never migrated. */
async function appliedMigrations(q: pg.Pool | pg.ClientBase): Promise<number> {
  try {
    const { rows } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    return rows[0].n;
  } catch (err) {
    // Never migrated (no such schema or table), or granted by a version before this check: nothing known applied.
    if (['3F000', '42P01', '42501'].includes((err as { code?: string }).code ?? '')) return 0;
    throw err;
  }
}

/** How many committed migrations the database has not applied (drizzle's own table, which the app's role may read). */
export async function pendingMigrations(pool: pg.Pool): Promise<number> {
  return Math.max(0, committedMigrations() - (await appliedMigrations(pool)));
}
