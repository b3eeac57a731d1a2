// Activity proxies with their timeouts and retry policies: projection writes retry fast and forever, notices back off for days.
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { TakedownActivities } from '../activities/types';
import { ARCHIVE_DEADLINE, NOTICE_ATTEMPT_TIMEOUT, NOTICE_DEADLINE, NOTICE_RETRY } from '../domain/rules/deadlines';

/** PostgreSQL writes: short, idempotent, retried until the database is back. */
export const store = proxyActivities<TakedownActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * The same PostgreSQL writes as local activities (since the lean-projections patch): run by the worker that runs the
 * workflow, without a round trip through the server per write; a long outage falls back to timer-backed retries. Each
 * of those adds about 5 events to the case's history (a timer started and fired, a workflow task), and nothing ends a
 * database outage's retries: at most one every 5 minutes, a case outlives four weeks of outage before Temporal's 51,200
 * events a history (every 30 s, it failed after about 3.5 days); the price is a write up to 5 minutes late after a long
 * outage ends. The retry policy is not part of what replay compares.
 */
export const LOCAL_STORE_OPTIONS = {
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5m' },
} as const satisfies LocalActivityOptions;
export const localStore = proxyLocalActivities<TakedownActivities>(LOCAL_STORE_OPTIONS);

/**
 * Notice delivery: exponential backoff, unlimited attempts within a week; a final 4xx is non-retryable, and so is the
 * last attempt's transient failure (sendNotice's `lastAttempt`, from this policy), recorded as retries exhausted.
 */
export const NOTICE_OPTIONS = {
  startToCloseTimeout: NOTICE_ATTEMPT_TIMEOUT,
  scheduleToCloseTimeout: NOTICE_DEADLINE,
  retry: { ...NOTICE_RETRY, nonRetryableErrorTypes: ['PartnerRejected', 'IncompleteDocument'] },
} as const satisfies ActivityOptions;
export const notices = proxyActivities<TakedownActivities>(NOTICE_OPTIONS);

/**
 * Checks of notified URLs. A check answers for every URL by its own deadline, whatever the hosts do (one that cannot be
 * reached counts as down): an attempt fails only when its worker stops or dies under it. So it is retried until a
 * worker finishes it, as the projection writes are; with a cap of 5 attempts, five workers stopping or crashing under
 * one check (a rolling restart, a crash loop) failed the whole case and sent its partners withdrawal notices. The
 * retry policy is the schedule's, not part of what replay compares: histories recorded with the cap replay unchanged.
 */
export const checks = proxyActivities<TakedownActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Archiving waits for the case workflow to close, so it retries for a long while. */
export const archive = proxyActivities<TakedownActivities>({
  startToCloseTimeout: '2m',
  scheduleToCloseTimeout: ARCHIVE_DEADLINE,
  retry: { initialInterval: '1s', backoffCoefficient: 1.5, maximumInterval: '1m' },
});
