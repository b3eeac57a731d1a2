// Shared start-up for the entry points: logger, PostgreSQL and Temporal (embedded or external), migrations, admin token.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Connection, type TLSConfig } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { pino, type Logger } from 'pino';
import { connectDb, type DbHandle } from '../../db/client';
import { migrateFor, pendingMigrations } from '../../db/migrate';
import { evidenceBypass, roleSettings } from '../../db/roles';
import { loadConfig, presentEnv, type Config, type TemporalTlsSettings } from '../config';
import { makePrivateDir, PRIVATE_DIR_MODE, tightenDir, TRAVERSABLE_DIR_MODE } from './data-dir';
import { stopLeftoverServers } from './leftovers';
import { leftoverPostgres, startEmbeddedPostgres } from './postgres';
import { locateTemporalCli } from './temporal-cli';
import { leftoverTemporal, startTemporalDevServer, waitForTemporal } from './temporal-server';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { loggableError } from '../../telemetry/log-errors';

/**
 * The SDK's log metadata with its Error values (an activity's failure, say) as pino writes errors: an Error's message
 * and stack are not enumerable, so the JSON of the metadata alone showed `"error":{}`.
 */
export function withErrorsSerialised(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta) return meta;
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, v instanceof Error ? loggableError(v) : v]));
}

/** Where a running system writes the URL its API answers on, so the demo and the partner simulator find it. */
export const apiUrlFile = (dataDir: string) => path.join(dataDir, 'api-url');
export const adminTokenFile = (dataDir: string) => path.join(dataDir, 'admin-token');

/** Writes <data dir>/api-url; the returned function removes it again (unless another system wrote its own since). */
export function recordApiUrl(dataDir: string, url: string): () => void {
  const file = apiUrlFile(dataDir);
  makePrivateDir(dataDir);
  writeFileSync(file, `${url}\n`);
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === url) unlinkSync(file);
    } catch {
      // Gone already.
    }
  };
}

/**
 * The API a client (the demo, the partner simulator) talks to: the one named (`--api-url`, then TAKEDOWN_URL, a client
 * setting the server never reads), else the one a system serving from this data dir recorded (it may have moved off a
 * busy 3000), else PORT on this machine.
 */
export function clientApiUrl(config: Pick<Config, 'dataDir' | 'port'>, named?: string): string {
  const recorded = existsSync(apiUrlFile(config.dataDir)) ? readFileSync(apiUrlFile(config.dataDir), 'utf8').trim() : '';
  const url = named ?? presentEnv().TAKEDOWN_URL ?? (/^https?:\/\/\S+$/.test(recorded) ? recorded : `http://127.0.0.1:${config.port}`);
  return url.replace(/\/+$/, '');
}

/**
 * The admin token a client (the demo, the partner simulator) sends: the one named (a flag), else TAKEDOWN_ADMIN_TOKEN,
 * else the one a development system serving from this data dir generated. Undefined when there is none.
 */
export function clientAdminToken(config: Pick<Config, 'dataDir' | 'adminToken'>, named?: string): string | undefined {
  const file = adminTokenFile(config.dataDir);
  return named ?? config.adminToken ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined);
}

/**
 * The configuration from the environment; one refused (a bad value, named with what it must be) ends the process with
 * code 1 and one JSON `fatal` line, as every other failure to start is logged, rather than an uncaught stack trace.
 */
export function configOrExit(name: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    pino({ name, base: { service: name } }).fatal({ err: loggableError(err) }, 'invalid configuration: not started');
    process.exit(1);
  }
}

/**
 * The process's logger, with the Temporal SDK's runtime installed to log through it. `sdkMetrics` (a process that runs a
 * worker): the SDK's own metrics served in Prometheus format at config.sdkMetricsAddress, when set.
 */
export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'sdkMetricsAddress'>>, name: string, { sdkMetrics = false } = {}): Logger {
  // Errors logged anywhere (`err`, `error`) go out without any failed SQL statement's parameters.
  const log = pino({ name, level: config.logLevel, base: { service: name }, serializers: { err: loggableError, error: loggableError } });
  // The Temporal SDK's own logs (worker state, bundler) go through pino too, at warn and above. Installing it starts the
  // SDK's metrics server when asked for: an address that cannot be bound stops the start here, before any polling.
  try {
    installRuntime(config, log, sdkMetrics);
  } catch (err) {
    log.fatal({ err: loggableError(err) }, 'the Temporal SDK runtime did not start: not started');
    process.exit(1);
  }
  return log;
}

function installRuntime(config: Partial<Pick<Config, 'sdkMetricsAddress'>>, log: Logger, sdkMetrics: boolean): void {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : 'debug';
      log[level]({ temporal: withErrorsSerialised(entry.meta) }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      // temporal_workflow_task_execution_failed (a non-deterministic deploy shows there first), temporal_activity_execution_failed,
      // temporal_num_pollers, temporal_*_schedule_to_start_latency_seconds...: what tells an operator the workers are stuck.
      ...(sdkMetrics && config.sdkMetricsAddress
        ? { metrics: { metricPrefix: 'temporal_', prometheus: { bindAddress: config.sdkMetricsAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } } }
        : {}),
    },
    // The entry point owns signals: it stops the API first, then the worker, then the servers.
    shutdownSignals: [],
  });
}

export interface Services {
  databaseUrl: string;
  /** The owner's URL the migrations ran with, when it is another role than DATABASE_URL's. */
  migrationDatabaseUrl?: string;
  temporalAddress: string;
  /** TLS and API key for TEMPORAL_ADDRESS (none for the embedded dev server). */
  temporalAuth: TemporalAuth;
  temporalUiUrl?: string;
  db: DbHandle;
  /** Stops what this process started, in reverse order. */
  stop(): Promise<void>;
}

/** Whether a process with this pid exists (one we may not signal exists too). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes <data dir>/takedown.lock for this process, or fails naming the process that holds it: two processes starting
 * embedded servers on one data dir would run two Temporal servers on one SQLite file. A lock left by a process that no
 * longer exists is taken over. Returns its release (also run when the process exits).
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'takedown.lock');
  makePrivateDir(dataDir);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processExists(holder)) {
        throw new Error(
          `the data dir ${dataDir} is in use by process ${holder} (another Takedown?): stop it, or set TAKEDOWN_DATA_DIR to another folder (if ${holder} is not Takedown, delete ${file})`,
        );
      }
      unlinkSync(file);
    }
  }
  const release = () => {
    process.off('exit', release);
    try {
      if (Number.parseInt(readFileSync(file, 'utf8'), 10) === process.pid) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return release;
}

export async function startServices(config: Config, log: Logger, opts: { embedded: boolean }): Promise<Services> {
  const stops: (() => Promise<void>)[] = [];
  // Once, however many callers ask (a signal during a stop a failing worker began): each part stops once, in reverse.
  const stop = once(async () => {
    for (const s of [...stops].reverse()) await s().catch((err) => log.warn({ err }, 'stop failed'));
  });
  try {
    makePrivateDir(config.dataDir);
    const embeddedPg = opts.embedded && !config.databaseUrl;
    const embeddedTemporal = opts.embedded && !config.temporalAddress;
    const warning = embeddedInProduction(config, opts);
    if (warning) log.warn({ dataDir: config.dataDir }, warning);
    if (embeddedPg || embeddedTemporal) {
      // The embedded servers' files: no other local user may read or change them (a data dir made by an older
      // version, or by hand, may be open to them). As root, the embedded PostgreSQL's own user must still pass through.
      const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      for (const done of [tightenDir(config.dataDir, embeddedPg && asRoot ? TRAVERSABLE_DIR_MODE : PRIVATE_DIR_MODE), tightenDir(path.join(config.dataDir, 'temporal'))]) {
        if (done && 'to' in done) log.warn(done, 'the data dir was open to other local users: closed it to them');
        else if (done) log.warn(done, 'the data dir is open to other local users and could not be made owner-only: chmod it yourself');
      }
      const release = lockDataDir(config.dataDir);
      stops.push(async () => release());
      // The lock is this start's: servers still running on the data dir were left by a start killed outright.
      for (const left of await stopLeftoverServers([leftoverPostgres(config.dataDir), leftoverTemporal(path.join(config.dataDir, 'temporal'))])) {
        if (left.stopped) log.warn(left, 'stopped an embedded server that a start killed outright left running on this data dir');
        else log.error(left, 'an embedded server that a start killed outright left running on this data dir did not stop: stop it by hand');
      }
    }
    const pgP = (async () => {
      if (config.databaseUrl) return { app: config.databaseUrl, owner: config.migrationDatabaseUrl ?? config.databaseUrl };
      if (!opts.embedded) throw new Error('DATABASE_URL is required for this entry point');
      log.info({ dataDir: config.dataDir }, 'starting embedded PostgreSQL');
      const pg = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (line) => log.debug({ postgres: line }) });
      stops.push(() => pg.stop());
      return { app: pg.url, owner: pg.ownerUrl };
    })();
    const temporalP = (async () => {
      if (config.temporalAddress) {
        const auth = temporalAuthOf(config.temporalTls);
        await waitForTemporal(config.temporalAddress, config.temporalNamespace, 30_000, undefined, auth);
        return { address: config.temporalAddress, uiUrl: config.temporalUiUrl, auth };
      }
      if (!opts.embedded) throw new Error('TEMPORAL_ADDRESS is required for this entry point');
      const cli = await locateTemporalCli({ envPath: config.temporalCliPath, toolsDir: config.toolsDir, log: (m) => log.info(m) });
      log.info({ cli: cli.path }, 'starting the Temporal dev server');
      const dev = await startTemporalDevServer({
        cliPath: cli.path,
        dataDir: path.join(config.dataDir, 'temporal'),
        namespace: config.temporalNamespace,
        log: (line) => log.debug({ temporal: line }),
      });
      stops.push(() => dev.stop());
      return { address: dev.address, uiUrl: config.temporalUiUrl ?? dev.uiUrl, auth: {} };
    })();
    // Both settle before either failure is thrown: a side still starting when the other fails would otherwise go on
    // starting after this start has given up, and nothing would stop it (an embedded PostgreSQL left running, say).
    const [pgR, temporalR] = await Promise.allSettled([pgP, temporalP]);
    if (pgR.status === 'rejected') throw pgR.reason;
    if (temporalR.status === 'rejected') throw temporalR.reason;
    const urls = pgR.value;
    const temporal = temporalR.value;
    const db = connectDb(urls.app, { applicationName: 'takedown', max: config.dbPoolSize });
    stops.push(() => db.close());
    if (config.migrateAtStart || !config.databaseUrl) {
      await migrateFor(urls.owner, db.pool, { log });
    } else {
      // Migrated once beforehand (`npm run migrate`, compose's migrate job): this process holds no owner's credentials.
      const pending = await pendingMigrations(db.pool);
      if (pending > 0) {
        throw new Error(`${pending} migration(s) not applied and TAKEDOWN_MIGRATE_AT_START=false: run \`npm run migrate\` with MIGRATION_DATABASE_URL first`);
      }
    }
    const settings = await roleSettings(db.pool);
    if (settings.length) log.warn({ settings }, "DATABASE_URL's role has settings of its own (ALTER ROLE ... SET) that every connection of the app starts with");
    const bypass = await evidenceBypass(db.pool);
    if (bypass) {
      log.warn(
        { why: bypass },
        'DATABASE_URL can switch off the append-only guard on the audit chain, archived histories and documents: run the app as a role ' +
          'without ownership (MIGRATION_DATABASE_URL for the owner that migrates; README, "Database roles")',
      );
    }
    const databaseUrl = urls.app;
    const migrationDatabaseUrl = urls.owner === urls.app ? undefined : urls.owner;
    return { databaseUrl, migrationDatabaseUrl, temporalAddress: temporal.address, temporalAuth: temporal.auth, temporalUiUrl: temporal.uiUrl, db, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The warning for a production start that runs PostgreSQL or Temporal embedded (no DATABASE_URL, no TEMPORAL_ADDRESS):
 * allowed, as README says, but a single-machine setup whose state lives in the data dir; null otherwise.
 */
export function embeddedInProduction(config: Pick<Config, 'production' | 'databaseUrl' | 'temporalAddress' | 'dataDir'>, opts: { embedded: boolean }): string | null {
  if (!config.production || !opts.embedded) return null;
  const embedded = [...(config.databaseUrl ? [] : ['PostgreSQL (DATABASE_URL is unset)']), ...(config.temporalAddress ? [] : ['the Temporal dev server (TEMPORAL_ADDRESS is unset)'])];
  if (embedded.length === 0) return null;
  return (
    `NODE_ENV=production with embedded ${embedded.join(' and ')}: cases, the audit chain and workflow state live in ` +
    `${config.dataDir} on this machine alone (no replica, no backup but yours; the dev server's SQLite runs without fsync, ` +
    'so a machine crash can lose the last writes); set DATABASE_URL and TEMPORAL_ADDRESS for production (README, "Production at scale")'
  );
}

/**
 * Fails a start against a Temporal namespace without the case workflow's search attributes (registered by `npm start`
 * and compose's setup job, by hand on a cluster of one's own): without them every new case would fail at its start, while
 * the API reported itself healthy. A server that does not let this connection list them (some hosted setups) only gets
 * a warning.
 */
export async function checkSearchAttributes(connection: Connection, namespace: string, log: Logger): Promise<void> {
  let registered: Record<string, unknown>;
  try {
    registered = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    log.warn({ err, namespace }, 'could not list the namespace search attributes; creating cases fails if they are missing');
    return;
  }
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in registered));
  if (missing.length === 0) return;
  const create = missing.map(([name, type]) => `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`).join('; ');
  throw new Error(`Temporal namespace ${namespace} lacks the search attributes ${missing.map(([n]) => n).join(', ')} that every case sets; register them: ${create}`);
}

/**
 * The largest answer the client takes from Temporal. gRPC's default of 4 MiB is less than a long case's history, which
 * the archive reads in one page; Temporal ends a run at 50 MB of history, so this covers every history it keeps.
 */
export const TEMPORAL_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/** TLS and API key for a Temporal frontend, as both the client and the worker's native connection take them. */
export interface TemporalAuth {
  tls?: TLSConfig | true;
  apiKey?: string;
}

/** Reads the configured certificate files; nothing for a plain connection (the embedded dev server). */
export function temporalAuthOf(settings: TemporalTlsSettings): TemporalAuth {
  if (!settings.tls) return {};
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${what} ${file} cannot be read: ${(err as Error).message}`);
    }
  };
  const tls: TLSConfig = {
    ...(settings.certPath && settings.keyPath
      ? { clientCertPair: { crt: read('TEMPORAL_TLS_CERT_PATH', settings.certPath), key: read('TEMPORAL_TLS_KEY_PATH', settings.keyPath) } }
      : {}),
    ...(settings.caPath ? { serverRootCACertificate: read('TEMPORAL_TLS_CA_PATH', settings.caPath) } : {}),
    ...(settings.serverName ? { serverNameOverride: settings.serverName } : {}),
  };
  return { tls: Object.keys(tls).length > 0 ? tls : true, ...(settings.apiKey ? { apiKey: settings.apiKey } : {}) };
}

/** The Temporal client connection of the API and the worker's activities. */
export function connectTemporal(address: string, auth: TemporalAuth = {}): Promise<Connection> {
  return Connection.connect({ address, ...auth, channelArgs: { 'grpc.max_receive_message_length': TEMPORAL_MAX_RECEIVE_BYTES } });
}

/** Below this many characters an admin token set by the operator is taken, with a warning: it is easy to guess. */
export const WEAK_ADMIN_TOKEN_LENGTH = 16;
/** In production an admin token needs this many characters at least (`openssl rand -hex 24` makes 48). */
export const PRODUCTION_ADMIN_TOKEN_LENGTH = 32;

/** The admin token: from the environment; in development generated once and kept in <data dir>/admin-token. */
export function resolveAdminToken(config: Config, log?: Logger): { token: string; generated: boolean } {
  if (config.previousAdminToken) {
    if (config.production && config.previousAdminToken.length < PRODUCTION_ADMIN_TOKEN_LENGTH) {
      throw new Error(`TAKEDOWN_ADMIN_TOKEN_PREVIOUS must have at least ${PRODUCTION_ADMIN_TOKEN_LENGTH} characters when NODE_ENV=production`);
    }
    log?.warn('TAKEDOWN_ADMIN_TOKEN_PREVIOUS is set: the admin token being replaced is still taken; unset it once every client uses the new one');
  }
  if (config.adminToken) {
    // The token an operator chose is the one secret that administers everything, and guesses at it are limited per
    // address only: in production a short one stops the start.
    if (config.production && config.adminToken.length < PRODUCTION_ADMIN_TOKEN_LENGTH) {
      throw new Error(`TAKEDOWN_ADMIN_TOKEN must have at least ${PRODUCTION_ADMIN_TOKEN_LENGTH} characters when NODE_ENV=production (for example: openssl rand -hex 24)`);
    }
    if (config.adminToken.length < WEAK_ADMIN_TOKEN_LENGTH) {
      log?.warn(`TAKEDOWN_ADMIN_TOKEN has fewer than ${WEAK_ADMIN_TOKEN_LENGTH} characters: anyone who guesses it administers this system`);
    }
    return { token: config.adminToken, generated: false };
  }
  if (config.production) throw new Error('TAKEDOWN_ADMIN_TOKEN is required when NODE_ENV=production');
  const file = adminTokenFile(config.dataDir);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= WEAK_ADMIN_TOKEN_LENGTH) return { token, generated: true };
  }
  const token = `tdk_admin_${randomBytes(24).toString('base64url')}`;
  makePrivateDir(config.dataDir);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, generated: true };
}

/**
 * Runs `fn` on SIGINT/SIGTERM once. A second signal more than two seconds later forces exit; one sooner is the same
 * Ctrl-C relayed by npm and tsx (each passes it on to its child) and is ignored.
 */
/** `fn` run on the first call only; every call gets that run's promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= fn());
}

/**
 * Waits for a started process's worker to end. Ending after a stop is the normal way out. Failing while it runs (a fatal
 * error in the worker, the SDK giving up) leaves an API that takes cases nothing moves on: unless a shutdown is already
 * under way, the rest is stopped (the API drained, pools and servers closed) within `boundMs`, and the process exits 1
 * so that its supervisor starts it again.
 */
export async function runUntilWorkerEnds(
  run: Promise<void>,
  stopRest: () => Promise<void>,
  log: Logger,
  opts: { stopping: () => boolean; exit?: (code: number) => void; boundMs?: number },
): Promise<void> {
  try {
    await run;
  } catch (err) {
    if (opts.stopping()) return;
    log.fatal({ err }, 'the worker failed while running: stopping the rest, then exiting');
    const boundMs = opts.boundMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), boundMs);
    });
    const stopped = stopRest().then(
      () => 'stopped' as const,
      (stopErr: unknown) => {
        log.error({ err: stopErr }, 'stopping the rest failed');
        return 'failed' as const;
      },
    );
    if ((await Promise.race([stopped, bound])) === 'timeout') log.error({ ms: boundMs }, 'the rest did not stop in time');
    clearTimeout(timer);
    (opts.exit ?? process.exit)(1);
  }
}

/** Runs `fn` on the first SIGINT or SIGTERM, then exits; returns whether a shutdown is under way. */
export function onShutdown(log: Logger, fn: () => Promise<void>): () => boolean {
  let stoppingSince = 0;
  const handler = (signal: string) => {
    if (stoppingSince) {
      if (Date.now() - stoppingSince < 2_000) return;
      log.warn({ signal }, 'forced exit');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    fn().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
  return () => stoppingSince > 0;
}
