// tasks.doc, the Task JSON PostgreSQL writes beside each row (migration 0007), is the same document as taskFromRow (api/views.ts) on rows of every kind; the inbox pages on it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { inboxPage, taskById, taskWithFacts } from '../../db/queries/tasks';
import { tasks } from '../../db/schema';
import { taskFromRow } from '../../api/views';
import { freshDatabase } from '../support/db';

let db: Awaited<ReturnType<typeof freshDatabase>>;

const base = {
  caseId: 'case_json',
  caseOrg: 'ceop',
  assigneeOrg: 'visa',
  assigneeRole: 'partner',
  roles: ['partner'],
  context: {},
};

beforeAll(async () => {
  db = await freshDatabase('task-json');
  await db.db.insert(tasks).values([
    { ...base, id: 'tsk_open', type: 'confirm_termination', status: 'open', createdAt: new Date('2026-01-02T03:04:05.678Z'), context: { merchant: 'Shop "ü" \u2028', n: 1.5e-7 } },
    {
      ...base,
      id: 'tsk_done',
      type: 'confirm_termination',
      status: 'completed',
      createdAt: new Date('2026-01-02T03:04:05.006Z'),
      dueAt: new Date('2026-01-09T00:00:00.000Z'),
      escalated: true,
      completedAt: new Date('2026-01-03T10:00:00.100Z'),
      completedById: 'prn_1',
      completedByOrg: 'visa',
      outcome: 'terminated',
      data: { matchReference: 'M-1', nested: { list: [1, null, 'x'] } },
      comment: 'line\nbreak',
    },
    { ...base, id: 'tsk_noorg', type: 'confirm_freeze', status: 'completed', createdAt: new Date('1999-12-31T23:59:59.999Z'), completedById: 'prn_2', completedByOrg: null },
    { ...base, id: 'tsk_emptyby', type: 'confirm_freeze', status: 'cancelled', createdAt: new Date('2026-05-05T05:05:05.000Z'), completedById: '', roles: ['partner', 'analyst'] },
    { ...base, id: 'tsk_other', type: 'verify_evidence', status: 'open', createdAt: new Date('2026-01-01T00:00:00.000Z'), assigneeOrg: 'ceop', assigneeRole: 'analyst', roles: ['analyst'] },
  ]);
});
afterAll(async () => {
  await db?.close();
});

describe('Task JSON built by PostgreSQL', () => {
  it('equals taskFromRow for every row, after inserts and after updates', async () => {
    const same = async () => {
      const rows = await db.db.select().from(tasks);
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(JSON.parse(row.doc), row.id).toStrictEqual(JSON.parse(JSON.stringify(taskFromRow(row))));
    };
    await same();
    await db.db.update(tasks).set({ status: 'completed', completedAt: new Date('2026-02-02T02:02:02.020Z'), completedById: 'prn_9', completedByOrg: 'visa', outcome: 'terminated', data: { a: [1] } }).where(eq(tasks.id, 'tsk_open'));
    await db.pool.query(`UPDATE tasks SET status = 'open', completed_at = NULL, completed_by_id = NULL, completed_by_org = NULL, outcome = NULL, data = NULL, doc = 'tampered' WHERE id = 'tsk_open'`);
    await same();
  });

  it('reads rows by raw statement exactly as drizzle maps them, with the case facts for completions', async () => {
    const rows = await db.db.select().from(tasks);
    for (const row of rows) expect(await taskById(db.pool, row.id), row.id).toStrictEqual(row);
    expect(await taskById(db.pool, 'tsk_missing')).toBeUndefined();
    await db.pool.query(
      `INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, merchant_ids, wallet_ids, hosts, view)
       VALUES ('case_json', 'R-1', 'ceop', 'verifying', now(), 'prn_lead', now(), '{}', '{}', '{}', '{"createdBy": "prn_lead", "verifiedBy": "prn_an"}')`,
    );
    expect(await taskWithFacts(db.pool, 'tsk_open')).toStrictEqual({ row: rows.find((r) => r.id === 'tsk_open'), facts: { createdBy: 'prn_lead', verifiedBy: 'prn_an' } });
  });

  it('pages an inbox oldest first with filters, and stops at the last page', async () => {
    const ids = async (f: Partial<Parameters<typeof inboxPage>[1]>) => {
      const page = await inboxPage(db.pool, { org: 'visa', roles: ['partner'], limit: 50, ...f });
      return { ids: page.items.map((t) => (JSON.parse(t.doc) as { id: string }).id), last: page.last };
    };
    expect(await ids({})).toEqual({ ids: ['tsk_noorg', 'tsk_done', 'tsk_open', 'tsk_emptyby'], last: null });
    expect((await ids({ status: 'open' })).ids).toEqual(['tsk_open']);
    expect((await ids({ type: 'confirm_freeze' })).ids).toEqual(['tsk_noorg', 'tsk_emptyby']);
    expect((await ids({ caseId: 'case_other' })).ids).toEqual([]);
    expect((await ids({ roles: ['analyst'] })).ids).toEqual(['tsk_emptyby']);
    const first = await ids({ limit: 2 });
    expect(first.ids).toEqual(['tsk_noorg', 'tsk_done']);
    expect(first.last).toEqual({ createdAt: '2026-01-02T03:04:05.006Z', id: 'tsk_done' });
    const second = await ids({ limit: 2, after: first.last! });
    expect(second).toEqual({ ids: ['tsk_open', 'tsk_emptyby'], last: null });
  });
});
