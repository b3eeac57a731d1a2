// Entry point: a Temporal worker only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import { Client } from '@temporalio/client';
import { createOpsApp } from '../api/app';
import { loadConfig } from './config';
import { checkSearchAttributes, connectTemporal, createLogger, onShutdown, resolveAdminToken, startServices } from './lib/runtime';
import { serveHttp } from './lib/http-server';
import { startWorkerPart } from './lib/system';

const config = loadConfig();
const log = createLogger(config, 'takedown-worker');

try {
  const services = await startServices(config, log, { embedded: false });
  const connection = await connectTemporal(services.temporalAddress, services.temporalAuth);
  await checkSearchAttributes(connection, config.temporalNamespace, log);
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const worker = await startWorkerPart(config, services, client);
  log.info({ taskQueue: config.taskQueue, temporal: services.temporalAddress }, 'worker running');
  // This process's own counters and histograms (notice attempts, time to termination...) live only here.
  const ops =
    config.workerPort === undefined
      ? undefined
      : await serveHttp(
          createOpsApp({
            pool: services.db.pool,
            temporal: client,
            namespace: config.temporalNamespace,
            adminToken: resolveAdminToken(config, log).token,
            metricsPublic: config.metricsPublic,
            logger: log,
            // Its /metrics takes tokens too: the same limit on failed authentications per address as the API's.
            rateLimitPerMinute: config.rateLimitPerMinute,
            authFailuresPerMinute: config.authFailuresPerMinute,
          }),
          config.host,
          config.workerPort,
        );
  if (ops) log.info({ ops: ops.url }, 'worker operations endpoints: /healthz, /metrics');
  onShutdown(log, async () => {
    await ops?.stop();
    await worker.stop();
    await connection.close();
    await services.stop();
  });
  await worker.run;
} catch (err) {
  log.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
