// Requests per principal and minute: one caller (a runaway partner integration, a leaked token) cannot starve the rest.
import type { RequestHandler } from 'express';
import { ipKeyGenerator, MemoryStore, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import { ProblemError } from '../../domain/errors';
import { actorOf, type Authenticating } from './auth';

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
      const seconds = retryAfterSeconds((req as typeof req & { rateLimit?: RateLimitInfo }).rateLimit?.resetTime);
      res.setHeader('Retry-After', String(seconds));
      next(new ProblemError('rate_limited', `more than ${perMinute} requests in a minute from this principal; retry in ${seconds} s`));
    },
  });
}

/** Failed authentications per client address and minute while the per-principal limit is on, unless set otherwise. */
const DEFAULT_AUTH_FAILURES_PER_MINUTE = 60;

/** The failed-authentication limit in force: the one `given` (0: none), else the default while the per-principal limit is on. */
export function authFailuresLimit(given: number | undefined, rateLimitPerMinute: number | undefined): number {
  return given ?? (rateLimitPerMinute ? DEFAULT_AUTH_FAILURES_PER_MINUTE : 0);
}

/** Seconds until a rate-limit window resets, for Retry-After: at least 1, and a full minute when the store does not say. */
function retryAfterSeconds(reset: Date | undefined): number {
  return reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
}

/**
 * `authenticate` behind a limit on failed authentications per client address and minute: without it every unknown token
 * costs a PostgreSQL lookup, and the per-principal limit (which needs a principal) never sees them.
 *
 * Only 401s count, each when `authenticate` refuses the token (whether or not the client waits for the answer); an
 * address that has had `perMinute` of them in the window gets a 429 problem with `Retry-After` until the window ends for
 * every request whose token would need a lookup. A principal's token that this process's cache holds still passes: a
 * client sharing the address (behind one NAT or proxy) with another that sends bad tokens, or the one whose own bad
 * tokens locked it out, keeps working with a token in use, and PostgreSQL is still asked nothing. (That a known token
 * passes where an unknown one gets 429 tells nothing a guess could use: principals' tokens carry 256 random bits.) The
 * admin's token does not pass: the operator chooses it, and a locked-out address would otherwise go on testing guesses
 * at it, told yes (200) or no (429) at full speed. Requests never count by arriving: a burst of good tokens that all miss the principal cache at once
 * is never refused. A burst of bad tokens sent at once is looked up before the first of its refusals is counted, so at
 * most one such burst passes the limit. The address is Express's `req.ip` (an IPv6 client by its /56), which behind a
 * reverse proxy is the proxy's unless Express's `trust proxy` is set: all clients behind it then share one budget. No
 * RateLimit headers: those describe the per-principal limit. Counters live in this process, as the per-principal ones do.
 */
export function limitFailedAuthentication(perMinute: number, authenticateHandler: Authenticating): RequestHandler {
  const store = new MemoryStore();
  store.init({ windowMs: 60_000 } as Parameters<MemoryStore['init']>[0]);
  return async (req, res, next) => {
    const key = ipKeyGenerator(req.ip ?? '');
    const seen = await store.get(key);
    if (seen && seen.totalHits >= perMinute) {
      if (authenticateHandler.knownWithoutLookup(req)) return next();
      const seconds = retryAfterSeconds(seen.resetTime);
      res.setHeader('Retry-After', String(seconds));
      throw new ProblemError('rate_limited', `more than ${perMinute} failed authentications in a minute from this address; retry in ${seconds} s`);
    }
    try {
      // Its next() runs the rest of the route, whose errors Express handles there: only authenticate's own refusal lands here.
      await authenticateHandler(req, res, next);
    } catch (err) {
      if (err instanceof ProblemError && err.kind === 'unauthorized') await store.increment(key);
      throw err;
    }
  };
}
