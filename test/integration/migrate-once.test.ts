// Migrating once beforehand: an API or worker started with TAKEDOWN_MIGRATE_AT_START=false holds no owner's
// credentials, checks that every committed migration has run, and refuses to start on a schema behind the code.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateFor, pendingMigrations } from '../../db/migrate';
import { loadConfig } from '../../scripts/config';
import { startServices } from '../../scripts/lib/runtime';
import { migrateOnce } from '../../scripts/migrate';
import { freshDatabase, type TestDb } from '../support/db';
import { ROOT } from '../support/paths';

let db: TestDb;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  db = await freshDatabase('migrate-once');
});
afterAll(async () => {
  await db?.drop();
});

describe('migrating once beforehand', () => {
  it('refuses a start on a schema behind the code, and starts once `npm run migrate` has run', async () => {
    const env = {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TAKEDOWN_MIGRATE_AT_START: 'false',
      TAKEDOWN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'takedown-migrate-once-')),
    };
    expect(await pendingMigrations(db.pool)).toBe(0);
    // The last migration undone in drizzle's record (its SQL can run again): the code is now ahead of the schema.
    await db.forgetLastMigrations(1);
    expect(await pendingMigrations(db.pool)).toBe(1);
    await expect(startServices(loadConfig(env), log, { embedded: false })).rejects.toThrow(/1 migration\(s\) not applied and TAKEDOWN_MIGRATE_AT_START=false: run `npm run migrate`/);

    // The app's role alone cannot migrate; with the owner's URL it does, and grants the app's role again.
    await expect(migrateOnce({ DATABASE_URL: db.url })).rejects.toThrow(/may not migrate this database/);
    expect(await migrateOnce({ DATABASE_URL: db.url, MIGRATION_DATABASE_URL: db.ownerUrl })).toEqual({ pendingBefore: 1 });
    expect(await pendingMigrations(db.pool)).toBe(0);
    const services = await startServices(loadConfig(env), log, { embedded: false });
    try {
      expect((await services.db.pool.query('SELECT count(*)::int AS n FROM cases')).rows[0].n).toBe(0);
    } finally {
      await services.stop();
    }
  });

  it("moves a partner's replaced secret that still signs into retired_secrets, and drops the old columns (0019)", async () => {
    // The schema as before 0019: one replaced secret per partner, with its end.
    const owner = await db.admin();
    try {
      await owner.query('ALTER TABLE partners ADD COLUMN previous_secret text, ADD COLUMN previous_secret_until timestamp (3) with time zone');
      await owner.query(
        `INSERT INTO partners (org, kind, secret, previous_secret, previous_secret_until) VALUES
           ('signing', 'acquirer', 'whsec_new', 'whsec_old', '2999-01-01T00:00:00.123Z'),
           ('ended', 'acquirer', 'whsec_new', 'whsec_old', now() - interval '1 minute'),
           ('none', 'acquirer', 'whsec_new', NULL, NULL)`,
      );
    } finally {
      await owner.end();
    }
    // 0019 and every migration after it run again (each may).
    const { entries } = JSON.parse(readFileSync(path.join(ROOT, 'db', 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    await db.forgetLastMigrations(entries.length - entries.findIndex((e) => e.tag.startsWith('0019_')));
    await migrateFor(db.ownerUrl, db.pool);
    expect(await pendingMigrations(db.pool)).toBe(0);
    const { rows } = await db.pool.query<{ org: string; retired_secrets: unknown }>(
      `SELECT org, retired_secrets FROM partners WHERE org IN ('signing', 'ended', 'none') ORDER BY org`,
    );
    expect(rows).toEqual([
      { org: 'ended', retired_secrets: [] },
      { org: 'none', retired_secrets: [] },
      { org: 'signing', retired_secrets: [{ secret: 'whsec_old', until: '2999-01-01T00:00:00.123Z' }] },
    ]);
    const columns = await db.pool.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'partners' AND column_name LIKE 'previous_secret%'`);
    expect(columns.rows).toEqual([]);
  });
});
