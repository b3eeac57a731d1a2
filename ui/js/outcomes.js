// The contract's task table: each task type's outcomes, the data each needs, and which need a comment.

/** The tasks a partner org is asked by a formal request, whose document it reads on the task (domain PARTNER_TASK_TYPES). */
export const PARTNER_TASK_TYPES = ['confirm_termination', 'confirm_freeze', 'confirm_removal'];

/** kind: how the field is entered; the API gets RFC 3339 for datetimes, the exact decimal string typed for decimals. */
export const DATA_FIELDS = {
  terminatedAt: { label: 'Terminated at', kind: 'datetime', prefillNow: true },
  removedAt: { label: 'Removed at', kind: 'datetime', prefillNow: true },
  actionDate: { label: 'Action date (disruption waits until then; optional)', kind: 'datetime' },
  amount: { label: 'Amount frozen', kind: 'decimal' },
  currency: { label: 'Currency (ISO 4217, e.g. EUR)', kind: 'text' },
};

/**
 * Per outcome: `data` it needs, whether it needs a `comment`, a `help` line shown beside it, and a `confirm` question asked
 * before an outcome that ends the whole case.
 */
export const TASK_TYPES = {
  deconfliction_review: {
    title: 'Deconfliction review',
    outcomes: {
      proceed: { help: 'no conflict: the case goes on to evidence verification' },
      abort: { comment: true, help: 'another operation takes precedence: the case ends withdrawn', confirm: 'Abort this case? It ends withdrawn; this cannot be undone.' },
    },
  },
  verify_evidence: { title: 'Verify evidence', outcomes: { verified: {}, rejected: { comment: true } } },
  le_signoff: { title: 'Law-enforcement sign-off', outcomes: { approved: { data: ['actionDate'] }, rejected: { comment: true } } },
  confirm_termination: { title: 'Confirm termination', outcomes: { terminated: { data: ['terminatedAt'] }, declined: { comment: true } } },
  confirm_freeze: { title: 'Confirm asset freeze', outcomes: { frozen: { data: ['amount', 'currency'] }, declined: { comment: true } } },
  confirm_removal: { title: 'Confirm content removal', outcomes: { removed: { data: ['removedAt'] }, declined: { comment: true } } },
  resolve_exception: {
    title: 'Resolve exception',
    outcomes: {
      retry: { help: 'ask the partner again (after its registration or webhook was put right)' },
      skip: { help: 'go on without this partner: it is sent a withdrawal notice, and its step ends skipped' },
      abort: { comment: true, help: 'end the whole case as failed, with open tasks cancelled', confirm: 'Abort the whole case? It ends failed and its open tasks are cancelled; this cannot be undone.' },
    },
  },
};

export function taskTitle(type) {
  return TASK_TYPES[type]?.title ?? type;
}
