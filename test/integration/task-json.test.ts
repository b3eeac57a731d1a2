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
    expect(first.last).toEqual({ createdAt: '2026-01-02T03:04:05.006Z', dueAt: '2026-01-09T00:00:00.000Z', id: 'tsk_done' });
    const second = await ids({ limit: 2, after: { at: first.last!.createdAt, id: first.last!.id } });
    expect(second).toEqual({ ids: ['tsk_open', 'tsk_emptyby'], last: null });
  });

  it('pages an inbox soonest deadline first, tasks without one last, through ties and the tasks without a deadline', async () => {
    const at = (d: string) => new Date(d);
    const mc = { ...base, assigneeOrg: 'mc', type: 'confirm_freeze' as const, status: 'open' as const };
    await db.db.insert(tasks).values([
      { ...mc, id: 'tsk_d_late', createdAt: at('2026-01-01T00:00:00.000Z'), dueAt: at('2026-03-01T00:00:00.000Z') },
      { ...mc, id: 'tsk_d_none2', createdAt: at('2026-01-02T00:00:00.000Z') },
      { ...mc, id: 'tsk_d_soon_b', createdAt: at('2026-01-03T00:00:00.000Z'), dueAt: at('2026-02-01T00:00:00.000Z') },
      { ...mc, id: 'tsk_d_soon_a', createdAt: at('2026-01-04T00:00:00.000Z'), dueAt: at('2026-02-01T00:00:00.000Z') },
      { ...mc, id: 'tsk_d_none1', createdAt: at('2026-01-05T00:00:00.000Z') },
      { ...mc, id: 'tsk_d_first', createdAt: at('2026-01-06T00:00:00.000Z'), dueAt: at('2026-01-15T00:00:00.000Z') },
    ]);
    const walk = async (limit: number) => {
      const seen: string[] = [];
      let after: { at: string; id: string } | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await inboxPage(db.pool, { org: 'mc', roles: ['partner'], sort: 'due', limit, after });
        seen.push(...page.items.map((t) => (JSON.parse(t.doc) as { id: string }).id));
        if (!page.last) return seen;
        after = { at: page.last.dueAt ?? 'infinity', id: page.last.id };
      }
      throw new Error('no last page');
    };
    const order = ['tsk_d_first', 'tsk_d_soon_a', 'tsk_d_soon_b', 'tsk_d_late', 'tsk_d_none1', 'tsk_d_none2'];
    for (const limit of [1, 2, 4, 50]) expect(await walk(limit), `limit ${limit}`).toEqual(order);
    // The created order is unchanged by the new one.
    const oldest = await inboxPage(db.pool, { org: 'mc', roles: ['partner'], limit: 50 });
    expect(oldest.items.map((t) => (JSON.parse(t.doc) as { id: string }).id)).toEqual(['tsk_d_late', 'tsk_d_none2', 'tsk_d_soon_b', 'tsk_d_soon_a', 'tsk_d_none1', 'tsk_d_first']);
  });
});
