// The application's database role (db/roles.ts) against a real PostgreSQL: exactly the listed privileges, and no way to
// rewrite the evidence tables or switch their append-only triggers off.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDb } from '../../db/client';
import { migrateFor } from '../../db/migrate';
import { APP_PRIVILEGES, evidenceBypass, roleSettings } from '../../db/roles';
import { freshDatabase, type TestDb } from '../support/db';

let db: TestDb;
let owner: pg.Client;

beforeAll(async () => {
  db = await freshDatabase('roles');
  owner = await db.admin();
});
afterAll(async () => {
  await owner?.end();
  await db?.drop();
});

const grants = async () => {
  const { rows } = await owner.query<{ table_name: string; privilege_type: string }>(
    `SELECT table_name, privilege_type FROM information_schema.role_table_grants
      WHERE grantee = current_setting('takedown.app_role') AND table_schema = 'public' ORDER BY 1, 2`,
  );
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.table_name] ??= []).push(r.privilege_type);
  return out;
};

describe('the application role', () => {
  it('has exactly the privileges db/roles.ts lists, on every table, after every migration run', async () => {
    const role = new URL(db.url).username;
    await owner.query(`SELECT set_config('takedown.app_role', $1, false)`, [role]);
    const expected = Object.fromEntries(Object.entries(APP_PRIVILEGES).map(([t, p]) => [t, [...p].sort()]));
    const { rows } = await owner.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    expect(rows.map((r) => r.tablename)).toEqual(Object.keys(APP_PRIVILEGES).sort());
    expect(await grants()).toEqual(expected);
    // Privileges granted by hand are taken back when the migrations run again (as at every start).
    await owner.query(`GRANT DELETE, TRUNCATE ON audit_entries TO ${pg.escapeIdentifier(role)}`);
    await owner.query(`GRANT ALL ON SEQUENCE audit_entries_id_seq TO ${pg.escapeIdentifier(role)}`);
    await migrateFor(db.ownerUrl, db.pool);
    expect(await grants()).toEqual(expected);
    const seq = await owner.query<{ usable: boolean }>(`SELECT has_sequence_privilege($1, 'audit_entries_id_seq', 'USAGE, UPDATE') AS usable`, [role]);
    expect(seq.rows[0].usable).toBe(false);
  });

  it("leaves the grants alone on a database a newer version has migrated: an older process restarting takes back nothing the newer one needs", async () => {
    const role = pg.escapeIdentifier(new URL(db.url).username);
    const canDeleteIdempotencyKeys = async () =>
      (await owner.query<{ ok: boolean }>(`SELECT has_table_privilege($1, 'idempotency_keys', 'DELETE') AS ok`, [new URL(db.url).username])).rows[0].ok;
    // As if a newer release had applied one more migration and granted what it needs (here DELETE, by hand).
    await owner.query(`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('from-a-newer-release', $1)`, [Date.now() + 86_400_000]);
    await owner.query(`GRANT DELETE ON idempotency_keys TO ${role}`);
    try {
      await migrateFor(db.ownerUrl, db.pool);
      expect(await canDeleteIdempotencyKeys()).toBe(true);
    } finally {
      await owner.query(`DELETE FROM drizzle.__drizzle_migrations WHERE hash = 'from-a-newer-release'`);
    }
    // This code's own database again: its grants, exactly, at the next start.
    await migrateFor(db.ownerUrl, db.pool);
    expect(await canDeleteIdempotencyKeys()).toBe(false);
  });

  it('cannot change, delete or truncate evidence, nor switch the append-only guard off', async () => {
    const refused: [string, RegExp][] = [
      [`UPDATE audit_entries SET action = 'x'`, /permission denied for table audit_entries/],
      [`DELETE FROM audit_entries`, /permission denied for table audit_entries/],
      [`TRUNCATE audit_entries`, /permission denied for table audit_entries/],
      [`UPDATE history_archives SET history = ''`, /permission denied for table history_archives/],
      [`DELETE FROM history_archives`, /permission denied for table history_archives/],
      [`UPDATE documents SET body = '{}'`, /permission denied for table documents/],
      [`DELETE FROM documents`, /permission denied for table documents/],
      [`TRUNCATE documents`, /permission denied for table documents/],
      // What admins changed is kept like evidence (db/migrations/0020).
      [`UPDATE admin_events SET action = 'x'`, /permission denied for table admin_events/],
      [`DELETE FROM admin_events`, /permission denied for table admin_events/],
      [`TRUNCATE admin_events`, /permission denied for table admin_events/],
      [`ALTER TABLE documents DISABLE TRIGGER documents_no_update_delete`, /must be owner/],
      [`DELETE FROM cases`, /permission denied for table cases/],
      [`DELETE FROM tasks`, /permission denied for table tasks/],
      [`DELETE FROM principals`, /permission denied for table principals/],
      [`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete`, /must be owner/],
      [`DROP TRIGGER audit_entries_no_truncate ON audit_entries`, /must be owner/],
      [`CREATE OR REPLACE FUNCTION audit_entries_refuse_change() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql`, /permission denied for schema public/],
      [`SET session_replication_role = replica`, /permission denied to set parameter/],
      [`CREATE TABLE public.shadow (x int)`, /permission denied for schema public/],
      // Which migrations ran is readable (a process that does not migrate checks it), never writable.
      [`DELETE FROM drizzle.__drizzle_migrations`, /permission denied for table __drizzle_migrations/],
      [`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('x', 1)`, /permission denied for table __drizzle_migrations/],
      [`CREATE TABLE drizzle.shadow (x int)`, /permission denied for schema drizzle/],
      // Entries go in only through audit_append(): no planted rows, no seq that stops the chain, no id of its choosing.
      [`INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ('cas_x', 2147483647, now(), 'x', '{}', 'x', 'y', 'k')`, /permission denied for table audit_entries/],
      [`INSERT INTO audit_entries (id, case_id, seq, at, action, data, prev_hash, hash, event_key) OVERRIDING SYSTEM VALUE VALUES (1, 'cas_x', 1, now(), 'x', '{}', 'x', 'y', 'k')`, /permission denied for table audit_entries/],
      [`SELECT setval('audit_entries_id_seq', 1)`, /permission denied for sequence audit_entries_id_seq/],
      [`ALTER FUNCTION audit_append(text, jsonb) SECURITY INVOKER`, /must be owner of function audit_append/],
      // Inbox versions are bumped only through inbox_versions_bump() (migration 0014), which only raises them: no version
      // set back to name an old page.
      [`INSERT INTO inbox_versions (org, version) VALUES ('visa', 1)`, /permission denied for table inbox_versions/],
      [`UPDATE inbox_versions SET version = 0`, /permission denied for table inbox_versions/],
      [`DELETE FROM inbox_versions`, /permission denied for table inbox_versions/],
      [`TRUNCATE inbox_versions`, /permission denied for table inbox_versions/],
      [`ALTER FUNCTION inbox_versions_bump(text[]) SECURITY INVOKER`, /must be owner of function inbox_versions_bump/],
      [`SELECT inbox_versions_truncate()`, /permission denied for function inbox_versions_truncate|trigger functions can only be called as triggers/],
      [`ALTER TABLE tasks DISABLE TRIGGER tasks_inbox_update`, /must be owner/],
      [`ALTER TABLE tasks DISABLE TRIGGER tasks_inbox_commit`, /must be owner/],
    ];
    for (const [sql, error] of refused) await expect(db.pool.query(sql), sql).rejects.toThrow(error);
    // Appending still works: the audit function runs with the caller's INSERT.
    const { rows } = await db.pool.query(`SELECT * FROM audit_append('cas_roles', $1::jsonb)`, [
      JSON.stringify([{ key: 'k1', at: '2026-11-26T09:00:00.000Z', actorId: null, actorOrg: null, action: 'case.created', data: {}, body: '{"action":"case.created","actor":null,"at":"2026-11-26T09:00:00.000Z","data":{}' }]),
    ]);
    expect(rows).toHaveLength(1);
    expect(await evidenceBypass(db.pool)).toBeUndefined();
    // It runs as its owner with a search_path of its own, and PUBLIC may not call it.
    const fn = await owner.query<{ definer: boolean; config: string[]; public: boolean }>(
      `SELECT prosecdef AS definer, proconfig AS config, has_function_privilege('public', p.oid, 'EXECUTE') AS public
         FROM pg_proc p WHERE proname = 'audit_append'`,
    );
    expect(fn.rows).toEqual([{ definer: true, config: ['search_path=pg_catalog, public, pg_temp'], public: false }]);
  });

  it('writes tasks and so bumps inbox versions, which it may read, through a bump that runs as the owner and only raises them', async () => {
    const version = async (org: string) =>
      (await db.pool.query<{ version: string }>(`SELECT version FROM inbox_versions WHERE org = $1`, [org])).rows[0]?.version ?? null;
    expect(await version('roles-org')).toBeNull();
    await db.pool.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context)
       VALUES ('tsk_roles', 'cas_roles', 'ceop', 'confirm_freeze', 'open', 'roles-org', 'partner', '{partner}', now(), '{}')`,
    );
    expect(await version('roles-org')).toBe('1');
    await db.pool.query(`UPDATE tasks SET status = 'cancelled' WHERE id = 'tsk_roles'`);
    expect(await version('roles-org')).toBe('2');
    // Called directly (the commit-time trigger calls it in the app's transaction), it can only raise a version.
    await db.pool.query(`SELECT inbox_versions_bump(ARRAY['roles-org'])`);
    expect(await version('roles-org')).toBe('3');
    const fn = await owner.query<{ definer: boolean; config: string[]; public: boolean; app: boolean }>(
      `SELECT prosecdef AS definer, proconfig AS config, has_function_privilege('public', p.oid, 'EXECUTE') AS public,
              has_function_privilege($1, p.oid, 'EXECUTE') AS app
         FROM pg_proc p WHERE proname = 'inbox_versions_bump'`,
      [new URL(db.url).username],
    );
    expect(fn.rows).toEqual([{ definer: true, config: ['search_path=pg_catalog, public, pg_temp'], public: false, app: true }]);
  });

  it('reports settings stored for the role, which every connection of the app would start with', async () => {
    expect(await roleSettings(db.pool)).toEqual([]);
    await db.pool.query(`ALTER ROLE CURRENT_USER IN DATABASE ${pg.escapeIdentifier(db.name)} SET synchronous_commit = off`);
    try {
      expect(await roleSettings(db.pool)).toEqual(['synchronous_commit=off']);
    } finally {
      await db.pool.query(`ALTER ROLE CURRENT_USER IN DATABASE ${pg.escapeIdentifier(db.name)} RESET synchronous_commit`);
    }
  });

  it('is told apart from a role that could bypass the guard', async () => {
    const asOwner = connectDb(db.ownerUrl, { max: 1 });
    try {
      expect(await evidenceBypass(asOwner.pool)).toMatch(/is a superuser/);
    } finally {
      await asOwner.close();
    }
    expect(await evidenceBypass(db.pool)).toBeUndefined();
    // CREATE on schema public, as every role had by default up to PostgreSQL 14: it could plant a function there that
    // the owner's audit_append would call.
    const role = pg.escapeIdentifier(new URL(db.url).username);
    await owner.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
    try {
      expect(await evidenceBypass(db.pool)).toMatch(/may create objects in schema public/);
    } finally {
      await owner.query(`REVOKE CREATE ON SCHEMA public FROM ${role}`);
    }
  });

  it('cannot migrate, and says which setting is missing', async () => {
    await expect(migrateFor(db.url, db.pool)).rejects.toThrow(/role takedown_app may not migrate this database .*MIGRATION_DATABASE_URL must name the tables' owner/);
  });

  it('refuses to migrate a schema with a table it has no privileges for', async () => {
    await owner.query('CREATE TABLE public.unlisted (x int)');
    try {
      await expect(migrateFor(db.ownerUrl, db.pool)).rejects.toThrow(/no privileges for table\(s\) unlisted/);
    } finally {
      await owner.query('DROP TABLE public.unlisted');
    }
  });
});

describe('with an owner that is not a superuser, as docker-compose sets it up', () => {
  it('migrates, grants the app role, and is itself reported as able to bypass the guard', async () => {
    const suffix = randomBytes(4).toString('hex');
    const ownerRole = `owner_${suffix}`;
    const database = `t_owned_${suffix}`;
    await owner.query(`CREATE ROLE ${ownerRole} LOGIN PASSWORD 'owner-pw'`);
    await owner.query(`CREATE DATABASE ${database} OWNER ${ownerRole}`);
    const asRole = (user: string, password: string) => {
      const u = new URL(db.url);
      Object.assign(u, { username: user, password, pathname: `/${database}` });
      return u.toString();
    };
    const app = connectDb(asRole(new URL(db.url).username, decodeURIComponent(new URL(db.url).password)), { max: 2 });
    const own = connectDb(asRole(ownerRole, 'owner-pw'), { max: 1 });
    try {
      await migrateFor(asRole(ownerRole, 'owner-pw'), app.pool);
      expect(await evidenceBypass(own.pool)).toMatch(new RegExp(`role ${ownerRole} owns the evidence tables`));
      expect(await evidenceBypass(app.pool)).toBeUndefined();
      await app.pool.query(`INSERT INTO partners (org, kind, webhook_url, secret) VALUES ('visa', 'card_scheme', 'https://visa.example/hook', 's')`);
      await expect(app.pool.query(`TRUNCATE audit_entries`)).rejects.toThrow(/permission denied/);
      // The owner is refused by the trigger, but could drop it: why the app must not run as the owner.
      await expect(own.pool.query(`TRUNCATE audit_entries`)).rejects.toThrow(/append-only/);
      await expect(own.pool.query(`TRUNCATE documents`)).rejects.toThrow(/documents is append-only/);
      await expect(own.pool.query(`TRUNCATE admin_events`)).rejects.toThrow(/admin_events is append-only/);
      await own.pool.query(`ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_truncate`);
    } finally {
      await app.close();
      await own.close();
      await owner.query(`DROP DATABASE ${database} WITH (FORCE)`);
      await owner.query(`DROP ROLE ${ownerRole}`);
    }
  });
});

