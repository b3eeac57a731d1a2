// Partner orgs: admins register or change a webhook and its signing secret (listings never show secrets); the people who
// open and read cases see the directory of orgs and whether notices can reach them.
import { Router } from 'express';
import { asc, eq, sql } from 'drizzle-orm';
import { recordAdminEvent } from '../../db/queries/admin-events';
import { webhookDestination } from '../../db/queries/partners';
import { partners } from '../../db/schema';
import { ProblemError } from '../../domain/errors';
import { HTTPS_WEBHOOK_RULE, isHttpsUrl } from '../../domain/rules/urls';
import { PartnerPutSchema, z } from '../../domain/schemas';
import type { ApiDeps } from '../app';
import { actorOf, requireRoles } from '../middleware/auth';
import { bodyOf } from '../middleware/body';
import { methodNotAllowed } from '../middleware/problem';
import { parseOr422 } from '../middleware/validate';
import { CASE_READ_ROLES } from '../views';

type PartnerRow = typeof partners.$inferSelect;

const OrgParam = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a short lower-case id such as visa or acq-northbank');

/** TAKEDOWN_SECRET_OVERLAP's default: a day for the partner to move to a new secret while notices carry both signatures. */
export const DEFAULT_SECRET_OVERLAP_MS = 24 * 3_600_000;

/**
 * Replaced secrets that still sign, at most: each adds a signature (about 48 bytes) to every notice's webhook-signature
 * header, so many changes within one overlap would grow it past what partners' servers take (431, a final refusal). The
 * partner verifies with one of its newest secrets; the oldest are dropped first.
 */
export const MAX_RETIRED_SECRETS = 5;

export function partnerJson(p: PartnerRow) {
  // Until when a replaced secret still signs notices beside the current one, the last of them (null: none does).
  const now = Date.now();
  const ends = p.retiredSecrets.map((r) => Date.parse(r.until)).filter((t) => t > now);
  const previousSecretUntil = ends.length > 0 ? new Date(Math.max(...ends)).toISOString() : null;
  return { org: p.org, kind: p.kind, name: p.name, webhookUrl: p.webhookUrl, hasSecret: p.secret !== null, previousSecretUntil, updatedAt: p.updatedAt.toISOString() };
}

/**
 * What a PUT changed, for its admin event: the webhook before and after as records name it (origin and hash, never the
 * URL itself, whose path may carry a credential), whether the secret changed (never a secret), kind and name.
 */
function partnerChange(before: PartnerRow | undefined, after: PartnerRow): Record<string, unknown> {
  const hook = (p: PartnerRow | undefined) => (p?.webhookUrl ? webhookDestination(p.webhookUrl) : null);
  return {
    created: before === undefined,
    kind: after.kind,
    name: after.name,
    webhook: { before: hook(before), after: hook(after) },
    secretChanged: (before?.secret ?? null) !== after.secret,
    hasSecret: after.secret !== null,
  };
}

export function partnersRouter(deps: ApiDeps): Router {
  const r = Router();
  const admin = requireRoles('admin');

  r.route('/partners')
    .get(admin, async (_req, res) => {
      const rows = await deps.db.select().from(partners).orderBy(asc(partners.org));
      res.json({ items: rows.map(partnerJson) });
    })
    .all(methodNotAllowed(['GET']));

  // Who a case may name: each org registered as a partner or with people of the partner role, its kind and name when
  // registered, whether its notices can be sent (a webhook and a secret registered), and whether someone there signs
  // in (a partner principal not revoked) to find its tasks in the console. No URLs, secrets or names of people.
  r.route('/partner-directory')
    .get(requireRoles(...CASE_READ_ROLES, 'admin'), async (_req, res) => {
      const { rows } = await deps.pool.query<{ org: string; kind: string | null; name: string | null; receives: boolean; signs_in: boolean }>(
        `SELECT coalesce(p.org, q.org) AS org, p.kind, p.name,
                coalesce(p.webhook_url IS NOT NULL AND p.secret IS NOT NULL, false) AS receives, q.org IS NOT NULL AS signs_in
           FROM partners p
           FULL JOIN (SELECT DISTINCT org FROM principals WHERE 'partner' = ANY(roles) AND revoked_at IS NULL) q ON q.org = p.org
          ORDER BY 1`,
      );
      res.json({ items: rows.map((p) => ({ org: p.org, kind: p.kind, name: p.name, receivesNotices: p.receives, signsIn: p.signs_in })) });
    })
    .all(methodNotAllowed(['GET']));

  r.route('/partners/:org')
    .put(admin, async (req, res) => {
      const org = parseOr422(OrgParam, req.params.org, 'the org in the path', 'org');
      const body = parseOr422(PartnerPutSchema, bodyOf(req));
      if (body.webhookUrl && deps.httpsWebhooksOnly && !isHttpsUrl(body.webhookUrl)) {
        throw new ProblemError('validation', 'the webhook URL must be https:// in production', { webhookUrl: HTTPS_WEBHOOK_RULE });
      }
      if (body.webhookUrl && deps.refusesWebhook?.(body.webhookUrl)) {
        throw new ProblemError('validation', 'the webhook URL names a loopback or private address', { webhookUrl: 'must not point at a loopback or private address' });
      }
      const values = { org, kind: body.kind, name: body.name ?? null, webhookUrl: body.webhookUrl ?? null, secret: body.secret ?? null, updatedAt: new Date() };
      // A new secret: the one it replaces signs beside it for the overlap (sendNotice), so the partner never sees a gap, and
      // so do those replaced before it whose overlap has not ended (a second change within the overlap drops none).
      const replaced = sql`${partners.secret} IS NOT NULL AND ${partners.secret} IS DISTINCT FROM excluded.secret`;
      const overlapMs = deps.secretOverlapMs ?? DEFAULT_SECRET_OVERLAP_MS;
      const actor = actorOf(req);
      // The change and its admin event in one transaction; the row as it was, locked, says what changed.
      const row = await deps.db.transaction(async (tx) => {
        const [before] = await tx.select().from(partners).where(eq(partners.org, org)).for('update');
        const [after] = await tx
          .insert(partners)
          .values(values)
          .onConflictDoUpdate({
            target: partners.org,
            set: {
              kind: values.kind,
              name: values.name,
              webhookUrl: values.webhookUrl,
              secret: values.secret,
              // The replaced secret first, then those replaced before that still sign (not the new secret, if it was one).
              retiredSecrets: sql`CASE WHEN ${replaced} THEN
                jsonb_build_array(jsonb_build_object('secret', ${partners.secret},
                  'until', to_char((now() + make_interval(secs => ${overlapMs / 1000})) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
                || coalesce((SELECT jsonb_agg(r.e ORDER BY r.n) FROM jsonb_array_elements(${partners.retiredSecrets}) WITH ORDINALITY AS r(e, n)
                              WHERE (r.e->>'until')::timestamptz > now() AND r.e->>'secret' IS DISTINCT FROM excluded.secret
                                AND r.n < ${MAX_RETIRED_SECRETS}), '[]'::jsonb)
                ELSE ${partners.retiredSecrets} END`,
              updatedAt: sql`now()`,
            },
          })
          .returning();
        await recordAdminEvent(tx, actor, 'partner.updated', org, partnerChange(before, after));
        return after;
      });
      res.status(200).json(partnerJson(row));
    })
    .all(methodNotAllowed(['PUT']));

  return r;
}
