// Words and numbers the pages share: status labels, dates, durations, and the per-step overdue estimate. The console is
// plain modules with no build, so the domain's lists are copied here; test/unit/ui-domain.test.ts keeps them equal.

export const STEP_NAMES = ['verification', 'signoff', 'termination', 'freeze', 'hosting'];
export const CASE_STATUSES = [
  'verifying',
  'awaiting_signoff',
  'disrupting',
  'completed',
  'completed_with_exceptions',
  'closed_unverified',
  'closed_rejected',
  'withdrawn',
  'failed',
];
export const OPEN_STATUSES = ['verifying', 'awaiting_signoff', 'disrupting'];
/** The new-case form's defaults: the API's own (DEFAULT_SLAS) when a plan leaves them out. */
export const SLA_DEFAULTS = { verification: '48h', signoff: '72h', termination: '10d', freeze: '96h', removal: '24h' };

/** "awaiting_signoff" → "awaiting signoff", "duplicateUrls" → "duplicate urls". */
export function label(value) {
  return String(value ?? '')
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

// Times are shown in the browser's time zone, named, since the API and its exports speak UTC.
const dateTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });

/** The browser's time zone as a short name ("UTC", "GMT+1", "CET"): date-time inputs are read in it. */
export const LOCAL_ZONE =
  new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName')?.value ?? 'local time';

/** The hint of a date-time input: read in the browser's time zone, sent in UTC. */
export const zoneHint = (optional = false) => `(${optional ? 'optional; ' : ''}your time, ${LOCAL_ZONE})`;

export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

/** "3 h 20 min", "2 d 4 h", "40 s": the two largest units. */
function formatSpan(ms) {
  const abs = Math.abs(ms);
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ];
  const parts = [];
  let rest = abs;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length === 0 && name === 's')) parts.push(`${n} ${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** "due in 3 h", "overdue by 20 min". */
export function dueText(dueAt, now = Date.now()) {
  if (!dueAt) return 'no deadline';
  const delta = Date.parse(dueAt) - now;
  return delta >= 0 ? `due in ${formatSpan(delta)}` : `overdue by ${formatSpan(delta)}`;
}

export function isOverdue(dueAt, now = Date.now()) {
  return Boolean(dueAt) && Date.parse(dueAt) < now;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a contract duration ("72h", "10d", "500ms"), or null. */
function durationMs(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(String(text ?? '').trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

// The plan's SLA that bounds each step's tasks (the hosting step's is called "removal").
export const STEP_SLA = { verification: 'verification', signoff: 'signoff', termination: 'termination', freeze: 'freeze', hosting: 'removal' };

/**
 * Steps of an open case running past their SLA, from the case alone (the board shows many cases and asks for no tasks):
 * a step in progress since startedAt + SLA. Task deadlines on the case page are the exact figures.
 */
export function overdueSteps(c, now = Date.now()) {
  if (!OPEN_STATUSES.includes(c.status)) return [];
  return (c.steps ?? []).filter((s) => {
    if (s.status !== 'in_progress' || !s.startedAt) return false;
    const sla = durationMs(c.plan?.slas?.[STEP_SLA[s.name]]);
    return sla !== null && Date.parse(s.startedAt) + sla < now;
  });
}

/** Short form of a hash for tables; the full value stays in the title and the copyable cell. */
export function shortHash(hash) {
  return hash ? `${hash.slice(0, 10)}…${hash.slice(-6)}` : '—';
}

/** A datetime-local input's value (browser local time) as RFC 3339 UTC, or undefined when empty or invalid. */
export function localInputToIso(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

/** Now as a datetime-local value, to the minute. */
export function nowLocalInput(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}T${pad(now.getHours())}:${pad(now.getMinutes())}`;
}
