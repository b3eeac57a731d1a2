// GET /v1/tasks/:id/document: a partner org without a webhook is sent no notice, yet its requests are prepared and
// stored; this is where it reads what its task asks, hashed as the audit chain recorded. Who else may read it, and what
// the others are answered. Through the HTTP API with the real workflow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHash } from '../../db/queries/documents';
import { startApi, type ApiHarness, type ApiResponse } from '../support/api-harness';
import { approveCase, caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

type Principal = Awaited<ReturnType<ApiHarness['principal']>>;

let stack: WorkflowStack;
let api: ApiHarness;
let lead: Principal;
let analyst: Principal;
let officer: Principal;
let auditor: Principal;
let visa: Principal;
let paypal: Principal;
let otherLead: Principal;

// What the case lead captured of the merchant for a scheme's terminated-merchant listing, beyond the partner's case view.
const identity = {
  legalName: 'Example Shop Trading Ltd',
  address: '1 Example Street\nLondon',
  country: 'GB',
  phone: '+44 20 7946 0000',
  taxIds: ['GB123456789'],
  dateOpened: '2025-03-01',
  principals: [{ name: 'A. Owner', role: 'director' }],
};

beforeAll(async () => {
  stack = await startWorkflowStack('task-document');
  api = await startApi('task-document', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  lead = await api.principal('ceop', ['case_lead']);
  analyst = await api.principal('ceop', ['analyst']);
  officer = await api.principal('ceop', ['le_officer']);
  auditor = await api.principal('oversight', ['auditor']);
  visa = await api.principal('visa', ['partner']);
  paypal = await api.principal('paypal', ['partner']);
  otherLead = await api.principal('nca', ['case_lead']);
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

const read = (taskId: string, token: string) => api.request('GET', `/v1/tasks/${taskId}/document`, { token });

/** Reads a task's document until its request is prepared (the workflow opens the task first, then prepares it). */
async function waitForDocument(taskId: string, token: string, timeoutMs = 30_000): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  let res = await read(taskId, token);
  while (res.status === 404 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    res = await read(taskId, token);
  }
  return res;
}

async function waitForTaskStatus(taskId: string, status: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await api.request('GET', `/v1/tasks/${taskId}`, { token: lead.token });
    if (res.body?.status === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`task ${taskId} did not become ${status}`);
}

describe('a partner task’s request document', () => {
  let caseId: string;
  let verifyTaskId: string;
  let visaTask: { id: string };
  let paypalTask: { id: string };
  let visaDoc: ApiResponse;

  beforeAll(async () => {
    const body = caseBody();
    const created = await api.request('POST', '/v1/cases', { token: lead.token, body: { ...body, merchant: { ...body.merchant, ...identity } } });
    expect(created.status, created.text).toBe(201);
    caseId = created.body.id;
    ({ verifyTaskId } = await approveCase(api, caseId, { analyst: analyst.token, officer: officer.token }));
    visaTask = await waitForInboxTask(api, visa.token, caseId, 'confirm_termination');
    paypalTask = await waitForInboxTask(api, paypal.token, caseId, 'confirm_termination');
    visaDoc = await waitForDocument(visaTask.id, visa.token);
  }, 60_000);

  it('is read by its partner org without a webhook: the formal request with every listing field, hashed as the audit chain recorded it', async () => {
    // Neither visa nor any other partner org is registered here: no webhook, so no notice reaches visa.
    expect((await api.request('GET', '/v1/partners', { token: api.adminToken })).body.items).toEqual([]);
    expect(visaDoc.status, visaDoc.text).toBe(200);
    const d = visaDoc.body;
    expect(d).toMatchObject({ caseId, taskId: visaTask.id, type: 'termination_request', documentId: `doc_${d.noticeId}` });
    expect(d.document).toMatchObject({ documentType: 'termination_request', taskId: visaTask.id, recipient: { org: 'visa' } });
    // What the partner case view leaves out and the listing needs, read here.
    expect(d.document.listing.merchant).toMatchObject({
      legalName: identity.legalName,
      address: identity.address,
      country: identity.country,
      phone: identity.phone,
      taxIds: identity.taxIds,
      dateOpened: identity.dateOpened,
    });
    expect(d.document.listing.principals).toEqual([{ name: 'A. Owner', role: 'director', address: null, nationalId: null }]);

    // The hash is the one the chain's document.rendered entry recorded, and the partner can recompute it.
    const audit = await api.request('GET', `/v1/cases/${caseId}/audit`, { token: lead.token });
    expect(audit.status, audit.text).toBe(200);
    const entries = audit.body.entries as { action: string; data: Record<string, unknown> }[];
    const rendered = entries.find((e) => e.action === 'document.rendered' && e.data.documentId === d.documentId);
    expect(rendered?.data).toMatchObject({ noticeId: d.noticeId, type: 'termination_request', org: 'visa', documentHash: d.documentHash });
    expect(documentHash(d.document)).toBe(d.documentHash);
    expect(d.intact).toBe(true);
    // Prepared and stored skipped, never sent: the reason this read exists.
    const skipped = entries.find((e) => e.action === 'notice.skipped' && e.data.noticeId === d.noticeId);
    expect(skipped?.data).toMatchObject({ reason: 'no_webhook', documentHash: d.documentHash });
    const { rows } = await api.db.pool.query<{ state: string; created_at: Date }>('SELECT state, created_at FROM notices WHERE id = $1', [d.noticeId]);
    expect(rows[0].state).toBe('skipped');
    // When it was rendered is when its notice was issued (a notice's sentAt).
    expect(d.renderedAt).toBe(rows[0].created_at.toISOString());
  });

  it('is read by the case org’s case leads and by auditors, as the partner reads it', async () => {
    for (const who of [lead, auditor]) {
      const res = await read(visaTask.id, who.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual(visaDoc.body);
    }
  });

  it('is refused to another partner org, even one holding its own task on the case, as GET /v1/tasks/:id refuses it', async () => {
    expect((await api.request('GET', `/v1/tasks/${visaTask.id}`, { token: paypal.token })).status).toBe(403);
    const res = await read(visaTask.id, paypal.token);
    expect(res.status, res.text).toBe(403);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    // paypal reads its own request, which is another document.
    const own = await waitForDocument(paypalTask.id, paypal.token);
    expect(own.status, own.text).toBe(200);
    expect(own.body.document.recipient).toEqual({ org: 'paypal' });
    expect(own.body.noticeId).not.toBe(visaDoc.body.noticeId);
  });

  it('is refused to another org’s case lead (403, as for the task), and to readers of the task who read no documents', async () => {
    expect((await read(visaTask.id, otherLead.token)).status).toBe(403);
    expect((await api.request('GET', `/v1/tasks/${visaTask.id}`, { token: analyst.token })).status).toBe(200);
    const res = await read(visaTask.id, analyst.token);
    expect(res.status, res.text).toBe(403);
    expect(res.body.detail).toMatch(/case leads and auditors/);
  });

  it('does not exist for an internal task, nor for an unknown one (404 problem+json)', async () => {
    for (const who of [lead, auditor, analyst]) {
      const res = await read(verifyTaskId, who.token);
      expect(res.status, res.text).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.detail).toMatch(/verify_evidence task has no document/);
    }
    const unknown = await read('tsk_00000000000000000000000000000000', lead.token);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe('no such task');
  });

  it('stays readable by a partner that completed its task, and not by one whose task was cancelled', async () => {
    const done = await api.request('POST', `/v1/tasks/${visaTask.id}/complete`, { token: visa.token, body: { outcome: 'terminated', data: { terminatedAt: new Date().toISOString() } } });
    expect(done.status, done.text).toBe(200);
    const after = await read(visaTask.id, visa.token);
    expect(after.status, after.text).toBe(200);
    expect(after.body).toEqual(visaDoc.body);

    const withdrawn = await api.request('POST', `/v1/cases/${caseId}/withdraw`, { token: lead.token, body: { reason: 'test of document reads' } });
    expect(withdrawn.status, withdrawn.text).toBe(202);
    await waitForTaskStatus(paypalTask.id, 'cancelled');
    const refused = await read(paypalTask.id, paypal.token);
    expect(refused.status, refused.text).toBe(403);
    expect(refused.body.detail).toMatch(/withdrawn/);
    // The case's own readers still read it, and visa its completed task's.
    expect((await read(paypalTask.id, auditor.token)).status).toBe(200);
    expect((await read(visaTask.id, visa.token)).status).toBe(200);
  });
});
