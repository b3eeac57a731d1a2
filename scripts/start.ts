// Entry point for `npm start`: the whole system in one process tree (embedded PostgreSQL and Temporal unless configured).
import path from 'node:path';
import { loadConfig } from './config';
import { createLogger, onShutdown } from './lib/runtime';
import { startSystem } from './lib/system';

const config = loadConfig();
const log = createLogger(config, 'takedown');

try {
  const system = await startSystem(config, log);
  const lines = [
    '',
    `  Takedown is running`,
    `  API and console  ${system.apiUrl}`,
    `  Temporal UI      ${system.temporalUiUrl ?? '(external Temporal)'}`,
    `  Data dir         ${config.dataDir}`,
    system.admin.generated
      ? `  Admin token      ${system.admin.token}   (also in ${path.join(config.dataDir, 'admin-token')})`
      : '  Admin token      from TAKEDOWN_ADMIN_TOKEN',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  log.info({ api: system.apiUrl, temporalUi: system.temporalUiUrl }, 'started');
  onShutdown(log, () => system.stop());
  await system.run;
} catch (err) {
  log.fatal({ err }, 'start failed');
  process.exit(1);
}
