// Operations: /healthz (short timeouts on both dependencies), /metrics (Prometheus), /openapi.json.
import { finished } from 'node:stream';
import express, { Router, type RequestHandler } from 'express';
import { ProblemError } from '../../domain/errors';
import { renderMetrics } from '../../telemetry/metrics';
import type { ApiDeps } from '../app';
import { requireRoles } from '../middleware/auth';
import { BODY_LIMIT_BYTES } from '../middleware/body';
import { methodNotAllowed } from '../middleware/problem';
import { buildOpenApiDocument } from '../openapi';

const HEALTH_TIMEOUT_MS = 2_000;

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Health = 'ok' | 'unavailable';

/** 'ok' or 'unavailable': /healthz needs no token, so why (an address, a port) goes to the log, never to the caller. */
async function check(deps: OpsDeps, dependency: 'db' | 'temporal', fn: () => Promise<unknown>): Promise<Health> {
  try {
    await within(HEALTH_TIMEOUT_MS, fn());
    return 'ok';
  } catch (err) {
    deps.logger.warn({ dependency, err: (err as Error).message ?? String(err) }, 'health check failed');
    return 'unavailable';
  }
}

/**
 * Reads a body and drops it as sent, never inflated: the bytes are thrown away, and anyone may send a 1 KB gzip body
 * that inflates to 1 MiB. body-parser without inflating refuses a compressed body unread (a 415, which problem.ts would
 * word as an unsupported Content-Encoding even for gzip), so such a body is drained here instead and the route answers
 * as for any other body: 404 for an unknown path, 200 for /healthz, and 413 past 1 MiB sent.
 */
function dropBody(): RequestHandler {
  const read = express.raw({ type: () => true, limit: BODY_LIMIT_BYTES, inflate: false });
  return (req, res, next) => {
    read(req, res, (err?: unknown) => {
      if ((err as { type?: unknown } | undefined)?.type !== 'encoding.unsupported') {
        next(err);
        return;
      }
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      finished(req, (failed) => {
        if (failed) next(new ProblemError('bad_request', 'the request was aborted'));
        else next(bytes > BODY_LIMIT_BYTES ? new ProblemError('payload_too_large', 'the body is larger than 1 MiB') : undefined);
      });
    });
  };
}

/**
 * What the operations endpoints need; a standalone worker has these too (see createOpsApp). `metricsPublic`: /metrics
 * without a token (TAKEDOWN_METRICS_PUBLIC, off by default); otherwise it takes an admin or auditor token.
 */
export type OpsDeps = Pick<ApiDeps, 'pool' | 'temporal' | 'namespace' | 'adminToken' | 'previousAdminToken' | 'metricsPublic' | 'logger' | 'readiness' | 'principals' | 'rateLimitPerMinute' | 'authFailuresPerMinute'>;

/** `authenticating`: the app's token authentication (behind its failed-authentication limit), for /metrics. */
export function healthRouter(deps: OpsDeps, authenticating: RequestHandler): Router {
  const r = Router();
  let openapi: unknown;
  // These routes take no body, but one sent anyway is read (and dropped) before the answer: a connection closed with an
  // unread body makes TCP reset it, and the client can lose the end of the answer (a long /metrics page, say). Past 1 MiB
  // it is the 413 every route gives. Unknown paths pass through here too, so their 404s are answered the same way.
  r.use(dropBody());

  // One probe of the dependencies at a time, shared by every /healthz request that comes while it runs: the route needs
  // no token, and a flood of it must not take the pool's connections (each probe may wait its 2 s) from the API.
  let probing: Promise<[Health, Health]> | undefined;
  const probe = () =>
    (probing ??= Promise.all([
      check(deps, 'db', () => deps.pool.query({ text: 'SELECT 1', query_timeout: HEALTH_TIMEOUT_MS } as never)),
      check(deps, 'temporal', () =>
        deps.temporal.withDeadline(Date.now() + HEALTH_TIMEOUT_MS, () => deps.temporal.workflowService.describeNamespace({ namespace: deps.namespace })),
      ),
    ]).finally(() => {
      probing = undefined;
    }));

  r.route('/healthz')
    .get(async (_req, res) => {
      const [db, temporal] = await probe();
      const ok = db === 'ok' && temporal === 'ok';
      // Shutting down: not ready, whatever the dependencies say, so that load balancers send nothing new.
      if (deps.readiness?.draining) res.status(503).json({ status: 'draining', db, temporal });
      else if (deps.readiness?.starting) res.status(503).json({ status: 'starting', db, temporal });
      else res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', db, temporal });
    })
    .all(methodNotAllowed(['GET']));

  // Liveness: the process answers. Readiness is /healthz (PostgreSQL and Temporal reachable): a probe that restarts the
  // process must ask /livez, or an outage of either would restart every API and worker for nothing.
  r.route('/livez')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(methodNotAllowed(['GET']));

  r.route('/openapi.json')
    .get((_req, res) => {
      openapi ??= buildOpenApiDocument();
      res.json(openapi);
    })
    .all(methodNotAllowed(['GET']));

  const metricsGuard = deps.metricsPublic ? [] : [authenticating, requireRoles('admin', 'auditor')];
  r.route('/metrics')
    .get(...metricsGuard, async (_req, res) => {
      const { contentType, body } = await renderMetrics(deps.pool);
      // Its labels name partner orgs and its counters the coalition's work: no cache along the way keeps a copy.
      res.setHeader('Cache-Control', 'no-store');
      res.type(contentType).send(body);
    })
    .all(methodNotAllowed(['GET']));

  return r;
}
