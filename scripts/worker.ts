// Entry point: a Temporal worker only (scale-out), against DATABASE_URL and TEMPORAL_ADDRESS.
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from './config';
import { createLogger, onShutdown, startServices } from './lib/runtime';
import { createTakedownWorker } from './lib/worker';

const config = loadConfig();
const log = createLogger(config, 'takedown-worker');

try {
  const services = await startServices(config, log, { embedded: false });
  const connection = await Connection.connect({ address: services.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const { worker, connection: wc } = await createTakedownWorker({
    address: services.temporalAddress,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    deps: {
      pool: services.db.pool,
      temporal: client,
      notices: { timeoutMs: config.noticeTimeoutMs, allowPrivate: config.allowPrivateWebhooks },
      urlChecks: { timeoutMs: config.noticeTimeoutMs, allowPrivate: config.allowPrivateWebhooks },
    },
    workflowBundlePath: config.workflowBundlePath,
  });
  const run = worker.run();
  log.info({ taskQueue: config.taskQueue, temporal: services.temporalAddress }, 'worker running');
  onShutdown(log, async () => {
    worker.shutdown();
    await run;
    await wc.close();
    await connection.close();
    await services.stop();
  });
  await run;
} catch (err) {
  log.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
