// Entry point: a Temporal worker only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import { Client } from '@temporalio/client';
import { createOpsApp } from '../api/app';
import { configOrExit, checkSearchAttributes, connectTemporal, createLogger, once, onShutdown, resolveAdminToken, runUntilWorkerEnds, startServices } from './lib/runtime';
import { serveHttp } from './lib/http-server';
import { startWorkerPart } from './lib/system';

const config = configOrExit('takedown-worker');
const log = createLogger(config, 'takedown-worker', { sdkMetrics: true });
let running: Promise<void> | undefined;

try {
  // Whatever can refuse this start is settled before the worker polls: a worker that takes tasks and then exits leaves
  // them to their timeouts (and, restarted by its supervisor, does it again). So the admin token is resolved and the
  // operations port bound first.
  const opsSettings = config.workerPort === undefined ? undefined : { port: config.workerPort, adminToken: resolveAdminToken(config, log).token };
  const services = await startServices(config, log, { embedded: false });
  const connection = await connectTemporal(services.temporalAddress, services.temporalAuth);
  await checkSearchAttributes(connection, config.temporalNamespace, log);
  const client = new Client({ connection, namespace: config.temporalNamespace });
  // This process's own counters and histograms (notice attempts, time to termination...) live only here.
  const ops =
    opsSettings === undefined
      ? undefined
      : await serveHttp(
          createOpsApp({
            pool: services.db.pool,
            temporal: client,
            namespace: config.temporalNamespace,
            adminToken: opsSettings.adminToken,
            ...(config.previousAdminToken ? { previousAdminToken: config.previousAdminToken } : {}),
            metricsPublic: config.metricsPublic,
            logger: log,
            // Its /metrics takes tokens too: the same limit on failed authentications per address as the API's.
            rateLimitPerMinute: config.rateLimitPerMinute,
            authFailuresPerMinute: config.authFailuresPerMinute,
          }),
          config.host,
          opsSettings.port,
        );
  const worker = await startWorkerPart(config, services, client);
  log.info({ taskQueue: config.taskQueue, temporal: services.temporalAddress }, 'worker running');
  if (ops) log.info({ ops: ops.url }, 'worker operations endpoints: /healthz, /metrics');
  // Once, whoever asks first: a signal, or runUntilWorkerEnds after the worker failed (its stop then only awaits the
  // failed run, whose error was logged there).
  const stopAll = once(async () => {
    await ops?.stop();
    await worker.stop().catch((err) => log.warn({ err }, 'worker stopped with an error'));
    await connection.close();
    await services.stop();
  });
  const stopping = onShutdown(log, stopAll);
  running = runUntilWorkerEnds(worker.run, stopAll, log, { stopping });
} catch (err) {
  log.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
await running;
