// Entry point: a Temporal worker only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from './config';
import { createLogger, onShutdown, startServices } from './lib/runtime';
import { startWorkerPart } from './lib/system';

const config = loadConfig();
const log = createLogger(config, 'takedown-worker');

try {
  const services = await startServices(config, log, { embedded: false });
  const connection = await Connection.connect({ address: services.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const worker = await startWorkerPart(config, services, client);
  log.info({ taskQueue: config.taskQueue, temporal: services.temporalAddress }, 'worker running');
  onShutdown(log, async () => {
    await worker.stop();
    await connection.close();
    await services.stop();
  });
  await worker.run;
} catch (err) {
  log.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
