// Case and task projections in PostgreSQL, each written with its audit entries atomically.
import type pg from 'pg';
import { conflictKeys } from '../domain/rules/plan';
import { isPositiveOutcome } from '../domain/rules/tasks';
import { isClosedStatus, OPEN_CASE_STATUSES, type AuditInput, type CaseView, type Task, type TaskType } from '../domain/types';
import { observeOutcome, type OutcomeKind } from '../telemetry/metrics';
import { inTransaction, prepared } from '../db/client';
import { appendInputsJson, appendSuperseding, auditAppendCall, auditAppendStatement, auditLockCall, lockCaseAudit, storedAudit, type AuditRow } from '../db/queries/audit';
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
/** Where status and completed_at sit among a task row's columns (tasksUpsert). */
const STATUS_COLUMN = 4;
const COMPLETED_AT_COLUMN = 11;

/**
 * The closed-case guard of a write that opens tasks under a fence: whether its case is closed under that fence or a later
 * one (so a replaced workflow task attempt, finishing late, is opening a task its case's closing write never saw). It
 * locks the case row: so it reads the row as it stands once a closing write in flight has committed (a plain read would
 * see the statement's snapshot, taken before it waited for the audit lock or the row), and a closing write that comes
 * meanwhile waits until this one has committed, when its stray sweep, which reads after its own commit, sees the task.
 * With the case row upserted by the same statement, it takes the lock that upsert takes (no upgrade from a shared lock,
 * which two such statements would deadlock on). Attempts that share a fence (the third and later of a workflow task)
 * are told apart by the version only when the statement writes the view too; otherwise an equal fence is refused.
 */
function closedGuard(caseId: string, fence: number, upserted: { open: boolean; version: number } | undefined, first: number): Statement {
  // The guard reads the row as it was before this statement: an open view this statement writes over it (laterWrite,
  // with fence > 0 on both sides) is what the case will be, so the closed row it replaces refuses nothing.
  const reopened = upserted?.open ? ` AND NOT (fence > 0 AND (fence, version) <= ($${first + 1}::integer, $${first + 3}::integer))` : '';
  return {
    sql: `SELECT NOT (status = ANY($${first + 2}::text[])) AND fence >= $${first + 1}::integer${reopened} AS refuse
            FROM cases WHERE id = $${first} ${upserted ? 'FOR NO KEY UPDATE' : 'FOR SHARE'}`,
    params: upserted?.open ? [caseId, fence, OPEN_CASE_STATUSES, upserted.version] : [caseId, fence, OPEN_CASE_STATUSES],
  };
}

/**
 * Upserts tasks (distinct ids) in one statement; a row never gives way to an earlier write, as with cases. With `guarded`
 * (a `guard` CTE, closedGuard, precedes this one), an open task is written cancelled when the guard refuses it.
 */
function tasksUpsert(caseOrg: string, items: { task: Task; version: number }[], fence: number, first: number, guarded: boolean): Statement {
  const params: unknown[] = [];
  const tuples = items.map(({ task, version }) => {
    const at = first + params.length;
    params.push(
      task.id, task.caseId, caseOrg, task.type, task.status, task.assignee.org, task.assignee.role, task.roles, task.createdAt, task.dueAt,
      task.escalated, task.completedAt, task.completedBy?.id ?? null, task.completedBy?.org ?? null, task.outcome,
      task.data === null ? null : JSON.stringify(task.data), task.comment, JSON.stringify(task.context), version, fence,
    );
    const columns = Array.from({ length: TASK_COLUMNS }, (_, i) => `$${at + i}`);
    if (guarded && task.status === 'open') {
      columns[STATUS_COLUMN] = `CASE WHEN (SELECT refuse FROM guard) THEN 'cancelled' ELSE ${columns[STATUS_COLUMN]} END`;
      columns[COMPLETED_AT_COLUMN] = `CASE WHEN (SELECT refuse FROM guard) THEN now() ELSE ${columns[COMPLETED_AT_COLUMN]}::timestamptz END`;
    }
    return `(${columns.join(',')})`;
  });
  return {
    sql: `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, escalated,
       completed_at, completed_by_id, completed_by_org, outcome, data, comment, context, version, fence)
     VALUES ${tuples.join(', ')}
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, roles = EXCLUDED.roles, due_at = EXCLUDED.due_at, escalated = EXCLUDED.escalated,
       completed_at = EXCLUDED.completed_at, completed_by_id = EXCLUDED.completed_by_id, completed_by_org = EXCLUDED.completed_by_org,
       outcome = EXCLUDED.outcome, data = EXCLUDED.data, comment = EXCLUDED.comment, context = EXCLUDED.context, version = EXCLUDED.version,
       fence = EXCLUDED.fence
     WHERE ${laterWrite('tasks')}${guarded ? '\n     RETURNING id, status' : ''}`,
    params,
  };
}

/** A task found open that its case's workflow does not know (strayTasks), or one a closed case refused (closedGuard). */
interface Stray {
  id: string;
  type: string;
}

/**
 * Open tasks of a case that its workflow does not know: a workflow task whose worker lost Temporal (but not PostgreSQL)
 * can still open a task after its rerun decided otherwise, and the fence keeps only what the rerun also wrote in order
 * (laterWrite). After the closing write has committed, it cancels whatever is still open besides the tasks the workflow
 * knows (knownTaskIds: closeCase has cancelled the open ones, but a completion may still be in flight in another
 * activity, which the sweep would otherwise cancel and, under its later fence, keep cancelled) and those it wrote
 * itself, so no task stays open, in a partner's inbox, on a closed case. Only tasks written under the closing write's
 * fence or an earlier one: a closing write that lands late (its attempt was replaced) leaves a rerun's tasks alone. A
 * task such an attempt opens after the sweep has read is refused by closedGuard instead.
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

const REFUSED_REASON = 'opened by a replaced workflow task attempt after the case had closed: written cancelled';

/** The audit entry of a task cancelled because its case had closed (a stray, or one closedGuard refused). */
const strayCancelled = (t: Stray, reason: string): AuditInput => ({
  key: `stray:${t.id}:cancelled`,
  action: 'task.cancelled',
  actor: null,
  data: { taskId: t.id, type: t.type, reason },
});

/**
 * Cancels the stray tasks (strayTasks) still open after a closing write: locked in a transaction (after the case's
 * audit lock, the order every write takes them in), so that the cancellation and its audit entries name the same rows,
 * then cancelled under the closing write's fence at a later version, with their entries, in one statement. Rare: only a
 * replaced attempt leaves them. A retry changes nothing.
 */
async function sweepStrays(pool: pg.Pool, caseId: string, spared: string[], fence: number, auditFence: number | undefined): Promise<void> {
  if ((await strayTasks(pool, caseId, spared, fence)).length === 0) return;
  const done = await inTransaction(pool, async (client) => {
    await lockCaseAudit(client, caseId);
    const strays = await strayTasks(client, caseId, spared, fence, true);
    if (strays.length === 0) return null;
    const audit = strays.map((t) => strayCancelled(t, "not among the case workflow's tasks: cancelled when the case closed"));
    const append = auditAppendStatement(caseId, audit, 4, auditFence);
    const { rows } = await client.query<AuditRow>(
      prepared(
        `WITH stray_rows AS (
           UPDATE tasks SET status = 'cancelled', completed_at = now(), version = version + 1, fence = GREATEST(fence, $3)
            WHERE case_id = $1 AND status = 'open' AND id = ANY($2::text[]) AND fence <= $3)
         ${append.sql}`,
        [caseId, strays.map((t) => t.id), fence, ...append.params],
      ),
    );
    return { audit, rows };
  });
  if (done) await appendSuperseding(pool, caseId, done.audit, storedAudit(done.rows), auditFence);
}

/**
 * Case view, tasks and audit entries as ONE statement (data-modifying CTEs, then the audit append): atomic without
 * BEGIN/COMMIT, one round trip, and the case's audit lock is held only while PostgreSQL runs it. After a closed case's
 * view, the stray sweep (sweepStrays: one more read, at the close only). Open tasks written under a fence pass the
 * closed-case guard (closedGuard); those it refuses are written cancelled, with their entries, in the same statement.
 */
async function writeProjection(
  pool: pg.Pool,
  caseId: string,
  w: { caseView?: CaseViewWrite; caseOrg: string; tasks: { task: Task; version: number }[]; audit: AuditInput[]; fence: number | undefined },
): Promise<void> {
  if (!w.caseView && w.tasks.length === 0 && w.audit.length === 0) return;
  const fence = w.fence ?? 0;
  const guarded = fence > 0 && w.tasks.some((t) => t.task.status === 'open');
  const ctes: string[] = [];
  const params: unknown[] = [];
  const add = (name: string, st: Statement) => {
    ctes.push(`${name} AS (${st.sql})`);
    params.push(...st.params);
  };
  if (w.caseView) add('case_row', caseUpsert(w.caseView.view, w.caseView.version, fence, params.length + 1));
  const upserted = w.caseView ? { open: !isClosedStatus(w.caseView.view.status), version: w.caseView.version } : undefined;
  if (guarded) add('guard', closedGuard(caseId, fence, upserted, params.length + 1));
  if (w.tasks.length > 0) add('task_rows', tasksUpsert(w.caseOrg, w.tasks, fence, params.length + 1, guarded));
  let main: string;
  let asked = w.audit;
  let refusable: AuditInput[] = [];
  if (guarded) {
    // The case's audit lock first (a subquery the planner keeps, on which the rest depends), then the task rows (the
    // guard's case row lock, the tasks), then the append: the order every writer of the case takes its locks in. The
    // append takes a refused task's entry in the same statement, so the task is never cancelled without it, even when
    // the replaced attempt's worker dies right after.
    refusable = w.tasks.filter((t) => t.task.status === 'open').map(({ task }) => strayCancelled(task, REFUSED_REASON));
    const now = new Date();
    const at = params.length + 1;
    params.push(caseId, appendInputsJson(w.audit, w.fence, now), appendInputsJson(refusable, w.fence, now));
    const chosen = `coalesce((SELECT jsonb_agg(o.e ORDER BY o.n) FROM jsonb_array_elements($${at + 2}::jsonb) WITH ORDINALITY AS o(e, n)
                     WHERE o.e->>'key' = ANY (SELECT 'stray:' || x || ':cancelled' FROM unnest(r.refused) AS x)), '[]'::jsonb)`;
    main = `SELECT appended.*, r.refused
      FROM (SELECT 1 AS locked FROM ${auditLockCall(`$${at}`)} OFFSET 0) l
      CROSS JOIN LATERAL (SELECT coalesce(array_agg(id), '{}') AS refused FROM task_rows WHERE status = 'cancelled' AND l.locked = 1) r
      LEFT JOIN LATERAL (${auditAppendCall(`$${at}`, `$${at + 1}::jsonb || ${chosen}`)}) appended ON true`;
  } else if (w.audit.length > 0) {
    const append = auditAppendStatement(caseId, w.audit, params.length + 1, w.fence);
    main = append.sql;
    params.push(...append.params);
  } else if (w.tasks.length > 0) {
    // No append, so no audit lock from audit_append: take it anyway, first (the function scan runs before the
    // unreferenced CTEs), so that every write of tasks takes the audit lock before any row lock: a guarded write locks
    // the case row before its tasks, an unguarded one with the view its tasks before the case row.
    main = `SELECT 1 FROM ${auditLockCall(`$${params.length + 1}`)}`;
    params.push(caseId);
  } else {
    main = 'SELECT 1';
  }
  const { rows } = await pool.query<AuditRow & { refused?: string[] }>(prepared(`${ctes.length > 0 ? `WITH ${ctes.join(', ')} ` : ''}${main}`, params));
  if (guarded) {
    const refused = new Set(rows[0]?.refused ?? []);
    asked = [...w.audit, ...refusable.filter((e) => refused.has(e.data.taskId as string))];
  }
  if (asked.length > 0) await appendSuperseding(pool, caseId, asked, storedAudit(rows.filter((r) => r.seq !== null)), w.fence);
  if (w.caseView && isClosedStatus(w.caseView.view.status) && w.caseView.knownTaskIds) {
    await sweepStrays(pool, caseId, [...w.caseView.knownTaskIds, ...w.tasks.map((t) => t.task.id)], fence, w.fence);
  }
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
