// One request to one partner org (termination, freeze or hosting): notice, confirm task, reminders, escalation, exceptions.
import { ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation, sleep } from '@temporalio/workflow';
import { noticeId } from '../../domain/ids';
import { partnerRequests, type PartnerRequest } from '../../domain/rules/plan';
import { isPositiveOutcome } from '../../domain/rules/tasks';
import type { NoticeType, Slas, Task } from '../../domain/types';
import { checks, notices, store } from '../activities';
import type { CaseState, NewTask } from '../case-state';
import { escalateTask, raiseException } from '../human-task';

export type RequestResult = 'done' | 'declined' | 'skipped';

const SLA_OF_STEP: Record<PartnerRequest['step'], keyof Slas> = { termination: 'termination', freeze: 'freeze', hosting: 'removal' };
const OUTCOME_KIND = { termination: 'termination', freeze: 'freeze', hosting: 'removal' } as const;

interface Delivery {
  state: 'pending' | 'delivered' | 'no_webhook' | 'rejected' | 'cancelled';
  detail: Record<string, unknown>;
}

/**
 * The request's scope as of now: amendments (new URLs) reach hosting notices that have not been sent yet. Only hosting
 * requests change with amendments, and only they are one per org: termination is one request per payment channel, so
 * an org holding two of the merchant's channels has two requests, each naming its own.
 */
function currentScope(state: CaseState, req: PartnerRequest): Record<string, unknown> {
  if (req.step !== 'hosting') return req.scope;
  const fresh = partnerRequests({ merchant: state.view.merchant, plan: state.view.plan }).find((r) => r.step === req.step && r.org === req.org);
  return fresh?.scope ?? req.scope;
}

function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The id of the notice deliverNotice sends for these arguments (a withdrawal notice is one per org). */
export function deliveredNoticeId(state: CaseState, args: { type: NoticeType; org: string; task: Task | null; round: number }): string {
  return noticeId(args.task?.id ?? state.caseId, args.type === 'withdrawal_notice' ? `${args.type}_${args.org}` : args.type, args.round);
}

/** Prepares and delivers one notice; never throws (the outcome is in the result), so it can run beside a wait. */
export async function deliverNotice(
  state: CaseState,
  args: { type: NoticeType; org: string; task: Task | null; round: number; scope: Record<string, unknown>; extra?: Record<string, unknown>; request?: boolean; dueAt?: string },
): Promise<Delivery> {
  const id = deliveredNoticeId(state, args);
  // A request sent again on its task (a retry, a re-notice) replaces the ones sent before: any still retrying stops.
  const taskId = args.task?.id ?? null;
  const supersedes = args.request ? state.sentRequests.filter((r) => r.taskId === taskId && r.type === args.type && r.noticeId !== id).map((r) => r.noticeId) : [];
  try {
    const prepared = await notices.prepareNotice({
      noticeId: id,
      type: args.type,
      caseId: state.caseId,
      taskId,
      org: args.org,
      // No case view: the activity reads the stored one, which every run has written (and awaited) before any notice.
      // Replay-safe without a patch: activity arguments are not part of what replay compares.
      scope: args.scope,
      // The task's deadline, or the notice's own (a re-notice: its task was answered, and its deadline has passed).
      dueAt: args.dueAt ?? args.task?.dueAt ?? null,
      extra: args.extra,
      // Replay-safe without a patch, as above.
      ...(supersedes.length > 0 ? { supersedes } : {}),
    });
    if (!prepared.hasWebhook) return { state: 'no_webhook', detail: { noticeId: id } };
    if (args.request) {
      const afterAnswer = args.task !== null && args.task.status !== 'open';
      state.sentRequests.push({ org: args.org, noticeId: id, taskId: args.task?.id ?? null, type: args.type, ...(afterAnswer ? { afterAnswer } : {}) });
    }
    // Replay-safe without a patch: activity arguments are not part of what replay compares (org labels a metric).
    const sent = await notices.sendNotice({ noticeId: id, org: args.org });
    return { state: sent.delivered || sent.reason === 'already_delivered' ? 'delivered' : 'no_webhook', detail: { noticeId: id, status: sent.status } };
  } catch (err) {
    if (isCancellation(err)) return { state: 'cancelled', detail: { noticeId: id } };
    const type = failureType(err);
    // The activity's own message (the partner's answer), not the wrapper's "Activity task failed".
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    const given = cause instanceof ApplicationFailure ? (cause.details?.[0] as { status?: unknown } | undefined) : undefined;
    const status = typeof given?.status === 'number' ? { status: given.status } : {};
    return { state: 'rejected', detail: { noticeId: id, failure: type ?? 'DeliveryFailed', message: (cause as Error).message, ...status } };
  }
}

/** The confirm task a partner request opens. */
export function partnerTaskSpec(state: CaseState, req: PartnerRequest): NewTask {
  return {
    type: req.taskType,
    assignee: { org: req.org, role: 'partner' },
    step: req.step,
    slaMs: state.slaMs(SLA_OF_STEP[req.step]),
    context: { noticeType: req.noticeType, scope: req.scope },
  };
}

/** Runs one partner request on its task: `opened` when the caller opened it (batched openings), else opened here. */
export async function runPartnerRequest(state: CaseState, req: PartnerRequest, opened?: Task): Promise<RequestResult> {
  const slaMs = state.slaMs(SLA_OF_STEP[req.step]);
  const task = opened ?? (await state.openTask(partnerTaskSpec(state, req)));
  let round = 0;
  let delivery: Delivery = { state: 'pending', detail: {} };
  /** What the partner was last asked, set by each send() (amendments since reach only a request sent after them). */
  let asked = req.scope;
  const send = () => {
    const myRound = round;
    delivery = { state: 'pending', detail: {} };
    const extra = { signedOffAt: state.step('signoff').finishedAt };
    asked = currentScope(state, req);
    void deliverNotice(state, { type: req.noticeType, org: req.org, task, round: myRound, scope: asked, extra, request: true }).then((d) => {
      if (round === myRound) delivery = d;
    });
  };
  const remind = (n: number, escalated: boolean) => {
    const myRound = round;
    void deliverNotice(state, {
      type: 'reminder',
      org: req.org,
      task,
      round: n,
      scope: {},
      extra: { escalated, taskType: task.type, noticeId: noticeId(task.id, req.noticeType, round) },
    }).then((d) => {
      // A refused reminder is a refused notice: the loop below raises it to the case lead (refused-reminders runs).
      if (state.refusals && d.state === 'rejected' && round === myRound && task.status === 'open') delivery = d;
    });
  };

  // A completion that comes while the case lead is asked about this request answers it (partner-closure runs).
  const answered = state.closure ? () => task.status !== 'open' : undefined;
  send();
  let cycleStart = Date.parse(task.createdAt);
  let stage = 0;
  let reminders = 0;
  // A new deadline cycle on the same task, from now. Not async itself: the caller awaits saveTask's own promise, so
  // runs recorded before refused-retry-cycle resume in the same microtask as they always did.
  const newCycle = (): Promise<void> => {
    cycleStart = Date.now();
    stage = 0;
    task.dueAt = new Date(cycleStart + slaMs).toISOString();
    return state.saveTask(task, [state.audit('task.extended', { taskId: task.id, dueAt: task.dueAt })]);
  };
  while (task.status === 'open') {
    const nextAt = cycleStart + (stage === 0 ? slaMs / 2 : stage === 1 ? slaMs : 2 * slaMs);
    const what = stage === 0 ? 'SLA reminder' : stage === 1 ? 'SLA deadline' : 'second deadline';
    await condition(() => task.status !== 'open' || delivery.state === 'rejected', Math.max(1, nextAt - Date.now()), {
      summary: `${what}: ${task.type} · ${req.org}`,
    });
    if (task.status !== 'open') break;
    if (delivery.state === 'rejected') {
      const detail = delivery.detail;
      const choice = await raiseException(state, { reason: 'notice_rejected', taskId: task.id, org: req.org, detail: { notice: detail } }, answered);
      if (task.status !== 'open') break;
      if (choice === 'skip') return skip(state, task, req);
      // Retry: a new notice and (refused-retry-cycle runs) a new deadline cycle, as for a retried no-response; the
      // partner's re-sent request then carries a dueAt in the future, not the one that passed while the case lead chose.
      if (state.freshCycles) await newCycle();
      round += 1;
      send();
      continue;
    }
    if (Date.now() < nextAt) continue;
    if (stage === 0) {
      if (delivery.state === 'delivered') remind((reminders += 1), false);
      stage = 1;
    } else if (stage === 1) {
      await escalateTask(state, task);
      if (delivery.state === 'delivered') remind((reminders += 1), true);
      stage = 2;
    } else {
      const choice = await raiseException(state, { reason: 'no_response', taskId: task.id, org: req.org, detail: { dueAt: task.dueAt } }, answered);
      if (task.status !== 'open') break;
      if (choice === 'skip') return skip(state, task, req);
      // Retry: a new notice and a new deadline cycle on the same task.
      await newCycle();
      round += 1;
      send();
    }
  }
  if (task.status === 'cancelled') return 'skipped';
  if (!isPositiveOutcome(task.type, task.outcome ?? '')) {
    state.exceptions = true;
    return 'declined';
  }
  if (!state.lean) {
    // Before the lean-projections patch the metric had an activity of its own; now the completion's write observes it.
    const seconds = (Date.parse(task.completedAt ?? new Date().toISOString()) - Date.parse(state.view.createdAt)) / 1000;
    await store.observeOutcome({ kind: OUTCOME_KIND[req.step], seconds });
  }
  if (req.step === 'hosting') return verifyRemoval(state, req, task, slaMs, round + 1, (asked.urls as string[] | undefined) ?? []);
  return 'done';
}

async function skip(state: CaseState, task: Task, req: PartnerRequest): Promise<RequestResult> {
  await state.cancelTask(task, 'skipped by the case lead');
  state.exceptions = true;
  const sent = state.sentRequests.filter((r) => r.taskId === task.id).map((r) => r.noticeId);
  if (state.closure && sent.length > 0) {
    // The partner was asked: it is told at once that the request no longer stands (not at the case's close). Not awaited,
    // as a request's own notice is not: the case goes on while it is delivered.
    const withdrawal = {
      type: 'withdrawal_notice' as const,
      org: req.org,
      task,
      round: 0,
      scope: {},
      extra: { withdrawnNoticeIds: sent, withdrawnTaskIds: [task.id], reason: 'the case lead goes on without this request' },
    };
    const notice = () => deliverNotice(state, withdrawal);
    if (!state.skipNoticesKept) {
      void notice();
    } else {
      // In a scope of its own, kept for the close (see closeCase): a withdrawal cancels it, other endings wait for it.
      const scope = new CancellationScope();
      const kept = { taskId: task.id, noticeId: deliveredNoticeId(state, withdrawal), scope, settled: false, delivered: false, done: Promise.resolve() };
      kept.done = scope.run(notice).then((d) => {
        kept.settled = true;
        kept.delivered = d.state === 'delivered' || d.state === 'no_webhook';
      });
      state.skipNotices.push(kept);
    }
  }
  return 'skipped';
}

/**
 * After `removed`: check the URLs the host was asked to remove (`requested`: those of its last request, not URLs added
 * to the case since, which it was never asked about); one still up gets one re-notice, then a resolve_exception task (at once when the host
 * refuses the re-notice, in refused-reminders runs). The case lead's `retry` checks again, and in still-up-retry runs
 * re-notices and waits again.
 */
async function verifyRemoval(state: CaseState, req: PartnerRequest, task: Task, slaMs: number, nextRound: number, requested: string[]): Promise<RequestResult> {
  // Which URLs are checked is activity input, which replay does not compare: no patch.
  const urls = requested.slice();
  let renoticed = false;
  // A retried re-notice is a new notice (a new id): the refused one stays refused.
  let round = nextRound;
  for (;;) {
    // `redirected`, `unchecked` and `forbidden` are absent from results recorded before they existed; only data (audit,
    // task detail) depends on them. Unchecked URLs (the check's deadline passed) and forbidden ones (an address the check
    // may not contact) are in `up`: re-noticed, never called gone.
    const { up, down, redirected = [], unchecked = [], forbidden = [] } = await checks.checkUrls({ caseId: state.caseId, urls });
    await state.appendAudit([
      state.audit('urls.checked', {
        taskId: task.id,
        org: req.org,
        up,
        down,
        ...(redirected.length > 0 ? { redirected } : {}),
        ...(unchecked.length > 0 ? { unchecked } : {}),
        ...(forbidden.length > 0 ? { forbidden } : {}),
      }),
    ]);
    // Where a URL still up now answers from, when a redirect led there (a host's own "suspended" page, say).
    const stillUp = new Set(up);
    const upVia = redirected.filter((r) => stillUp.has(r.url));
    const via = upVia.length > 0 ? { redirected: upVia } : {};
    if (up.length === 0) return 'done';
    if (!renoticed) {
      renoticed = true;
      // Due by the next check, a whole removal SLA from now: activity input, which replay does not compare.
      const recheckAfter = new Date(Date.now() + slaMs).toISOString();
      const renotice = await deliverNotice(state, {
        type: 'hosting_notice',
        org: req.org,
        task,
        round,
        scope: { urls: up },
        extra: { renotice: true, stillReachable: up, recheckAfter, ...via },
        request: true,
        dueAt: recheckAfter,
      });
      if (state.refusals && renotice.state === 'rejected') {
        // Refused with a final 4xx: the case lead decides now, rather than after a removal SLA spent waiting for nothing.
        const choice = await raiseException(state, { reason: 'notice_rejected', taskId: task.id, org: req.org, detail: { notice: renotice.detail, urls: up } });
        if (choice === 'skip') {
          state.exceptions = true;
          return 'skipped';
        }
        renoticed = false;
        round += 1;
        continue;
      }
      await sleep(slaMs, { summary: `re-check after re-notice: ${req.org}` });
      continue;
    }
    const choice = await raiseException(state, {
      reason: 'urls_still_up',
      taskId: task.id,
      org: req.org,
      detail: { urls: up, ...via },
    });
    if (choice === 'skip') {
      state.exceptions = true;
      return 'skipped';
    }
    if (state.stillUpRetries) {
      // Retry (still-up-retry runs): check at once, then re-notice what is still up under a new id and wait a whole
      // removal SLA before the next check, as the first time.
      renoticed = false;
      round += 1;
    }
  }
}
