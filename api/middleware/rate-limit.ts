// Requests per principal and minute: one caller (a runaway partner integration, a leaked token) cannot starve the rest.
import type { RequestHandler } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
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
