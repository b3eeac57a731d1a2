// An evidence item is known by its hash: the same hash twice is one item, and a request that describes a known hash
// otherwise is refused whole (422), never half-applied; an amendment made after the case was verified says so in the
// chain. Through the HTTP API with the real workflow.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
let lead: Awaited<ReturnType<ApiHarness['principal']>>;
let analyst: Awaited<ReturnType<ApiHarness['principal']>>;

beforeAll(async () => {
  stack = await startWorkflowStack('evidence-identity');
  api = await startApi('evidence-identity', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  lead = await api.principal('ceop', ['case_lead']);
  analyst = await api.principal('ceop', ['analyst']);
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

const hash = () => randomBytes(32).toString('hex');

async function auditActions(caseId: string): Promise<string[]> {
  const { rows } = await api.db.pool.query<{ action: string }>('SELECT action FROM audit_entries WHERE case_id = $1 ORDER BY seq', [caseId]);
  return rows.map((r) => r.action);
}

describe('at creation', () => {
  it('keeps an exact repeat of an item once, and refuses the same hash with other details (nothing created)', async () => {
    const body = caseBody();
    const item = body.evidence[0];
    const once = await api.request('POST', '/v1/cases', { token: lead.token, body: { ...body, evidence: [item, { ...item }] } });
    expect(once.status, once.text).toBe(201);
    expect(once.body.evidence).toEqual([item]);

    const other = caseBody();
    const refused = await api.request('POST', '/v1/cases', {
      token: lead.token,
      body: { ...other, evidence: [other.evidence[0], { ...other.evidence[0], description: 'another description' }] },
    });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.errors).toEqual({ 'evidence.1.sha256': 'the same hash as evidence.0 with other details' });
    const { rowCount } = await api.db.pool.query('SELECT 1 FROM cases WHERE reference = $1', [other.reference]);
    expect(rowCount).toBe(0);
  });
});

describe('an amendment', () => {
  it('naming a held hash with other details is refused whole: its URL is not added and nothing is audited', async () => {
    const body = caseBody();
    const c = (await api.request('POST', '/v1/cases', { token: lead.token, body })).body;
    const held = body.evidence[0];
    const before = await auditActions(c.id);

    const refused = await api.request('POST', `/v1/cases/${c.id}/evidence`, {
      token: lead.token,
      body: { evidence: [{ kind: 'screenshot_hash', sha256: hash() }, { ...held, description: 'rewritten' }], urls: ['https://mirror.example.test/half'] },
    });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.errors).toEqual({ 'evidence.1.sha256': 'the case holds this hash with other details' });
    const read = (await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token })).body;
    expect(read.evidence).toEqual([held]);
    expect(read.merchant.urls).not.toContain('https://mirror.example.test/half');
    expect(await auditActions(c.id)).toEqual(before);

    // The held item as it is adds nothing, and the rest of the amendment takes effect.
    const fresh = { kind: 'screenshot_hash', sha256: hash() };
    const ok = await api.request('POST', `/v1/cases/${c.id}/evidence`, {
      token: lead.token,
      headers: { 'Idempotency-Key': 'amend-1' },
      body: { evidence: [{ ...held }, fresh], urls: ['https://mirror.example.test/whole'] },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.evidence).toEqual([held, fresh]);
    expect(ok.body.merchant.urls).toContain('https://mirror.example.test/whole');

    // The same key with a body that differs only in a held item's details is another body: 422, not the first answer.
    const reused = await api.request('POST', `/v1/cases/${c.id}/evidence`, {
      token: lead.token,
      headers: { 'Idempotency-Key': 'amend-1' },
      body: { evidence: [{ ...held }, { ...fresh, description: 'not what was sent' }], urls: ['https://mirror.example.test/whole'] },
    });
    expect(reused.status, reused.text).toBe(422);
    expect(reused.body.errors).toEqual({ 'Idempotency-Key': 'was used with a different body' });
  });
});

describe('an amendment sent again', () => {
  it('is answered from the stored case when the case holds it whole: no second update, no empty evidence.added', async () => {
    const c = (await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() })).body;
    const fresh = { kind: 'screenshot_hash', sha256: hash() };
    const body = { evidence: [fresh], urls: ['https://mirror.example.test/again'] };
    const first = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body });
    expect(first.status, first.text).toBe(200);
    // Sent again without a key (its answer was lost), and with one: the case as stored, holding it once.
    for (const headers of [{}, { 'Idempotency-Key': 'again-1' }] as Record<string, string>[]) {
      const again = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body, headers });
      expect(again.status, again.text).toBe(200);
      expect(again.body.evidence.filter((e: { sha256: string }) => e.sha256 === fresh.sha256)).toHaveLength(1);
      expect(again.body.merchant.urls.filter((u: string) => u === body.urls[0])).toHaveLength(1);
    }
    expect((await auditActions(c.id)).filter((a) => a === 'evidence.added')).toHaveLength(1);
    // Only a case lead of the case's org is answered so, as for an amendment that adds something.
    const other = await api.principal('nca', ['case_lead']);
    expect((await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: other.token, body })).status).toBe(403);
  });
});

describe('an amendment after review', () => {
  it('names, in its evidence.added entry, the analyst who verified the case without seeing what it adds', async () => {
    const c = (await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() })).body;
    const before = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { urls: ['https://mirror.example.test/early'] } });
    expect(before.status, before.text).toBe(200);
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const done = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } });
    expect(done.status, done.text).toBe(200);
    const after = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { urls: ['https://mirror.example.test/late'] } });
    expect(after.status, after.text).toBe(200);
    const { rows } = await api.db.pool.query<{ data: Record<string, unknown> }>(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'evidence.added' ORDER BY seq`, [c.id]);
    expect(rows.map((r) => r.data)).toEqual([
      { evidence: [], urls: ['https://mirror.example.test/early'] },
      { evidence: [], urls: ['https://mirror.example.test/late'], afterVerificationBy: analyst.id },
    ]);
  });
});
