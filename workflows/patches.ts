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
  /**
   * A run's local activities (its PostgreSQL writes and reads) run one at a time, in the order the workflow asks for
   * them (see CaseState.oneAtATime): with several in flight, a replay could hand their results over in other
   * groupings than the original run and fail as non-deterministic (found by the fault suite: two completions and a
   * withdrawal accepted together). Read once, right after leanProjections, in runs that have it.
   */
  serialLocalActivities: 'serial-local-activities',
  /**
   * A step's bookkeeping that the same flow follows with another write before any wait (a step finished, the status
   * changed, the next step started, the automatic checks audited, then a task opened) is staged and carried by that
   * write: one local activity instead of up to four, so an answered completion no longer waits for them all. Writes
   * of these runs are not cancellable half-way. Read once, after serialLocalActivities, in runs that have it.
   */
  stagedStepWrites: 'staged-step-writes',
  /**
   * One marker for all of the above: a run with it has leanProjections, serialLocalActivities and stagedStepWrites
   * without their markers (each marker comes with an upsert of TemporalChangeVersion, so three became one). Such a run
   * also leaves its search attributes alone at intake when its start set them all equal (the API's start does: see
   * caseSearchAttributes), one upsert fewer. Read first, before the others, which runs without it still read.
   */
  startAttributes: 'start-attributes',
  /**
   * The disruption opens its partner tasks in one write, which also carries the status and the steps' starts: one
   * local activity instead of one per partner plus one for the status, so an answered sign-off no longer waits for
   * them all (an update is answered when its workflow task completes, after every local activity it started). A run
   * with it has startAttributes and everything before without their markers. Read first, before startAttributes.
   */
  batchedOpenings: 'batched-openings',
  /**
   * A completion of verify_evidence or le_signoff is written by the next write of the flow waiting for it (the next
   * step's task, or the step's end), not by a local activity of its own: the answered update waits for one write
   * instead of two. Other tasks' completions are written as before. A run with it has batchedOpenings and everything
   * before without their markers. Read first, before batchedOpenings.
   */
  carriedCompletions: 'carried-completions',
  /**
   * A reminder, or the re-notice after a removal whose URLs are still up, that the partner refuses with a final 4xx raises
   * a resolve_exception for the case lead, as a refused request does (the contract: any other 4xx is final, the case lead
   * gets a resolve_exception task); runs before it only audited the refusal. A run with it has carriedCompletions and
   * everything before without their markers. Read first, before carriedCompletions.
   */
  refusedReminders: 'refused-reminders',
  /**
   * A withdrawal accepted before the case's flow ends makes the case end withdrawn, whatever the flow's own ending (a
   * withdrawal that came in as the last partner task was completed used to be recorded and then ignored, the case ending
   * completed); once the flow has ended, the case is closing and a withdrawal is refused. A run with it has
   * refusedReminders and everything before without their markers. Read first, before refusedReminders.
   */
  withdrawalWins: 'withdrawal-wins',
  /**
   * A partner's task settles what the case lead was asked about it: completed while its resolve_exception (no answer,
   * refused notice) is open, the exception is cancelled and the request counts as answered, instead of waiting for the
   * case lead. A partner whose request the case lead skips gets a withdrawal notice for it at once; at close it is not
   * told again, and an org with nothing left to withdraw or confirm gets no closing notice. A run with it has
   * withdrawalWins and everything before without their markers. Read first, before withdrawalWins.
   */
  partnerClosure: 'partner-closure',
  /**
   * A skipped request's withdrawal notice is sent even when the skip was the last thing the case waited for (the run
   * used to end while the notice was only scheduled, so it was never sent): the case is closed as before, and the run
   * then waits for the notice before it ends, which the close's settling leaves alone. At a withdrawal or failure, a
   * skipped request's notice still being delivered is cancelled, not waited for, and the closing notice to its org
   * withdraws that request again, as it does one whose notice was refused. A run with it has partnerClosure and
   * everything before without their markers. Read first, before partnerClosure.
   */
  skipNotices: 'skip-notices',
  /**
   * A refused notice (a request or a reminder the partner refused with a final 4xx) that the case lead answers `retry`
   * is sent again with a new deadline cycle on the same task (task.extended, a new dueAt), as a retried no-response is:
   * runs before it re-sent the request with the old dueAt, long past when the case lead took a while, so the task was
   * escalated at once and a no_response exception followed. A run with it has skipNotices and everything before without
   * their markers. Read first, before skipNotices.
   */
  refusedRetryCycle: 'refused-retry-cycle',
  /**
   * When one partner request fails the case (the case lead aborts on its exception, or it throws), the other requests
   * running beside it are cancelled and waited for before the case closes, as a withdrawal cancels them: none of them
   * goes on into the close (a URL check, a re-notice, a resolve_exception left open on the closed case, an exception
   * cancelled as "settled: the partner completed its task" because the close cancelled the partner's task). A flow
   * whose scope is cancelled opens no task. A run with it has refusedRetryCycle and everything before without their
   * markers. Read first, before refusedRetryCycle.
   */
  stopSiblings: 'stop-siblings',
  /**
   * A `urls_still_up` exception the case lead answers `retry` asks the host again: the URLs are checked at once (they
   * may be down by now), and those still up get a new re-notice (a new id) and a whole removal SLA before the next check
   * and the next exception, as a first re-notice does. Runs before it checked once more at once and, the URLs still up,
   * raised the next exception straight away, so a retry could not give the host more time. A run with it has
   * stopSiblings and everything before without their markers. Read first, before stopSiblings.
   */
  stillUpRetry: 'still-up-retry',
  /**
   * A withdrawn or failed case is closed (its status written, its history archived) before its withdrawal notices are
   * delivered, and the run then waits for them before it ends, as it waits for a skipped request's notice: runs before
   * it delivered them first, so one partner whose webhook was down kept the case open (`disrupting`, no `closedAt`, in
   * lists and in deconfliction) for up to the notices' week of retries. A run with it has stillUpRetry and everything
   * before without their markers. Read first, before stillUpRetry.
   */
  closeFirst: 'close-first',
} as const;
