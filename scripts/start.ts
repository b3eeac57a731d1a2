// Entry point for `npm start`: the whole system in one process tree (embedded PostgreSQL and Temporal unless configured).
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { loadConfig } from './config';
import { freePort } from './lib/ports';
import { createLogger, onShutdown, resolveAdminToken, startServices } from './lib/runtime';
import { createTakedownWorker } from './lib/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = loadConfig();
const log = createLogger(config, 'takedown');

try {
  const admin = resolveAdminToken(config);
  const services = await startServices(config, log, { embedded: true });
  const connection = await Connection.connect({ address: services.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const { worker, connection: wc } = await createTakedownWorker({
    address: services.temporalAddress,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    deps: {
      pool: services.db.pool,
      temporal: client,
      notices: { timeoutMs: 10_000, allowPrivate: config.allowPrivateWebhooks },
      urlChecks: { timeoutMs: 10_000, allowPrivate: config.allowPrivateWebhooks },
    },
  });
  const run = worker.run();
  const app = createApp({
    pool: services.db.pool,
    db: services.db.db,
    temporal: client,
    taskQueue: config.taskQueue,
    namespace: config.temporalNamespace,
    adminToken: admin.token,
    logger: log,
    temporalUiUrl: services.temporalUiUrl,
    uiDir: path.join(root, 'ui'),
  });
  const port = await freePort(config.port, config.host);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, config.host, resolve));
  const apiUrl = `http://${config.host}:${port}`;
  const lines = [
    '',
    `  Takedown is running`,
    `  API and console  ${apiUrl}`,
    `  Temporal UI      ${services.temporalUiUrl ?? '(external Temporal)'}`,
    `  Data dir         ${config.dataDir}`,
    admin.generated ? `  Admin token      ${admin.token}   (also in ${path.join(config.dataDir, 'admin-token')})` : '  Admin token      from TAKEDOWN_ADMIN_TOKEN',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  log.info({ api: apiUrl, temporalUi: services.temporalUiUrl }, 'started');
  onShutdown(log, async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    worker.shutdown();
    await run;
    await wc.close();
    await connection.close();
    await services.stop();
  });
  await run;
} catch (err) {
  log.fatal({ err }, 'start failed');
  process.exit(1);
}
