// The case workflow: intake, verification, sign-off, disruption, closure; withdrawal and amendment at any time.
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  isCancellation,
  log,
  setHandler,
  startChild,
  workflowInfo,
  allHandlersFinished,
  patched,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { PATCHES } from './patches';
import { caseSearchAttributes, holdsSearchAttributes, utf8Bytes } from './search-attributes';
import { archiveWorkflowId } from '../domain/ids';
import { conflictingEvidence } from '../domain/rules/evidence';
import { conflictKeys, urlHost } from '../domain/rules/plan';
import { checkActor, checkCompletion, type RuleViolation } from '../domain/rules/tasks';
import type { CaseStatus, CaseView, Task } from '../domain/types';
import { isClosedStatus } from '../domain/types';
import { archiveHistoryWorkflow } from './archive';
import { CaseAborted, CaseState } from './case-state';
import {
  addEvidenceUpdate,
  caseQuery,
  completeTaskUpdate,
  intakeUpdate,
  tasksQuery,
  withdrawUpdate,
  type AddEvidenceArgs,
  MAX_AMENDMENTS,
  MAX_CASE_JSON_BYTES,
  type CaseWorkflowInput,
  type CompleteTaskArgs,
  type WithdrawArgs,
} from './messages';
import { deliveredNoticeId, deliverNotice } from './steps/partner-request';
import { runDisruption } from './steps/disruption';
import { runSignoff } from './steps/signoff';
import { runVerification } from './steps/verification';

const VIOLATION_FAILURE: Record<RuleViolation['kind'], string> = {
  not_found: 'TaskNotFound',
  forbidden: 'Forbidden',
  not_open: 'TaskNotOpen',
  invalid: 'InvalidCompletion',
};

function rejectWith(v: RuleViolation): never {
  throw ApplicationFailure.create({
    type: VIOLATION_FAILURE[v.kind],
    message: v.detail,
    nonRetryable: true,
    details: v.kind === 'invalid' ? [v.errors] : [],
  });
}

export async function caseWorkflow(input: CaseWorkflowInput): Promise<CaseView> {
  // Decided before the first command, once per run: see PATCHES. A run with the newest patch has every one before it
  // without reading their markers; runs recorded before it read theirs in the same order as they always did.
  const closesFirst = patched(PATCHES.closeFirst);
  const stillUpRetries = closesFirst || patched(PATCHES.stillUpRetry);
  const stopsSiblings = stillUpRetries || patched(PATCHES.stopSiblings);
  const freshCycles = stopsSiblings || patched(PATCHES.refusedRetryCycle);
  const skipNoticesKept = freshCycles || patched(PATCHES.skipNotices);
  const closure = skipNoticesKept || patched(PATCHES.partnerClosure);
  const withdrawalWins = closure || patched(PATCHES.withdrawalWins);
  const refusals = withdrawalWins || patched(PATCHES.refusedReminders);
  const carrying = refusals || patched(PATCHES.carriedCompletions);
  const batched = carrying || patched(PATCHES.batchedOpenings);
  const current = batched || patched(PATCHES.startAttributes);
  const lean = current || patched(PATCHES.leanProjections);
  const serial = current || (lean && patched(PATCHES.serialLocalActivities));
  const state = new CaseState(input, lean, serial, current || (serial && patched(PATCHES.stagedStepWrites)), batched, carrying, refusals, closure, skipNoticesKept, freshCycles, stopsSiblings, stillUpRetries, closesFirst);
  const view = state.view;
  const main = new CancellationScope();
  /** Set when the case's flow has ended and its ending is decided (withdrawal-wins runs): a withdrawal comes too late. */
  let closing = false;
  const closingFailure = () => ApplicationFailure.create({ type: 'CaseClosed', message: 'the case is closing', nonRetryable: true });
  // Withdrawn but not yet ended, the status is still the one it had (verifying...): that is no reason to give.
  const closedFailure = () =>
    ApplicationFailure.create({ type: 'CaseClosed', message: isClosedStatus(view.status) ? `case is ${view.status}` : 'the case is already being withdrawn', nonRetryable: true });

  const validateCompletion = ({ completion, actor }: CompleteTaskArgs) => {
    const v = checkCompletion(state.tasks.get(completion.taskId), actor, completion, { createdBy: view.createdBy, verifiedBy: view.verifiedBy });
    if (v) rejectWith(v);
  };
  setHandler(
    completeTaskUpdate,
    async ({ completion, actor }: CompleteTaskArgs): Promise<Task> => {
      // Re-checked here: two completions accepted in one activation must still yield exactly one success. Only what the
      // task's state decides: the data passed the validator, and a replay must not judge it by newer data rules.
      const task = state.tasks.get(completion.taskId);
      const v = checkActor(task, actor, completion, { createdBy: view.createdBy, verifiedBy: view.verifiedBy });
      if (v || !task) rejectWith(v ?? { kind: 'not_found', detail: completion.taskId });
      task.status = 'completed';
      task.outcome = completion.outcome;
      task.data = completion.data ?? {};
      task.comment = completion.comment ?? null;
      task.completedAt = new Date().toISOString();
      task.completedBy = { id: actor.id, org: actor.org };
      // `as`: which of the task's roles the principal completed it in (an escalated sign-off by an le_supervisor), so the
      // chain says in what capacity, not only who. Audit data only: replay does not compare it.
      const as = actor.roles.filter((r) => task.roles.includes(r));
      const completed = [state.audit('task.completed', { taskId: task.id, type: task.type, outcome: task.outcome, data: task.data, comment: task.comment, as }, actor)];
      // The waiting flow's next write carries it when that flow writes before any other wait (verification, sign-off).
      if (state.carriesCompletion(task)) state.stageTask(task, completed);
      else await state.saveTask(task, completed);
      return { ...task };
    },
    { validator: validateCompletion, description: 'Complete a human task (outcome, data, comment); enforces assignee and four-eyes rules.' },
  );

  const validateWithdraw = ({ actor, reason }: WithdrawArgs) => {
    if (isClosedStatus(view.status) || view.withdrawal) throw closedFailure();
    if (closing) throw closingFailure();
    const allowed = actor.org === view.org && (actor.roles.includes('case_lead') || actor.roles.includes('le_supervisor'));
    if (!allowed) throw ApplicationFailure.create({ type: 'Forbidden', message: 'only a case lead or supervisor of the case org may withdraw', nonRetryable: true });
    if (!reason || !reason.trim()) throw ApplicationFailure.create({ type: 'InvalidCompletion', message: 'reason is required', nonRetryable: true, details: [{ reason: 'is required' }] });
  };
  setHandler(
    withdrawUpdate,
    async ({ reason, actor }: WithdrawArgs): Promise<CaseView> => {
      if (view.withdrawal) return view;
      // Validated before the flow ended, handled after: refused, since the ending is decided (withdrawal-wins runs).
      if (closing) throw closingFailure();
      view.withdrawal = { reason, by: actor.id, at: new Date().toISOString() };
      await state.appendAudit([state.audit('case.withdrawal_requested', { reason }, actor)]);
      main.cancel();
      return view;
    },
    { validator: validateWithdraw, description: 'Withdraw the case: cancel open tasks, send withdrawal notices.' },
  );

  let amendments = 0;
  setHandler(
    addEvidenceUpdate,
    async ({ evidence, urls, hosting = [], actor }: AddEvidenceArgs): Promise<CaseView> => {
      amendments += 1;
      const known = new Set(view.evidence.map((e) => e.sha256));
      const added = evidence.filter((e) => !known.has(e.sha256));
      view.evidence.push(...added);
      // A hosting entry names where URLs are hosted: they join that provider's entry (a new provider gets one), and the
      // case's URLs. Old updates carry none, so they replay as before.
      // Sets and maps, not searches of the case's lists per URL: a case may hold thousands of URLs, and this runs inside
      // a workflow task. Each result (and its order) is the one the searches gave, so older runs replay the same.
      const hostedUrls = new Set(hosting.flatMap((h) => h.urls));
      const held = new Set(view.merchant.urls);
      const newUrls = [...new Set([...urls, ...hostedUrls])].filter((u) => !held.has(u));
      view.merchant.urls.push(...newUrls);
      const entryUrls = new Map(view.merchant.hosting.map((x) => [x, new Set(x.urls)]));
      const newHosting: { provider: string; urls: string[] }[] = [];
      for (const h of hosting) {
        let entry = view.merchant.hosting.find((x) => x.provider === h.provider);
        if (!entry) {
          entry = { provider: h.provider, ...(h.ip !== undefined ? { ip: h.ip } : {}), urls: [] };
          view.merchant.hosting.push(entry);
          entryUrls.set(entry, new Set());
        }
        const inEntry = entryUrls.get(entry)!;
        const fresh = h.urls.filter((u) => !inEntry.has(u));
        entry.urls.push(...fresh);
        for (const u of fresh) inEntry.add(u);
        if (fresh.length > 0) newHosting.push({ provider: h.provider, urls: fresh });
      }
      // Any other new URL joins the hosting entry that already serves its host (the first that does), so notices not yet
      // planned carry it. Adding a URL to the entry of its own host never changes which entry is first for a host.
      const firstByHost = new Map<string | null, (typeof view.merchant.hosting)[number]>();
      for (const entry of view.merchant.hosting) {
        for (const x of entry.urls) {
          const host = urlHost(x);
          if (!firstByHost.has(host)) firstByHost.set(host, entry);
        }
      }
      for (const u of newUrls) {
        if (hostedUrls.has(u)) continue;
        const entry = firstByHost.get(urlHost(u));
        if (entry && !entryUrls.get(entry)!.has(u)) {
          entry.urls.push(u);
          entryUrls.get(entry)!.add(u);
        }
      }
      // Added after the analyst verified the case (or the officer signed it off): what partners will be asked to act on
      // now includes what those people did not see. The contract lets it reach notices not yet sent; the chain says so,
      // for the auditor and the court.
      const reviewed = { ...(view.verifiedBy !== null ? { afterVerificationBy: view.verifiedBy } : {}), ...(view.signedOffBy !== null ? { afterSignoffBy: view.signedOffBy } : {}) };
      const data = { evidence: added.map((e) => ({ kind: e.kind, sha256: e.sha256 })), urls: newUrls, ...(newHosting.length > 0 ? { hosting: newHosting } : {}), ...reviewed };
      await state.saveCase([state.audit('evidence.added', data, actor)]);
      return view;
    },
    {
      validator: ({ evidence, urls, hosting = [], actor }: AddEvidenceArgs) => {
        if (isClosedStatus(view.status) || view.withdrawal) throw closedFailure();
        // The ending is decided: no request would carry what it adds (validators do not run on replay).
        if (closing) throw closingFailure();
        if (actor.org !== view.org || !actor.roles.includes('case_lead')) throw ApplicationFailure.create({ type: 'Forbidden', message: 'only a case lead of the case org may add evidence', nonRetryable: true });
        // The hosting requests are planned when disruption starts: a provider named after that would never be notified.
        const planned = view.steps.find((s) => s.name === 'hosting')?.status !== 'pending';
        const unknown = hosting.find((h) => !view.merchant.hosting.some((x) => x.provider === h.provider));
        if (planned && unknown) {
          throw ApplicationFailure.create({ type: 'StepUnderWay', message: `the hosting step is under way: ${unknown.provider} can no longer be added as a hosting provider; open a new case for it`, nonRetryable: true });
        }
        // An item is known by its hash: one the case holds, given again with other details, would be dropped while the
        // rest of the amendment took effect. Refused whole instead (an exact repeat adds nothing, as before).
        const conflict = conflictingEvidence(evidence, view.evidence)[0];
        if (conflict) {
          throw ApplicationFailure.create({ type: 'InvalidCompletion', message: `evidence.${conflict.index}: the case holds this hash with other details`, nonRetryable: true, details: [{ [`evidence.${conflict.index}.sha256`]: 'the case holds this hash with other details' }] });
        }
        // Refused here, before anything is written: a case past Temporal's payload limits would fail its workflow task.
        if (amendments >= MAX_AMENDMENTS) {
          throw ApplicationFailure.create({ type: 'InvalidCompletion', message: `a case takes at most ${MAX_AMENDMENTS} amendments; open a new case`, nonRetryable: true, details: [{ evidence: `at most ${MAX_AMENDMENTS} amendments per case` }] });
        }
        // Validators do not run on replay: counting bytes, not characters, refuses only amendments still to come. The
        // handler may store each URL twice (in the case's URLs and in a hosting entry), so the URLs count twice here.
        const grows = utf8Bytes(JSON.stringify({ evidence, urls, hosting })) + utf8Bytes(JSON.stringify([...urls, ...hosting.flatMap((h) => h.urls)]));
        if (utf8Bytes(JSON.stringify(view)) + grows > MAX_CASE_JSON_BYTES) {
          throw ApplicationFailure.create({ type: 'InvalidCompletion', message: 'the case would grow past 1 MiB of JSON; open a new case', nonRetryable: true, details: [{ evidence: 'the case would grow past 1 MiB of JSON' }] });
        }
      },
      description: 'Amend the case with evidence or URLs.',
    },
  );

  setHandler(intakeUpdate, async (): Promise<CaseView> => {
    await condition(() => state.intakeDone);
    return view;
  });
  setHandler(caseQuery, () => view);
  setHandler(tasksQuery, () => [...state.tasks.values()]);

  // Intake: make the case findable in the Temporal UI (unless its start already did), record it, then look for other
  // open cases on the same merchant.
  const attributes = caseSearchAttributes(view);
  if (!current || !holdsSearchAttributes(workflowInfo().typedSearchAttributes, attributes)) upsertSearchAttributes(attributes);
  const keys = conflictKeys(view.merchant);
  await state.saveCase([state.audit('case.created', { reference: view.reference, jurisdiction: view.jurisdiction, priority: view.priority }, input.createdBy)]);
  view.deconflictedWith = await state.db.findConflicts({ caseId: view.id, ...keys });
  if (view.deconflictedWith.length > 0) await state.saveCase([state.audit('case.deconfliction_match', { cases: view.deconflictedWith })]);
  state.intakeDone = true;

  let final: { status: CaseStatus; reason: string; by?: CaseAborted['by'] } = { status: 'completed', reason: '' };
  try {
    await main.run(async () => {
      await runVerification(state);
      await runSignoff(state);
      await runDisruption(state);
    });
    final = { status: state.exceptions ? 'completed_with_exceptions' : 'completed', reason: '' };
  } catch (err) {
    if (err instanceof CaseAborted) final = { status: err.status, reason: err.reason, by: err.by };
    else if (isCancellation(err) && view.withdrawal) final = { status: 'withdrawn', reason: view.withdrawal.reason };
    else {
      log.error('case workflow failed', { error: String(err) });
      final = { status: 'failed', reason: String((err as Error)?.message ?? err) };
    }
  }
  if (withdrawalWins) {
    // A withdrawal accepted while the flow ran wins over the flow's own ending (all but a failure, which compensates too).
    if (view.withdrawal && final.status !== 'failed') final = { status: 'withdrawn', reason: view.withdrawal.reason };
    closing = true;
  }
  await CancellationScope.nonCancellable(() => closeCase(state, final.status, final.reason, final.by ?? null));
  await condition(allHandlersFinished);
  return view;
}

type WithdrawalNotice = Parameters<typeof deliverNotice>[1] & { type: 'withdrawal_notice' };

/**
 * Why partners are told their requests are withdrawn: the reason the case lead gave when withdrawing the case, which is
 * written for them. A failed case's own reason (the case lead's note on aborting, which may be about another partner, or
 * an internal error) stays in the audit chain and is never sent.
 */
function toldPartners(view: CaseView, status: CaseStatus, reason: string): string {
  if (status === 'withdrawn') return view.withdrawal?.reason || reason || 'withdrawn';
  return 'the case was closed before these requests were completed';
}

/** Closure, for every ending: open tasks cancelled, withdrawal notices to partners already asked, the case closed, history archived. */
async function closeCase(state: CaseState, status: CaseStatus, reason: string, by: CaseAborted['by']): Promise<void> {
  const view = state.view;
  if (state.carrying) await state.flushStagedTasks();
  const cancelledNow = new Set<string>();
  for (const t of state.openTasks()) {
    // Only the tasks this closing cancels: one completed while an earlier cancellation was written stands.
    if (await state.cancelTask(t, status === 'withdrawn' ? 'case withdrawn' : `case ${status}`)) cancelledNow.add(t.id);
  }
  for (const s of view.steps) {
    if (s.status === 'pending' || s.status === 'in_progress') {
      s.status = status === 'failed' ? 'failed' : 'cancelled';
      s.finishedAt = s.startedAt ? new Date().toISOString() : null;
    }
  }
  // (skip-notices runs) A withdrawal or failure does not wait for a skipped request's withdrawal notice still being
  // delivered: it is cancelled (settled at once), and the closing notice to that org names the request again.
  if (state.skipNoticesKept && (status === 'withdrawn' || status === 'failed')) {
    for (const n of state.skipNotices) if (!n.settled) n.scope.cancel();
    await Promise.all(state.skipNotices.map((n) => n.done));
  }
  const toldAtSkip = (taskId: string) => state.skipNotices.some((n) => n.taskId === taskId && n.delivered);
  /** The closing withdrawal notices delivered once the case is closed (close-first runs); older runs deliver them first. */
  let afterClose: WithdrawalNotice[] = [];
  if (status === 'withdrawn' || status === 'failed') {
    // Compensation: every partner already sent a request gets one withdrawal notice naming what is withdrawn (the requests
    // whose tasks this closing cancels) and what stands (tasks it completed before). Which orgs are told depends on the
    // patch only; what each notice says is activity input, which replay does not compare.
    const byOrg = new Map<string, { notices: string[]; tasks: string[]; standing: string[] }>();
    for (const r of state.sentRequests) {
      const entry = byOrg.get(r.org) ?? { notices: [], tasks: [], standing: [] };
      const task = r.taskId ? state.tasks.get(r.taskId) : undefined;
      if (task && !cancelledNow.has(task.id) && task.status === 'completed') {
        if (!entry.standing.includes(task.id)) entry.standing.push(task.id);
        // A re-notice asked more than the task's answer gave (URLs still up): it is withdrawn, though the task stands.
        // The org is told either way (its task stands), so only the notice's content changes: no patch.
        if (r.afterAnswer) entry.notices.push(r.noticeId);
      } else if (!(state.closure && task && !cancelledNow.has(task.id) && (!state.skipNoticesKept || toldAtSkip(task.id)))) {
        // (partner-closure runs told a skipped request's partner when it was skipped; skip-notices runs withdraw it
        // again here when that notice did not reach the partner)
        entry.notices.push(r.noticeId);
        if (r.taskId && !entry.tasks.includes(r.taskId)) entry.tasks.push(r.taskId);
      }
      byOrg.set(r.org, entry);
    }
    const told = [...byOrg].filter(([, w]) => !state.closure || w.notices.length + w.standing.length > 0);
    const notices = told.map(
      ([org, w]): WithdrawalNotice => ({
        type: 'withdrawal_notice',
        org,
        task: null,
        round: 0,
        scope: {},
        extra: { withdrawnNoticeIds: w.notices, withdrawnTaskIds: w.tasks, standingTaskIds: w.standing, reason: toldPartners(view, status, reason) },
      }),
    );
    if (state.closesFirst) afterClose = notices;
    else await Promise.all(notices.map((n) => deliverNotice(state, n)));
    if (status === 'withdrawn' && view.withdrawal) {
      await state.appendAudit([state.audit('case.withdrawn', { reason, notified: told.map(([org]) => org) }, { id: view.withdrawal.by, org: view.org })]);
    }
  }
  // Lean runs always settle (decided at the start: a patched() call after local activities in the same workflow task
  // replayed non-deterministically after worker crashes); older runs carry the settle patch marker at this point.
  // Notices still to be delivered after the close (skipped requests', close-first runs' withdrawal notices) are not
  // abandoned: they are waited for below.
  const stillTelling = [...state.skipNotices.filter((n) => !n.settled).map((n) => n.noticeId), ...afterClose.map((n) => deliveredNoticeId(state, n))];
  if (state.lean || patched(PATCHES.settleNoticesAtClose)) {
    await state.db.settleNotices({ caseId: view.id, reason: `case ${status} while the notice was still being delivered`, ...(stillTelling.length > 0 ? { keep: stillTelling } : {}) });
  }
  view.closedAt = new Date().toISOString();
  state.closed = true;
  // A case withdrawn other than by the withdraw update (a deconfliction review's abort, before any partner was asked)
  // has its case.withdrawn entry too, by whoever decided, in the closing write: audit data only, so no patch.
  const withdrawnHere =
    status === 'withdrawn' && !view.withdrawal ? [state.auditNamed('close', 'case.withdrawn', { reason, notified: [] }, by)] : [];
  await state.setStatus(status, [
    ...withdrawnHere,
    state.audit('case.closed', {
      status,
      reason,
      steps: view.steps.map((s) => ({ name: s.name, status: s.status, startedAt: s.startedAt, finishedAt: s.finishedAt, tasks: s.taskIds.length })),
      tasks: state.tasks.size,
      noticesSent: state.sentRequests.length,
    }),
  ]);
  // The archive runs after this run has closed (it waits for the close), so it captures the complete history.
  await startChild(archiveHistoryWorkflow, {
    workflowId: archiveWorkflowId(view.id),
    args: [{ caseId: view.id, workflowId: workflowInfo().workflowId }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `History archive of ${view.reference}`,
  });
  if (stillTelling.length > 0) {
    // (skip-notices runs; close-first runs' withdrawal notices too) The case is closed; the run ends once these notices
    // are delivered or have failed for good (a run that ends abandons what it still runs, so they would never be sent).
    // Whatever is left unsent is settled then.
    await Promise.all([...state.skipNotices.map((n) => n.done), ...afterClose.map((n) => deliverNotice(state, n))]);
    await state.db.settleNotices({ caseId: view.id, reason: `case ${status}: the notice was not delivered`, round: 2 });
  }
}
