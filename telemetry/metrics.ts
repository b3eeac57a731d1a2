// The Prometheus registry shared by the API and the activities: default process metrics, coalition outcome metrics, gauges read from PostgreSQL.
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ARCHIVE_DEADLINE } from '../domain/rules/deadlines';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// Takedowns are measured in hours to weeks; the small buckets keep test runs (seconds-long SLAs) visible too.
const OUTCOME_BUCKETS = [1, 5, 30, 60, 300, 900, 3_600, 4 * 3_600, 12 * 3_600, 86_400, 2 * 86_400, 4 * 86_400, 7 * 86_400, 10 * 86_400, 14 * 86_400, 30 * 86_400];

export type OutcomeKind = 'termination' | 'freeze' | 'removal';

const outcomeHistograms: Record<OutcomeKind, Histogram> = {
  termination: new Histogram({
    name: 'takedown_time_to_termination_seconds',
    help: 'Seconds from case creation to a confirmed merchant termination',
    buckets: OUTCOME_BUCKETS,
    registers: [registry],
  }),
  freeze: new Histogram({
    name: 'takedown_time_to_freeze_seconds',
    help: 'Seconds from case creation to a confirmed asset freeze',
    buckets: OUTCOME_BUCKETS,
    registers: [registry],
  }),
  removal: new Histogram({
    name: 'takedown_time_to_removal_seconds',
    help: 'Seconds from case creation to a confirmed content removal',
    buckets: OUTCOME_BUCKETS,
    registers: [registry],
  }),
};

const noticeAttempts = new Counter({
  name: 'takedown_notice_attempts_total',
  help: 'Notice delivery attempts to partner webhooks, by outcome and partner org',
  labelNames: ['outcome', 'org'] as const,
  registers: [registry],
});

export function observeOutcome(kind: OutcomeKind, seconds: number): void {
  if (Number.isFinite(seconds) && seconds >= 0) outcomeHistograms[kind].observe(seconds);
}

const httpRequests = new Histogram({
  name: 'takedown_http_request_duration_seconds',
  help: 'API answers by method, route pattern (not the path: ids stay out of labels) and status, from arrival to the last byte written',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** `route` is a route pattern such as /v1/tasks/:id, or `other` (no route matched: static files, 404s). */
export function observeHttpRequest(method: string, route: string, status: number, seconds: number): void {
  httpRequests.observe({ method: HTTP_METHODS.has(method) ? method : 'OTHER', route, status: String(status) }, seconds);
}

const inboxReads = new Counter({
  name: 'takedown_inbox_reads_total',
  help: 'Inbox requests (GET /v1/tasks) answered, by what the inbox cache did (hit: cached page, version unchanged; shared: a read in flight for another request; miss: page read from the tasks; off: no cache) and status (200, or 304 for a matching If-None-Match)',
  labelNames: ['cache', 'status'] as const,
  registers: [registry],
});

export function countInboxRead(cache: 'hit' | 'shared' | 'miss' | 'off', status: 200 | 304): void {
  inboxReads.inc({ cache, status: String(status) });
}

/**
 * At most this many orgs get a series of their own in takedown_notice_attempts_total; later ones count as `other`. The
 * orgs come from case input (a case may name any scheme, acquirer or provider), and a counter never drops a series.
 */
export const MAX_NOTICE_ORG_LABELS = 500;
const noticeOrgs = new Set<string>();

/**
 * `outcome` is a small closed set such as delivered, retry, rejected, timeout, never a URL or a partner's message; `org`
 * the partner org, so that a failing partner stands out.
 */
export function countNoticeAttempt(outcome: string, org = 'unknown'): void {
  if (!noticeOrgs.has(org) && noticeOrgs.size < MAX_NOTICE_ORG_LABELS) noticeOrgs.add(org);
  noticeAttempts.inc({ outcome, org: noticeOrgs.has(org) ? org : 'other' });
}

// The gauges are computed from PostgreSQL at scrape time, so every process reports the same truth and nothing drifts.
let gaugePool: pg.Pool | undefined;

/** Points the scrape-time gauges at a pool; the last bound pool wins (one per process in practice). */
export function bindMetricsPool(pool: pg.Pool | undefined): void {
  gaugePool = pool;
}

const SCRAPE_QUERY_TIMEOUT_MS = 3_000;

/** How long after its close a case's history should be archived by: the archive runs right after the close. */
const ARCHIVE_GRACE = '1 hour';

/** The gauges' queries: a count `n` per row, the other columns its labels. */
const GAUGE_QUERIES = {
  openTasks: `SELECT type, assignee_org AS org, count(*) AS n FROM tasks WHERE status = 'open' GROUP BY 1, 2`,
  overdueTasks: `SELECT type, assignee_org AS org, count(*) AS n FROM tasks WHERE status = 'open' AND due_at < now() GROUP BY 1, 2`,
  cases: `SELECT status, count(*) AS n FROM cases GROUP BY 1`,
  noticesInFlight: `SELECT org, state, count(*) AS n FROM notices WHERE state IN ('pending', 'retrying') GROUP BY 1, 2`,
  // A case closed by `npm run reconcile` after its workflow was gone from Temporal has no history left to archive.
  unarchived: `SELECT count(*) AS n FROM cases c
    WHERE c.closed_at < now() - interval '${ARCHIVE_GRACE}' AND NOT EXISTS (SELECT 1 FROM history_archives h WHERE h.case_id = c.id)
      AND NOT EXISTS (SELECT 1 FROM audit_entries a WHERE a.case_id = c.id AND a.event_key = 'reconcile:case.closed' AND a.data->>'workflowStatus' = 'missing')`,
};

type GaugeRow = Record<string, string> & { n: string };
/** One scrape's readings: each query's rows, or null where it failed. */
type Readings = Record<keyof typeof GAUGE_QUERIES, GaugeRow[] | null>;

async function scrapeQuery(pool: pg.Pool, text: string): Promise<GaugeRow[] | null> {
  try {
    const res = await pool.query<GaugeRow>({ text, query_timeout: SCRAPE_QUERY_TIMEOUT_MS } as pg.QueryConfig);
    return res.rows;
  } catch {
    // A scrape must not fail because the database blinked: the gauges are simply absent this time.
    return null;
  }
}

let reading: Promise<Readings | undefined> | undefined;

/**
 * The readings of the scrape under way (undefined without a pool). A scrape runs every gauge's collect() at once, so the
 * first starts the queries and the others, takedown_db_scrape_failed included, share them; the next scrape reads again.
 */
function readDatabase(): Promise<Readings | undefined> {
  const pool = gaugePool;
  if (!pool) return Promise.resolve(undefined);
  reading ??= (async () => {
    const keys = Object.keys(GAUGE_QUERIES) as (keyof typeof GAUGE_QUERIES)[];
    const rows = await Promise.all(keys.map((k) => scrapeQuery(pool, GAUGE_QUERIES[k])));
    return Object.fromEntries(keys.map((k, i) => [k, rows[i]])) as Readings;
  })().finally(() => {
    reading = undefined;
  });
  return reading;
}

/**
 * Shows this scrape's rows in `gauge`, or nothing where its query failed: the last values that were read must not be
 * shown as current (an alert on overdue tasks would keep firing, or stay quiet, on a database it cannot read).
 */
function showRows<L extends string>(gauge: Gauge<L>, rows: GaugeRow[] | null | undefined, labels: (r: GaugeRow) => Partial<Record<L, string>>): void {
  clear(gauge);
  for (const r of rows ?? []) gauge.set(labels(r), Number(r.n));
}

/** Empties a gauge: reset() leaves one without labels at 0, which would read as a count of none. */
function clear<L extends string>(gauge: Gauge<L>): void {
  gauge.reset();
  gauge.remove({});
}

new Gauge({
  name: 'takedown_db_pool_connections',
  help: "This process's PostgreSQL pool: connections open (total), idle, and requests waiting for one",
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    if (!gaugePool) return;
    this.set({ state: 'total' }, gaugePool.totalCount);
    this.set({ state: 'idle' }, gaugePool.idleCount);
    this.set({ state: 'waiting' }, gaugePool.waitingCount);
  },
});

new Gauge({
  name: 'takedown_db_scrape_failed',
  help: 'Whether this scrape could not read PostgreSQL (1) for a gauge computed from it, which is then absent, or read every one (0)',
  registers: [registry],
  async collect() {
    const readings = await readDatabase();
    clear(this);
    if (readings) this.set(Object.values(readings).includes(null) ? 1 : 0);
  },
});

/**
 * A gauge computed from one of GAUGE_QUERIES at every scrape: one series per row, its labels the row's columns of the
 * same names (the queries name their columns so), its value the row's count.
 */
function databaseGauge<L extends string>(name: string, help: string, query: keyof typeof GAUGE_QUERIES, labelNames: readonly L[]): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      showRows(this, (await readDatabase())?.[query], (r) => Object.fromEntries(labelNames.map((l) => [l, r[l]])) as Partial<Record<L, string>>);
    },
  });
}

databaseGauge('takedown_open_tasks', 'Open tasks by type and assignee org', 'openTasks', ['type', 'org']);
databaseGauge('takedown_overdue_tasks', 'Open tasks past their due time by type and assignee org', 'overdueTasks', ['type', 'org']);
databaseGauge('takedown_cases', 'Cases by status', 'cases', ['status']);
databaseGauge(
  'takedown_notices_in_flight',
  "Notices still being delivered, by partner org and state (pending: not yet attempted or under way; retrying: an attempt failed and another is due): every process's, read from PostgreSQL, where takedown_notice_attempts_total counts one process's attempts",
  'noticesInFlight',
  ['org', 'state'],
);
databaseGauge(
  'takedown_closed_cases_without_archive',
  `Cases closed more than ${ARCHIVE_GRACE} ago whose Temporal history is not archived in PostgreSQL: the archive gave up (it retries for ${ARCHIVE_DEADLINE}) and the history goes with Temporal's retention`,
  'unarchived',
  [],
);

/** The text exposition of every metric, with the PostgreSQL gauges read from `pool`. */
export async function renderMetrics(pool?: pg.Pool): Promise<{ contentType: string; body: string }> {
  if (pool) bindMetricsPool(pool);
  return { contentType: registry.contentType, body: await registry.metrics() };
}
