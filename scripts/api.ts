// Entry point: the HTTP API only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { loadConfig } from './config';
import { createLogger, onShutdown, resolveAdminToken, startServices } from './lib/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = loadConfig();
const log = createLogger(config, 'takedown-api');

try {
  const admin = resolveAdminToken(config);
  const services = await startServices(config, log, { embedded: false });
  const connection = await Connection.connect({ address: services.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
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
  const server = http.createServer(app);
  // Slow or stalled clients must not hold sockets forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ api: `http://${config.host}:${port}`, temporal: services.temporalAddress }, 'api listening');
  if (admin.generated) process.stdout.write(`admin token: ${admin.token} (also in ${path.join(config.dataDir, 'admin-token')})\n`);
  onShutdown(log, async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await connection.close();
    await services.stop();
  });
} catch (err) {
  log.fatal({ err }, 'api failed to start');
  process.exit(1);
}
