// The whole system in one process: services (embedded unless configured), the worker, and the API on HTTP; `npm start` and the demo use it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, type Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { createApp } from '../../api/app';
import { PrincipalCache } from '../../api/principal-cache';
import { namesPrivateHost } from '../../activities/url-checks';
import type { Config } from '../config';
import { freePort } from './ports';
import { serveHttp } from './http-server';
import { checkSearchAttributes, connectTemporal, once, recordApiUrl, resolveAdminToken, startServices, type Services } from './runtime';
import { createTakedownWorker } from './worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningSystem {
  apiUrl: string;
  temporalUiUrl: string | undefined;
  /** Addresses of the servers this process started itself (none that were configured). */
  embedded: { databaseUrl?: string; migrationDatabaseUrl?: string; temporalAddress?: string };
  admin: { token: string; generated: boolean };
  /** Settles when the worker stops (after `stop()`, or if it fails). */
  run: Promise<void>;
  /** Stops the API first, then the worker, then the services this process started. */
  stop(): Promise<void>;
}

/** The Temporal worker of this process, with activities bound to its pool and settings. */
export async function startWorkerPart(config: Config, services: Services, client: Client) {
  const { worker, connection } = await createTakedownWorker({
    address: services.temporalAddress,
    auth: services.temporalAuth,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    deps: {
      pool: services.db.pool,
      temporal: client,
      notices: { timeoutMs: config.noticeTimeoutMs, allowPrivate: config.allowPrivateWebhooks, httpsOnly: config.httpsWebhooksOnly },
      urlChecks: { timeoutMs: config.noticeTimeoutMs, allowPrivate: config.allowPrivateUrlChecks },
    },
    workflowBundlePath: config.workflowBundlePath,
  });
  const run = worker.run();
  return {
    run,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await run;
      await connection.close();
    },
  };
}

/**
 * The HTTP API and console of this process, listening on `port`. With `starting`, /healthz answers 503 `starting` until
 * `ready()`: `npm start` binds the port before its worker polls, and a case created then would wait for that worker.
 */
export async function startApiPart(config: Config, services: Services, client: Client, log: Logger, adminToken: string, port: number, opts: { starting?: boolean } = {}) {
  const principals = config.principalCacheSeconds > 0 ? await PrincipalCache.forPool(services.db.pool, { logger: log, maxAgeMs: config.principalCacheSeconds * 1000 }) : undefined;
  const readiness = { draining: false, starting: opts.starting ?? false };
  const app = createApp({
    readiness,
    pool: services.db.pool,
    db: services.db.db,
    temporal: client,
    taskQueue: config.taskQueue,
    namespace: config.temporalNamespace,
    adminToken,
    ...(config.previousAdminToken ? { previousAdminToken: config.previousAdminToken } : {}),
    logger: log,
    temporalUiUrl: services.temporalUiUrl,
    uiDir: path.join(root, 'ui'),
    rateLimitPerMinute: config.rateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
    metricsPublic: config.metricsPublic,
    trustProxy: config.trustProxy,
    secretOverlapMs: config.secretOverlapMs,
    ...(config.allowPrivateWebhooks ? {} : { refusesWebhook: namesPrivateHost }),
    httpsWebhooksOnly: config.httpsWebhooksOnly,
    principals,
    inboxCacheMb: config.inboxCacheMb,
  });
  try {
    const http = await serveHttp(app, config.host, port);
    return {
      url: http.url,
      ready() {
        readiness.starting = false;
      },
      /** Not ready first (/healthz 503) for TAKEDOWN_SHUTDOWN_DELAY while still serving, then the drain. */
      async stop() {
        readiness.draining = true;
        if (config.shutdownDelayMs > 0) {
          log.info({ ms: config.shutdownDelayMs }, 'not ready: serving on until the load balancer has noticed, then draining');
          await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
        }
        await http.stop();
        await principals?.close();
      },
    };
  } catch (err) {
    await principals?.close();
    throw err;
  }
}

export async function startSystem(config: Config, log: Logger): Promise<RunningSystem> {
  const admin = resolveAdminToken(config, log);
  const services = await startServices(config, log, { embedded: true });
  let connection: Connection | undefined;
  let api: Awaited<ReturnType<typeof startApiPart>> | undefined;
  try {
    connection = await connectTemporal(services.temporalAddress, services.temporalAuth);
    await checkSearchAttributes(connection, config.temporalNamespace, log);
    const client = new Client({ connection, namespace: config.temporalNamespace });
    // The API's port is bound before the worker polls, as `npm run worker` binds its operations port first: a start
    // refused there (the port taken) takes no workflow or activity task, which would be left to its timeouts.
    // A busy port is replaced only in development and only when PORT is not set: a port asked for is that port or a failure.
    const port = config.production || config.portSet ? config.port : await freePort(config.port, config.host);
    const started = await startApiPart(config, services, client, log, admin.token, port, { starting: true });
    api = started;
    const worker = await startWorkerPart(config, services, client);
    started.ready();
    const forgetUrl = recordApiUrl(config.dataDir, started.url);
    const conn = connection;
    return {
      apiUrl: started.url,
      temporalUiUrl: services.temporalUiUrl,
      // The embedded servers' addresses, for `npm run api`, `npm run worker` and `npm run audit:verify` beside this one.
      embedded: {
        ...(config.databaseUrl ? {} : { databaseUrl: services.databaseUrl, migrationDatabaseUrl: services.migrationDatabaseUrl }),
        ...(config.temporalAddress ? {} : { temporalAddress: services.temporalAddress }),
      },
      admin,
      run: worker.run,
      // Once, however many callers ask: a signal can come while a failing worker's stop runs (runUntilWorkerEnds).
      stop: once(async () => {
        forgetUrl();
        await started.stop();
        await worker.stop().catch((err) => log.warn({ err }, 'worker stopped with an error'));
        await conn.close();
        await services.stop();
      }),
    };
  } catch (err) {
    await api?.stop().catch(() => {});
    await connection?.close().catch(() => {});
    await services.stop();
    throw err;
  }
}
