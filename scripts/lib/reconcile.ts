// Open cases whose workflow ended outside Takedown (terminated or reset away by hand, timed out, failed, or purged):
// found by asking Temporal about every open case, and, when asked to, closed as `failed` the way the workflow would
// have closed them, so that no task waits in an inbox for a run that will never read its answer.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type pg from 'pg';
import { archiveHistory } from '../../activities/history';
import { recordCase, recordTask } from '../../activities/cases';
import { settleNotices } from '../../activities/notices';
import { taskFromRow } from '../../api/views';
import type { Db } from '../../db/client';
import { cases, tasks } from '../../db/schema';
import { caseWorkflowId } from '../../domain/ids';
import { OPEN_CASE_STATUSES, type AuditInput, type CaseView, type Step, type Task } from '../../domain/types';

/**
 * The fence of a reconciling write: above any a workflow task can have (a history's length), so that a write of the
 * ended run still in flight (a local activity that outlived its run) never lands over it.
 */
export const RECONCILE_FENCE = 2_147_483_647;

/** What Temporal says of an open case's workflow; `running` needs nothing. */
export type RunState = 'running' | 'completed' | 'terminated' | 'timed_out' | 'failed' | 'canceled' | 'missing';

export interface Finding {
  caseId: string;
  reference: string;
  state: RunState;
  runId: string | null;
  openTasks: number;
  /** What was done: nothing (a dry run, or a state left alone), or the case closed as failed. */
  action: 'none' | 'closed';
}

const ENDED: ReadonlySet<RunState> = new Set(['terminated', 'timed_out', 'failed', 'canceled', 'missing']);

async function runState(client: Client, caseId: string): Promise<{ state: RunState; runId: string | null }> {
  try {
    const d = await client.workflow.getHandle(caseWorkflowId(caseId)).describe();
    const name = d.status.name;
    const state: RunState =
      name === 'RUNNING' || name === 'CONTINUED_AS_NEW' ? 'running' : name === 'COMPLETED' ? 'completed' : name === 'TERMINATED' ? 'terminated' : name === 'TIMED_OUT' ? 'timed_out' : name === 'CANCELLED' ? 'canceled' : 'failed';
    return { state, runId: d.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { state: 'missing', runId: null };
    throw err;
  }
}

/** The case as the workflow would have closed it: failed, its unfinished steps cancelled. */
function closedView(view: CaseView, now: string): CaseView {
  const steps: Step[] = view.steps.map((s) =>
    s.status === 'pending' || s.status === 'in_progress' ? { ...s, status: 'cancelled', finishedAt: s.status === 'in_progress' ? now : s.finishedAt } : s,
  );
  return { ...view, status: 'failed', closedAt: now, updatedAt: now, steps };
}

/**
 * Closes one case whose run ended outside Takedown: its open tasks cancelled and the case `failed`, with their audit
 * entries (`task.cancelled`, `case.closed`, naming the run's state and the operator), in one statement under
 * RECONCILE_FENCE; then the ended run's history archived (history.archived), or, with no run left, its pending notices
 * settled. Every step keeps its key, so running it again changes nothing.
 */
async function closeEnded(
  pool: pg.Pool,
  client: Client,
  row: { id: string; org: string; view: CaseView; version: number },
  run: { state: RunState; runId: string | null },
  open: Task[],
  versions: Map<string, number>,
  operator: string,
): Promise<void> {
  const now = new Date().toISOString();
  const reason = `the case's workflow ended outside Takedown (${run.state.replace('_', ' ')}); closed by reconciliation`;
  const cancelled = open.map((t) => ({ task: { ...t, status: 'cancelled' as const, completedAt: now }, version: (versions.get(t.id) ?? 0) + 1 }));
  const audit: AuditInput[] = [
    ...cancelled.map(({ task }) => ({ key: `reconcile:${task.id}:cancelled`, action: 'task.cancelled', actor: null, data: { taskId: task.id, type: task.type, reason } })),
    {
      key: 'reconcile:case.closed',
      action: 'case.closed',
      actor: null,
      data: { status: 'failed', reason, workflowStatus: run.state, runId: run.runId, reconciledBy: operator },
    },
  ];
  const caseView = { view: closedView(row.view, now), version: row.version + 1, knownTaskIds: open.map((t) => t.id) };
  const [first, ...more] = cancelled;
  if (first) await recordTask(pool, { ...first, caseOrg: row.org, audit, fence: RECONCILE_FENCE, caseView, moreTasks: more });
  else await recordCase(pool, { ...caseView, audit, fence: RECONCILE_FENCE });
  if (run.state === 'missing') await settleNotices(pool, { caseId: row.id, reason: 'the case ended before the notice was sent', round: 3 });
  else await archiveHistory(pool, client, { caseId: row.id, workflowId: caseWorkflowId(row.id) });
}

/**
 * Every open case (or the one named) whose workflow is not running, in case id order. `apply` closes those whose run
 * ended outside Takedown (`operator` is recorded in each closing entry); a workflow that completed while its case still
 * reads open is reported only: its own closing write is what is missing, and a person should look.
 */
export async function reconcile(
  deps: { pool: pg.Pool; db: Db; client: Client },
  opts: { apply: boolean; operator?: string; caseId?: string; onFinding?: (f: Finding) => void },
): Promise<Finding[]> {
  if (opts.apply && !opts.operator?.trim()) throw new Error('reconcile --apply needs --operator: who closes these cases, for their audit entries');
  const findings: Finding[] = [];
  let after = '';
  for (;;) {
    const page = await deps.db
      .select({ id: cases.id, reference: cases.reference, org: cases.org, view: cases.view, version: cases.version })
      .from(cases)
      .where(and(inArray(cases.status, [...OPEN_CASE_STATUSES]), opts.caseId ? eq(cases.id, opts.caseId) : gt(cases.id, after)))
      .orderBy(asc(cases.id))
      .limit(100);
    for (const row of page) {
      const run = await runState(deps.client, row.id);
      if (run.state === 'running') continue;
      const openRows = await deps.db.select().from(tasks).where(and(eq(tasks.caseId, row.id), eq(tasks.status, 'open')));
      const apply = opts.apply && ENDED.has(run.state);
      if (apply) {
        const versions = new Map(openRows.map((t) => [t.id, t.version]));
        await closeEnded(deps.pool, deps.client, row, run, openRows.map(taskFromRow), versions, opts.operator!.trim());
      }
      const finding: Finding = { caseId: row.id, reference: row.reference, state: run.state, runId: run.runId, openTasks: openRows.length, action: apply ? 'closed' : 'none' };
      findings.push(finding);
      opts.onFinding?.(finding);
    }
    if (opts.caseId || page.length < 100) return findings;
    after = page[page.length - 1].id;
  }
}
