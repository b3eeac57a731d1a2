// Case and task projections in PostgreSQL, each written with its audit entries atomically.
import type pg from 'pg';
import { conflictKeys } from '../domain/rules/plan';
import { isPositiveOutcome } from '../domain/rules/tasks';
import { isClosedStatus, OPEN_CASE_STATUSES, type AuditInput, type CaseView, type Task, type TaskType } from '../domain/types';
import { observeOutcome, type OutcomeKind } from '../telemetry/metrics';
import { inTransaction, prepared } from '../db/client';
import { appendSuperseding, auditAppendStatement, storedAudit, type AuditRow } from '../db/queries/audit';
import type { CaseViewWrite, FindConflictsArgs, RecordCaseArgs, RecordTaskArgs } from './types';

interface Statement {
  sql: string;
  params: unknown[];
}

const placeholders = (first: number, n: number) => Array.from({ length: n }, (_, i) => `$${first + i}`).join(',');

/**
 * Which write stands when two meet on a row (`t` the stored row, EXCLUDED the incoming one). Between writes of one
 * workflow task, or of tasks in order, the version decides: writes may land out of order. A task's rerun (its worker lost
 * Temporal before the task completed, so the attempt's writes stay behind while the rerun may decide otherwise) writes
 * under a higher fence than the task's first attempt, so its writes win over that attempt's at any version, including
 * the same version (the same write made again) and a higher one (a write the rerun never makes). The second and later
 * attempts share a fence (Temporal writes no events for them), and among them the version decides. A fence of 0
 * (unknown: rows from before migration 0013, older workflow code) leaves the version alone to decide, as before.
 */
const laterWrite = (t: string) =>
  `CASE WHEN ${t}.fence = 0 OR EXCLUDED.fence = 0 THEN ${t}.version <= EXCLUDED.version ELSE (${t}.fence, ${t}.version) <= (EXCLUDED.fence, EXCLUDED.version) END`;

/** Upserts the case view unless a later write is stored (laterWrite). */
function caseUpsert(view: CaseView, version: number, fence: number, first: number): Statement {
  const keys = conflictKeys(view.merchant);
  return {
    sql: `INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, closed_at, merchant_ids, wallet_ids, hosts, view, version, fence)
     VALUES (${placeholders(first, 14)})
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at,
       merchant_ids = EXCLUDED.merchant_ids, wallet_ids = EXCLUDED.wallet_ids, hosts = EXCLUDED.hosts, view = EXCLUDED.view, version = EXCLUDED.version,
       fence = EXCLUDED.fence
     WHERE ${laterWrite('cases')}`,
    params: [view.id, view.reference, view.org, view.status, view.createdAt, view.createdBy, view.updatedAt, view.closedAt, keys.merchantIds, keys.walletIds, keys.hosts, JSON.stringify(view), version, fence],
  };
}

const TASK_COLUMNS = 20;

/** Upserts tasks (distinct ids) in one statement; a row never gives way to an earlier write, as with cases. */
function tasksUpsert(caseOrg: string, items: { task: Task; version: number }[], fence: number, first: number): Statement {
  const params: unknown[] = [];
  const tuples = items.map(({ task, version }) => {
    const at = first + params.length;
    params.push(
      task.id, task.caseId, caseOrg, task.type, task.status, task.assignee.org, task.assignee.role, task.roles, task.createdAt, task.dueAt,
      task.escalated, task.completedAt, task.completedBy?.id ?? null, task.completedBy?.org ?? null, task.outcome,
      task.data === null ? null : JSON.stringify(task.data), task.comment, JSON.stringify(task.context), version, fence,
    );
    return `(${placeholders(at, TASK_COLUMNS)})`;
  });
  return {
    sql: `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, escalated,
       completed_at, completed_by_id, completed_by_org, outcome, data, comment, context, version, fence)
     VALUES ${tuples.join(', ')}
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, roles = EXCLUDED.roles, due_at = EXCLUDED.due_at, escalated = EXCLUDED.escalated,
       completed_at = EXCLUDED.completed_at, completed_by_id = EXCLUDED.completed_by_id, completed_by_org = EXCLUDED.completed_by_org,
       outcome = EXCLUDED.outcome, data = EXCLUDED.data, comment = EXCLUDED.comment, context = EXCLUDED.context, version = EXCLUDED.version,
       fence = EXCLUDED.fence
     WHERE ${laterWrite('tasks')}`,
    params,
  };
}

/** A task the closing write found open and its workflow does not know (strayTasks). */
interface Stray {
  id: string;
  type: string;
}

/**
 * Open tasks of a case that its workflow does not know: a workflow task whose worker lost Temporal (but not PostgreSQL)
 * can still open a task after its rerun decided otherwise, and the fence keeps only what the rerun also wrote in order
 * (laterWrite). The closing write cancels whatever is still open besides the tasks the workflow knows (knownTaskIds:
 * closeCase has cancelled the open ones, but a completion may still be in flight in another activity, which the sweep
 * would otherwise cancel and, under its later fence, keep cancelled) and those it writes itself, so no task stays open,
 * in a partner's inbox, on a closed case. Only tasks written under the closing write's fence or an earlier one: a
 * closing write that lands late (its attempt was replaced) leaves a rerun's tasks alone.
 */
async function strayTasks(db: pg.Pool | pg.PoolClient, caseId: string, written: string[], fence: number, lock = false): Promise<Stray[]> {
  const { rows } = await db.query<Stray>(
    prepared(
      `SELECT id, type FROM tasks WHERE case_id = $1 AND status = 'open' AND NOT (id = ANY($2::text[])) AND fence <= $3 ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
      [caseId, written, fence],
    ),
  );
  return rows;
}

/** Cancels the stray tasks (strayTasks) still open, under the closing write's fence, a later version, and their audit entries. */
function strayCancellation(caseId: string, strays: Stray[], fence: number, first: number): { statement: Statement; audit: AuditInput[] } {
  return {
    statement: {
      sql: `UPDATE tasks SET status = 'cancelled', completed_at = now(), version = version + 1, fence = GREATEST(fence, $${first + 2})
             WHERE case_id = $${first} AND status = 'open' AND id = ANY($${first + 1}::text[]) AND fence <= $${first + 2}`,
      params: [caseId, strays.map((t) => t.id), fence],
    },
    audit: strays.map((t) => ({
      key: `stray:${t.id}:cancelled`,
      action: 'task.cancelled',
      actor: null,
      data: { taskId: t.id, type: t.type, reason: "not among the case workflow's tasks: cancelled when the case closed" },
    })),
  };
}

/**
 * Case view, tasks and audit entries as ONE statement (data-modifying CTEs, then the audit append): atomic without
 * BEGIN/COMMIT, one round trip, and the case's audit lock is held only while PostgreSQL runs it. A write of a closed
 * case's view first looks for stray tasks (strayTasks): one more round trip, at the close only. When it finds any (rare:
 * only a replaced attempt leaves them), it locks them in a transaction first, so that the cancellation and its audit
 * entries name the same rows.
 */
async function writeProjection(
  pool: pg.Pool,
  caseId: string,
  w: { caseView?: CaseViewWrite; caseOrg: string; tasks: { task: Task; version: number }[]; audit: AuditInput[]; fence: number | undefined },
): Promise<void> {
  if (!w.caseView && w.tasks.length === 0 && w.audit.length === 0) return;
  const fence = w.fence ?? 0;
  const statement = (strays: Stray[]) => {
    const ctes: string[] = [];
    const params: unknown[] = [];
    const add = (name: string, st: Statement) => {
      ctes.push(`${name} AS (${st.sql})`);
      params.push(...st.params);
    };
    if (w.caseView) add('case_row', caseUpsert(w.caseView.view, w.caseView.version, fence, params.length + 1));
    if (w.tasks.length > 0) add('task_rows', tasksUpsert(w.caseOrg, w.tasks, fence, params.length + 1));
    let audit = w.audit;
    if (strays.length > 0) {
      const cancel = strayCancellation(caseId, strays, fence, params.length + 1);
      add('stray_rows', cancel.statement);
      audit = [...cancel.audit, ...w.audit];
    }
    let main = 'SELECT 1';
    if (audit.length > 0) {
      const append = auditAppendStatement(caseId, audit, params.length + 1, w.fence);
      main = append.sql;
      params.push(...append.params);
    }
    return { query: prepared(`${ctes.length > 0 ? `WITH ${ctes.join(', ')} ` : ''}${main}`, params), audit };
  };
  const known = w.caseView && isClosedStatus(w.caseView.view.status) ? w.caseView.knownTaskIds : undefined;
  const spared = known ? [...known, ...w.tasks.map((t) => t.task.id)] : [];
  const strays = known ? await strayTasks(pool, caseId, spared, fence) : [];
  const run = async (db: pg.Pool | pg.PoolClient, found: Stray[]) => {
    const st = statement(found);
    return { rows: (await db.query<AuditRow>(st.query)).rows, audit: st.audit };
  };
  const { rows, audit } =
    strays.length === 0 ? await run(pool, []) : await inTransaction(pool, async (client) => run(client, await strayTasks(client, caseId, spared, fence, true)));
  if (audit.length > 0) await appendSuperseding(pool, caseId, audit, storedAudit(rows), w.fence);
}

/** Upserts the case view with its audit entries. */
export async function recordCase(pool: pg.Pool, { audit, fence, ...caseView }: RecordCaseArgs): Promise<void> {
  await writeProjection(pool, caseView.view.id, { caseView, caseOrg: caseView.view.org, tasks: [], audit, fence });
}

const OUTCOME_KIND: Partial<Record<TaskType, OutcomeKind>> = { confirm_termination: 'termination', confirm_freeze: 'freeze', confirm_removal: 'removal' };

/** A positive partner confirmation goes into the outcome histograms (seconds since the case was created). */
function observeConfirmation(task: Task, since: string | undefined): void {
  const kind = OUTCOME_KIND[task.type];
  if (since && kind && task.status === 'completed' && task.outcome && isPositiveOutcome(task.type, task.outcome) && task.completedAt) {
    observeOutcome(kind, (Date.parse(task.completedAt) - Date.parse(since)) / 1000);
  }
}

/** Upserts the task, and any `moreTasks` (and, when given, the case view), with its audit entries; observes partner outcome metrics. */
export async function recordTask(pool: pg.Pool, { task, caseOrg, version, audit, fence, caseView, observeSince, moreTasks = [] }: RecordTaskArgs): Promise<void> {
  const tasks = [{ task, version }, ...moreTasks];
  await writeProjection(pool, task.caseId, { ...(caseView ? { caseView } : {}), caseOrg, tasks, audit, fence });
  for (const t of tasks) observeConfirmation(t.task, observeSince);
}

/** Other open cases sharing a merchant id, wallet account or URL host (GIN-indexed array overlaps). */
export async function findConflicts(pool: pg.Pool, args: FindConflictsArgs): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    prepared(
      `SELECT id FROM cases
        WHERE id <> $1 AND status = ANY($2::text[])
          AND (merchant_ids && $3::text[] OR wallet_ids && $4::text[] OR hosts && $5::text[])
        ORDER BY created_at, id LIMIT 50`,
      [args.caseId, OPEN_CASE_STATUSES, args.merchantIds, args.walletIds, args.hosts],
    ),
  );
  return rows.map((r) => r.id);
}
