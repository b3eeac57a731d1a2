// The whole system in one process: services (embedded unless configured), the worker, and the API on HTTP; `npm start` and the demo use it.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { createApp } from '../../api/app';
import type { Config } from '../config';
import { freePort } from './ports';
import { resolveAdminToken, startServices } from './runtime';
import { createTakedownWorker } from './worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningSystem {
  apiUrl: string;
  temporalUiUrl: string | undefined;
  admin: { token: string; generated: boolean };
  /** Settles when the worker stops (after `stop()`, or if it fails). */
  run: Promise<void>;
  /** Stops the API first, then the worker, then the services this process started. */
  stop(): Promise<void>;
}

export async function startSystem(config: Config, log: Logger): Promise<RunningSystem> {
  const admin = resolveAdminToken(config);
  const services = await startServices(config, log, { embedded: true });
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: services.temporalAddress });
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
    const conn = connection;
    return {
      apiUrl: `http://${config.host}:${port}`,
      temporalUiUrl: services.temporalUiUrl,
      admin,
      run,
      async stop() {
        server.closeIdleConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await run.catch((err) => log.warn({ err }, 'worker stopped with an error'));
        await wc.close();
        await conn.close();
        await services.stop();
      },
    };
  } catch (err) {
    await connection?.close().catch(() => {});
    await services.stop();
    throw err;
  }
}
