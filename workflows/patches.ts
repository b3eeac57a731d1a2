// Patch ids for workflow changes; every change keeps recorded histories replaying (see test/histories).
export const PATCHES = {
  /** Closing a case marks notices still being retried as abandoned (histories before it have no such activity). */
  settleNoticesAtClose: 'settle-notices-at-close',
  /**
   * Projection and audit writes run as local activities; opening a task writes task and case in one call; outcome
   * metrics are observed by that write instead of an activity of their own; notices are settled at close (it implies
   * settleNoticesAtClose, whose marker such runs do not write). Read once, before the first command of a run.
   */
  leanProjections: 'lean-projections',
} as const;
