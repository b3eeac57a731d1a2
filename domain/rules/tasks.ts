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

// RFC 3339 (section 5.6) lets "T" and "Z" be written in lower case too; toUtc writes them upper-case.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const FULL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CURRENCY = /^[A-Z]{3}$/;
/** A decimal amount written as a string: digits, optionally a point and more digits ("1250.00"); no sign, blanks or exponent. */
const DECIMAL_AMOUNT = /^\d+(?:\.\d+)?$/;
const DAY_MS = 86_400_000;
/** How far ahead a sign-off's actionDate may lie: beyond it, a case would wait for years on a typo. */
export const MAX_ACTION_DATE_AHEAD_DAYS = 366;
/** How far ahead of this server's clock a reported termination or removal may lie (the partner's clock may run ahead). */
export const MAX_DONE_AHEAD_MINUTES = 15;
/** The earliest time a termination or removal may be reported for: nothing Takedown asks for was done before it. */
export const EARLIEST_DONE_AT = '2000-01-01T00:00:00Z';
/**
 * Completion fields that report something already done: from EARLIEST_DONE_AT to now (give or take
 * MAX_DONE_AHEAD_MINUTES). `frozen` reports an amount and currency, no time.
 */
export const DONE_TIME_FIELDS = ['terminatedAt', 'removedAt'] as const;
const DONE_RANGE_MESSAGE = `must lie from ${EARLIEST_DONE_AT} to ${MAX_DONE_AHEAD_MINUTES} minutes from now: when it was done, not when it will be`;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Does this year, month (1-12) and day exist on the (proleptic Gregorian) calendar? */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  return Number.isInteger(year) && year >= 0 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Milliseconds since the epoch of a UTC calendar date and time; years 0-99 too (Date.UTC would read them as 1900-1999). */
function utcMillis(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

/**
 * The instant an RFC 3339 date-time names, in ms since the epoch, or null when it is not one: the form
 * `YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)` with a day that exists (no 2026-02-31), hour <= 23, minute and second <= 59 (no
 * leap seconds) and an offset below 24h. Date.parse alone rolls impossible dates over into the next month.
 */
export function rfc3339Millis(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return utcMillis(year, month, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/**
 * An audit export bound (`from`, `to`) in ms since the epoch, or null when it is not an RFC 3339 date-time. Entries'
 * times have milliseconds, so a bound between two milliseconds is raised to the next one: `from` (inclusive) then starts
 * after the entries before it, and `to` (exclusive) still takes the entries of its own millisecond, which lie before it.
 * The API's check that a range is not empty and the export's SQL both take the bounds so.
 */
export function exportBoundMillis(value: unknown): number | null {
  const ms = rfc3339Millis(value);
  if (ms === null) return null;
  const finer = /\.\d{3}(\d+)/.exec(value as string)?.[1] ?? '';
  return /[1-9]/.test(finer) ? ms + 1 : ms;
}

export function isRfc3339(value: unknown): value is string {
  return rfc3339Millis(value) !== null;
}

/**
 * The contract's times are UTC: a valid date-time given with an offset becomes the same instant in UTC (milliseconds,
 * `Z`), as does one written with a lower-case `t` or `z`; one already in UTC, or anything that is not a date-time (left to
 * validation), is returned as it is.
 */
export function toUtc<T>(value: T): T | string {
  if (typeof value !== 'string' || (value.endsWith('Z') && !value.includes('t'))) return value;
  const ms = rfc3339Millis(value);
  // An instant outside years 0000-9999 in UTC (0000-01-01T00:30:00+01:00 is in year -1) has no RFC 3339 form: it is left
  // as given, for validation to refuse by its range, not as a malformed date-time (toISOString would write -000001-...).
  if (ms === null || ms < MIN_WRITABLE_MS || ms > MAX_STORABLE_MS) return value;
  const iso = new Date(ms).toISOString();
  // A Date holds milliseconds; digits written beyond them are kept as written (an offset is whole minutes, and the
  // milliseconds were cut, not rounded, so the whole seconds are those of the instant).
  const fraction = RFC3339.exec(value)?.[7];
  return fraction !== undefined && fraction.length > 3 ? `${iso.slice(0, 19)}.${fraction}Z` : iso;
}

/** The earliest and latest instants PostgreSQL's timestamptz takes as ISO text (years 0001-9999, UTC). */
export const MIN_STORABLE_MS = utcMillis(1, 1, 1);
export const MAX_STORABLE_MS = utcMillis(9999, 12, 31, 23, 59, 59, 999);
/** The earliest instant RFC 3339 can write in UTC (year 0000). */
const MIN_WRITABLE_MS = utcMillis(0, 1, 1);
const EARLIEST_DONE_MS = utcMillis(2000, 1, 1);

/** The completion `data` fields that hold date-times. */
export const COMPLETION_TIME_FIELDS = ['terminatedAt', 'removedAt', 'actionDate'] as const;

/** A completion's data with its date-times in UTC (see toUtc); other fields untouched. */
export function completionDataInUtc(data: Record<string, unknown>): Record<string, unknown> {
  const out = { ...data };
  for (const field of COMPLETION_TIME_FIELDS) if (field in out) out[field] = toUtc(out[field]);
  return out;
}

/** An RFC 3339 full-date (`YYYY-MM-DD`) that exists on the calendar. */
export function isFullDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = FULL_DATE.exec(value);
  return m !== null && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}


/** An RFC 3339 date-time whose instant lies in years 0001-9999 UTC, so PostgreSQL can compare it with timestamptz columns. */
export function isStorableRfc3339(value: unknown): value is string {
  const ms = rfc3339Millis(value);
  return ms !== null && ms >= MIN_STORABLE_MS && ms <= MAX_STORABLE_MS;
}

/**
 * An amount is a finite non-negative JSON number up to 2^53 - 1, or a string holding a plain decimal number such as
 * "1250.00". A larger JSON number has already lost digits when it is parsed (12345678901234567890 reads as
 * 12345678901234567000), so it is refused rather than stored altered; the decimal string keeps every digit.
 */
function amountError(amount: unknown): string | null {
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount) || amount < 0) return 'must be a non-negative number';
    return amount <= Number.MAX_SAFE_INTEGER ? null : 'is too large for a JSON number to hold exactly: send it as a decimal string such as "12345678901234567890.00"';
  }
  if (typeof amount === 'string') {
    return DECIMAL_AMOUNT.test(amount) && Number.isFinite(Number(amount)) ? null : 'must be a non-negative number, or a decimal string such as "1250.00"';
  }
  return 'must be a non-negative number';
}

/**
 * Checks an outcome's `data` fields; returns per-field errors (empty when fine). Pure: `now` (ms since the epoch) bounds how
 * far ahead an actionDate may lie; inside a workflow Date.now() is the workflow's deterministic time.
 */
export function validateOutcome(type: TaskType, c: Pick<TaskCompletion, 'outcome' | 'data' | 'comment'>, now: number = Date.now()): FieldErrors {
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
  // Ranges are judged on the instant (in UTC), never on the year as written: an offset does not move a time in or out.
  for (const field of COMPLETION_TIME_FIELDS) {
    if (data[field] === undefined) continue;
    const at = rfc3339Millis(data[field]);
    if (at === null) errors[`data.${field}`] = 'must be an RFC 3339 date-time';
    else if (at < MIN_STORABLE_MS || at > MAX_STORABLE_MS) errors[`data.${field}`] = 'must be an RFC 3339 date-time in years 0001-9999 (UTC)';
  }
  if (data.actionDate !== undefined && !errors['data.actionDate']) {
    const at = rfc3339Millis(data.actionDate);
    if (at !== null && at > now + MAX_ACTION_DATE_AHEAD_DAYS * DAY_MS) {
      errors['data.actionDate'] = `must be at most ${MAX_ACTION_DATE_AHEAD_DAYS} days from now`;
    }
  }
  // What a partner reports as done cannot have happened later than now: a date in the future would stand in the audit
  // chain as a fact. One in the past is taken (a shop may have been closed before the notice reached its host), back to
  // EARLIEST_DONE_AT: before it is a typo (0000-01-01...), not a fact. One range, one message, whichever side is missed.
  for (const field of DONE_TIME_FIELDS) {
    const at = data[field] === undefined ? null : rfc3339Millis(data[field]);
    if (at !== null && (at < EARLIEST_DONE_MS || at > now + MAX_DONE_AHEAD_MINUTES * 60_000)) errors[`data.${field}`] = DONE_RANGE_MESSAGE;
  }
  if (data.amount !== undefined && !errors['data.amount']) {
    const problem = amountError(data.amount);
    if (problem) errors['data.amount'] = problem;
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
  now: number = Date.now(),
): RuleViolation | null {
  const violation = checkActor(task, actor, c, facts);
  if (violation || !task) return violation;
  return checkOutcome(task, c, now);
}

/** The data rules alone (422), for a caller that has passed checkActor already. */
export function checkOutcome(task: Pick<Task, 'type'>, c: Pick<TaskCompletion, 'outcome' | 'data' | 'comment'>, now: number = Date.now()): RuleViolation | null {
  const errors = validateOutcome(task.type, c, now);
  if (Object.keys(errors).length > 0) return { kind: 'invalid', detail: 'the completion does not fit the task', errors };
  return null;
}
