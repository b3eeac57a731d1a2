// Principals (admin; auditors may read them, to name the actors of audit entries): create with a token shown once, list without tokens, revoke.
import { Router } from 'express';
import { and, asc, eq, sql } from 'drizzle-orm';
import { recordAdminEvent } from '../../db/queries/admin-events';
import { adminEvents, principals } from '../../db/schema';
import { ProblemError } from '../../domain/errors';
import { PrincipalCreateSchema } from '../../domain/schemas';
import type { ApiDeps } from '../app';
import { bodyHash, idempotencyKeyOf, keyReusedWithAnotherBody } from '../idempotency';
import { newPrincipalId, PRINCIPAL_ID_RE } from '../ids';
import { actorOf, generateToken, hashToken, requireRoles } from '../middleware/auth';
import { bodyOf } from '../middleware/body';
import { methodNotAllowed } from '../middleware/problem';
import { parseOr422 } from '../middleware/validate';

type PrincipalRow = typeof principals.$inferSelect;

export function principalJson(p: PrincipalRow) {
  return {
    id: p.id,
    name: p.name,
    org: p.org,
    roles: p.roles,
    createdAt: p.createdAt.toISOString(),
    createdBy: p.createdBy,
    revokedAt: p.revokedAt ? p.revokedAt.toISOString() : null,
  };
}

export function principalsRouter(deps: ApiDeps): Router {
  const r = Router();
  const admin = requireRoles('admin');
  // An auditor reads who an audit entry's actor is, one principal at a time (names, orgs, roles, revocations; never a
  // token); listing them all is the admin's, as the contract has it.
  const adminOrAuditor = requireRoles('admin', 'auditor');

  r.route('/principals')
    .post(admin, async (req, res) => {
      const body = parseOr422(PrincipalCreateSchema, bodyOf(req));
      const key = idempotencyKeyOf(req.headersDistinct['idempotency-key']);
      const actor = actorOf(req);
      const token = generateToken();
      const hash = key === undefined ? undefined : bodyHash(body);
      const row = await deps.db.transaction(async (tx) => {
        // An Idempotency-Key makes a repeat create nothing more. The token was shown once and only its hash is kept, so
        // the first answer cannot be given again: a repeat learns which principal its key made (a 409), to revoke it and
        // create another if the token was lost. The key and body hash go in the creation's admin event; a lock on the
        // (admin, key) pair makes two concurrent repeats take turns.
        if (key !== undefined) {
          await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('principal.created'), hashtext(${`${actor.id}\n${key}`}))`);
          const [earlier] = await tx
            .select({ subject: adminEvents.subject, bodySha256: sql<string | null>`${adminEvents.data}->>'bodySha256'` })
            .from(adminEvents)
            .where(and(eq(adminEvents.action, 'principal.created'), eq(adminEvents.actorId, actor.id), sql`${adminEvents.data}->>'idempotencyKey' = ${key}`))
            .limit(1);
          if (earlier && earlier.bodySha256 !== hash) throw keyReusedWithAnotherBody();
          if (earlier) {
            throw new ProblemError(
              'conflict',
              `this Idempotency-Key already created principal ${earlier.subject}; its token is shown only once: if it was lost, revoke that principal and create another`,
              undefined,
              { principalId: earlier.subject },
            );
          }
        }
        const [created] = await tx
          .insert(principals)
          .values({ id: newPrincipalId(), name: body.name, org: body.org, roles: [...new Set(body.roles)], tokenHash: hashToken(token), createdBy: actor.id })
          .returning();
        await recordAdminEvent(tx, actor, 'principal.created', created.id, {
          name: created.name,
          org: created.org,
          roles: created.roles,
          ...(key === undefined ? {} : { idempotencyKey: key, bodySha256: hash }),
        });
        return created;
      });
      res.status(201).json({ ...principalJson(row), token });
    })
    .get(admin, async (_req, res) => {
      const rows = await deps.db.select().from(principals).orderBy(asc(principals.createdAt), asc(principals.id));
      res.json({ items: rows.map(principalJson) });
    })
    .all(methodNotAllowed(['GET', 'POST']));

  // Who am I: the console shows it and hides what the caller's roles cannot do.
  r.route('/me')
    .get(async (req, res) => {
      const actor = actorOf(req);
      if (actor.id === 'admin') {
        res.json({ id: actor.id, name: 'admin', org: actor.org, roles: actor.roles });
        return;
      }
      const row = (await deps.db.select().from(principals).where(eq(principals.id, actor.id)))[0];
      res.json({ id: actor.id, name: row?.name ?? actor.id, org: actor.org, roles: actor.roles });
    })
    .all(methodNotAllowed(['GET']));

  r.route('/principals/:id')
    .get(adminOrAuditor, async (req, res) => {
      const row = PRINCIPAL_ID_RE.test(req.params.id) ? (await deps.db.select().from(principals).where(eq(principals.id, req.params.id)))[0] : undefined;
      if (!row) throw new ProblemError('not_found', 'no such principal');
      res.json(principalJson(row));
    })
    .delete(admin, async (req, res) => {
      if (!PRINCIPAL_ID_RE.test(req.params.id)) throw new ProblemError('not_found', 'no such principal');
      // Revoking twice is harmless; the first revocation time is kept, and only the first is an admin event.
      const id = req.params.id;
      const found = await deps.db.transaction(async (tx) => {
        const [before] = await tx.select({ revokedAt: principals.revokedAt, org: principals.org }).from(principals).where(eq(principals.id, id)).for('update');
        if (!before) return false;
        if (before.revokedAt === null) {
          await tx.update(principals).set({ revokedAt: sql`now()` }).where(eq(principals.id, id));
          await recordAdminEvent(tx, actorOf(req), 'principal.revoked', id, { org: before.org });
        }
        return true;
      });
      if (!found) throw new ProblemError('not_found', 'no such principal');
      // Other API processes hear of it from PostgreSQL (NOTIFY); this one forgets before answering.
      deps.principals?.clear();
      res.status(204).end();
    })
    .all(methodNotAllowed(['GET', 'DELETE']));

  return r;
}
