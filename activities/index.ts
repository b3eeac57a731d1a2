// createActivities(deps): every activity the workflows call, bound to this process's PostgreSQL pool, Temporal client and settings.
import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import { appendWorkflowAudit } from '../db/queries/audit';
import { ApplicationFailure } from '@temporalio/common';
import { countNoticeAttempt, observeOutcome as observeOutcomeMetric } from '../telemetry/metrics';
import { findConflicts, recordCase, recordTask } from './cases';
import { archiveHistory } from './history';
import { isLastAttempt, prepareNotice, sendNotice, settleNotices } from './notices';
import type { TakedownActivities } from './types';
import { checkUrls } from './url-checks';

export interface ActivityDeps {
  pool: pg.Pool;
  /** Needed by archiveHistory only; a worker without it cannot archive. */
  temporal?: Client;
  notices: { timeoutMs: number; allowPrivate: boolean; httpsOnly?: boolean };
  urlChecks: { timeoutMs: number; allowPrivate: boolean };
}

export function createActivities(deps: ActivityDeps): TakedownActivities {
  const noticeDeps = { pool: deps.pool, ...deps.notices };
  return {
    recordCase: (args) => recordCase(deps.pool, args),
    recordTask: (args) => recordTask(deps.pool, args),
    findConflicts: (args) => findConflicts(deps.pool, args),
    appendAudit: async ({ caseId, entries, fence, caseView }) => {
      if (caseView) await recordCase(deps.pool, { ...caseView, audit: entries, fence });
      else await appendWorkflowAudit(deps.pool, caseId, entries, fence);
    },
    prepareNotice: (args) =>
      prepareNotice(noticeDeps, {
        noticeId: args.noticeId,
        type: args.type,
        caseId: args.caseId,
        taskId: args.taskId,
        org: args.org,
        context: {
          type: args.type,
          ...(args.view ? { caseView: args.view } : {}),
          org: args.org,
          scope: args.scope,
          taskId: args.taskId,
          dueAt: args.dueAt,
          extra: args.extra,
          issuedAt: new Date().toISOString(),
        },
        supersedes: args.supersedes,
      }),
    sendNotice: async (args) => {
      try {
        const { info, cancellationSignal } = Context.current();
        // Judged when the attempt fails, as Temporal judges whether to retry it then.
        const lastAttempt = () => isLastAttempt(info, Date.now());
        const result = await sendNotice(noticeDeps, { noticeId: args.noticeId, attempt: info.attempt, signal: cancellationSignal, lastAttempt });
        countNoticeAttempt(result.delivered ? (result.reason ?? 'delivered') : (result.reason ?? 'skipped'), args.org);
        return result;
      } catch (err) {
        countNoticeAttempt(err instanceof ApplicationFailure && err.nonRetryable ? 'final' : 'retry', args.org);
        throw err;
      }
    },
    settleNotices: (args) => settleNotices(deps.pool, args),
    checkUrls: (args) => checkUrls(deps.urlChecks, args.urls, Context.current().cancellationSignal),
    observeOutcome: async ({ kind, seconds }) => observeOutcomeMetric(kind, seconds),
    archiveHistory: (args) => {
      if (!deps.temporal) throw new Error('this worker has no Temporal client for archiving');
      return archiveHistory(deps.pool, deps.temporal, args);
    },
  };
}
