// Task reads on named raw statements: rows shaped as drizzle's for the completion rules, and the inbox page, whose tasks' JSON is stored beside each row (tasks.doc, migration 0007) and sent on as it is.
import { getTableColumns } from 'drizzle-orm';
import type pg from 'pg';
import type { TaskStatus, TaskType } from '../../domain/types';
import { prepared } from '../client';
import { tasks } from '../schema';

export type TaskRow = typeof tasks.$inferSelect;

/** Every column of `tasks` under its schema (camelCase) name: raw statements return rows shaped as drizzle's. */
const TASK_ROW = Object.entries(getTableColumns(tasks))
  .map(([key, col]) => `t.${col.name} AS "${key}"`)
  .join(', ');

/** One task by id. */
export async function taskById(pool: pg.Pool, taskId: string): Promise<TaskRow | undefined> {
  return (await pool.query<TaskRow>(prepared(`SELECT ${TASK_ROW} FROM tasks t WHERE t.id = $1`, [taskId]))).rows[0];
}

/** One task with the two facts of its case that the completion rules need (four eyes), in one named statement. */
export async function taskWithFacts(pool: pg.Pool, taskId: string): Promise<{ row: TaskRow; facts: { createdBy: string; verifiedBy: string | null } } | undefined> {
  const { rows } = await pool.query<TaskRow & { caseCreatedBy: string | null; caseVerifiedBy: string | null }>(
    prepared(
      `SELECT ${TASK_ROW}, c.view->>'createdBy' AS "caseCreatedBy", c.view->>'verifiedBy' AS "caseVerifiedBy"
         FROM tasks t LEFT JOIN cases c ON c.id = t.case_id WHERE t.id = $1`,
      [taskId],
    ),
  );
  if (rows.length === 0) return undefined;
  const { caseCreatedBy, caseVerifiedBy, ...row } = rows[0];
  return { row, facts: { createdBy: caseCreatedBy ?? '', verifiedBy: caseVerifiedBy ?? null } };
}

export interface InboxFilter {
  org: string;
  roles: readonly string[];
  status?: TaskStatus;
  caseId?: string;
  type?: TaskType;
  /** Oldest first (the contract's order, the default), or soonest deadline first (tasks without one last). */
  sort?: 'created' | 'due';
  /** Where the page starts: after this task, by its key in the page's order (createdAt, or dueAt with 'infinity' for none). */
  after?: { at: string; id: string };
  limit: number;
}

export interface InboxPage {
  /** Each item's `doc` is one Task's JSON text. */
  items: { doc: string }[];
  /** The last item's id, createdAt and dueAt, when another page follows. */
  last: { createdAt: string; dueAt: string | null; id: string } | null;
}

/** A task's due time as the deadline order sorts it: one without a deadline comes after every other. */
const DUE_KEY = "coalesce(due_at, 'infinity'::timestamptz)";

/**
 * The caller org's tasks that one of its roles may act on, oldest first on tasks_inbox_idx, or soonest deadline first on
 * tasks_inbox_due_idx; one named statement per filter combination.
 */
export async function inboxPage(pool: pg.Pool, f: InboxFilter): Promise<InboxPage> {
  const { rows } = await pool.query<{ doc: string }>(prepared(...inboxStatement(f)));
  return pageOf(rows, f.limit);
}

/** The page from its statement's rows (one more than the page when another page follows). */
function pageOf(rows: { doc: string }[], limit: number): InboxPage {
  const items = rows.slice(0, limit);
  if (rows.length <= limit) return { items, last: null };
  // The cursor needs the last item's keys: only that one document is parsed.
  const last = JSON.parse(items[items.length - 1].doc) as { createdAt: string; dueAt: string | null; id: string };
  return { items, last: { createdAt: last.createdAt, dueAt: last.dueAt ?? null, id: last.id } };
}

/** The org's inbox version (migration 0014), as PostgreSQL's decimal text: '0' when none of its tasks was written since. */
export async function inboxVersion(pool: pg.Pool, org: string): Promise<string> {
  const { rows } = await pool.query<{ version: string }>(prepared('SELECT version FROM inbox_versions WHERE org = $1', [org]));
  return rows[0]?.version ?? '0';
}

/**
 * The inbox page together with the org's inbox version, in one statement and so from one snapshot: the page is exactly
 * the one every later read that finds the same version would get (see migration 0014), which the inbox cache relies on.
 */
export async function inboxPageAndVersion(pool: pg.Pool, f: InboxFilter): Promise<{ version: string; page: InboxPage }> {
  const { rows } = await pool.query<{ version: string; doc: string | null }>(prepared(...inboxVersionStatement(f)));
  const docs = rows.filter((r): r is { version: string; doc: string } => r.doc !== null);
  return { version: rows[0].version, page: pageOf(docs, f.limit) };
}

interface InboxParts {
  where: string[];
  key: string;
  values: unknown[];
}

/** The inbox statement's conditions, order and values (its LIMIT is the last value). */
function inboxParts(f: InboxFilter): InboxParts {
  const values: unknown[] = [f.org, f.roles];
  const where = ['assignee_org = $1', 'roles && $2::text[]'];
  const add = (cond: (n: number) => string, ...v: unknown[]) => {
    where.push(cond(values.length + 1));
    values.push(...v);
  };
  if (f.status) add((n) => `status = $${n}`, f.status);
  if (f.caseId) add((n) => `case_id = $${n}`, f.caseId);
  if (f.type) add((n) => `type = $${n}`, f.type);
  const key = f.sort === 'due' ? DUE_KEY : 'created_at';
  if (f.after) add((n) => `(${key}, id) > ($${n}::timestamptz, $${n + 1})`, f.after.at, f.after.id);
  values.push(f.limit + 1);
  return { where, key, values };
}

/** The inbox statement for a filter (one more row than the page, to tell whether another page follows): text and values. */
export function inboxStatement(f: InboxFilter): [text: string, values: unknown[]] {
  const { where, key, values } = inboxParts(f);
  return [`SELECT doc FROM tasks WHERE ${where.join(' AND ')} ORDER BY ${key}, id LIMIT $${values.length}`, values];
}

/**
 * The same page beside the org's inbox version (0 without a row): one row per task, each with the version, or one row
 * with a null doc when the page is empty. The page is the same index scan as inboxStatement's.
 */
export function inboxVersionStatement(f: InboxFilter): [text: string, values: unknown[]] {
  const { where, key, values } = inboxParts(f);
  return [
    `SELECT v.version::text AS version, p.doc
       FROM (SELECT coalesce((SELECT version FROM inbox_versions WHERE org = $1), 0) AS version) v
       LEFT JOIN LATERAL (SELECT doc, ${key} AS k, id FROM tasks WHERE ${where.join(' AND ')} ORDER BY ${key}, id LIMIT $${values.length}) p ON true
      ORDER BY p.k, p.id`,
    values,
  ];
}
