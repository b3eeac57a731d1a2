// Entry point: the HTTP API only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import path from 'node:path';
import { Client } from '@temporalio/client';
import { configOrExit, checkSearchAttributes, connectTemporal, createLogger, onShutdown, resolveAdminToken, startServices } from './lib/runtime';
import { startApiPart } from './lib/system';

const config = configOrExit('takedown-api');
const log = createLogger(config, 'takedown-api');

try {
  const admin = resolveAdminToken(config, log);
  const services = await startServices(config, log, { embedded: false });
  const connection = await connectTemporal(services.temporalAddress, services.temporalAuth);
  await checkSearchAttributes(connection, config.temporalNamespace, log);
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const api = await startApiPart(config, services, client, log, admin.token, config.port);
  log.info({ api: api.url, temporal: services.temporalAddress }, 'api listening');
  if (admin.generated) process.stdout.write(`admin token: ${admin.token} (also in ${path.join(config.dataDir, 'admin-token')})\n`);
  onShutdown(log, async () => {
    await api.stop();
    await connection.close();
    await services.stop();
  });
} catch (err) {
  log.fatal({ err }, 'api failed to start');
  process.exit(1);
}
