// The application's database role: exactly the privileges the API and the worker use, nothing that could rewrite evidence.
//
// The role that runs the migrations owns the tables, and a table's owner can switch its triggers off (ALTER TABLE ...
// DISABLE TRIGGER) or drop them, which would undo the append-only guard on the audit chain, the archived histories and
// the documents partners were sent.
// So production runs two roles: MIGRATION_DATABASE_URL (the owner, used only to migrate) and DATABASE_URL (this role,
// granted below after every migration). It may append to the evidence tables (to the audit chain only through
// audit_append(), which runs as the owner) but never UPDATE, DELETE or TRUNCATE them.
import pg from 'pg';

type Privilege = 'SELECT' | 'INSERT' | 'UPDATE';

/** Every table in the public schema and what the application may do to it; a table missing here is refused to it. */
export const APP_PRIVILEGES: Readonly<Record<string, readonly Privilege[]>> = {
  principals: ['SELECT', 'INSERT', 'UPDATE'], // revocation sets revoked_at; rows are never deleted
  partners: ['SELECT', 'INSERT', 'UPDATE'],
  cases: ['SELECT', 'INSERT', 'UPDATE'],
  tasks: ['SELECT', 'INSERT', 'UPDATE'],
  idempotency_keys: ['SELECT', 'INSERT', 'UPDATE'],
  notices: ['SELECT', 'INSERT', 'UPDATE'],
  documents: ['SELECT', 'INSERT'], // a sent notice's document is evidence too (append-only by trigger, db/migrations/0017)
  audit_entries: ['SELECT'], // appended only through audit_append() (below), never by a raw INSERT
  history_archives: ['SELECT', 'INSERT'],
  inbox_versions: ['SELECT'], // bumped only through inbox_versions_bump() (below), from the triggers on tasks (db/migrations/0014)
  admin_events: ['SELECT', 'INSERT'], // append-only by trigger (db/migrations/0020): what admins changed, never rewritten
};

/**
 * Functions the application calls that PUBLIC may not, each running as the owner: audit_append (db/migrations/0012), and
 * inbox_versions_bump, which the commit-time trigger on tasks calls in the application's transaction (0014).
 */
export const APP_FUNCTIONS: readonly string[] = ['audit_append(text, jsonb)', 'inbox_versions_bump(text[])'];

/**
 * Grants `role` the privileges above on the current database, replacing whatever it had on the schema's tables. Runs as
 * the tables' owner, in one transaction, after the migrations (so a table a migration adds is covered at once).
 */
export async function grantAppRole(client: pg.ClientBase, role: string): Promise<void> {
  const r = pg.escapeIdentifier(role);
  const { rows } = await client.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`);
  const missing = rows.map((t) => t.name).filter((t) => !(t in APP_PRIVILEGES));
  if (missing.length) throw new Error(`db/roles.ts has no privileges for table(s) ${missing.join(', ')}: say what the application may do to them`);
  await client.query('BEGIN');
  try {
    // Whatever the role was granted before, by an earlier version or by hand, goes: tables, sequences and functions.
    for (const kind of ['TABLES', 'SEQUENCES', 'FUNCTIONS']) await client.query(`REVOKE ALL ON ALL ${kind} IN SCHEMA public FROM ${r}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
    for (const t of rows) await client.query(`GRANT ${APP_PRIVILEGES[t.name].join(', ')} ON TABLE ${pg.escapeIdentifier(t.name)} TO ${r}`);
    for (const f of APP_FUNCTIONS) await client.query(`GRANT EXECUTE ON FUNCTION ${f} TO ${r}`);
    // Which migrations ran, read-only: a process that does not migrate checks the schema is current (db/migrate.ts).
    await client.query(`GRANT USAGE ON SCHEMA drizzle TO ${r}`);
    await client.query(`GRANT SELECT ON drizzle.__drizzle_migrations TO ${r}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Settings stored for the connected role (ALTER ROLE ... SET), which its own sessions, and so the application's,
 * start with: a role can set its own, e.g. synchronous_commit = off, under which an acknowledged audit entry can be lost
 * in a crash. Startup warns when there are any.
 */
export async function roleSettings(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ setting: string }>(
    `SELECT unnest(s.setconfig) AS setting FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
      WHERE r.rolname = current_user AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))`,
  );
  return rows.map((r) => r.setting);
}

/**
 * Why the connected role could get past the append-only triggers (it is a superuser, or owns or belongs to the owner
 * of an evidence table), or undefined when it cannot. Startup warns with this: the guard is only as strong as the role.
 */
export async function evidenceBypass(pool: pg.Pool): Promise<string | undefined> {
  const { rows } = await pool.query<{ role: string; superuser: boolean; owns: boolean }>(
    `SELECT current_user AS role, r.rolsuper AS superuser,
            bool_or(pg_has_role(current_user, c.relowner, 'MEMBER')) AS owns
       FROM pg_roles r, pg_class c
      WHERE r.rolname = current_user AND c.oid IN ('audit_entries'::regclass, 'history_archives'::regclass, 'documents'::regclass)
      GROUP BY r.rolname, r.rolsuper`,
  );
  const me = rows[0];
  if (!me) return undefined;
  if (me.superuser) return `role ${me.role} is a superuser`;
  if (me.owns) return `role ${me.role} owns the evidence tables`;
  // The owner's functions (audit_append, the inbox bump) search schema public after pg_catalog: a role that may create
  // objects there (every role, on a database first created by PostgreSQL 14 or older) can plant a function they would
  // call as the owner, and switch the triggers off from there.
  const create = await pool.query<{ ok: boolean }>(`SELECT has_schema_privilege(current_user, 'public', 'CREATE') AS ok`);
  if (create.rows[0]?.ok) return `role ${me.role} may create objects in schema public, which the owner's functions search (REVOKE CREATE ON SCHEMA public FROM PUBLIC)`;
  return undefined;
}
