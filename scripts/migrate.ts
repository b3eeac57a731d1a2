// `npm run migrate`: applies the committed migrations as the tables' owner (MIGRATION_DATABASE_URL) and grants the
// app's role (DATABASE_URL) its privileges, then exits. For deployments whose API and workers start with
// TAKEDOWN_MIGRATE_AT_START=false and so never hold the owner's credentials (compose's migrate job runs this).
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { connectDb } from '../db/client';
import { migrateFor, pendingMigrations } from '../db/migrate';
import { loadConfig } from './config';

export async function migrateOnce(env: NodeJS.ProcessEnv = process.env): Promise<{ pendingBefore: number }> {
  const config = loadConfig(env);
  if (!config.databaseUrl) throw new Error('DATABASE_URL (the role the app serves with) is required, with MIGRATION_DATABASE_URL (the tables\' owner)');
  const app = connectDb(config.databaseUrl, { max: 1, applicationName: 'takedown-migrate' });
  try {
    const pendingBefore = await pendingMigrations(app.pool);
    await migrateFor(config.migrationDatabaseUrl ?? config.databaseUrl, app.pool, {
      log: { warn: (obj, msg) => process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`) },
    });
    const left = await pendingMigrations(app.pool);
    if (left > 0) throw new Error(`${left} migration(s) still not applied after migrating`);
    return { pendingBefore };
  } finally {
    await app.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  migrateOnce().then(
    ({ pendingBefore }) => {
      process.stdout.write(`migrations applied (${pendingBefore} were pending, or the app's role could not yet tell); the app's role is granted\n`);
      process.exit(0);
    },
    (err: Error) => {
      process.stderr.write(`migrate failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
