// Patch ids for workflow changes; every change keeps recorded histories replaying (see test/histories).
export const PATCHES = {
  /** Closing a case marks notices still being retried as abandoned (histories before it have no such activity). */
  settleNoticesAtClose: 'settle-notices-at-close',
} as const;
