// Open cases whose workflow ended outside Takedown (terminated by hand, timed out, failed, or purged): found by asking
// Temporal about every open case (a reset one reads running: its new run goes on), and, when asked to, closed as
// `failed` as the workflow's own close would leave them in the database, so that no task waits in an inbox for a run that
// will never read its answer. Unlike that close, it sends partners nothing: it names them, to be told by hand.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type pg from 'pg';
import { archiveHistory } from '../../activities/history';
import { recordCase, recordTask } from '../../activities/cases';
import { settleNotices } from '../../activities/notices';
import { taskFromRow } from '../../api/views';
import type { Db } from '../../db/client';
import { cases, notices, tasks } from '../../db/schema';
import { caseWorkflowId } from '../../domain/ids';
import { OPEN_CASE_STATUSES, REQUEST_NOTICE_TYPES, type AuditInput, type CaseStatus, type CaseView, type Step } from '../../domain/types';

/**
 * The fence of a reconciling write: above any a workflow task can have (a history's length), so that a write of the
 * ended run still in flight (a local activity that outlived its run) never lands over it.
 */
export const RECONCILE_FENCE = 2_147_483_647;

/** What Temporal says of an open case's workflow; `running` needs nothing, `other` (paused, unknown) is for a person. */
export type RunState = 'running' | 'completed' | 'terminated' | 'timed_out' | 'failed' | 'canceled' | 'missing' | 'other';

export interface Finding {
  caseId: string;
  reference: string;
  state: RunState;
  runId: string | null;
  openTasks: number;
  /**
   * Orgs that were sent a request on the case (a notice attempted at least once): the workflow's close would have sent
   * each a withdrawal notice; reconciliation sends none, so a person tells them.
   */
  partners: string[];
  /** What was done: nothing (a dry run, a state left to a person, a case that changed meanwhile), the case closed, or an error. */
  action: 'none' | 'closed' | 'error';
  detail?: string;
}

const STATE_OF: Readonly<Record<string, RunState>> = {
  RUNNING: 'running',
  CONTINUED_AS_NEW: 'running',
  COMPLETED: 'completed',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
  FAILED: 'failed',
  CANCELLED: 'canceled',
};
/** Runs that ended for good: closed by --apply. A paused or unknown run is never; a missing one only when named (--case). */
const ENDED: ReadonlySet<RunState> = new Set(['terminated', 'timed_out', 'failed', 'canceled']);

async function runState(client: Client, caseId: string): Promise<{ state: RunState; runId: string | null }> {
  try {
    const d = await client.workflow.getHandle(caseWorkflowId(caseId)).describe();
    return { state: STATE_OF[d.status.name] ?? 'other', runId: d.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { state: 'missing', runId: null };
    throw err;
  }
}

/** The case as the workflow's close would leave it (closeCase in workflows/case.ts): failed, its unfinished steps failed. */
function closedView(view: CaseView, now: string): CaseView {
  const steps: Step[] = view.steps.map((s) => (s.status === 'pending' || s.status === 'in_progress' ? { ...s, status: 'failed', finishedAt: s.startedAt ? now : null } : s));
  return { ...view, status: 'failed', closedAt: now, updatedAt: now, steps };
}

type OpenCase = { id: string; reference: string; org: string; view: CaseView; version: number };

/**
 * Closes one case whose run ended outside Takedown, if nothing changed since it was looked at (its run, its stored
 * version): first the ended run's history archived (history.archived; notices still pending settled), so that a failure
 * there leaves the case open for the next run to retry whole; then its open tasks cancelled and the case `failed`, with
 * their audit entries (`task.cancelled`, `case.closed` naming the run's state, the operator and the partners to tell),
 * in one statement under RECONCILE_FENCE. Every step keeps its key, so running it again changes nothing.
 */
async function closeEnded(
  deps: { pool: pg.Pool; db: Db; client: Client },
  row: OpenCase,
  run: { state: RunState; runId: string | null },
  partners: string[],
  operator: string,
): Promise<string | undefined> {
  const again = await runState(deps.client, row.id);
  if (again.state !== run.state || again.runId !== run.runId) return `its workflow changed meanwhile (now ${again.state}): left alone`;
  const [stored] = await deps.db.select({ status: cases.status, version: cases.version }).from(cases).where(eq(cases.id, row.id));
  if (!stored || stored.version !== row.version || !OPEN_CASE_STATUSES.includes(stored.status as CaseStatus)) return 'the case changed meanwhile: left alone';
  if (run.state === 'missing') await settleNotices(deps.pool, { caseId: row.id, reason: 'the case ended before the notice was sent', round: 3 });
  else await archiveHistory(deps.pool, deps.client, { caseId: row.id, workflowId: caseWorkflowId(row.id) });
  const openRows = await deps.db.select().from(tasks).where(and(eq(tasks.caseId, row.id), eq(tasks.status, 'open')));
  const now = new Date().toISOString();
  const reason = `the case's workflow ended outside Takedown (${run.state.replace('_', ' ')}); closed by reconciliation`;
  const cancelled = openRows.map((t) => ({ task: { ...taskFromRow(t), status: 'cancelled' as const, completedAt: now }, version: t.version + 1 }));
  const audit: AuditInput[] = [
    ...cancelled.map(({ task }) => ({ key: `reconcile:${task.id}:cancelled`, action: 'task.cancelled', actor: null, data: { taskId: task.id, type: task.type, reason } })),
    {
      key: 'reconcile:case.closed',
      action: 'case.closed',
      actor: null,
      data: { status: 'failed', reason, workflowStatus: run.state, runId: run.runId, reconciledBy: operator, partnersNotNotified: partners },
    },
  ];
  const caseView = { view: closedView(row.view, now), version: row.version + 1, knownTaskIds: cancelled.map((c) => c.task.id) };
  const [first, ...more] = cancelled;
  if (first) await recordTask(deps.pool, { ...first, caseOrg: row.org, audit, fence: RECONCILE_FENCE, caseView, moreTasks: more });
  else await recordCase(deps.pool, { ...caseView, audit, fence: RECONCILE_FENCE });
  return undefined;
}

/** Orgs sent a request on the case (at least one delivery attempt), which the workflow's close would have told. */
async function requestedOrgs(db: Db, caseId: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ org: notices.org })
    .from(notices)
    .where(and(eq(notices.caseId, caseId), inArray(notices.type, [...REQUEST_NOTICE_TYPES]), gt(notices.attempts, 0)))
    .orderBy(asc(notices.org));
  return rows.map((r) => r.org);
}

/**
 * Every open case (or the one named) whose workflow is not running, in case id order. `apply` closes those whose run
 * ended for good (`operator` is recorded in each closing entry); a case whose workflow cannot be found is closed only
 * when named (`caseId`): in bulk, a wrong namespace or address would make every case look missing. A workflow that
 * completed while its case still reads open, and a paused or unknown one, are reported only. An error on one case is
 * reported, and the others go on.
 */
export async function reconcile(
  deps: { pool: pg.Pool; db: Db; client: Client },
  opts: { apply: boolean; operator?: string; caseId?: string; onFinding?: (f: Finding) => void },
): Promise<Finding[]> {
  if (opts.apply && !opts.operator?.trim()) throw new Error('reconcile --apply needs --operator: who closes these cases, for their audit entries');
  const findings: Finding[] = [];
  let after = '';
  for (;;) {
    const page: OpenCase[] = await deps.db
      .select({ id: cases.id, reference: cases.reference, org: cases.org, view: cases.view, version: cases.version })
      .from(cases)
      .where(and(inArray(cases.status, [...OPEN_CASE_STATUSES]), opts.caseId ? eq(cases.id, opts.caseId) : gt(cases.id, after)))
      .orderBy(asc(cases.id))
      .limit(100);
    for (const row of page) {
      const run = await runState(deps.client, row.id);
      if (run.state === 'running') continue;
      const [openTasks, partners] = await Promise.all([
        deps.db.$count(tasks, and(eq(tasks.caseId, row.id), eq(tasks.status, 'open'))),
        requestedOrgs(deps.db, row.id),
      ]);
      const finding: Finding = { caseId: row.id, reference: row.reference, state: run.state, runId: run.runId, openTasks, partners, action: 'none' };
      if (opts.apply && (ENDED.has(run.state) || (run.state === 'missing' && opts.caseId))) {
        try {
          const left = await closeEnded(deps, row, run, partners, opts.operator!.trim());
          if (left) finding.detail = left;
          else finding.action = 'closed';
        } catch (err) {
          finding.action = 'error';
          finding.detail = String((err as Error)?.message ?? err);
        }
      }
      findings.push(finding);
      opts.onFinding?.(finding);
    }
    if (opts.caseId || page.length < 100) return findings;
    after = page[page.length - 1].id;
  }
}
