// Deadlines the workflows and the settings must agree on, kept in one place both may import.

/**
 * How long one notice delivery attempt may run: the notice activity's start-to-close timeout (workflows/activities.ts,
 * `notices`). TAKEDOWN_NOTICE_TIMEOUT must stay under it (scripts/config.ts); test/unit/activity-deadlines.test.ts checks
 * that the activity is configured with it.
 */
export const NOTICE_ATTEMPT_TIMEOUT = '60s';

/** How long a notice is retried before it has failed for good (the notice activity's schedule-to-close timeout). */
export const NOTICE_DEADLINE = '7d';

/** The notice activity's backoff between attempts (workflows/activities.ts); sendNotice reads it to know its last attempt. */
export const NOTICE_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m' } as const;

/**
 * How long the archive waits for its case's run to close. A closed case's run stays open until the withdrawal notices
 * it still delivers are delivered or have failed for good, so the archive must outwait them: with two days it gave up
 * on a run still waiting for a partner whose webhook was down, and that history was never archived. Each such notice
 * is two notice activities one after the other (prepared, then sent), each with NOTICE_DEADLINE: up to two of them,
 * and a day to spare for the settle that follows (a database outage). The metric of cases closed without an archive
 * (telemetry/metrics.ts) names a run it still outlived.
 */
export const ARCHIVE_DEADLINE = '15d';
