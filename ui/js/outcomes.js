// The contract's task table: each task type's outcomes, the data each needs, and which need a comment.

/** kind: how the field is entered; the API gets RFC 3339 for datetimes, the exact decimal string typed for decimals. */
export const DATA_FIELDS = {
  terminatedAt: { label: 'Terminated at', kind: 'datetime', prefillNow: true },
  removedAt: { label: 'Removed at', kind: 'datetime', prefillNow: true },
  actionDate: { label: 'Action date (disruption waits until then; optional)', kind: 'datetime' },
  amount: { label: 'Amount frozen', kind: 'decimal' },
  currency: { label: 'Currency (ISO 4217, e.g. EUR)', kind: 'text' },
};

export const TASK_TYPES = {
  deconfliction_review: { title: 'Deconfliction review', outcomes: { proceed: {}, abort: { comment: true } } },
  verify_evidence: { title: 'Verify evidence', outcomes: { verified: {}, rejected: { comment: true } } },
  le_signoff: { title: 'Law-enforcement sign-off', outcomes: { approved: { data: ['actionDate'] }, rejected: { comment: true } } },
  confirm_termination: { title: 'Confirm termination', outcomes: { terminated: { data: ['terminatedAt'] }, declined: { comment: true } } },
  confirm_freeze: { title: 'Confirm asset freeze', outcomes: { frozen: { data: ['amount', 'currency'] }, declined: { comment: true } } },
  confirm_removal: { title: 'Confirm content removal', outcomes: { removed: { data: ['removedAt'] }, declined: { comment: true } } },
  resolve_exception: { title: 'Resolve exception', outcomes: { retry: {}, skip: {}, abort: { comment: true } } },
};

export function taskTitle(type) {
  return TASK_TYPES[type]?.title ?? type;
}
