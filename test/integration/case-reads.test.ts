// Batched case reads (api/case-reads.ts) against real PostgreSQL and Temporal: reads asked for together share one
// statement per kind of reader, each still gets its own row (a partner its own open tasks, never another org's), an
// unknown id gets nothing, and through the API concurrent readers of every kind each get the view that is theirs.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASE_ROWS_SQL, CaseReads, type StoredCaseHeld } from '../../api/case-reads';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
type P = Awaited<ReturnType<ApiHarness['principal']>>;
let lead: P, analyst: P, officer: P, visa: P, paypal: P;
/** A case with the partners' tasks open (after sign-off), and one still waiting for its verification. */
let disrupting: string;
let verifying: string;

/** The pool, counting the statements sent through it. */
function counting(pool: pg.Pool): { pool: pg.Pool; sent: () => number } {
  let n = 0;
  const wrapped = Object.create(pool) as pg.Pool;
  wrapped.query = ((...args: Parameters<pg.Pool['query']>) => {
    n += 1;
    return (pool.query as (...a: unknown[]) => unknown)(...args);
  }) as pg.Pool['query'];
  return { pool: wrapped, sent: () => n };
}

async function openTaskIds(caseId: string, org: string): Promise<string[]> {
  const { rows } = await stack.db.pool.query<{ id: string }>(
    `SELECT id FROM tasks WHERE case_id = $1 AND assignee_org = $2 AND status = 'open' ORDER BY created_at, id`,
    [caseId, org],
  );
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  stack = await startWorkflowStack('case-reads');
  api = await startApi('case-reads', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  [lead, analyst, officer, visa, paypal] = await Promise.all([
    api.principal('ceop', ['case_lead']),
    api.principal('ceop', ['analyst']),
    api.principal('ceop', ['le_officer']),
    api.principal('visa', ['partner']),
    api.principal('paypal', ['partner']),
  ]);
  const create = async () => {
    const res = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  [disrupting, verifying] = await Promise.all([create(), create()]);
  const v = await waitForInboxTask(api, analyst.token, disrupting, 'verify_evidence');
  expect((await api.request('POST', `/v1/tasks/${v.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } })).status).toBe(200);
  const s = await waitForInboxTask(api, officer.token, disrupting, 'le_signoff');
  expect((await api.request('POST', `/v1/tasks/${s.id}/complete`, { token: officer.token, body: { outcome: 'approved' } })).status).toBe(200);
  await waitForInboxTask(api, visa.token, disrupting, 'confirm_termination');
  await waitForInboxTask(api, paypal.token, disrupting, 'confirm_freeze');
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

describe('batched case reads', () => {
  it('sends the reads asked for together as one statement per kind of reader, each read getting its own row', async () => {
    const { pool, sent } = counting(stack.db.pool);
    const reads = new CaseReads(pool);
    const partner = (org: string) => ({ org, roles: ['partner'] });
    const asked = [
      { caseId: disrupting },
      { caseId: verifying },
      { caseId: 'case_00000000000000000000000000' },
      { caseId: disrupting, partner: partner('visa') },
      { caseId: disrupting, partner: partner('paypal') },
      { caseId: verifying, partner: partner('visa') },
      { caseId: disrupting },
    ];
    const rows = await Promise.all(asked.map((r) => reads.read(r)));
    // In full; visa's; paypal's: three statements for seven reads.
    expect(sent()).toBe(3);
    expect(rows.map((r) => r?.id ?? null)).toEqual([disrupting, verifying, null, disrupting, disrupting, verifying, disrupting]);
    expect(JSON.parse(rows[0]!.view).id).toBe(disrupting);
    expect(rows[0]).not.toHaveProperty('held');
    const heldIds = (r: unknown) => (r as StoredCaseHeld).held.map((t) => t.id);
    expect(heldIds(rows[3])).toEqual(await openTaskIds(disrupting, 'visa'));
    expect(heldIds(rows[3]).length).toBeGreaterThan(0);
    expect(heldIds(rows[4])).toEqual(await openTaskIds(disrupting, 'paypal'));
    expect(heldIds(rows[4])).not.toEqual(heldIds(rows[3]));
    expect(heldIds(rows[5])).toEqual([]);

    // Asked for one after another, each read is a statement of its own.
    await reads.read({ caseId: verifying });
    await reads.read({ caseId: verifying });
    expect(sent()).toBe(5);
  });

  it("fails the reads of a batch whose statement fails, and the next batch reads again", async () => {
    let fail = true;
    const wrapped = Object.create(stack.db.pool) as pg.Pool;
    wrapped.query = ((...args: unknown[]) =>
      fail ? Promise.reject(new Error('connection terminated')) : (stack.db.pool.query as (...a: unknown[]) => unknown)(...args)) as pg.Pool['query'];
    const reads = new CaseReads(wrapped);
    const failed = await Promise.allSettled([reads.read({ caseId: disrupting }), reads.read({ caseId: verifying })]);
    expect(failed.map((f) => (f.status === 'rejected' ? (f.reason as Error).message : 'read'))).toEqual(['connection terminated', 'connection terminated']);
    fail = false;
    expect((await reads.read({ caseId: disrupting }))?.id).toBe(disrupting);
  });

  it('gives every concurrent reader through the API the view that is its own', async () => {
    const full = (await api.request('GET', `/v1/cases/${disrupting}`, { token: lead.token })).body;
    const visaView = (await api.request('GET', `/v1/cases/${disrupting}`, { token: visa.token })).body;
    const paypalView = (await api.request('GET', `/v1/cases/${disrupting}`, { token: paypal.token })).body;
    expect(visaView).not.toEqual(paypalView);
    const asks = Array.from({ length: 40 }, (_, i) => {
      const who = [lead, visa, paypal, visa][i % 4];
      const caseId = i % 5 === 4 ? verifying : disrupting;
      return { who, caseId };
    });
    // Over kept-alive connections (fetch's pool), opened by a first round, so the second round's requests arrive together.
    const ask = async ({ who, caseId }: (typeof asks)[number]) => {
      const res = await fetch(`${api.url}/v1/cases/${caseId}`, { headers: { authorization: `Bearer ${who.token}` } });
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text) };
    };
    await Promise.all(asks.map(ask));
    // The API's reads are counted on the pool it shares with this test: requests that arrive together share statements.
    const pool = stack.db.pool;
    const query = pool.query;
    let caseStatements = 0;
    pool.query = ((...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
      if (text?.includes('FROM cases c WHERE c.id = ANY') || text === CASE_ROWS_SQL) caseStatements += 1;
      return (query as (...a: unknown[]) => unknown).apply(pool, args);
    }) as pg.Pool['query'];
    let answers;
    try {
      answers = await Promise.all(asks.map(ask));
    } finally {
      pool.query = query;
    }
    expect(caseStatements).toBeGreaterThan(0);
    expect(caseStatements).toBeLessThan(asks.length);
    answers.forEach((res, i) => {
      const { who, caseId } = asks[i];
      if (caseId === verifying && who !== lead) {
        // No open task of theirs on the case waiting for its verification: not theirs to read.
        expect(res.status, res.text).toBe(403);
        return;
      }
      expect(res.status, res.text).toBe(200);
      if (caseId === verifying) expect(res.body.id).toBe(verifying);
      else expect(res.body).toEqual(who === lead ? full : who === visa ? visaView : paypalView);
    });
  });
});
