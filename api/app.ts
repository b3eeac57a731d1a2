// The Express application: logging with request ids, security headers, auth, JSON bodies, the resource routers, problem+json errors.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import express, { Router, type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type pg from 'pg';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Db } from '../db/client';
import { bindMetricsPool } from '../telemetry/metrics';
import { authenticate } from './middleware/auth';
import { jsonBody } from './middleware/body';
import { httpMetrics } from './middleware/http-metrics';
import type { PrincipalCache } from './principal-cache';
import { authFailuresLimit, limitFailedAuthentication, limitPerPrincipal } from './middleware/rate-limit';
import { notFoundHandler, problemHandler } from './middleware/problem';
import { adminRouter } from './routes/admin';
import { auditRouter } from './routes/audit';
import { casesRouter } from './routes/cases';
import { healthRouter, type OpsDeps } from './routes/health';
import { partnersRouter } from './routes/partners';
import { principalsRouter } from './routes/principals';
import { tasksRouter } from './routes/tasks';

export interface ApiDeps {
  pool: pg.Pool;
  db: Db;
  temporal: Client;
  taskQueue: string;
  namespace: string;
  adminToken: string;
  /** During a rotation, the admin token being replaced (TAKEDOWN_ADMIN_TOKEN_PREVIOUS): taken too. */
  previousAdminToken?: string;
  logger: Logger;
  /** For links to a case's workflow in the Temporal UI. */
  temporalUiUrl?: string;
  /** Static web console folder served at '/', if present. */
  uiDir?: string;
  /** Principals remembered between requests while PostgreSQL notifies changes; without it, each request reads them. */
  principals?: PrincipalCache;
  /** Requests per principal and minute on /v1 (api/middleware/rate-limit.ts); unset or 0: no limit. */
  rateLimitPerMinute?: number;
  /**
   * Failed authentications (401s) per client address and minute on /v1 (limitFailedAuthentication); 0: no limit.
   * Unset: the default while `rateLimitPerMinute` is on, else none (authFailuresLimit).
   */
  authFailuresPerMinute?: number;
  /**
   * Megabytes of inbox pages this process keeps and serves again while their org's tasks are unchanged
   * (api/inbox-cache.ts); 0: none, every inbox request reads its page. Unset: DEFAULT_INBOX_CACHE_MB.
   */
  inboxCacheMb?: number;
  /** /metrics without a token (see OpsDeps). */
  metricsPublic?: boolean;
  /** How long a replaced partner secret keeps signing notices beside the new one (TAKEDOWN_SECRET_OVERLAP); unset: a day. */
  secretOverlapMs?: number;
  /**
   * Set `draining` on shutdown: /healthz answers 503 `draining` from then on, while every other route serves as before.
   * `starting`: 503 `starting` until the process's other parts (its worker) are up.
   */
  readiness?: { draining: boolean; starting?: boolean };
  /**
   * Express's `trust proxy`: which proxies' X-Forwarded-For gives the client's address (`req.ip`, which the
   * failed-authentication limit counts by). Unset: none, the TCP peer is the client.
   */
  trustProxy?: false | number | string[];
  /**
   * Refuses (422) a partner webhook URL at PUT: production passes activities/url-checks' namesPrivateHost, since notices
   * to a loopback or private host could never be delivered there. Unset: every well-formed URL is taken.
   */
  refusesWebhook?: (url: string) => boolean;
  /**
   * Refuses (422) a partner webhook URL that is not https:// at PUT (production: notices carry case details and must
   * travel over TLS). Unset: http:// is taken too, for local simulators in development.
   */
  httpsWebhooksOnly?: boolean;
}

/** `Cache-Control: no-store` on every /v1 answer, successes and problems alike. */
const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Helmet's headers, but for `upgrade-insecure-requests` in the CSP: where the console is served over plain HTTP (a
 * deployment whose TLS ends elsewhere, an address other than localhost in a trial), the browser would rewrite every
 * script and stylesheet to https:// and show a blank page. TLS is the deployment's to provide (HSTS stays on).
 */
// The console loads its own scripts, stylesheet and images and nothing else: helmet's defaults, with styles and fonts
// from this origin only (its default also allows any https: origin and inline styles, which the console never uses).
const securityHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, styleSrc: ["'self'"], fontSrc: ["'self'"] } } });

/** An Express app as every Takedown server starts one: no framework banner, no ETags (answers are live state). */
export function bareApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  return app;
}

/**
 * A read of case data (a case, its tasks, documents, audit chain or history, the case list, an audit export): logged at
 * info with who read it, so the logs answer who looked at a case. Inbox polls and task reads stay at debug.
 */
function readsCaseData(req: IncomingMessage): boolean {
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '';
  // Express matches routes whatever the letters' case (GET /V1/Cases/… reads the case): so does this.
  return (req.method === 'GET' || req.method === 'HEAD') && /^\/v1\/(cases|audit)(?:[/?]|$)/i.test(url);
}

function withActor(req: IncomingMessage, line: object): object {
  const actor = (req as IncomingMessage & { actor?: { id: string; org: string } }).actor;
  return actor ? { ...line, actor: { id: actor.id, org: actor.org } } : line;
}

/**
 * Token authentication behind the failed-authentication limit, when one is in force: every route that takes a token
 * (/v1 and /metrics) goes through one instance, so unknown tokens are counted, and refused, per address across them.
 */
function authentication(deps: OpsDeps): RequestHandler {
  const authenticating = authenticate({ pool: deps.pool, adminToken: deps.adminToken, previousAdminToken: deps.previousAdminToken, principals: deps.principals });
  const perMinute = authFailuresLimit(deps.authFailuresPerMinute, deps.rateLimitPerMinute);
  return perMinute ? limitFailedAuthentication(perMinute, authenticating) : authenticating;
}

/** The tail of every app: unknown paths as 404 and every error as problem+json. */
function finish(app: Express, logger: Logger): Express {
  app.use(notFoundHandler);
  app.use(problemHandler(logger));
  return app;
}

export function createApp(deps: ApiDeps): Express {
  // The routers' paths do not overlap, so their order only decides how many a request passes first: the busiest first.
  return apiApp(deps, [tasksRouter(deps), casesRouter(deps), auditRouter(deps), principalsRouter(deps), partnersRouter(deps), adminRouter(deps)]);
}

/**
 * The API's app around the given /v1 routers: everything a request passes besides its route (logging, metrics,
 * security headers, no-store, authentication, the rate limits, JSON bodies, problem+json), the operations paths and
 * the console. createApp passes the resource routers; the inbox benchmark's read floor passes one that only sends
 * fixed bytes, to measure what this stack costs a request that does nothing.
 */
export function apiApp(deps: ApiDeps, routers: Router[]): Express {
  bindMetricsPool(deps.pool);
  const app = bareApp();
  app.set('trust proxy', deps.trustProxy ?? false);

  app.use(
    pinoHttp({
      logger: deps.logger,
      // Every log line of the request carries reqId; a caller's X-Request-Id is kept when it is sane.
      quietReqLogger: true,
      genReqId(req: IncomingMessage, res: ServerResponse) {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Never log headers: they carry bearer tokens.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 || readsCaseData(req) ? 'info' : 'debug'),
      // Who read or was refused: the principal (id and org, never the token) on the request's closing line.
      customSuccessObject: (req, _res, line) => withActor(req, line),
      customErrorObject: (req, _res, _err, line) => withActor(req, line),
    }),
  );
  app.use(httpMetrics);
  app.use(securityHeaders);

  const v1 = Router();
  // Case, task, principal and audit data: no cache along the way (a shared proxy, a browser's disk) may keep a copy.
  // First, so errors (401, 404, 429, every problem+json from /v1) carry it too.
  v1.use(noStore);
  const authenticating = authentication(deps);
  v1.use(authenticating);
  if (deps.rateLimitPerMinute) v1.use(limitPerPrincipal(deps.rateLimitPerMinute));
  v1.use(jsonBody());
  for (const router of routers) v1.use(router);
  app.use('/v1', v1);
  // Operations paths are outside /v1: after it, so API requests do not pass through them. /metrics authenticates
  // through the same failed-authentication limit as /v1 (one count per address for both).
  app.use(healthRouter(deps, authenticating));

  if (deps.uiDir && existsSync(deps.uiDir)) app.use(express.static(deps.uiDir, { index: ['index.html'], dotfiles: 'ignore' }));
  return finish(app, deps.logger);
}

/**
 * The operations endpoints alone (/healthz, /metrics, /openapi.json), for a process that serves no API: a standalone
 * worker exposes its own counters and histograms (notice attempts, time to termination...) this way.
 */
export function createOpsApp(deps: OpsDeps): Express {
  const app = bareApp();
  app.use(securityHeaders);
  app.use(healthRouter(deps, authentication(deps)));
  return finish(app, deps.logger);
}
