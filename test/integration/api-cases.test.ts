// Cases and tasks through the HTTP API with the real workflow: creation, idempotency, lists, partner views, completion, withdrawal, audit.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveHistory } from '../../activities/history';
import { CASE_ID_RE, caseWorkflowId } from '../../domain/ids';
import { bodyHash } from '../../api/idempotency';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForCaseStatus, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
type P = Awaited<ReturnType<ApiHarness['principal']>>;
let lead: P, lead2: P, analyst: P, officer: P, supervisor: P, auditor: P, visa: P, paypal: P, acquirer: P, host: P, mastercard: P, otherLead: P, leadAnalyst: P;

beforeAll(async () => {
  stack = await startWorkflowStack('api-cases');
  api = await startApi('api-cases', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  [lead, lead2, analyst, officer, supervisor, auditor, visa, paypal, acquirer, host, mastercard, otherLead, leadAnalyst] = await Promise.all([
    api.principal('ceop', ['case_lead']),
    api.principal('ceop', ['case_lead']),
    api.principal('ceop', ['analyst']),
    api.principal('ceop', ['le_officer']),
    api.principal('ceop', ['le_supervisor']),
    api.principal('oversight', ['auditor']),
    api.principal('visa', ['partner']),
    api.principal('paypal', ['partner']),
    api.principal('acq-northbank', ['partner']),
    api.principal('host-example', ['partner']),
    api.principal('mastercard', ['partner']),
    api.principal('nca', ['case_lead']),
    api.principal('ceop', ['case_lead', 'analyst', 'le_officer']),
  ]);
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

/** One Idempotency-Key header line per key (http.request sends an array as repeated lines; the harness types headers as strings). */
function keyLines(...keys: string[]): Record<string, string> {
  return { 'Idempotency-Key': keys } as unknown as Record<string, string>;
}

async function createCase(token = lead.token, body = caseBody()) {
  const res = await api.request('POST', '/v1/cases', { token, body });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe('case creation', () => {
  it('creates a case through the workflow and answers 201 with a readable case', async () => {
    const body = caseBody();
    const res = await api.request('POST', '/v1/cases', { token: lead.token, body });
    expect(res.status, res.text).toBe(201);
    expect(res.body.id).toMatch(CASE_ID_RE);
    expect(res.body.id).toMatch(/^case_[0-9a-v]{26}$/);
    expect(res.body).toMatchObject({ reference: body.reference, status: 'verifying', createdBy: lead.id, org: 'ceop' });
    expect(res.body.steps.map((s: { name: string }) => s.name)).toEqual(['verification', 'signoff', 'termination', 'freeze', 'hosting']);
    expect(res.headers.location).toBe(`/v1/cases/${res.body.id}`);
    const read = await api.request('GET', `/v1/cases/${res.body.id}`, { token: lead.token });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: res.body.id, reference: body.reference, createdBy: lead.id });
    expect(read.body.temporalUrl).toBe(`http://temporal-ui.test/namespaces/default/workflows/takedown-${res.body.id}`);
    const desc = await stack.client.workflow.getHandle(`takedown-${res.body.id}`).describe();
    expect(desc.typedSearchAttributes.get({ name: 'CaseReference', type: 'KEYWORD' } as never)).toBe(body.reference);
  });

  it('rejects invalid case bodies with per-field errors', async () => {
    const body = caseBody() as Record<string, any>;
    body.merchant.urls = ['ftp://nope'];
    body.jurisdiction = 'gb';
    delete body.evidence;
    const res = await api.request('POST', '/v1/cases', { token: lead.token, body });
    expect(res.status).toBe(422);
    expect(res.body.errors).toMatchObject({ 'merchant.urls.0': expect.stringContaining('URL'), jurisdiction: expect.any(String), evidence: expect.any(String) });
  });

  it('takes evidence hashes in either case and keeps them lower-case; anything but 64 hex characters is refused', async () => {
    const body = caseBody() as Record<string, any>;
    body.evidence[0].sha256 = 'AB'.repeat(32);
    const res = await api.request('POST', '/v1/cases', { token: lead.token, body });
    expect(res.status, res.text).toBe(201);
    expect(res.body.evidence[0].sha256).toBe('ab'.repeat(32));
    for (const bad of ['ab'.repeat(31), 'g'.repeat(64), `${'a'.repeat(63)} `]) {
      body.evidence[0].sha256 = bad;
      const refused = await api.request('POST', '/v1/cases', { token: lead.token, body });
      expect(refused.status, bad).toBe(422);
      expect(refused.body.errors).toHaveProperty('evidence.0.sha256');
    }
  });

  it('lets only case leads create cases', async () => {
    for (const p of [analyst, officer, supervisor, auditor, visa]) {
      expect((await api.request('POST', '/v1/cases', { token: p.token, body: caseBody() })).status).toBe(403);
    }
    expect((await api.request('POST', '/v1/cases', { token: api.adminToken, body: caseBody() })).status).toBe(403);
  });
});

describe('Idempotency-Key on case creation', () => {
  it('returns the same case (200) for the same key and body, 422 for another body', async () => {
    const body = caseBody();
    const key = `key-${Date.now()}-a`;
    const first = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': key } });
    expect(first.status, first.text).toBe(201);
    // Same body with keys in another order: the canonical JSON is the same.
    const reordered = JSON.parse(JSON.stringify({ plan: body.plan, evidence: body.evidence, merchant: body.merchant, priority: body.priority, jurisdiction: body.jurisdiction, reference: body.reference }));
    const second = await api.request('POST', '/v1/cases', { token: lead.token, body: reordered, headers: { 'Idempotency-Key': `"${key}"` } });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const other = await api.request('POST', '/v1/cases', { token: lead.token, body: { ...body, reference: `${body.reference}-x` }, headers: { 'Idempotency-Key': key } });
    expect(other.status).toBe(422);
    expect(other.body.errors).toHaveProperty('Idempotency-Key');
    // Keys are per principal: another case lead's identical key is its own.
    const theirs = await api.request('POST', '/v1/cases', { token: lead2.token, body, headers: { 'Idempotency-Key': key } });
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(first.body.id);
    const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM cases WHERE reference = $1', [body.reference]);
    expect(rows[0].n).toBe(2);
  });

  it('starts exactly one case for concurrent requests with the same key; the others get 200 or 409', async () => {
    const body = caseBody();
    const key = `key-${Date.now()}-concurrent`;
    const results = await Promise.all(Array.from({ length: 12 }, () => api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': key } })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const s of statuses) expect([200, 201, 409]).toContain(s);
    const ids = new Set(results.filter((r) => r.status < 300).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM cases WHERE reference = $1', [body.reference]);
    expect(rows[0].n).toBe(1);
    for (const r of results.filter((x) => x.status === 409)) expect(r.headers['content-type']).toMatch(/problem\+json/);
    // Once the first finished, a retry gets the case.
    const later = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': key } });
    expect(later.status).toBe(200);
    expect(later.body.id).toBe([...ids][0]);
  });

  it('answers 409 while the first request holds the key, and takes over an attempt that died', async () => {
    const body = caseBody();
    const locked = `key-${Date.now()}-locked`;
    await api.db.pool.query(
      `INSERT INTO idempotency_keys (principal_id, key, body_hash, case_id, state, locked_until) VALUES ($1, $2, $3, 'case_lockedlockedlockedlocked00', 'in_flight', now() + interval '1 minute')`,
      [lead.id, locked, bodyHash(body)],
    );
    const busy = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': locked } });
    expect(busy.status).toBe(409);

    // A first attempt that inserted its row and died before Temporal answered: the retry finishes it under the same case id.
    const dead = `key-${Date.now()}-dead`;
    const caseId = 'case_deadattemptdeadattempt0001';
    await api.db.pool.query(
      `INSERT INTO idempotency_keys (principal_id, key, body_hash, case_id, state, locked_until) VALUES ($1, $2, $3, $4, 'in_flight', now() - interval '1 second')`,
      [lead.id, dead, bodyHash(body), caseId],
    );
    const retry = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': dead } });
    // 201: the dead attempt stored no case and answered nothing, so this answer is the one that creates it.
    expect(retry.status, retry.text).toBe(201);
    expect(retry.body.id).toBe(caseId);
    // Asked again, the key returns the same case: 200.
    const again = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': dead } });
    expect(again.status, again.text).toBe(200);
    expect(again.body.id).toBe(caseId);
    const { rows } = await api.db.pool.query('SELECT state FROM idempotency_keys WHERE principal_id = $1 AND key = $2', [lead.id, dead]);
    expect(rows[0].state).toBe('done');
  });

  it('answers a retry that takes over a dead attempt with the case as it is now when it has closed meanwhile, never with a second run', async () => {
    const body = caseBody();
    const key = `key-${Date.now()}-closed`;
    const created = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': key } });
    expect(created.status).toBe(201);
    const withdrawn = await api.request('POST', `/v1/cases/${created.body.id}/withdraw`, { token: lead.token, body: { reason: 'opened by mistake' } });
    expect(withdrawn.status, withdrawn.text).toBe(202);
    // The run has ended (not only written its status).
    await stack.client.workflow.getHandle(caseWorkflowId(created.body.id)).result();
    // As if the first attempt's answer was lost and its key released (a 503), so the retry owns the key again.
    await api.db.pool.query(`UPDATE idempotency_keys SET state = 'in_flight', locked_until = now() WHERE principal_id = $1 AND key = $2`, [lead.id, key]);
    const retry = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: { 'Idempotency-Key': key } });
    expect(retry.status, retry.text).toBe(200);
    // The latest run of the case's workflow is still the one that closed (a second run would be running).
    const latest = await stack.client.workflow.getHandle(caseWorkflowId(created.body.id)).describe();
    expect(latest.status.name).toBe('COMPLETED');
    expect(retry.body).toMatchObject({ id: created.body.id, status: 'withdrawn' });
    const open = await api.db.pool.query(`SELECT id FROM tasks WHERE case_id = $1 AND status = 'open'`, [created.body.id]);
    expect(open.rows).toEqual([]);
  });

  it('rejects a malformed key with 422', async () => {
    const res = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody(), headers: { 'Idempotency-Key': 'x'.repeat(300) } });
    expect(res.status).toBe(422);
  });

  it('refuses a key sent more than once with the 422 of a malformed key, and starts nothing (Node joined them into the key "a, b")', async () => {
    const body = caseBody();
    for (const keys of [['twice-a', 'twice-b'], ['twice-same', 'twice-same']]) {
      const res = await api.request('POST', '/v1/cases', { token: lead.token, body, headers: keyLines(...keys) });
      expect(res.status, `${keys.join(' + ')}: ${res.text}`).toBe(422);
      expect(res.body.errors).toEqual({ 'Idempotency-Key': 'must be 1 to 255 printable ASCII characters' });
    }
    const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM cases WHERE reference = $1', [body.reference]);
    expect(rows[0].n).toBe(0);
    const keys = await api.db.pool.query('SELECT count(*)::int AS n FROM idempotency_keys WHERE principal_id = $1 AND key LIKE $2', [lead.id, 'twice-%']);
    expect(keys.rows[0].n).toBe(0);
  });
});

describe('case lists and reads', () => {
  it('lists own-org cases newest first with filters and cursor pagination; auditors see every org', async () => {
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await createCase());
    const foreign = await createCase(otherLead.token);

    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<ApiHarness['request']>> = await api.request('GET', `/v1/cases?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: lead.token });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      all.push(...res.body.items.map((c: { id: string }) => c.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(new Set(all).size).toBe(all.length);
    for (const c of mine) expect(all).toContain(c.id);
    expect(all).not.toContain(foreign.id);
    // Newest first.
    expect(all.indexOf(mine[2].id)).toBeLessThan(all.indexOf(mine[0].id));
    // Each item is the case's whole view, as its own read gives it (both send the stored document), less the link to
    // the Temporal UI that only a single read adds.
    const listed = await api.request('GET', `/v1/cases?reference=${encodeURIComponent(mine[0].reference)}`, { token: lead.token });
    expect(listed.headers['content-type']).toMatch(/^application\/json/);
    const single = (await api.request('GET', `/v1/cases/${mine[0].id}`, { token: lead.token })).body;
    expect(single.temporalUrl).toMatch(/^http/);
    delete single.temporalUrl;
    expect(listed.body.items).toEqual([single]);

    const byRef = await api.request('GET', `/v1/cases?reference=${encodeURIComponent(mine[1].reference)}`, { token: lead.token });
    expect(byRef.body.items.map((c: { id: string }) => c.id)).toEqual([mine[1].id]);
    const merchantId = mine[0].merchant.paymentChannels[0].merchantId;
    const byMerchant = await api.request('GET', `/v1/cases?merchantId=${merchantId}`, { token: analyst.token });
    expect(byMerchant.body.items.map((c: { id: string }) => c.id)).toEqual([mine[0].id]);
    const byStatus = await api.request('GET', '/v1/cases?status=withdrawn&limit=200', { token: lead.token });
    expect(byStatus.body.items.every((c: { status: string }) => c.status === 'withdrawn')).toBe(true);

    const audited = await api.request('GET', `/v1/cases?reference=${encodeURIComponent(foreign.reference)}`, { token: auditor.token });
    expect(audited.body.items.map((c: { id: string }) => c.id)).toEqual([foreign.id]);

    expect((await api.request('GET', '/v1/cases?cursor=not-a-cursor!', { token: lead.token })).status).toBe(422);
    expect((await api.request('GET', `/v1/cases?cursor=${Buffer.from('[1,2]').toString('base64url')}`, { token: lead.token })).status).toBe(422);
    expect((await api.request('GET', '/v1/cases?limit=0', { token: lead.token })).status).toBe(422);
    expect((await api.request('GET', '/v1/cases?status=bogus', { token: lead.token })).status).toBe(422);
    expect((await api.request('GET', '/v1/cases?unknown=1', { token: lead.token })).status).toBe(422);
    expect((await api.request('GET', '/v1/cases', { token: visa.token })).status).toBe(403);
  });

  it('lists an inbox soonest deadline first with ?sort=due (an extension), each order refusing the other order\'s cursor', async () => {
    const org = `sortorg${Date.now()}`;
    const partner = await api.principal(org, ['partner']);
    const dues = [['tsk_s_late', '2030-03-01T00:00:00Z'], ['tsk_s_none', null], ['tsk_s_soon', '2030-01-01T00:00:00Z'], ['tsk_s_mid', '2030-02-01T00:00:00Z']];
    for (const [i, [id, due]] of dues.entries()) {
      await api.db.pool.query(
        `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, context)
         VALUES ($1, 'case_sorted', 'ceop', 'confirm_freeze', 'open', $2, 'partner', '{partner}', $3, $4, '{}')`,
        [`${id}_${org}`, org, new Date(Date.UTC(2030, 0, 1, 0, i)), due],
      );
    }
    const walk = async (query: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Awaited<ReturnType<ApiHarness['request']>> = await api.request('GET', `/v1/tasks?${query}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: partner.token });
        expect(res.status, res.text).toBe(200);
        ids.push(...res.body.items.map((t: { id: string }) => t.id.replace(`_${org}`, '')));
        cursor = res.body.nextCursor;
      } while (cursor);
      return ids;
    };
    expect(await walk('sort=due')).toEqual(['tsk_s_soon', 'tsk_s_mid', 'tsk_s_late', 'tsk_s_none']);
    expect(await walk('sort=created')).toEqual(['tsk_s_late', 'tsk_s_none', 'tsk_s_soon', 'tsk_s_mid']);
    expect(await walk('status=open')).toEqual(['tsk_s_late', 'tsk_s_none', 'tsk_s_soon', 'tsk_s_mid']);
    const byDue = (await api.request('GET', '/v1/tasks?sort=due&limit=1', { token: partner.token })).body.nextCursor;
    const byCreated = (await api.request('GET', '/v1/tasks?limit=1', { token: partner.token })).body.nextCursor;
    for (const [query, cursor] of [['sort=due', byCreated], ['sort=created', byDue]]) {
      const res = await api.request('GET', `/v1/tasks?${query}&cursor=${cursor}`, { token: partner.token });
      expect(res.status, query).toBe(422);
      expect(res.body.errors).toHaveProperty('cursor');
    }
    expect((await api.request('GET', '/v1/tasks?sort=deadline', { token: partner.token })).status).toBe(422);
  });

  it('takes empty query parameters as absent, as the contract writes its filters (?caseId=&type=)', async () => {
    const c = await createCase();
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const inbox = await api.request('GET', '/v1/tasks?status=open&caseId=&type=', { token: analyst.token });
    expect(inbox.status, inbox.text).toBe(200);
    expect(inbox.body.items.map((t: { id: string }) => t.id)).toContain(verify.id);
    const cases = await api.request('GET', '/v1/cases?status=&reference=&merchantId=&limit=&cursor=', { token: lead.token });
    expect(cases.status, cases.text).toBe(200);
    expect(cases.body.items.map((x: { id: string }) => x.id)).toContain(c.id);
    const exported = await api.request('GET', '/v1/audit/export?from=&to=', { token: auditor.token });
    expect(exported.status, exported.text).toBe(200);
    expect(exported.text).toContain(c.id);
    // A value that is there must still be valid.
    expect((await api.request('GET', '/v1/tasks?type=nope', { token: analyst.token })).status).toBe(422);
  });

  it('refuses cases of other orgs (403) and does not find unknown ids (404)', async () => {
    const c = await createCase();
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: otherLead.token })).status).toBe(403);
    expect((await api.request('GET', '/v1/cases/case_doesnotexist0000000000000', { token: lead.token })).status).toBe(404);
    expect((await api.request('GET', '/v1/cases/not-an-id', { token: lead.token })).status).toBe(404);
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: auditor.token })).status).toBe(200);
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: api.adminToken })).status).toBe(403);
  });
});

describe('the task flow', () => {
  it('verifies, signs off and lets partners read and complete their part, with four-eyes and validation enforced', async () => {
    const c = await createCase(leadAnalyst.token);
    // A partner with no task yet cannot see the case.
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: visa.token })).status).toBe(403);

    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    expect(verify).toMatchObject({ caseId: c.id, type: 'verify_evidence', status: 'open', assignee: { org: 'ceop', role: 'analyst' }, escalated: false, completedAt: null, outcome: null });
    // The creator may not verify its own case, even holding the analyst role.
    const own = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: leadAnalyst.token, body: { outcome: 'verified' } });
    expect(own.status).toBe(403);
    // Wrong role of the right org, and a partner of another org.
    expect((await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: officer.token, body: { outcome: 'verified' } })).status).toBe(403);
    expect((await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: visa.token, body: { outcome: 'verified' } })).status).toBe(403);
    // Outcome rules.
    const noComment = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'rejected' } });
    expect(noComment.status).toBe(422);
    expect(noComment.body.errors).toHaveProperty('comment');
    // A comment is text people type: nothing visible, control characters or bidi controls are refused, not taken as
    // the comment a rejection needs; a blank one counts as none.
    for (const [comment, message] of [
      ['\u200b\u2060\ufeff', /invisible characters alone/],
      ['ok \u202e txt.exe', /bidirectional-text controls/],
      ['\u001b[2J\u001b[31mALERT', /control characters/],
      ['   ', /is required for outcome rejected/],
    ] as const) {
      const res = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'rejected', comment } });
      expect(res.status, JSON.stringify(comment)).toBe(422);
      expect(res.body.errors.comment, JSON.stringify(comment)).toMatch(message);
    }
    const empty = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, headers: { 'Content-Length': '0' } });
    expect(empty.status, empty.text).toBe(400);
    expect(empty.body.detail).toBe('the body is empty: send a JSON object');
    const badOutcome = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'maybe' } });
    expect(badOutcome.status).toBe(422);
    expect(badOutcome.body.errors).toHaveProperty('outcome');
    expect((await api.request('POST', '/v1/tasks/tsk_unknown/complete', { token: analyst.token, body: { outcome: 'verified' } })).status).toBe(404);

    const done = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified', comment: 'hashes match' }, headers: { 'Idempotency-Key': 'verify-1' } });
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ id: verify.id, status: 'completed', outcome: 'verified', completedBy: { id: analyst.id, org: 'ceop' }, comment: 'hashes match' });
    // The same request retried (same Idempotency-Key) gets the same answer; a fresh one finds the task closed.
    const retried = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified', comment: 'hashes match' }, headers: { 'Idempotency-Key': 'verify-1' } });
    expect(retried.status).toBe(200);
    expect(retried.body.completedAt).toBe(done.body.completedAt);
    const again = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } });
    expect(again.status).toBe(409);

    // The inbox lists open tasks unless asked for another status.
    const stillOpen = await api.request('GET', `/v1/tasks?caseId=${c.id}`, { token: analyst.token });
    expect(stillOpen.body.items.map((t: { id: string }) => t.id)).not.toContain(verify.id);
    const completedOnes = await api.request('GET', `/v1/tasks?caseId=${c.id}&status=completed`, { token: analyst.token });
    expect(completedOnes.body.items.map((t: { id: string }) => t.id)).toEqual([verify.id]);

    const readTask = await api.request('GET', `/v1/tasks/${verify.id}`, { token: lead.token });
    expect(readTask.status).toBe(200);
    expect(readTask.body.status).toBe('completed');
    expect((await api.request('GET', `/v1/tasks/${verify.id}`, { token: visa.token })).status).toBe(403);

    const signoff = await waitForInboxTask(api, officer.token, c.id, 'le_signoff');
    // Nobody of another org sees it in their inbox.
    const otherInbox = await api.request('GET', `/v1/tasks?caseId=${c.id}`, { token: visa.token });
    expect(otherInbox.body.items).toEqual([]);
    const approved = await api.request('POST', `/v1/tasks/${signoff.id}/complete`, { token: officer.token, body: { outcome: 'approved' } });
    expect(approved.status, approved.text).toBe(200);

    const termination = await waitForInboxTask(api, visa.token, c.id, 'confirm_termination');
    expect(termination.assignee).toEqual({ org: 'visa', role: 'partner' });
    // The partner's view: its own channel, no evidence descriptions, no other partners.
    const pv = await api.request('GET', `/v1/cases/${c.id}`, { token: visa.token });
    expect(pv.status).toBe(200);
    expect(pv.body.merchant.paymentChannels).toEqual([expect.objectContaining({ scheme: 'visa' })]);
    expect(pv.body.merchant.hosting).toEqual([]);
    expect(pv.text).not.toContain('secret evidence description');
    expect(pv.text).not.toContain('paypal');
    expect(pv.text).not.toContain('host-example');
    expect(pv.body.evidence[0]).toEqual({ kind: 'test_transaction', sha256: c.evidence[0].sha256 });
    // The case's status, and only the step it holds a task in (the freeze and the hosting step are others' business).
    expect(pv.body.status).toBe('disrupting');
    expect(pv.body.steps.map((st: { name: string; taskIds: string[] }) => [st.name, st.taskIds])).toEqual([['termination', [termination.id]]]);
    // Its own open tasks on the case, with the deadline as its inbox shows it.
    expect(termination.dueAt).toEqual(expect.any(String));
    expect(pv.body.tasks).toEqual([{ id: termination.id, type: 'confirm_termination', status: 'open', dueAt: termination.dueAt }]);
    expect(pv.body).not.toHaveProperty('plan');
    expect(pv.body).not.toHaveProperty('createdBy');
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: mastercard.token })).status).toBe(403);

    const removal = await waitForInboxTask(api, host.token, c.id, 'confirm_removal');
    const hv = await api.request('GET', `/v1/cases/${c.id}`, { token: host.token });
    expect(hv.body.merchant.hosting).toHaveLength(1);
    expect(hv.body.merchant.paymentChannels).toEqual([]);
    expect(hv.body.steps.map((st: { name: string; taskIds: string[] }) => [st.name, st.taskIds])).toEqual([['hosting', [removal.id]]]);

    const missing = await api.request('POST', `/v1/tasks/${termination.id}/complete`, { token: visa.token, body: { outcome: 'terminated', data: {} } });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toHaveProperty('data.terminatedAt');
    // A done time has one range, judged on the instant in UTC: an offset never turns it into a malformed date-time.
    for (const terminatedAt of ['0000-01-01T00:30:00Z', '0000-01-01T00:30:00+01:00', '1999-12-31T23:59:59Z', '2000-01-01T00:30:00+01:00', '9999-12-31T23:30:00-01:00']) {
      const early = await api.request('POST', `/v1/tasks/${termination.id}/complete`, { token: visa.token, body: { outcome: 'terminated', data: { terminatedAt } } });
      expect(early.status, terminatedAt).toBe(422);
      expect(early.body.errors['data.terminatedAt'], terminatedAt).toMatch(/^must lie from 2000-01-01T00:00:00Z to 15 minutes from now/);
    }
    // Times given with an offset are kept as the same instant in UTC, as the contract's times are.
    const terminated = await api.request('POST', `/v1/tasks/${termination.id}/complete`, { token: visa.token, body: { outcome: 'terminated', data: { terminatedAt: '2026-11-20T11:00:00+01:00' } } });
    expect(terminated.status, terminated.text).toBe(200);
    expect(terminated.body.data).toEqual({ terminatedAt: '2026-11-20T10:00:00.000Z' });
    // Its task closed, the partner no longer reads the case... unless it holds another open task.
    expect((await api.request('GET', `/v1/cases/${c.id}`, { token: visa.token })).status).toBe(403);

    const wallet = await waitForInboxTask(api, paypal.token, c.id, 'confirm_termination');
    expect((await api.request('POST', `/v1/tasks/${wallet.id}/complete`, { token: paypal.token, body: { outcome: 'declined', comment: 'account closed already' } })).status).toBe(200);
    const freezeBank = await waitForInboxTask(api, acquirer.token, c.id, 'confirm_freeze');
    expect((await api.request('POST', `/v1/tasks/${freezeBank.id}/complete`, { token: acquirer.token, body: { outcome: 'frozen', data: { amount: 1200.5, currency: 'EUR' } } })).status).toBe(200);
    const freezeWallet = await waitForInboxTask(api, paypal.token, c.id, 'confirm_freeze');
    expect((await api.request('POST', `/v1/tasks/${freezeWallet.id}/complete`, { token: paypal.token, body: { outcome: 'frozen', data: { amount: '10', currency: 'GBP' } } })).status).toBe(200);
    expect((await api.request('POST', `/v1/tasks/${removal.id}/complete`, { token: host.token, body: { outcome: 'declined', comment: 'not ours' } })).status).toBe(200);

    const closed = await waitForCaseStatus(api, lead.token, c.id, ['completed', 'completed_with_exceptions', 'failed'], 60_000);
    expect(closed.status).toBe('completed_with_exceptions');
    // A closed case takes no completions and no withdrawal.
    expect((await api.request('POST', `/v1/tasks/${removal.id}/complete`, { token: host.token, body: { outcome: 'removed', data: { removedAt: '2026-11-20T10:00:00Z' } } })).status).toBe(409);
    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: lead.token, body: { reason: 'late' } })).status).toBe(409);

    // Audit: the case lead of the org and auditors read the chain; it verifies; the export carries it; the history is served.
    const audit = await api.request('GET', `/v1/cases/${c.id}/audit`, { token: lead.token });
    expect(audit.status).toBe(200);
    const actions = audit.body.entries.map((e: { action: string }) => e.action);
    for (const a of ['case.created', 'task.created', 'task.completed', 'step.started', 'step.finished', 'case.closed']) expect(actions).toContain(a);
    expect(audit.body.entries[0].prevHash).toBe('0'.repeat(64));
    expect((await api.request('GET', `/v1/cases/${c.id}/audit`, { token: auditor.token })).status).toBe(200);
    expect((await api.request('GET', `/v1/cases/${c.id}/audit`, { token: otherLead.token })).status).toBe(403);
    expect((await api.request('GET', `/v1/cases/${c.id}/audit`, { token: analyst.token })).status).toBe(403);
    const verified = await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: auditor.token });
    expect(verified.body).toMatchObject({ intact: true, firstBadSeq: null });
    expect(verified.body.entries).toBeGreaterThanOrEqual(audit.body.entries.length);
    expect((await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: lead.token })).status).toBe(403);

    const exported = await api.request('GET', `/v1/audit/export?from=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`, { token: auditor.token });
    expect(exported.status).toBe(200);
    expect(exported.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = exported.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.caseId === c.id).length).toBeGreaterThanOrEqual(audit.body.entries.length - 1);
    expect((await api.request('GET', '/v1/audit/export?from=yesterday', { token: auditor.token })).status).toBe(422);

    // Once the case closed its history is archived; the archive (with its hash, also in the audit chain) is what auditors get.
    const deadline = Date.now() + 30_000;
    let archived = 0;
    while (Date.now() < deadline && archived === 0) {
      archived = (await api.db.pool.query('SELECT 1 FROM history_archives WHERE case_id = $1', [c.id])).rowCount ?? 0;
      if (!archived) await new Promise((r) => setTimeout(r, 200));
    }
    expect(archived).toBe(1);
    const history = await api.request('GET', `/v1/cases/${c.id}/history`, { token: auditor.token });
    expect(history.status, history.text.slice(0, 300)).toBe(200);
    expect(history.body.source).toBe('archive');
    expect(history.body.runs).toHaveLength(1);
    expect(history.body.runs[0].history.events[0].eventType).toMatch(/WORKFLOW_EXECUTION_STARTED/);
    const chain = await api.request('GET', `/v1/cases/${c.id}/audit`, { token: auditor.token });
    const archivedEntry = chain.body.entries.find((e: { action: string }) => e.action === 'history.archived');
    expect(archivedEntry.data.sha256).toBe(history.body.runs[0].sha256);
    expect(history.body.runs[0]).toMatchObject({ recordedSha256: archivedEntry.data.sha256, intact: true });
    // The served history hashes as documented, so an auditor can check it without the server.
    expect(createHash('sha256').update(JSON.stringify(history.body.runs[0].history, null, 2)).digest('hex')).toBe(archivedEntry.data.sha256);
    expect((await api.request('GET', `/v1/cases/${c.id}/history`, { token: lead.token })).status).toBe(403);
    expect((await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: auditor.token })).body).toMatchObject({ intact: true, firstBadSeq: null, problems: [] });
    // The documents partners were sent, as they received them: the hash recomputes and matches the chain.
    const docs = await api.request('GET', `/v1/cases/${c.id}/documents`, { token: auditor.token });
    expect(docs.status).toBe(200);
    expect(docs.body.items.length).toBeGreaterThan(0);
    const rendered = chain.body.entries.filter((e: { action: string }) => e.action === 'document.rendered');
    expect(docs.body.items.map((d: { sha256: string }) => d.sha256).sort()).toEqual(rendered.map((e: { data: { documentHash: string } }) => e.data.documentHash).sort());
    const one = await api.request('GET', `/v1/cases/${c.id}/documents/${docs.body.items[0].id}`, { token: lead.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: docs.body.items[0].id, caseId: c.id, intact: true, recordedSha256: docs.body.items[0].sha256, sha256: docs.body.items[0].sha256 });
    expect(createHash('sha256').update(canonicalize(one.body.document) ?? '').digest('hex')).toBe(one.body.sha256);
    expect((await api.request('GET', `/v1/cases/${c.id}/documents/doc_nope`, { token: auditor.token })).status).toBe(404);
    expect((await api.request('GET', `/v1/cases/${c.id}/documents`, { token: otherLead.token })).status).toBe(403);
    expect((await api.request('GET', `/v1/cases/${c.id}/documents`, { token: analyst.token })).status).toBe(403);
    // An auditor names the actors of the entries one by one (never a token); listing all principals is the admin's.
    const actor = await api.request('GET', `/v1/principals/${archivedEntry.actor?.id ?? lead.id}`, { token: auditor.token });
    expect(actor.status).toBe(200);
    expect(JSON.stringify(actor.body)).not.toMatch(/tdk_|token/i);
    expect((await api.request('GET', `/v1/principals/${lead.id}`, { token: auditor.token })).body).toMatchObject({ id: lead.id, org: 'ceop' });
    expect((await api.request('GET', '/v1/principals', { token: auditor.token })).status).toBe(403);
    expect((await api.request('GET', '/v1/principals', { token: lead.token })).status).toBe(403);

    // The archive is append-only in the database: the app's role may not change it, and even its owner is refused by a
    // trigger; a superuser who gets past that is caught by /history and by verify.
    await expect(api.db.pool.query(`UPDATE history_archives SET history = history WHERE case_id = $1`, [c.id])).rejects.toThrow(/permission denied for table history_archives/);
    const owner = await api.db.admin();
    try {
      await expect(owner.query(`UPDATE history_archives SET history = history WHERE case_id = $1`, [c.id])).rejects.toThrow(/history_archives is append-only/);
    } finally {
      await owner.end();
    }
    const bypass = (sql: string) => api.db.tamper((q) => q(sql, [c.id]));
    await bypass(`UPDATE history_archives SET history = replace(history, '"eventId"', '"eventId" ') WHERE case_id = $1`);
    const altered = await api.request('GET', `/v1/cases/${c.id}/history`, { token: auditor.token });
    expect(altered.body.runs[0]).toMatchObject({ recordedSha256: archivedEntry.data.sha256, intact: false });
    const afterEdit = (await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: auditor.token })).body;
    expect(afterEdit).toMatchObject({ intact: false, firstBadSeq: archivedEntry.seq });
    expect(afterEdit.problems.join(' ')).toMatch(/archived history of run .* hashes to/);
    // Cutting the chain's newest entries leaves a valid shorter chain; the closed case and its archive give it away.
    await bypass(`DELETE FROM audit_entries WHERE case_id = $1 AND action IN ('case.closed', 'history.archived')`);
    const cut = (await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: auditor.token })).body;
    expect(cut).toMatchObject({ intact: false });
    expect(cut.firstBadSeq).toBeLessThanOrEqual(cut.entries + 1);
    expect(cut.problems.join(' ')).toMatch(/no case.closed entry/);
    expect(cut.problems.join(' ')).toMatch(/no history.archived entry/);
  });

  it("verify names a chain given to another case (the case id is not hashed, the reference is) and a case whose chain is gone", async () => {
    const a = await createCase();
    const b = await createCase();
    // Swap the two chains whole: each still verifies on its own.
    await api.db.tamper(async (q) => {
      await q(`UPDATE audit_entries SET case_id = 'swap-' || case_id WHERE case_id = $1`, [a.id]);
      await q(`UPDATE audit_entries SET case_id = $1 WHERE case_id = $2`, [a.id, b.id]);
      await q(`UPDATE audit_entries SET case_id = $1 WHERE case_id = $2`, [b.id, `swap-${a.id}`]);
    });
    for (const [mine, other] of [[a, b], [b, a]]) {
      const v = (await api.request('GET', `/v1/cases/${mine.id}/audit/verify`, { token: auditor.token })).body;
      expect(v).toMatchObject({ intact: false, firstBadSeq: 1 });
      expect(v.problems).toEqual([`the chain's case.created entry (seq 1) opened reference ${other.reference}, but this case is ${mine.reference}: the chain belongs to another case`]);
    }
    await api.db.tamper((q) => q(`DELETE FROM audit_entries WHERE case_id = $1`, [a.id]));
    const gone = (await api.request('GET', `/v1/cases/${a.id}/audit/verify`, { token: auditor.token })).body;
    expect(gone).toMatchObject({ intact: false, entries: 0, firstBadSeq: 1, problems: [`case ${a.id} exists but its chain holds no entries: every entry of it is gone`] });
  });
});

describe('withdrawal and evidence', () => {
  it('adds evidence (case lead of the org) and withdraws (202); open tasks end cancelled', async () => {
    const c = await createCase();
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const more = await api.request('POST', `/v1/cases/${c.id}/evidence`, {
      token: lead.token,
      body: { evidence: [{ kind: 'screenshot_hash', sha256: 'b'.repeat(64) }], urls: ['https://mirror.example.test/x'] },
    });
    expect(more.status, more.text).toBe(200);
    expect(more.body.evidence.map((e: { sha256: string }) => e.sha256)).toContain('b'.repeat(64));
    expect(more.body.merchant.urls).toContain('https://mirror.example.test/x');
    expect((await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: {} })).status).toBe(422);
    expect((await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: analyst.token, body: { urls: ['https://a.example.test/'] } })).status).toBe(403);
    expect((await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: otherLead.token, body: { urls: ['https://a.example.test/'] } })).status).toBe(403);

    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: lead.token, body: {} })).status).toBe(422);
    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: officer.token, body: { reason: 'x' } })).status).toBe(403);
    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: otherLead.token, body: { reason: 'x' } })).status).toBe(403);
    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: auditor.token, body: { reason: 'x' } })).status).toBe(403);
    const w = await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: supervisor.token, body: { reason: 'operational conflict' } });
    expect(w.status, w.text).toBe(202);
    expect(w.body.withdrawal).toMatchObject({ reason: 'operational conflict', by: supervisor.id });
    // Read at once, the case shows the withdrawal under way (its view is written with the withdrawal's entry), whether or
    // not the close is written yet.
    const read = await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token });
    expect(read.body.withdrawal).toMatchObject({ reason: 'operational conflict', by: supervisor.id });
    // While the case runs, its history comes live from Temporal.
    const live = await api.request('GET', `/v1/cases/${c.id}/history`, { token: auditor.token });
    expect(live.status).toBe(200);
    expect(live.body.source).toBe('temporal');
    expect(live.body.runs[0].runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(live.body.runs[0].history.events.length).toBeGreaterThan(3);
    const ended = await waitForCaseStatus(api, lead.token, c.id, ['withdrawn']);
    expect(ended.status).toBe('withdrawn');
    const t = await api.request('GET', `/v1/tasks/${verify.id}`, { token: analyst.token });
    expect(t.body.status).toBe('cancelled');
    const late = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } });
    expect(late.status).toBe(409);
  });
});

describe('a task the workflow does not know', () => {
  it('refuses a completion of a stray task (left open by an interrupted workflow task) as no longer open, not as unknown', async () => {
    const c = await createCase();
    await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    // What a lost attempt leaves: an open task row its rerun never opened.
    const stray = `tsk_stray_${c.id.slice(-12)}`;
    await stack.db.pool.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context)
       VALUES ($1, $2, 'ceop', 'verify_evidence', 'open', 'ceop', 'analyst', '{analyst}', now(), '{}'::jsonb)`,
      [stray, c.id],
    );
    expect((await api.request('GET', `/v1/tasks/${stray}`, { token: analyst.token })).body).toMatchObject({ id: stray, status: 'open' });
    const res = await api.request('POST', `/v1/tasks/${stray}/complete`, { token: analyst.token, body: { outcome: 'verified' } });
    expect(res.status, res.text).toBe(409);
    expect(res.body.detail).toMatch(/^task no longer open: the case’s workflow does not hold it/);
  });
});

describe('what an ended run leaves pending', () => {
  it("settles, when the closed case's history is archived, a notice stored pending after the close's settle (a prepare that outlived its cancellation)", async () => {
    const c = await createCase();
    await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    expect((await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: supervisor.token, body: { reason: 'operational conflict' } })).status).toBe(202);
    await waitForCaseStatus(api, lead.token, c.id, ['withdrawn']);
    const workflowId = caseWorkflowId(c.id);
    await stack.client.workflow.getHandle(workflowId).result();
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      if ((await stack.db.pool.query('SELECT 1 FROM history_archives WHERE case_id = $1', [c.id])).rowCount) break;
    }
    // The row a late prepare stores: pending, on a case whose run has ended, so nothing will ever send it.
    const noticeId = `ntc_late_${c.id.slice(-8)}`;
    await stack.db.pool.query(`INSERT INTO notices (id, case_id, task_id, org, type, state) VALUES ($1, $2, NULL, 'visa', 'termination_request', 'pending')`, [noticeId, c.id]);
    // The archive run again (a retry after its worker died, or one that starts after the late prepare).
    const archive = () => new MockActivityEnvironment().run(archiveHistory, stack.db.pool, stack.client, { caseId: c.id, workflowId });
    await archive();
    const { rows } = await stack.db.pool.query('SELECT state, last_error FROM notices WHERE id = $1', [noticeId]);
    expect(rows).toEqual([{ state: 'abandoned', last_error: 'the case ended before the notice was sent' }]);
    const entries = async () => (await api.request('GET', `/v1/cases/${c.id}/audit`, { token: auditor.token })).body.entries as { action: string; data: { noticeIds?: string[] } }[];
    const abandoned = (await entries()).filter((e) => e.action === 'notice.abandoned' && e.data.noticeIds?.includes(noticeId));
    expect(abandoned).toHaveLength(1);
    const count = (await entries()).length;
    await archive();
    expect((await entries()).length).toBe(count);
    expect((await api.request('GET', `/v1/cases/${c.id}/audit/verify`, { token: auditor.token })).body).toMatchObject({ intact: true, firstBadSeq: null });
  });
});

describe('amended URLs and hosting providers', () => {
  it('routes new URLs to hosting providers: by host, or by a named hosting entry; a new provider once hosting is planned is a 409', async () => {
    const c = await createCase();
    const hostTwo = await api.principal('host-two', ['partner']);
    const shop: string = c.merchant.hosting[0].urls[0];
    const sameHost = shop.replace(/\/a$/, '/b');
    const amended = await api.request('POST', `/v1/cases/${c.id}/evidence`, {
      token: lead.token,
      body: {
        urls: [sameHost, 'https://nowhere.example.test/x'],
        hosting: [
          { provider: 'host-example', urls: ['https://mirror.example.test/m'] },
          { provider: 'host-two', ip: '198.51.100.9', urls: ['https://two.example.test/t'] },
        ],
      },
    });
    expect(amended.status, amended.text).toBe(200);
    // A URL on a host an entry serves joins it; a URL on a host nobody is named for stays a case URL only.
    expect(amended.body.merchant.hosting).toEqual([
      { provider: 'host-example', ip: '203.0.113.7', urls: [shop, 'https://mirror.example.test/m', sameHost] },
      { provider: 'host-two', ip: '198.51.100.9', urls: ['https://two.example.test/t'] },
    ]);
    expect(amended.body.merchant.urls).toEqual(expect.arrayContaining([sameHost, 'https://nowhere.example.test/x', 'https://mirror.example.test/m', 'https://two.example.test/t']));
    const audit = (await api.request('GET', `/v1/cases/${c.id}/audit`, { token: lead.token })).body.entries;
    expect(audit.find((e: { action: string }) => e.action === 'evidence.added').data.hosting).toEqual([
      { provider: 'host-example', urls: ['https://mirror.example.test/m'] },
      { provider: 'host-two', urls: ['https://two.example.test/t'] },
    ]);
    const invalid = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { hosting: [{ provider: 'host-two', urls: [] }] } });
    expect(invalid.status).toBe(422);

    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    expect((await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } })).status).toBe(200);
    const signoff = await waitForInboxTask(api, officer.token, c.id, 'le_signoff');
    expect((await api.request('POST', `/v1/tasks/${signoff.id}/complete`, { token: officer.token, body: { outcome: 'approved' } })).status).toBe(200);
    // Each provider's removal task covers its own URLs, the amended ones included.
    const removal = await waitForInboxTask(api, host.token, c.id, 'confirm_removal');
    expect(removal.context.scope.urls).toEqual([shop, 'https://mirror.example.test/m', sameHost]);
    const removalTwo = await waitForInboxTask(api, hostTwo.token, c.id, 'confirm_removal');
    expect(removalTwo.context.scope.urls).toEqual(['https://two.example.test/t']);

    // Hosting is planned now: a provider named from here on would never be notified, so it is refused and nothing changes.
    const late = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { hosting: [{ provider: 'host-three', urls: ['https://three.example.test/'] }] } });
    expect(late.status, late.text).toBe(409);
    expect(late.body.detail).toContain('host-three');
    const after = (await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token })).body;
    expect(after.merchant.hosting.map((h: { provider: string }) => h.provider)).toEqual(['host-example', 'host-two']);
    expect(after.merchant.urls).not.toContain('https://three.example.test/');
    // A URL for a provider already named is still taken.
    const known = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { hosting: [{ provider: 'host-two', urls: ['https://two.example.test/u'] }] } });
    expect(known.status, known.text).toBe(200);
    expect(known.body.merchant.hosting[1].urls).toEqual(['https://two.example.test/t', 'https://two.example.test/u']);
  });
});

describe('Idempotency-Key on task completions, evidence and withdrawal', () => {
  const refused = (res: { status: number; body: { errors?: Record<string, string> } }) => {
    expect(res.status).toBe(422);
    expect(res.body.errors).toHaveProperty('Idempotency-Key');
  };

  it("answers a repeated key with the first result, 422 when the body differs, and never another principal's result", async () => {
    const c = await createCase();
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const path = `/v1/tasks/${verify.id}/complete`;
    const headers = { 'Idempotency-Key': 'complete-once' };
    const first = await api.request('POST', path, { token: analyst.token, body: { outcome: 'verified', data: { note: 1 } }, headers });
    expect(first.status, first.text).toBe(200);
    const again = await api.request('POST', path, { token: analyst.token, body: { outcome: 'verified', data: { note: 1 } }, headers });
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual(first.body);
    refused(await api.request('POST', path, { token: analyst.token, body: { outcome: 'rejected', comment: 'changed my mind' }, headers }));
    refused(await api.request('POST', path, { token: analyst.token, body: { outcome: 'verified', data: { note: 2 } }, headers }));
    // Another principal's request with the same key is its own request: the task is no longer open.
    expect((await api.request('POST', path, { token: leadAnalyst.token, body: { outcome: 'verified', data: { note: 1 } }, headers })).status).toBe(409);
    const stored = await api.request('GET', `/v1/tasks/${verify.id}`, { token: analyst.token });
    expect(stored.body).toMatchObject({ outcome: 'verified', data: { note: 1 }, completedBy: { id: analyst.id } });

    const evidence = `/v1/cases/${c.id}/evidence`;
    const key = { 'Idempotency-Key': 'amend-once' };
    const added = await api.request('POST', evidence, { token: lead.token, body: { evidence: [{ kind: 'screenshot_hash', sha256: 'c'.repeat(64) }] }, headers: key });
    expect(added.status, added.text).toBe(200);
    expect((await api.request('POST', evidence, { token: lead.token, body: { evidence: [{ kind: 'screenshot_hash', sha256: 'c'.repeat(64) }] }, headers: key })).status).toBe(200);
    refused(await api.request('POST', evidence, { token: lead.token, body: { evidence: [{ kind: 'screenshot_hash', sha256: 'd'.repeat(64) }] }, headers: key }));
    const read = await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token });
    expect(read.body.evidence.map((e: { sha256: string }) => e.sha256)).not.toContain('d'.repeat(64));

    const withdraw = `/v1/cases/${c.id}/withdraw`;
    const wkey = { 'Idempotency-Key': 'withdraw-once' };
    expect((await api.request('POST', withdraw, { token: lead.token, body: { reason: 'duplicate of another case' }, headers: wkey })).status).toBe(202);
    expect((await api.request('POST', withdraw, { token: lead.token, body: { reason: 'duplicate of another case' }, headers: wkey })).status).toBe(202);
    refused(await api.request('POST', withdraw, { token: lead.token, body: { reason: 'another reason' }, headers: wkey }));
    expect((await waitForCaseStatus(api, lead.token, c.id, ['withdrawn'])).withdrawal).toMatchObject({ reason: 'duplicate of another case', by: lead.id });
  });

  it('refuses a key sent more than once on completions, evidence and withdrawal with the 422 of a malformed key, and changes nothing', async () => {
    const c = await createCase();
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const twice = keyLines('twice-a', 'twice-b');
    refused(await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' }, headers: twice }));
    expect((await api.request('GET', `/v1/tasks/${verify.id}`, { token: analyst.token })).body.status).toBe('open');
    refused(await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { evidence: [{ kind: 'screenshot_hash', sha256: 'e'.repeat(64) }] }, headers: twice }));
    refused(await api.request('POST', `/v1/cases/${c.id}/withdraw`, { token: lead.token, body: { reason: 'keys sent twice' }, headers: twice }));
    const read = await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token });
    expect(read.body.status).toBe('verifying');
    expect(read.body.evidence.map((e: { sha256: string }) => e.sha256)).not.toContain('e'.repeat(64));
  });

  it("answers a completion's 404, 409 and 403 before a malformed key's 422 (the contract's order), and a valid key as before", async () => {
    // A structured-field string with a leading blank (a bare one would lose it: HTTP strips blanks around a value).
    const malformed = { 'Idempotency-Key': '" x"' };
    const body = { outcome: 'verified' };
    const unknown = await api.request('POST', '/v1/tasks/tsk_unknown/complete', { token: analyst.token, body, headers: malformed });
    expect(unknown.status, unknown.text).toBe(404);
    const c = await createCase();
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    const path = `/v1/tasks/${verify.id}/complete`;
    const notAssignee = await api.request('POST', path, { token: officer.token, body, headers: malformed });
    expect(notAssignee.status, notAssignee.text).toBe(403);
    // The assignee of an open task: the key's 422, before the body's.
    refused(await api.request('POST', path, { token: analyst.token, body: { outcome: 'nope' }, headers: malformed }));
    expect((await api.request('GET', `/v1/tasks/${verify.id}`, { token: analyst.token })).body.status).toBe('open');
    const headers = { 'Idempotency-Key': 'complete-before-malformed' };
    const done = await api.request('POST', path, { token: analyst.token, body, headers });
    expect(done.status, done.text).toBe(200);
    const closed = await api.request('POST', path, { token: analyst.token, body, headers: malformed });
    expect(closed.status, closed.text).toBe(409);
    expect((await api.request('POST', path, { token: officer.token, body, headers: malformed })).status).toBe(403);
    const retried = await api.request('POST', path, { token: analyst.token, body, headers });
    expect(retried.status, retried.text).toBe(200);
    expect(retried.body).toEqual(done.body);
  });

  it('answers a completion, a withdrawal or an amendment retried after Temporal dropped the closed run (its retention) from the stored case', { timeout: 90_000 }, async () => {
    const [c, w] = [await createCase(), await createCase()];
    const verify = await waitForInboxTask(api, analyst.token, c.id, 'verify_evidence');
    await waitForInboxTask(api, analyst.token, w.id, 'verify_evidence');
    const path = `/v1/tasks/${verify.id}/complete`;
    const body = { outcome: 'rejected', comment: 'hashes do not match the captures' };
    const headers = { 'Idempotency-Key': 'complete-before-purge' };
    const first = await api.request('POST', path, { token: analyst.token, body, headers });
    expect(first.status, first.text).toBe(200);
    const amend = `/v1/cases/${w.id}/evidence`;
    const abody = { urls: ['https://mirror.example.test/before-purge'] };
    const akey = { 'Idempotency-Key': 'amend-before-purge' };
    const amended = await api.request('POST', amend, { token: lead.token, body: abody, headers: akey });
    expect(amended.status, amended.text).toBe(200);
    const withdraw = `/v1/cases/${w.id}/withdraw`;
    const wbody = { reason: 'operation paused' };
    const wkey = { 'Idempotency-Key': 'withdraw-before-purge' };
    const withdrawn = await api.request('POST', withdraw, { token: lead.token, body: wbody, headers: wkey });
    expect(withdrawn.status, withdrawn.text).toBe(202);
    // The rejection and the withdrawal close their cases; then their runs are deleted, as Temporal does once the
    // namespace's retention passes.
    await waitForCaseStatus(api, lead.token, c.id, ['closed_unverified']);
    const closed = await waitForCaseStatus(api, lead.token, w.id, ['withdrawn']);
    const handles = [c, w].map((x) => stack.client.workflow.getHandle(caseWorkflowId(x.id)));
    await Promise.all(handles.map((h) => h.result().catch(() => undefined)));
    // The closed run still kept: a new key is refused (the task is not open), the same key answered by Temporal.
    expect((await api.request('POST', path, { token: analyst.token, body, headers: { 'Idempotency-Key': 'another-key' } })).status).toBe(409);
    expect((await api.request('POST', path, { token: analyst.token, body, headers })).body).toEqual(first.body);
    for (const x of [c, w]) await stack.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: caseWorkflowId(x.id) } });
    // The dev server deletes in the background (about 20 s here).
    for (const h of handles) for (let gone = false; !gone; await new Promise((r) => setTimeout(r, 200))) gone = await h.describe().then(() => false, () => true);

    const retried = await api.request('POST', path, { token: analyst.token, body, headers });
    expect(retried.status, retried.text).toBe(200);
    expect(retried.body).toEqual(first.body);
    // Another body or another principal under the key: the task is not open (the body the key was first sent with went
    // with the run, so another body is no longer told apart as a reused key).
    expect((await api.request('POST', path, { token: analyst.token, body: { outcome: 'verified' }, headers })).status).toBe(409);
    expect((await api.request('POST', path, { token: leadAnalyst.token, body, headers })).status).toBe(409);
    // The keys went with the run too: the same principal's same completion under another key is answered alike.
    expect((await api.request('POST', path, { token: analyst.token, body, headers: { 'Idempotency-Key': 'another-key' } })).status).toBe(200);

    // The withdrawal repeated: the case as stored, withdrawn by this lead for this reason; another reason is refused.
    const again = await api.request('POST', withdraw, { token: lead.token, body: wbody, headers: wkey });
    expect(again.status, again.text).toBe(202);
    expect(again.body).toMatchObject({ id: w.id, status: 'withdrawn', withdrawal: { by: lead.id, reason: 'operation paused' } });
    expect(again.body.updatedAt).toBe(closed.updatedAt);
    expect((await api.request('POST', withdraw, { token: lead.token, body: { reason: 'another reason' }, headers: wkey })).status).toBe(409);
    expect((await api.request('POST', withdraw, { token: lead2.token, body: wbody, headers: wkey })).status).toBe(409);

    // The amendment repeated under its key: the stored case holds it, so it took effect (the case as it is now); one
    // it does not hold is refused, as the closed case refuses any amendment.
    const reamended = await api.request('POST', amend, { token: lead.token, body: abody, headers: akey });
    expect(reamended.status, reamended.text).toBe(200);
    expect(reamended.body).toMatchObject({ id: w.id, status: 'withdrawn' });
    expect(reamended.body.merchant.urls).toContain(abody.urls[0]);
    expect((await api.request('POST', amend, { token: lead.token, body: { urls: ['https://mirror.example.test/after-purge'] }, headers: akey })).status).toBe(409);
  });
});

describe('amendment limits', () => {
  /** `count` evidence items with hashes of their own, each described by 2,000 of `char`. */
  const evidence = (prefix: string, count: number, char: string) =>
    Array.from({ length: count }, (_, i) => ({ kind: 'screenshot_hash', sha256: `${prefix}${i.toString(16).padStart(8, '0')}`.padEnd(64, '0'), description: char.repeat(2000) }));

  /** A new case takes the first amendment and refuses the second (422, naming evidence), which changes nothing. */
  async function refusesSecond(first: unknown[], second: unknown[]): Promise<string> {
    const c = await createCase();
    const taken = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { evidence: first } });
    expect(taken.status, taken.text.slice(0, 300)).toBe(200);
    const refused = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { evidence: second } });
    expect(refused.status, refused.text.slice(0, 300)).toBe(422);
    expect(refused.body.errors).toHaveProperty('evidence');
    const read = await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token });
    expect(read.body.evidence).toHaveLength(taken.body.evidence.length);
    return c.id;
  }

  it('refuses (422) an amendment that would grow the case past 1 MiB of JSON, and changes nothing', async () => {
    const id = await refusesSecond(evidence('a', 450, 'x'), evidence('b', 450, 'x'));
    // The case still takes requests afterwards.
    const small = await api.request('POST', `/v1/cases/${id}/evidence`, { token: lead.token, body: { urls: ['https://after.example.test/'] } });
    expect(small.status, small.text.slice(0, 300)).toBe(200);
  });

  it('counts that 1 MiB in UTF-8 bytes, as Temporal counts its payloads: text outside ASCII fills it sooner', async () => {
    // 150 descriptions of 2,000 CJK characters: 300,000 characters, 900,000 bytes in UTF-8 (a body under 1 MiB). Two of
    // them pass 1 MiB of bytes though not of characters; counted in characters, the third would have passed too, and its
    // answer (the whole case, about 2.7 MB) would have failed the workflow task past Temporal's 2 MB a payload.
    await refusesSecond(evidence('c', 150, '漢'), evidence('d', 150, '漢'));
  });

  it('counts the URLs of an amendment twice, as the case stores them: in its URLs and in their hosting entry', async () => {
    // 3 providers × 200 URLs of about 1,000 bytes: a body of about 600 KB, which the case would hold twice (1.2 MB).
    const hosting = (tag: string, providers: number) =>
      Array.from({ length: providers }, (_, p) => ({
        provider: `host-${tag}${p}`,
        urls: Array.from({ length: 200 }, (_, i) => `https://shop-${tag}${p}.example.test/${String(i).padStart(4, '0')}/${'p'.repeat(980)}`),
      }));
    const c = await createCase();
    const refused = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { hosting: hosting('a', 3) } });
    expect(refused.status, refused.text.slice(0, 300)).toBe(422);
    expect(refused.body.errors).toHaveProperty('evidence');
    const unchanged = await api.request('GET', `/v1/cases/${c.id}`, { token: lead.token });
    expect(unchanged.body.merchant).toEqual(c.merchant);
    // Half of it fits: the case then holds it twice, under 1 MiB.
    const taken = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { hosting: hosting('b', 1) } });
    expect(taken.status, taken.text.slice(0, 300)).toBe(200);
    expect(taken.body.merchant.urls).toHaveLength(c.merchant.urls.length + 200);
    expect(Buffer.byteLength(JSON.stringify(taken.body))).toBeLessThan(1024 * 1024);
  });

  it('refuses the amendment after the twentieth', async () => {
    const c = await createCase();
    for (let i = 0; i < 20; i++) {
      const res = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { urls: [`https://m${i}.example.test/`] } });
      expect(res.status, res.text).toBe(200);
    }
    const over = await api.request('POST', `/v1/cases/${c.id}/evidence`, { token: lead.token, body: { urls: ['https://m20.example.test/'] } });
    expect(over.status, over.text).toBe(422);
    expect(over.body.errors).toHaveProperty('evidence');
  });
});
