// Case and task projections in PostgreSQL, each written with its audit entries in one transaction.
import type pg from 'pg';
import { conflictKeys } from '../domain/rules/plan';
import { isPositiveOutcome } from '../domain/rules/tasks';
import { OPEN_CASE_STATUSES, type AuditInput, type CaseView, type TaskType } from '../domain/types';
import { observeOutcome, type OutcomeKind } from '../telemetry/metrics';
import { inTransaction } from '../db/client';
import { appendAuditInTx } from '../db/queries/audit';
import type { FindConflictsArgs, RecordCaseArgs, RecordTaskArgs } from './types';

async function audit(client: pg.PoolClient, caseId: string, entries: AuditInput[]): Promise<void> {
  if (entries.length > 0) await appendAuditInTx(client, caseId, entries);
}

async function upsertCase(client: pg.PoolClient, view: CaseView, version: number): Promise<void> {
  const keys = conflictKeys(view.merchant);
  await client.query(
    `INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, closed_at, merchant_ids, wallet_ids, hosts, view, version)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at,
       merchant_ids = EXCLUDED.merchant_ids, wallet_ids = EXCLUDED.wallet_ids, hosts = EXCLUDED.hosts, view = EXCLUDED.view, version = EXCLUDED.version
     WHERE cases.version < EXCLUDED.version`,
    [view.id, view.reference, view.org, view.status, view.createdAt, view.createdBy, view.updatedAt, view.closedAt, keys.merchantIds, keys.walletIds, keys.hosts, JSON.stringify(view), version],
  );
}

/** Upserts the case view; an older version never overwrites a newer one (activities may finish out of order). */
export async function recordCase(pool: pg.Pool, { view, version, audit: entries }: RecordCaseArgs): Promise<void> {
  await inTransaction(pool, async (client) => {
    await upsertCase(client, view, version);
    await audit(client, view.id, entries);
  });
}

const OUTCOME_KIND: Partial<Record<TaskType, OutcomeKind>> = { confirm_termination: 'termination', confirm_freeze: 'freeze', confirm_removal: 'removal' };

/** Upserts the task (and, when given, the case view) with its audit entries; observes partner outcome metrics. */
export async function recordTask(pool: pg.Pool, { task, caseOrg, version, audit: entries, caseView, observeSince }: RecordTaskArgs): Promise<void> {
  await inTransaction(pool, async (client) => {
    if (caseView) await upsertCase(client, caseView.view, caseView.version);
    await client.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, escalated,
         completed_at, completed_by_id, completed_by_org, outcome, data, comment, context, version)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, roles = EXCLUDED.roles, due_at = EXCLUDED.due_at, escalated = EXCLUDED.escalated,
         completed_at = EXCLUDED.completed_at, completed_by_id = EXCLUDED.completed_by_id, completed_by_org = EXCLUDED.completed_by_org,
         outcome = EXCLUDED.outcome, data = EXCLUDED.data, comment = EXCLUDED.comment, context = EXCLUDED.context, version = EXCLUDED.version
       WHERE tasks.version < EXCLUDED.version`,
      [
        task.id, task.caseId, caseOrg, task.type, task.status, task.assignee.org, task.assignee.role, task.roles, task.createdAt, task.dueAt,
        task.escalated, task.completedAt, task.completedBy?.id ?? null, task.completedBy?.org ?? null, task.outcome,
        task.data === null ? null : JSON.stringify(task.data), task.comment, JSON.stringify(task.context), version,
      ],
    );
    await audit(client, task.caseId, entries);
  });
  const kind = OUTCOME_KIND[task.type];
  if (observeSince && kind && task.status === 'completed' && task.outcome && isPositiveOutcome(task.type, task.outcome) && task.completedAt) {
    observeOutcome(kind, (Date.parse(task.completedAt) - Date.parse(observeSince)) / 1000);
  }
}

/** Other open cases sharing a merchant id, wallet account or URL host (GIN-indexed array overlaps). */
export async function findConflicts(pool: pg.Pool, args: FindConflictsArgs): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM cases
      WHERE id <> $1 AND status = ANY($2::text[])
        AND (merchant_ids && $3::text[] OR wallet_ids && $4::text[] OR hosts && $5::text[])
      ORDER BY created_at, id LIMIT 50`,
    [args.caseId, OPEN_CASE_STATUSES, args.merchantIds, args.walletIds, args.hosts],
  );
  return rows.map((r) => r.id);
}
