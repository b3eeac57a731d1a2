// Test helper for the audit/notice suites: a fresh migrated database of its own on the shared PostgreSQL server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDb, type DbHandle } from '../../db/client';
import { runMigrations } from '../../db/migrate';

export interface TestDb extends DbHandle {
  name: string;
  url: string;
  /** A superuser connection to the same database, outside the application's pool. */
  admin(): Promise<pg.Client>;
  drop(): Promise<void>;
}

export async function createTestDb(prefix: string): Promise<TestDb> {
  const name = `t_${prefix}_${randomBytes(5).toString('hex')}`;
  const adminUrl = inject('pgAdminUrl');
  const server = new pg.Client({ connectionString: adminUrl });
  await server.connect();
  try {
    await server.query(`CREATE DATABASE "${name}"`);
  } finally {
    await server.end();
  }
  const url = inject('pgUrlTemplate').replace('__DB__', name);
  const handle = connectDb(url, { max: 30 });
  await runMigrations(handle.db);
  return {
    ...handle,
    name,
    url,
    async admin() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    },
    async drop() {
      await handle.close();
      const s = new pg.Client({ connectionString: adminUrl });
      await s.connect();
      try {
        await s.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await s.end();
      }
    },
  };
}
