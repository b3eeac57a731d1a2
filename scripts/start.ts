// Entry point for `npm start`: the whole system in one process tree (embedded PostgreSQL and Temporal unless configured).
import path from 'node:path';
import { DRAIN_GRACE_MS } from './lib/http-server';
import { configOrExit, createLogger, onShutdown, runUntilWorkerEnds } from './lib/runtime';
import { startSystem, type RunningSystem } from './lib/system';

const config = configOrExit('takedown');
const log = createLogger(config, 'takedown', { sdkMetrics: true });

// Signals are handled from the first moment: one that comes while the system starts stops what has started once the
// start settles (a second, later one forces the exit, whose handlers still stop the embedded servers).
let startup: Promise<RunningSystem> | undefined;
const stopping = onShutdown(log, async () => {
  const system = await startup?.catch(() => undefined);
  await system?.stop();
});

let system: RunningSystem;
try {
  startup = startSystem(config, log);
  system = await startup;
  // A signal that came while starting is stopping it already: no banner for a system on its way down.
  if (!stopping()) {
    const lines = [
      '',
      `  Takedown is running`,
      `  API and console  ${system.apiUrl}`,
      `  Temporal UI      ${system.temporalUiUrl ?? '(external Temporal)'}`,
      ...(system.embedded.databaseUrl ? [`  PostgreSQL       ${system.embedded.databaseUrl}   (DATABASE_URL for npm run api / worker / audit:verify)`] : []),
      ...(system.embedded.migrationDatabaseUrl ? [`  PG table owner   ${system.embedded.migrationDatabaseUrl}   (MIGRATION_DATABASE_URL: also for npm run api / worker, which migrate at start)`] : []),
      ...(system.embedded.temporalAddress ? [`  Temporal         ${system.embedded.temporalAddress}   (TEMPORAL_ADDRESS)`] : []),
      `  Data dir         ${config.dataDir}`,
      system.admin.generated
        ? `  Admin token      ${system.admin.token}   (also in ${path.join(config.dataDir, 'admin-token')})`
        : '  Admin token      from TAKEDOWN_ADMIN_TOKEN',
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    log.info({ api: system.apiUrl, temporalUi: system.temporalUiUrl }, 'started');
  }
} catch (err) {
  log.fatal({ err }, 'start failed');
  process.exit(1);
}
// Bounded past what a stop may take: the not-ready delay, the HTTP drain, the worker's drain.
await runUntilWorkerEnds(system.run, () => system.stop(), log, { stopping, boundMs: config.shutdownDelayMs + DRAIN_GRACE_MS + 30_000 });
