// Bearer-token authentication (admin token or a principal's hashed token) and role checks; the actor it yields is what the workflow records.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type pg from 'pg';
import { prepared } from '../../db/client';
import { ProblemError } from '../../domain/errors';
import type { Actor, Role } from '../../domain/types';
import type { PrincipalCache } from '../principal-cache';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `authenticate`: who is calling. */
      actor?: Actor;
    }
  }
}

export const ADMIN_ACTOR: Actor = Object.freeze({ id: 'admin', org: 'admin', roles: ['admin'] as Role[] }) as Actor;

export const TOKEN_RE = /^tdk_[A-Za-z0-9_-]{32,}$/;

export function generateToken(): string {
  return `tdk_${randomBytes(32).toString('base64url')}`;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** What principals.token_hash holds: the token's SHA-256 in hex. */
export function hashToken(token: string): string {
  return sha256(token).toString('hex');
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return m ? m[1] : null;
}

/** `authenticate`'s handler, and the same check from memory alone, for when a lookup is not allowed. */
export type Authenticating = RequestHandler & {
  /**
   * Sets `req.actor` when the token is a principal's that the cache holds, and says whether it did: no PostgreSQL
   * lookup. For an address past its failed authentications (limitFailedAuthentication). Never the admin's token: an
   * operator chooses it, so it may be guessable, and a locked-out address must not go on testing guesses at it.
   */
  knownWithoutLookup(req: Request): boolean;
};

/**
 * The caller's principal by token hash: from `principals` (api/principal-cache.ts) while it listens for changes, else one
 * indexed query. Either way a revoked token stops working at once.
 */
export function authenticate(opts: { pool: pg.Pool; adminToken: string; previousAdminToken?: string; principals?: PrincipalCache }): Authenticating {
  // The admin token's digest once, and the caller's once per request: it serves both the admin check and the lookup.
  // Comparing digests in constant time: equal lengths, so timingSafeEqual never throws or leaks the token's length.
  // During a rotation the token being replaced is the admin's too: both are compared, each in constant time.
  const adminDigests = [opts.adminToken, opts.previousAdminToken].filter((t): t is string => Boolean(t)).map(sha256);
  /** The token's principal without a lookup: 'admin', a cached principal, undefined when a lookup would tell, null for no token. */
  const fromMemory = (req: Request): { token: string; hash: string; known: Actor | undefined } | null => {
    const token = bearer(req.headers.authorization);
    if (!token) return null;
    const digest = sha256(token);
    if (adminDigests.some((d) => timingSafeEqual(digest, d))) return { token, hash: '', known: ADMIN_ACTOR };
    const hash = digest.toString('hex');
    return { token, hash, known: TOKEN_RE.test(token) && token.length <= 200 ? opts.principals?.get(hash) : undefined };
  };
  const handler = async (req: Request, _res: Response, next: NextFunction) => {
    const found = fromMemory(req);
    if (!found) throw new ProblemError('unauthorized', 'send Authorization: Bearer <token>');
    if (found.known) {
      req.actor = { ...found.known, roles: [...found.known.roles] };
      return next();
    }
    const { token, hash } = found;
    if (!TOKEN_RE.test(token) || token.length > 200) throw new ProblemError('unauthorized', 'unknown or revoked token');
    const stamp = opts.principals?.stamp ?? 0;
    const { rows } = await opts.pool.query<{ id: string; org: string; roles: Role[] }>(
      prepared('SELECT id, org, roles FROM principals WHERE token_hash = $1 AND revoked_at IS NULL', [hash]),
    );
    if (rows.length === 0) throw new ProblemError('unauthorized', 'unknown or revoked token');
    req.actor = { id: rows[0].id, org: rows[0].org, roles: rows[0].roles };
    opts.principals?.remember(hash, Object.freeze({ ...req.actor, roles: Object.freeze([...req.actor.roles]) }) as Actor, stamp);
    next();
  };
  return Object.assign(handler, {
    knownWithoutLookup(req: Request): boolean {
      const known = fromMemory(req)?.known;
      if (!known || known === ADMIN_ACTOR) return false;
      req.actor = { ...known, roles: [...known.roles] };
      return true;
    },
  });
}

export function actorOf(req: Express.Request): Actor {
  if (!req.actor) throw new ProblemError('unauthorized', 'send Authorization: Bearer <token>');
  return req.actor;
}

export function hasAnyRole(actor: Actor, roles: readonly Role[]): boolean {
  return actor.roles.some((r) => roles.includes(r));
}

/** 403 unless the caller holds one of `roles`. */
export function requireRoles(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    const actor = actorOf(req);
    if (!hasAnyRole(actor, roles)) throw new ProblemError('forbidden', `this needs one of the roles ${roles.join(', ')}`);
    next();
  };
}
