// Maps every error to application/problem+json in one place; client mistakes never become 5xx and stacks never leave the process.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { PROBLEM_TYPE_BASE, PROBLEMS, ProblemError, type ProblemKind } from '../../domain/errors';
import { temporalProblem } from '../temporal';
import { INVALID_TEXT_TYPE, MAX_JSON_DEPTH } from './body';
import { loggableError } from '../../telemetry/log-errors';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Record<string, string>;
  [member: string]: unknown;
}

export function problemBody(kind: ProblemKind, detail: string, errors?: Record<string, string>, members?: Record<string, string>): ProblemBody {
  const p = PROBLEMS[kind];
  // Extension members first: the standard ones always win.
  const body: ProblemBody = { ...members, type: `${PROBLEM_TYPE_BASE}${kind}`, title: p.title, status: p.status, detail };
  if (errors && Object.keys(errors).length > 0) body.errors = errors;
  return body;
}

export function sendProblem(res: Response, kind: ProblemKind, detail: string, errors?: Record<string, string>, members?: Record<string, string>): void {
  const body = problemBody(kind, detail, errors, members);
  // RFC 6750 section 3 (and RFC 9110 section 11.6.1): every 401 names the scheme the client must use.
  if (body.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res.status(body.status).type('application/problem+json').send(JSON.stringify(body));
}

/** Status codes that http-errors style errors (body-parser, express router) may carry, mapped to our kinds. */
const STATUS_KIND: Record<number, ProblemKind> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  // The console's static files answer conditional requests: If-Match or If-Unmodified-Since that does not hold is a 412.
  412: 'precondition_failed',
  413: 'payload_too_large',
  // The console's static files answer Range requests; one past the end of the file is a 416 (with Content-Range).
  416: 'range_not_satisfiable',
  422: 'validation',
  429: 'rate_limited',
};

// PostgreSQL connectivity trouble is a 503 (retry later), not a bug.
const PG_UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300']);

/** drizzle wraps driver errors (DrizzleQueryError); the driver's error is somewhere down the cause chain. */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) out.push(e);
  return out;
}

function isDatabaseUnavailable(err: unknown): boolean {
  return causes(err).some((e) => {
    if (!(e instanceof Error)) return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (PG_UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection timeout|Client has encountered a connection error/i.test(e.message);
  });
}

/** A PostgreSQL data exception (class 22): the value, not the server, is at fault. */
function isDataException(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = (e as { code?: unknown } | null)?.code;
    return e instanceof Error && typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) && 'severity' in e;
  });
}

export interface MappedProblem {
  kind: ProblemKind;
  detail: string;
  errors?: Record<string, string>;
  members?: Record<string, string>;
}

/** A body nested deeper than MAX_JSON_DEPTH, as assertStorable (api/middleware/body.ts) words it. */
const depthProblem = (): MappedProblem => ({
  kind: 'validation',
  detail: `body nests deeper than ${MAX_JSON_DEPTH} levels`,
  errors: { body: `nests deeper than ${MAX_JSON_DEPTH} levels` },
});

export function mapError(err: unknown): MappedProblem {
  if (err instanceof ProblemError) return { kind: err.kind, detail: err.message, errors: err.errors, members: err.members };
  const fromTemporal = temporalProblem(err);
  if (fromTemporal) return fromTemporal;
  if (isDatabaseUnavailable(err)) return { kind: 'unavailable', detail: 'the database is unavailable; retry later' };
  // Last line of defence: PostgreSQL refusing a value (class 22, data exception) means the client sent something unstorable.
  if (isDataException(err)) return { kind: 'validation', detail: 'a value in the request cannot be stored' };
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    const kind = STATUS_KIND[status] ?? 'bad_request';
    // Express's router answers 400 with a URIError when a path parameter is not valid percent-encoding (/v1/cases/%ff).
    if (err instanceof URIError) return { kind: 'bad_request', detail: 'the path is not valid percent-encoding' };
    switch (e?.type) {
      case 'entity.parse.failed':
        // body-parser keeps the parser's own error: a RangeError is the stack running out on JSON nested thousands of
        // levels deep. Nesting is what is wrong with it, as with a body that parses but nests past the cap: the same 422.
        if (err instanceof RangeError) return depthProblem();
        return { kind: 'bad_request', detail: 'the body is not valid JSON' };
      case INVALID_TEXT_TYPE:
        return { kind: 'bad_request', detail: err instanceof Error && /^the body is not valid UTF-(8|16|32)/.test(err.message) ? err.message : 'the body is not valid UTF-8' };
      case 'entity.too.large':
        return { kind: 'payload_too_large', detail: 'the body is larger than 1 MiB' };
      // The contract's one answer for a body it cannot read as JSON is 400 (JSON is UTF-8, RFC 8259), never a 415.
      case 'charset.unsupported':
        return { kind: 'bad_request', detail: 'the body must be JSON in UTF-8 (or UTF-16/32); its declared charset is not one of them' };
      case 'encoding.unsupported':
        return { kind: 'bad_request', detail: 'the body is compressed in an unsupported Content-Encoding (send it as identity, gzip, deflate or br)' };
      case 'request.aborted':
        return { kind: 'bad_request', detail: 'the request was aborted' };
      default:
        return { kind, detail: kind === 'bad_request' ? 'malformed request' : PROBLEMS[kind].title };
    }
  }
  return { kind: 'internal', detail: 'internal error' };
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const mapped = mapError(err);
    const status = PROBLEMS[mapped.kind].status;
    const log = (req as { log?: Logger }).log ?? logger;
    // Never a failed statement's parameters (a partner's secret, case data): loggableError leaves them out.
    if (status >= 500) log.error({ err: loggableError(err) }, `request failed: ${mapped.kind}`);
    if (res.headersSent) {
      // A stream (NDJSON export) already started: all we can do is cut it so the client sees a truncated body.
      res.destroy();
      return;
    }
    if (mapped.kind === 'unavailable') res.setHeader('Retry-After', '5');
    sendProblem(res, mapped.kind, mapped.detail, mapped.errors, mapped.members);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 'not_found', `no route for ${req.method} ${req.path}`);
};

/** Answers 405 with an Allow header for a known path asked with a method it does not serve. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  // Express answers HEAD wherever GET is served, and OPTIONS is answered here: the Allow header names both.
  const methods = allowed.flatMap((m) => (m === 'GET' && !allowed.includes('HEAD') ? ['GET', 'HEAD'] : [m]));
  const allow = [...methods, 'OPTIONS'].join(', ');
  return (req, res) => {
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    res
      .status(405)
      .type('application/problem+json')
      .send(JSON.stringify({ type: `${PROBLEM_TYPE_BASE}method_not_allowed`, title: 'Method not allowed', status: 405, detail: `${req.method} is not allowed here; use ${allow}` }));
  };
}
