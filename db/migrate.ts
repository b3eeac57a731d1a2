// Applies the committed drizzle-kit migrations; safe to run at every start and from several processes at once.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Db } from './client';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export async function runMigrations(db: Db): Promise<void> {
  // drizzle's migrator is not safe against concurrent runners; an advisory lock serialises API and worker starting together.
  const client = await db.$client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7461830)');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.query('SELECT pg_advisory_unlock(7461830)').catch(() => {});
    client.release();
  }
}
