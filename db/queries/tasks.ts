// Hot task reads whose JSON PostgreSQL builds: the inbox page goes from the row to the response without objects in between.
import type pg from 'pg';
import type { TaskStatus, TaskType } from '../../domain/types';
import { prepared } from '../client';

/** A timestamptz(3) as Date#toISOString() writes it. */
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A `tasks` row as the contract's Task, as text: the same document `taskFromRow` (api/views.ts) makes, which
 * test/integration/task-json.test.ts checks on rows of every kind.
 */
export const TASK_JSON = `json_build_object(
  'id', id, 'caseId', case_id, 'type', type, 'status', status,
  'assignee', json_build_object('org', assignee_org, 'role', assignee_role), 'roles', roles,
  'createdAt', ${iso('created_at')}, 'dueAt', ${iso('due_at')}, 'escalated', escalated, 'completedAt', ${iso('completed_at')},
  'completedBy', CASE WHEN completed_by_id IS NULL OR completed_by_id = '' THEN NULL ELSE json_build_object('id', completed_by_id, 'org', coalesce(completed_by_org, '')) END,
  'outcome', outcome, 'data', data, 'comment', comment, 'context', coalesce(context, '{}'::jsonb)
)::text`;

export interface InboxFilter {
  org: string;
  roles: readonly string[];
  status?: TaskStatus;
  caseId?: string;
  type?: TaskType;
  after?: { createdAt: string; id: string };
  limit: number;
}

export interface InboxPage {
  /** Each item is one Task's JSON text. */
  items: string[];
  /** Where the next page starts, when there is one. */
  last: { createdAt: string; id: string } | null;
}

/** The caller org's tasks that one of its roles may act on, oldest first, on tasks_inbox_idx; one named statement per filter combination. */
export async function inboxPage(pool: pg.Pool, f: InboxFilter): Promise<InboxPage> {
  const values: unknown[] = [f.org, f.roles];
  const where = ['assignee_org = $1', 'roles && $2::text[]'];
  const add = (cond: (n: number) => string, ...v: unknown[]) => {
    where.push(cond(values.length + 1));
    values.push(...v);
  };
  if (f.status) add((n) => `status = $${n}`, f.status);
  if (f.caseId) add((n) => `case_id = $${n}`, f.caseId);
  if (f.type) add((n) => `type = $${n}`, f.type);
  if (f.after) add((n) => `(created_at, id) > ($${n}::timestamptz, $${n + 1})`, f.after.createdAt, f.after.id);
  values.push(f.limit + 1);
  // created_at comes as the ISO text the cursor needs: no Date is made for rows that are not the last.
  const text = `SELECT id, ${iso('created_at')} AS created_at, ${TASK_JSON} AS json FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_at, id LIMIT $${values.length}`;
  const { rows } = await pool.query<{ id: string; created_at: string; json: string }>(prepared(text, values));
  const page = rows.slice(0, f.limit);
  const last = rows.length > f.limit ? page[page.length - 1] : undefined;
  return { items: page.map((r) => r.json), last: last ? { createdAt: last.created_at, id: last.id } : null };
}
