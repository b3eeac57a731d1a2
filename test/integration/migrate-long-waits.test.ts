// Migrating at start from several processes at once: a process that finds another one migrating waits for it (the
// advisory lock), and a migration statement runs as long as it needs. Neither may be cut off by the pool's 30 s
// query_timeout (db/client.ts), which is meant for a request's queries, not for the owner's migrations.
import type pgTypes from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrateFor, pendingMigrations } from '../../db/migrate';
import { freshDatabase, waitForLockWaits, type TestDb } from '../support/db';

/** In this file every pool's query_timeout (30 s in db/client.ts) is this instead, so that waiting past it takes seconds. */
const { QUERY_TIMEOUT_MS } = vi.hoisted(() => ({ QUERY_TIMEOUT_MS: 1_500 }));

vi.mock('pg', async (importOriginal) => {
  const pg = (await importOriginal<{ default: typeof pgTypes }>()).default;
  class Pool extends pg.Pool {
    constructor(config: pgTypes.PoolConfig = {}) {
      super({ ...config, ...(config.query_timeout ? { query_timeout: QUERY_TIMEOUT_MS } : {}) });
    }
  }
  return { default: { ...pg, Pool } };
});

/** The lock runMigrations takes (db/migrate.ts). */
const MIGRATION_LOCK = 7461830;
/** Longer than the pools' query_timeout. */
const HOLD_MS = QUERY_TIMEOUT_MS + 2_500;

let db: TestDb;

beforeAll(async () => {
  db = await freshDatabase('migrate-long-waits');
});
afterAll(async () => {
  await db?.drop();
});

/**
 * Migrates as a start does while `holder` holds what the migration waits for, until `sql` releases it after HOLD_MS:
 * 'migrated', or after how long and why it failed; and how long the migration took, which shows it did wait.
 */
async function migrateWhile(holder: pgTypes.Client, sql: string): Promise<{ outcome: string; tookMs: number }> {
  const released = new Promise<void>((resolve) => setTimeout(resolve, HOLD_MS)).then(() => holder.query(sql));
  const started = Date.now();
  const outcome = await migrateFor(db.ownerUrl, db.pool).then(
    () => 'migrated',
    (err: Error) => `failed after ${Math.round((Date.now() - started) / 1000)} s: ${err.message}`,
  );
  const tookMs = Date.now() - started;
  await released;
  return { outcome, tookMs };
}

/**
 * Runs `fn` while another session's transaction holds an ACCESS SHARE lock on `notices` (as a notice being sent holds
 * while it reads its row), which 0021's ALTER TABLE waits for; `fn` commits it when the lock should go.
 */
async function whileNoticesLocked(fn: (holder: pgTypes.Client) => Promise<void>): Promise<void> {
  const holder = await db.admin();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE notices IN ACCESS SHARE MODE');
    await fn(holder);
  } finally {
    await holder.end();
  }
}

/** migrateWhile, then: it migrated, only after waiting past the pools' query timeout, and nothing is left pending. */
async function expectMigratedAfterWaiting(holder: pgTypes.Client, sql: string): Promise<void> {
  const { outcome, tookMs } = await migrateWhile(holder, sql);
  expect(outcome).toBe('migrated');
  expect(tookMs).toBeGreaterThan(QUERY_TIMEOUT_MS);
  expect(await pendingMigrations(db.pool)).toBe(0);
}

describe('migrations at start under concurrent starts', () => {
  it("waits for another process that holds the migration lock for longer than the pool's query timeout, instead of failing", async () => {
    // Process A: migrating (a long migration, an index built on a big table), holding the advisory lock.
    const a = await db.admin();
    try {
      await a.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
      // Process B starts meanwhile: it must wait for A, then find nothing to do.
      await expectMigratedAfterWaiting(a, `SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
    } finally {
      await a.end();
    }
  }, 20_000);

  it("applies a migration statement that takes longer than the pool's query timeout", async () => {
    // The last two migrations pending again (both may run again, see their headers): 0021 alters `notices`.
    await db.forgetLastMigrations(2);
    expect(await pendingMigrations(db.pool)).toBe(2);
    // A long transaction reading `notices` (its ACCESS SHARE lock, as a notice being sent holds while it reads its row)
    // makes 0021's ALTER TABLE wait: as long as a slow statement (an index on a big table) would run.
    // The time it took shows the wait happened; a newer last pair of migrations that waits for nothing here fails that
    // check, and needs its own lock.
    await whileNoticesLocked((writer) => expectMigratedAfterWaiting(writer, 'COMMIT'));
  }, 20_000);

  it("does not hold up the app's queries while a migration statement waits for a table's lock: it gives up the wait, rolls back and tries again", async () => {
    await db.forgetLastMigrations(2);
    const warnings: object[] = [];
    await whileNoticesLocked(async (holder) => {
      const migrating = migrateFor(db.ownerUrl, db.pool, {
        lockTimeoutMs: 300,
        retryDelaysMs: [100],
        log: { warn: (obj) => warnings.push(obj) },
      });
      // 0021's ALTER TABLE waits for the holder: without a lock timeout it would wait until the holder ends, and every
      // query on `notices` after it (a notice being sent reading its row) would queue behind it, past the pool's
      // query timeout here.
      await waitForLockWaits(db.pool);
      for (let i = 0; i < 6; i++) {
        const started = Date.now();
        const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM notices');
        expect(rows[0].n).toBeGreaterThanOrEqual(0);
        expect(Date.now() - started).toBeLessThan(QUERY_TIMEOUT_MS);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings[0]).toMatchObject({ attempt: 1, lockTimeoutMs: 300, retryInMs: 100 });
      expect(await pendingMigrations(db.pool)).toBe(2);
      await holder.query('COMMIT');
      await migrating;
      expect(await pendingMigrations(db.pool)).toBe(0);
    });
  }, 20_000);

  it('fails the start with a clear error, applying nothing, when the lock stays held past the time it keeps trying for', async () => {
    await db.forgetLastMigrations(2);
    await whileNoticesLocked(async (holder) => {
      await expect(migrateFor(db.ownerUrl, db.pool, { lockTimeoutMs: 200, retryDelaysMs: [100, 200], giveUpAfterMs: 1_000 })).rejects.toThrow(
        /^migration gave up after \d+ attempts in \d+ s: each time a table it alters stayed locked for over 200 ms by another transaction/,
      );
      expect(await pendingMigrations(db.pool)).toBe(2);
      await holder.query('COMMIT');
      await migrateFor(db.ownerUrl, db.pool);
      expect(await pendingMigrations(db.pool)).toBe(0);
    });
  }, 20_000);
});
