// Who may complete which task with which outcome: the rules the workflow's update validator and the API share.
import type { Actor, Role, Task, TaskCompletion, TaskType } from '../types';

export interface OutcomeRule {
  /** Fields `data` must carry for this outcome. */
  required: string[];
  /** A non-empty comment is mandatory. */
  needsComment: boolean;
  positive: boolean;
}

export const OUTCOMES: Record<TaskType, Record<string, OutcomeRule>> = {
  deconfliction_review: {
    proceed: { required: [], needsComment: false, positive: true },
    abort: { required: [], needsComment: true, positive: false },
  },
  verify_evidence: {
    verified: { required: [], needsComment: false, positive: true },
    rejected: { required: [], needsComment: true, positive: false },
  },
  le_signoff: {
    approved: { required: [], needsComment: false, positive: true },
    rejected: { required: [], needsComment: true, positive: false },
  },
  confirm_termination: {
    terminated: { required: ['terminatedAt'], needsComment: false, positive: true },
    declined: { required: [], needsComment: true, positive: false },
  },
  confirm_freeze: {
    frozen: { required: ['amount', 'currency'], needsComment: false, positive: true },
    declined: { required: [], needsComment: true, positive: false },
  },
  confirm_removal: {
    removed: { required: ['removedAt'], needsComment: false, positive: true },
    declined: { required: [], needsComment: true, positive: false },
  },
  resolve_exception: {
    retry: { required: [], needsComment: false, positive: true },
    skip: { required: [], needsComment: false, positive: false },
    abort: { required: [], needsComment: true, positive: false },
  },
};

export type FieldErrors = Record<string, string>;

export type RuleViolation =
  | { kind: 'not_found'; detail: string }
  | { kind: 'forbidden'; detail: string }
  | { kind: 'not_open'; detail: string }
  | { kind: 'invalid'; detail: string; errors: FieldErrors };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const CURRENCY = /^[A-Z]{3}$/;

export function isRfc3339(value: unknown): value is string {
  return typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/** Checks an outcome's `data` fields; returns per-field errors (empty when fine). */
export function validateOutcome(type: TaskType, c: Pick<TaskCompletion, 'outcome' | 'data' | 'comment'>): FieldErrors {
  const errors: FieldErrors = {};
  const rules = OUTCOMES[type];
  const rule = Object.prototype.hasOwnProperty.call(rules, c.outcome) ? rules[c.outcome] : undefined;
  if (!rule) {
    errors.outcome = `must be one of ${Object.keys(rules).join(', ')}`;
    return errors;
  }
  const data = c.data ?? {};
  for (const field of rule.required) {
    if (data[field] === undefined || data[field] === null || data[field] === '') errors[`data.${field}`] = 'is required';
  }
  for (const field of ['terminatedAt', 'removedAt', 'actionDate']) {
    if (data[field] !== undefined && !isRfc3339(data[field])) errors[`data.${field}`] = 'must be an RFC 3339 date-time';
  }
  if (data.amount !== undefined) {
    const amount = typeof data.amount === 'string' ? Number(data.amount) : data.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) errors['data.amount'] = 'must be a non-negative number';
  }
  if (data.currency !== undefined && (typeof data.currency !== 'string' || !CURRENCY.test(data.currency))) {
    errors['data.currency'] = 'must be an ISO 4217 code such as EUR';
  }
  if (rule.needsComment && (typeof c.comment !== 'string' || c.comment.trim() === '')) {
    errors.comment = `is required for outcome ${c.outcome}`;
  }
  return errors;
}

export function isPositiveOutcome(type: TaskType, outcome: string): boolean {
  return OUTCOMES[type][outcome]?.positive ?? false;
}

/** May this principal act on this task at all (org and role)? */
export function mayActOn(actor: Actor, task: Pick<Task, 'assignee' | 'roles'>): boolean {
  if (actor.org !== task.assignee.org) return false;
  return task.roles.some((r: Role) => actor.roles.includes(r));
}

export interface FourEyesFacts {
  createdBy: string;
  verifiedBy: string | null;
}

/** The four-eyes rules: the case's creator may not verify or sign off; the verifier may not sign off. */
export function fourEyesViolation(actor: Actor, taskType: TaskType, facts: FourEyesFacts): string | null {
  if ((taskType === 'verify_evidence' || taskType === 'le_signoff') && actor.id === facts.createdBy) {
    return 'the principal that created the case may not complete its verification or sign-off';
  }
  if (taskType === 'le_signoff' && facts.verifiedBy !== null && actor.id === facts.verifiedBy) {
    return 'the principal that verified the evidence may not sign it off';
  }
  return null;
}

/**
 * The checks that depend on the task's state and the actor, not on the completion's data (404, 403, 409, four-eyes): what
 * may change between an update's validation and its handler, so the handler checks these again, and only these (data
 * rules may grow stricter without changing what a replayed handler does with a completion accepted before).
 */
export function checkActor(task: Task | undefined, actor: Actor, c: Pick<TaskCompletion, 'taskId'>, facts: FourEyesFacts): RuleViolation | null {
  if (!task) return { kind: 'not_found', detail: `task ${c.taskId} is not on this case` };
  if (!mayActOn(actor, task)) return { kind: 'forbidden', detail: `task ${task.id} is assigned to ${task.assignee.org}/${task.roles.join('|')}` };
  if (task.status !== 'open') return { kind: 'not_open', detail: `task ${task.id} is ${task.status}` };
  const fourEyes = fourEyesViolation(actor, task.type, facts);
  if (fourEyes) return { kind: 'forbidden', detail: fourEyes };
  return null;
}

/** Every check a completion must pass, in the order the contract ranks them (404, 409, 403, 422). */
export function checkCompletion(
  task: Task | undefined,
  actor: Actor,
  c: TaskCompletion,
  facts: FourEyesFacts,
): RuleViolation | null {
  const violation = checkActor(task, actor, c, facts);
  if (violation || !task) return violation;
  const errors = validateOutcome(task.type, c);
  if (Object.keys(errors).length > 0) return { kind: 'invalid', detail: 'the completion does not fit the task', errors };
  return null;
}
