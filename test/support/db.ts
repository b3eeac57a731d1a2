// A fresh database per test file on the shared PostgreSQL, migrated.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDb, type DbHandle } from '../../db/client';
import { runMigrations } from '../../db/migrate';

export async function freshDatabase(label: string): Promise<DbHandle & { url: string; name: string }> {
  const name = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = inject('pgUrlTemplate').replace('__DB__', name);
  const handle = connectDb(url, { max: 10, applicationName: `test-${label}` });
  await runMigrations(handle.db);
  return { ...handle, url, name };
}
