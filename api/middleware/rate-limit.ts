// Requests per principal and minute: one caller (a runaway partner integration, a leaked token) cannot starve the rest.
import type { RequestHandler } from 'express';
import { MemoryStore, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import { ProblemError } from '../../domain/errors';
import { actorOf } from './auth';

/**
 * A fixed one-minute window per principal (after authentication, so the key is the principal's id, never an address).
 * The counters live in this process: N API instances behind a load balancer allow up to N times the limit.
 * Answers carry the draft-8 `RateLimit` and `RateLimit-Policy` headers; a refusal is a 429 problem with `Retry-After`.
 */
export function limitPerPrincipal(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => actorOf(req).id,
    handler: (req, res, next) => {
      const reset = (req as typeof req & { rateLimit?: RateLimitInfo }).rateLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      res.setHeader('Retry-After', String(seconds));
      next(new ProblemError('rate_limited', `more than ${perMinute} requests in a minute from this principal; retry in ${seconds} s`));
    },
  });
}

/** Failed authentications per client address and minute while the per-principal limit is on, unless set otherwise. */
export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 60;

/**
 * `authenticate` wrapped in a limit on failed authentications per client address and minute: without it every unknown
 * token costs a PostgreSQL lookup, and the per-principal limit (which needs a principal) never sees them.
 *
 * Each request is counted when it arrives (so a burst of concurrent bad tokens cannot outrun the count) and uncounted as
 * soon as it authenticates, or when its answer is anything but a 401 (a 503 while PostgreSQL is away, say): what stays
 * counted is the 401s, and requests still being authenticated. Past the limit, every request from the address is a
 * 429 problem with `Retry-After` until the window ends, before any lookup. The address is Express's `req.ip` (an IPv6
 * client by its /56), which behind a reverse proxy is the proxy's unless Express's `trust proxy` is set: all clients
 * behind it then share one budget. No RateLimit headers: those describe the per-principal limit. Counters live in
 * this process, as the per-principal ones do.
 */
export function limitFailedAuthentication(perMinute: number, authenticateHandler: RequestHandler): RequestHandler[] {
  const store = new MemoryStore();
  const uncount = new WeakMap<object, () => void>();
  const count = rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: false,
    legacyHeaders: false,
    store,
    requestPropertyName: 'authFailureLimit',
    handler: (req, res, next) => {
      const reset = (req as typeof req & { authFailureLimit?: RateLimitInfo }).authFailureLimit?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      res.setHeader('Retry-After', String(seconds));
      next(new ProblemError('rate_limited', `more than ${perMinute} failed authentications in a minute from this address; retry in ${seconds} s`));
    },
  });
  const track: RequestHandler = (req, res, next) => {
    const info = (req as typeof req & { authFailureLimit?: RateLimitInfo }).authFailureLimit;
    if (info) {
      let done = false;
      const release = () => {
        if (done) return;
        done = true;
        // A count from a window that has since ended is gone already; taking one from the next window would be wrong.
        if (info.resetTime && Date.now() >= info.resetTime.getTime()) return;
        void store.decrement(info.key);
      };
      uncount.set(req, release);
      // Not on 'close' without an answer: a client hanging up while its token is looked up still cost the lookup.
      res.once('finish', () => {
        if (res.statusCode !== 401) release();
      });
    }
    next();
  };
  const authenticated: RequestHandler = (req, _res, next) => {
    uncount.get(req)?.();
    next();
  };
  return [count, track, authenticateHandler, authenticated];
}
