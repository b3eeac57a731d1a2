// Bulk seeding of the projections for the inbox benchmark: open cases and tasks across ~20 partner orgs, in SQL with generate_series.
import type pg from 'pg';
import type { CaseView } from '../../domain/types';

/** Partner orgs by popularity; a task's partner is drawn with Zipf weights (1/rank), so a few big schemes get most of them. */
export const SEED_PARTNERS: { org: string; kind: 'card_scheme' | 'acquirer' | 'payment_provider' | 'hosting_provider' }[] = [
  { org: 'visa', kind: 'card_scheme' },
  { org: 'mastercard', kind: 'card_scheme' },
  { org: 'paypal', kind: 'payment_provider' },
  { org: 'acq-northbank', kind: 'acquirer' },
  { org: 'host-example', kind: 'hosting_provider' },
  { org: 'amex', kind: 'card_scheme' },
  { org: 'acq-southbank', kind: 'acquirer' },
  { org: 'wallet-skypay', kind: 'payment_provider' },
  { org: 'host-cloudnine', kind: 'hosting_provider' },
  { org: 'acq-eastpay', kind: 'acquirer' },
  { org: 'discover', kind: 'card_scheme' },
  { org: 'acq-westcard', kind: 'acquirer' },
  { org: 'wallet-paynow', kind: 'payment_provider' },
  { org: 'host-cdnfront', kind: 'hosting_provider' },
  { org: 'unionpay', kind: 'card_scheme' },
  { org: 'acq-harbour', kind: 'acquirer' },
  { org: 'jcb', kind: 'card_scheme' },
  { org: 'acq-citymerchant', kind: 'acquirer' },
  { org: 'wallet-cryptogate', kind: 'payment_provider' },
  { org: 'host-bulletproof', kind: 'hosting_provider' },
];

/** Law-enforcement orgs that own cases, with their shares. */
export const SEED_CASE_ORGS: [string, number][] = [
  ['ceop', 0.5],
  ['nca', 0.2],
  ['bka', 0.15],
  ['politie', 0.1],
  ['fbi', 0.05],
];

export interface SeedPlan {
  cases: number;
  tasks: number;
  /** Share of tasks for the case org's own people (verify_evidence, le_signoff); the rest go to partners. */
  internalShare: number;
  openShare: number;
  cancelledShare: number;
}

export interface SeedResult {
  casesMs: number;
  tasksMs: number;
  vacuumMs: number;
  byOrg: { org: string; total: number; open: number }[];
}

const cum = <T>(items: T[], weight: (t: T, i: number) => number) => {
  const ws = items.map(weight);
  const total = ws.reduce((a, b) => a + b, 0);
  let acc = 0;
  return items.map((t, i) => {
    const lo = acc / total;
    acc += ws[i];
    return { t, lo, hi: i === items.length - 1 ? 1.0000001 : acc / total };
  });
};

/**
 * Seeds `plan.cases` open cases (ids case_seed########) whose view is `template` with its own id, reference and status,
 * then `plan.tasks` tasks on them. Deterministic (setseed), in two INSERT … SELECT statements, then VACUUM ANALYZE.
 */
export async function seedProjections(pool: pg.Pool, template: CaseView, plan: SeedPlan): Promise<SeedResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT setseed(0.42)');
    const partners = cum(SEED_PARTNERS, (_, i) => 1 / (i + 1));
    const caseOrgs = cum(SEED_CASE_ORGS, ([, w]) => w);
    await client.query('CREATE TEMP TABLE seed_partners (org text, kind text, lo float8, hi float8)');
    await client.query(
      `INSERT INTO seed_partners SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[])`,
      [partners.map((p) => p.t.org), partners.map((p) => p.t.kind), partners.map((p) => p.lo), partners.map((p) => p.hi)],
    );
    await client.query('CREATE TEMP TABLE seed_case_orgs (org text, lo float8, hi float8)');
    await client.query(`INSERT INTO seed_case_orgs SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[])`, [
      caseOrgs.map((o) => o.t[0]),
      caseOrgs.map((o) => o.lo),
      caseOrgs.map((o) => o.hi),
    ]);

    const t0 = performance.now();
    // Open cases created over the last 90 days; 20 % verifying, 15 % awaiting sign-off, 65 % disrupting.
    await client.query(
      `WITH s AS (
         SELECT g, random() AS r_org, random() AS r_status, random() AS r_age FROM generate_series(1, $1::int) g
       ), c AS (
         SELECT g, 'case_seed' || lpad(g::text, 8, '0') AS id, 'EFC-SEED-' || lpad(g::text, 6, '0') AS reference, o.org,
                CASE WHEN r_status < 0.20 THEN 'verifying' WHEN r_status < 0.35 THEN 'awaiting_signoff' ELSE 'disrupting' END AS status,
                now() - r_age * interval '90 days' AS created_at
           FROM s JOIN seed_case_orgs o ON s.r_org >= o.lo AND s.r_org < o.hi
       )
       INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, closed_at, merchant_ids, wallet_ids, hosts, view, version)
       SELECT id, reference, org, status, created_at, 'prn_seed_lead_' || org, created_at + interval '1 hour', NULL,
              ARRAY['SM' || g], ARRAY['SPP-' || g], ARRAY['shop-seed-' || g || '.example.test'],
              $2::jsonb || jsonb_build_object('id', id, 'reference', reference, 'org', org, 'status', status,
                'createdAt', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'createdBy', 'prn_seed_lead_' || org),
              5
         FROM c`,
      [plan.cases, JSON.stringify(template)],
    );
    const t1 = performance.now();
    await client.query(
      `WITH s AS (
         SELECT g, random() AS r_org, random() AS r_status, random() AS r_internal, random() AS r_kind, random() AS r_age
           FROM generate_series(1, $1::int) g
       ), t AS (
         SELECT s.*, c.id AS case_id, c.org AS case_org, c.created_at AS case_created, p.org AS partner, p.kind AS partner_kind,
                CASE WHEN r_status < $3::float8 THEN 'open' WHEN r_status < 1 - $4::float8 THEN 'completed' ELSE 'cancelled' END AS status,
                r_internal < $2::float8 AS internal
           FROM s
           JOIN cases c ON c.id = 'case_seed' || lpad((1 + (g % $5::int))::text, 8, '0')
           JOIN seed_partners p ON s.r_org >= p.lo AND s.r_org < p.hi
       ), typed AS (
         SELECT t.*,
                CASE WHEN internal THEN (CASE WHEN r_kind < 0.5 THEN 'verify_evidence' ELSE 'le_signoff' END)
                     WHEN partner_kind = 'acquirer' THEN 'confirm_freeze'
                     WHEN partner_kind = 'hosting_provider' THEN 'confirm_removal'
                     WHEN partner_kind = 'payment_provider' AND r_kind < 0.5 THEN 'confirm_freeze'
                     ELSE 'confirm_termination' END AS type,
                CASE WHEN internal THEN case_org ELSE partner END AS assignee_org,
                CASE WHEN internal THEN (CASE WHEN r_kind < 0.5 THEN 'analyst' ELSE 'le_officer' END) ELSE 'partner' END AS assignee_role,
                case_created + r_age * interval '20 days' AS created_at
           FROM t
       )
       INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, escalated,
                          completed_at, completed_by_id, completed_by_org, outcome, data, comment, context, version)
       SELECT 'tsk_seed' || lpad(g::text, 9, '0'), case_id, case_org, type, status, assignee_org, assignee_role, ARRAY[assignee_role],
              created_at, created_at + interval '10 days', r_age > 0.9 AND status = 'open',
              CASE WHEN status = 'open' THEN NULL ELSE created_at + interval '6 hours' END,
              CASE WHEN status = 'completed' THEN 'prn_seed_' || assignee_org END,
              CASE WHEN status = 'completed' THEN assignee_org END,
              CASE WHEN status <> 'completed' THEN NULL
                   WHEN type = 'verify_evidence' THEN 'verified' WHEN type = 'le_signoff' THEN 'approved'
                   WHEN type = 'confirm_freeze' THEN 'frozen' WHEN type = 'confirm_removal' THEN 'removed' ELSE 'terminated' END,
              CASE WHEN status = 'completed' THEN jsonb_build_object('at', created_at + interval '6 hours') END,
              NULL,
              jsonb_build_object('noticeType', CASE type WHEN 'confirm_freeze' THEN 'freeze_request' WHEN 'confirm_removal' THEN 'hosting_notice'
                                                         WHEN 'confirm_termination' THEN 'termination_request' END,
                                 'scope', jsonb_build_object('channel', jsonb_build_object('kind', 'card', 'scheme', assignee_org, 'acquirer', 'acq-northbank',
                                                                                          'merchantId', 'SM' || (1 + (g % $5::int))))),
              CASE WHEN status = 'open' THEN 1 ELSE 2 END
         FROM typed`,
      [plan.tasks, plan.internalShare, plan.openShare, plan.cancelledShare, plan.cases],
    );
    const t2 = performance.now();
    // As autovacuum leaves tables soon after such a load (its insert threshold): statistics, and the visibility map that
    // lets a count read an index alone (the board's counts per status, cases_org_status_idx) instead of every case row.
    await client.query('VACUUM ANALYZE cases');
    await client.query('VACUUM ANALYZE tasks');
    const t3 = performance.now();
    const { rows } = await client.query<{ org: string; total: string; open: string }>(
      `SELECT assignee_org AS org, count(*) AS total, count(*) FILTER (WHERE status = 'open') AS open FROM tasks
        WHERE id LIKE 'tsk_seed%' AND assignee_role = 'partner' GROUP BY 1 ORDER BY 2 DESC`,
    );
    return { casesMs: t1 - t0, tasksMs: t2 - t1, vacuumMs: t3 - t2, byOrg: rows.map((r) => ({ org: r.org, total: Number(r.total), open: Number(r.open) })) };
  } finally {
    await client.query('DROP TABLE IF EXISTS seed_partners, seed_case_orgs').catch(() => {});
    client.release();
  }
}
