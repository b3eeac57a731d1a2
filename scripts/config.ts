// The one place that reads process.env, validated by zod.
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_INBOX_CACHE_MB } from '../api/inbox-cache';
import { authFailuresLimit } from '../api/middleware/rate-limit';
import { DEFAULT_SECRET_OVERLAP_MS } from '../api/routes/partners';
import { NOTICE_ATTEMPT_TIMEOUT } from '../domain/rules/deadlines';
import { durationMs, parseDuration } from '../domain/rules/duration';

/**
 * The environment without its empty (or blank) values, which count as unset for every variable: `PORT=` in an env file
 * or compose's `${X:-}` means "not given", and read as a value it became 0, "" or the working directory (a random port,
 * every interface, the repository as the data dir, rate limits off). loadConfig and the clients' own settings read through it.
 */
export function presentEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
}

/** The repository: where `npm run tools:install` puts the Temporal CLI, whatever the working directory. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the Temporal CLI is installed and looked for by `npm run tools:install` and the tests: TAKEDOWN_TOOLS_DIR when
 * set, as `npm start` reads it (loadConfig's toolsDir), else `<repository>/.tools` whatever the working directory.
 */
export function toolsDirFor(repoRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = presentEnv(env).TAKEDOWN_TOOLS_DIR;
  return dir ? path.resolve(dir) : path.join(repoRoot, '.tools');
}

const EnvSchema = z.object({
  // Only `production` turns on production's safeguards: any other spelling (`prod`, `Production`, `staging`) would run
  // with development's (private webhooks allowed, no rate limit, a generated admin token) without a word.
  NODE_ENV: z
    .string()
    .refine((v) => ['production', 'development', 'test'].includes(v), 'must be production, development or test; any other value would run with development settings')
    .default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // An address or a host name to listen on, nothing more: `0.0.0.0:3000` or `http://x` would otherwise fail only once
  // the embedded servers, migrations and the worker's bundle had started (PORT carries the port).
  HOST: z
    .string()
    .default('127.0.0.1')
    .refine((h) => isIP(h) !== 0 || /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(h), {
      message: 'must be an IP address or a host name to listen on (no port: PORT sets it; no scheme)',
    }),
  DATABASE_URL: z.string().url().optional(),
  /** The tables' owner, used only to migrate and grant DATABASE_URL's role its privileges (db/roles.ts). */
  MIGRATION_DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(3).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('takedown'),
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_UI_URL: z.string().optional(),
  /** Temporal Cloud's API key authentication (implies TLS). */
  TEMPORAL_API_KEY: z.string().optional(),
  /** TLS to the Temporal frontend with the system's roots (implied by an API key, a client certificate, a CA or a server name). */
  TEMPORAL_TLS: z.enum(['0', '1', 'true', 'false']).optional(),
  /** mTLS: the client certificate and key (PEM files), as Temporal Cloud's certificate-authenticated namespaces ask. */
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  /** The CA (PEM file) that signed the server's certificate, when the system does not trust it already. */
  TEMPORAL_TLS_CA_PATH: z.string().optional(),
  /** The name the server's certificate is checked against, when it is not the host of TEMPORAL_ADDRESS. */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  // Any non-empty token is taken (the contract sets no length; a short one is warned about at start).
  TAKEDOWN_ADMIN_TOKEN: z.string().optional(),
  /** During a rotation: the admin token being replaced, still taken beside TAKEDOWN_ADMIN_TOKEN until it is unset. */
  TAKEDOWN_ADMIN_TOKEN_PREVIOUS: z.string().optional(),
  TAKEDOWN_DATA_DIR: z.string().default('.data'),
  TAKEDOWN_TOOLS_DIR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * How long one notice delivery attempt (and one URL check) may take before it counts as a timeout and is retried; less
   * than the notice activity's own timeout (noticeTimeoutOf).
   */
  TAKEDOWN_NOTICE_TIMEOUT: z.string().regex(/^\d+(ms|s|m)$/).default('10s'),
  /**
   * On SIGTERM the API first answers /healthz with 503 for this long while serving as before, so a load balancer stops
   * sending it requests before it drains (a readiness probe's period times its failure threshold); then it drains.
   */
  TAKEDOWN_SHUTDOWN_DELAY: z.string().regex(/^\d+(ms|s|m)$/).default('0s'),
  /**
   * How long a partner secret replaced by PUT /v1/partners/:org keeps signing notices beside the new one (0s: not at all).
   * Unset: DEFAULT_SECRET_OVERLAP_MS (a day).
   */
  TAKEDOWN_SECRET_OVERLAP: z.string().regex(/^\d+(ms|s|m|h|d)$/).optional(),
  /** A pre-built workflow bundle (fast worker restarts); unset: the worker bundles workflows/ at start. */
  TAKEDOWN_WORKFLOW_BUNDLE: z.string().optional(),
  /** Allow partner webhooks on loopback/private addresses (tests, the simulator). Production refuses them. */
  TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * Allow URL checks (the merchant URLs of a case) on loopback/private addresses (tests, the simulator). Production refuses
   * them, private webhooks allowed or not: a case's URLs come from case input, and must not reach the internal network.
   */
  TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * Requests per principal and minute on /v1, per API process (0: no limit). Unset: 1200 in production, none in
   * development (the contract's clients and test suites poll freely against a local system).
   */
  TAKEDOWN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  /**
   * Failed authentications (401s) per client address and minute on /v1, per API process (0: no limit). Unset: 60
   * while the per-principal limit is on, none otherwise.
   */
  TAKEDOWN_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  /**
   * How long an API process may use a principal it remembers (api/principal-cache.ts) before reading it again, even
   * without a change notification; 0 reads PostgreSQL on every request (use 0 behind a transaction pooler, which does
   * not deliver LISTEN/NOTIFY).
   */
  TAKEDOWN_PRINCIPAL_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /**
   * Megabytes of inbox pages an API process keeps and sends again while the org's tasks are unchanged (api/inbox-cache.ts;
   * every request still reads the org's inbox version); 0: no cache.
   */
  TAKEDOWN_INBOX_CACHE_MB: z.coerce.number().int().min(0).max(4096).default(DEFAULT_INBOX_CACHE_MB),
  TAKEDOWN_DB_POOL_SIZE: z.coerce.number().int().min(2).max(500).default(20),
  TAKEDOWN_MIGRATE_AT_START: z.enum(['0', '1', 'true', 'false']).optional(),
  /** Serve /metrics without a token (unset: never; the contract wants a bearer token on every request but /healthz and /openapi.json). */
  TAKEDOWN_METRICS_PUBLIC: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * Which reverse proxies' X-Forwarded-For to believe for the client's address (Express's `trust proxy`): a number of
   * hops, or addresses, CIDR subnets and the names loopback, linklocal, uniquelocal, comma-separated. Unset or false:
   * none, the TCP peer is the client.
   */
  TAKEDOWN_TRUST_PROXY: z.string().optional(),
  /** `npm run worker` only: serve /healthz and /metrics (admin or auditor token) on this port; unset, no HTTP at all. */
  TAKEDOWN_WORKER_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * The worker's Temporal SDK metrics (workflow task failures, non-determinism included; activity failures; pollers;
   * schedule-to-start latency) in Prometheus format at `host:port`, served by the SDK itself; unset, none.
   */
  TAKEDOWN_SDK_METRICS_ADDRESS: z
    .string()
    .regex(/^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]):\d{1,5}$/i, 'must be an IP address and a port, such as 0.0.0.0:9465 or [::]:9465 (no host name)')
    .optional(),
});

export type Config = ReturnType<typeof loadConfig>;

/** How the Temporal clients authenticate: files are named here and read at connection time (scripts/lib/runtime.ts). */
export interface TemporalTlsSettings {
  tls: boolean;
  apiKey?: string;
  certPath?: string;
  keyPath?: string;
  caPath?: string;
  serverName?: string;
}

function migrationUrlOf(e: z.infer<typeof EnvSchema>): string | undefined {
  // Migrating one database while serving another (the embedded one) would leave the served one unmigrated.
  if (e.MIGRATION_DATABASE_URL && !e.DATABASE_URL) {
    throw new Error('invalid configuration:\n  MIGRATION_DATABASE_URL needs DATABASE_URL (the role the app serves with) beside it');
  }
  return e.MIGRATION_DATABASE_URL;
}

function temporalTlsOf(e: z.infer<typeof EnvSchema>): TemporalTlsSettings {
  if (Boolean(e.TEMPORAL_TLS_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_KEY_PATH)) {
    throw new Error('invalid configuration:\n  TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together: set both or neither');
  }
  return {
    tls: flag(e.TEMPORAL_TLS, false) || Boolean(e.TEMPORAL_API_KEY) || Boolean(e.TEMPORAL_TLS_CERT_PATH) || Boolean(e.TEMPORAL_TLS_CA_PATH) || Boolean(e.TEMPORAL_TLS_SERVER_NAME),
    ...(e.TEMPORAL_API_KEY ? { apiKey: e.TEMPORAL_API_KEY } : {}),
    ...(e.TEMPORAL_TLS_CERT_PATH ? { certPath: e.TEMPORAL_TLS_CERT_PATH, keyPath: e.TEMPORAL_TLS_KEY_PATH } : {}),
    ...(e.TEMPORAL_TLS_CA_PATH ? { caPath: e.TEMPORAL_TLS_CA_PATH } : {}),
    ...(e.TEMPORAL_TLS_SERVER_NAME ? { serverName: e.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
}

/** Express's `trust proxy` names for address ranges (proxy-addr). */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** One trusted proxy: an address, a CIDR subnet (IPv4 /0-32, IPv6 /0-128) or a named range. */
function trustedProxy(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * TAKEDOWN_TRUST_PROXY as Express takes it: false, a hop count, or a list. `true` (every proxy) is refused: any client
 * could then name its own address in X-Forwarded-For and escape the failed-authentication limit.
 */
function trustProxyOf(value: string | undefined): false | number | string[] {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'false' || v === '0') return false;
  if (/^\d+$/.test(v)) {
    if (Number(v) > 10) throw new Error(`invalid configuration:\n  TAKEDOWN_TRUST_PROXY: ${v} hops; at most 10`);
    return Number(v);
  }
  if (v === 'true') {
    throw new Error('invalid configuration:\n  TAKEDOWN_TRUST_PROXY: true would believe any client\'s X-Forwarded-For; name the hops (1) or the proxies\' addresses');
  }
  const list = v.split(',').map((s) => s.trim());
  const bad = list.filter((s) => !trustedProxy(s));
  if (bad.length > 0) {
    throw new Error(`invalid configuration:\n  TAKEDOWN_TRUST_PROXY: not an address, CIDR subnet or loopback/linklocal/uniquelocal: ${bad.join(', ')}`);
  }
  return list;
}

/** A duration of zero ("0s", "00ms"), which parseDuration does not take. */
const ZERO_DURATION = /^0+[a-z]+$/;

/**
 * Milliseconds of a duration setting that may be zero ("0s": none). A longer one than parseDuration takes (a year) is
 * refused rather than read as zero, which would turn the setting off.
 */
function durationOrZero(name: string, value: string): number {
  const ms = parseDuration(value);
  if (ms !== null) return ms;
  if (ZERO_DURATION.test(value)) return 0;
  throw new Error(`invalid configuration:\n  ${name}: ${value} is longer than a year`);
}

/**
 * Milliseconds of TAKEDOWN_NOTICE_TIMEOUT. It must end an attempt before Temporal does: past the notice activity's
 * start-to-close timeout, Temporal ends the attempt instead, no `timeout` outcome is recorded, and the next attempt
 * starts while the first request may still be sending.
 */
function noticeTimeoutOf(value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new Error(`invalid configuration:\n  TAKEDOWN_NOTICE_TIMEOUT: ${value} is ${ZERO_DURATION.test(value) ? 'zero' : 'longer than a year'}`);
  if (ms >= durationMs(NOTICE_ATTEMPT_TIMEOUT)) {
    throw new Error(
      `invalid configuration:\n  TAKEDOWN_NOTICE_TIMEOUT: ${value} must be under ${NOTICE_ATTEMPT_TIMEOUT}, the notice activity's ` +
        'start-to-close timeout: past it Temporal ends the attempt, records no timeout and retries while the first request may still be sending',
    );
  }
  return ms;
}

/** A 0/1/true/false switch; unset, the fallback. */
const flag = (value: string | undefined, fallback: boolean): boolean => (value ? ['1', 'true'].includes(value) : fallback);

export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const set = presentEnv(env);
  const parsed = EnvSchema.safeParse(set);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`invalid configuration:\n${lines}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const dataDir = path.resolve(e.TAKEDOWN_DATA_DIR);
  const rateLimitPerMinute = e.TAKEDOWN_RATE_LIMIT_PER_MINUTE ?? (production ? 1200 : 0);
  return {
    production,
    port: e.PORT,
    /** PORT was given: the API takes that port or fails, never another. */
    portSet: set.PORT !== undefined,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    migrationDatabaseUrl: migrationUrlOf(e),
    temporalAddress: e.TEMPORAL_ADDRESS,
    temporalNamespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    temporalCliPath: e.TEMPORAL_CLI_PATH,
    temporalUiUrl: e.TEMPORAL_UI_URL,
    adminToken: e.TAKEDOWN_ADMIN_TOKEN,
    previousAdminToken: e.TAKEDOWN_ADMIN_TOKEN_PREVIOUS,
    dataDir,
    toolsDir: toolsDirFor(REPO_ROOT, { TAKEDOWN_TOOLS_DIR: e.TAKEDOWN_TOOLS_DIR }),
    temporalTls: temporalTlsOf(e),
    logLevel: e.LOG_LEVEL,
    noticeTimeoutMs: noticeTimeoutOf(e.TAKEDOWN_NOTICE_TIMEOUT),
    shutdownDelayMs: durationOrZero('TAKEDOWN_SHUTDOWN_DELAY', e.TAKEDOWN_SHUTDOWN_DELAY),
    secretOverlapMs: e.TAKEDOWN_SECRET_OVERLAP === undefined ? DEFAULT_SECRET_OVERLAP_MS : durationOrZero('TAKEDOWN_SECRET_OVERLAP', e.TAKEDOWN_SECRET_OVERLAP),
    workflowBundlePath: e.TAKEDOWN_WORKFLOW_BUNDLE,
    workerPort: e.TAKEDOWN_WORKER_PORT,
    sdkMetricsAddress: e.TAKEDOWN_SDK_METRICS_ADDRESS,
    rateLimitPerMinute,
    authFailuresPerMinute: authFailuresLimit(e.TAKEDOWN_AUTH_FAILURES_PER_MINUTE, rateLimitPerMinute),
    principalCacheSeconds: e.TAKEDOWN_PRINCIPAL_CACHE_SECONDS,
    inboxCacheMb: e.TAKEDOWN_INBOX_CACHE_MB,
    dbPoolSize: e.TAKEDOWN_DB_POOL_SIZE,
    migrateAtStart: flag(e.TAKEDOWN_MIGRATE_AT_START, true),
    allowPrivateWebhooks: flag(e.TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS, !production),
    allowPrivateUrlChecks: flag(e.TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS, !production),
    /** Production takes and sends to https:// webhooks only (PUT /v1/partners/:org and delivery); development takes http:// too. */
    httpsWebhooksOnly: production,
    metricsPublic: flag(e.TAKEDOWN_METRICS_PUBLIC, false),
    trustProxy: trustProxyOf(e.TAKEDOWN_TRUST_PROXY),
  };
}
