// Deadlines the workflows and the settings must agree on, kept in one place both may import.

/**
 * How long one notice delivery attempt may run: the notice activity's start-to-close timeout (workflows/activities.ts,
 * `notices`). TAKEDOWN_NOTICE_TIMEOUT must stay under it (scripts/config.ts); test/unit/activity-deadlines.test.ts checks
 * that the activity is configured with it.
 */
export const NOTICE_ATTEMPT_TIMEOUT = '60s';
