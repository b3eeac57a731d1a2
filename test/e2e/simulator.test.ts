// The partner simulator against the real stack, through the HTTP API only: signed notices, dedupe, task completion, retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { TakedownClient, type CaseRead, type NewCase } from '../../scripts/lib/api-client';
import { startPartnerSimulator, type PartnerSimulator } from '../../scripts/lib/partner-simulator';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
let sim: PartnerSimulator;
let lead: TakedownClient, analyst: TakedownClient, officer: TakedownClient, auditor: TakedownClient;

const ORGS = {
  visa: { kind: 'card_scheme' },
  paypal: { kind: 'payment_provider' },
  'acq-northbank': { kind: 'acquirer' },
  'host-example': { kind: 'hosting_provider' },
} as const;

beforeAll(async () => {
  stack = await startWorkflowStack('simulator');
  api = await startApi('simulator', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  const admin = new TakedownClient({ baseUrl: api.url, token: api.adminToken });
  const make = async (name: string, roles: Parameters<TakedownClient['createPrincipal']>[0]['roles']) =>
    admin.withToken((await admin.createPrincipal({ name, org: 'ceop', roles })).token);
  [lead, analyst, officer, auditor] = await Promise.all([
    make('lead', ['case_lead']),
    make('analyst', ['analyst']),
    make('officer', ['le_officer']),
    make('auditor', ['auditor']),
  ]);
  sim = await startPartnerSimulator({ apiUrl: api.url, adminToken: api.adminToken, orgs: { ...ORGS }, seed: 1, log: process.env.SIM_LOGS ? console.log : undefined });
});
afterAll(async () => {
  await sim?.stop();
  await api?.stop();
  await stack?.stop();
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await fn();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Plays the case's own people through the API (analyst verifies, officer approves) and waits for the case to end. */
async function runCase(): Promise<CaseRead> {
  const created = await lead.createCase(caseBody() as NewCase);
  for (const [who, type, outcome] of [
    [analyst, 'verify_evidence', 'verified'],
    [officer, 'le_signoff', 'approved'],
  ] as const) {
    const task = await until(type, async () => (await who.listTasks({ status: 'open', caseId: created.id, type })).items[0]);
    await who.completeTask(task.id, { outcome });
  }
  return until('the case to end', async () => {
    const c = await lead.getCase(created.id);
    return ['verifying', 'awaiting_signoff', 'disrupting'].includes(c.status) ? undefined : c;
  });
}

describe('partner simulator', () => {
  it('registers each org with a webhook and a fresh secret', async () => {
    const partners = await new TakedownClient({ baseUrl: api.url, token: api.adminToken }).listPartners();
    for (const org of Object.keys(ORGS)) {
      expect(partners.find((p) => p.org === org)).toMatchObject({ webhookUrl: `${sim.url}/hooks/${org}`, hasSecret: true });
    }
    const { rows } = await stack.db.pool.query<{ secret: string }>('SELECT secret FROM partners ORDER BY org');
    expect(new Set(rows.map((r) => r.secret)).size).toBe(rows.length);
    for (const r of rows) expect(Buffer.from(r.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('verifies every notice and completes every partner task once: the case ends completed', async () => {
    const before = sim.stats();
    const c = await runCase();
    expect(c.status).toBe('completed');
    await sim.idle();
    const s = sim.stats();
    expect(s.badSignatures).toBe(0);
    expect(s.received - before.received).toBe(s.verified - before.verified);
    // visa + paypal terminations, acq-northbank + paypal freezes, one hosting notice.
    expect(s.byType).toMatchObject({ termination_request: 2, freeze_request: 2, hosting_notice: 1 });
    expect(s.completed).toBe(5);
    expect(s.completionErrors).toBe(0);
    const acted = [...sim.actedOn().values()];
    expect(acted).toHaveLength(5);
    expect(acted.every((n) => n === 1)).toBe(true);

    // The case lead reads every partner task through the API: each completed with its positive outcome by the partner org.
    const view = await lead.getCase(c.id);
    const partnerTaskIds = view.steps.filter((st) => ['termination', 'freeze', 'hosting'].includes(st.name)).flatMap((st) => st.taskIds);
    expect(partnerTaskIds).toHaveLength(5);
    for (const id of partnerTaskIds) {
      const t = await lead.getTask(id);
      expect(t).toMatchObject({ status: 'completed', outcome: expect.stringMatching(/^(terminated|frozen|removed)$/) });
      expect(t.completedBy?.org).toBe(t.assignee.org);
    }

    const audit = await auditor.caseAudit(c.id);
    expect(audit.entries.filter((e) => e.action === 'notice.sent')).toHaveLength(5);
    expect((await auditor.verifyAudit(c.id)).intact).toBe(true);
  });

  it('answers a redelivered notice 200 without acting on it again, and a bad signature 401', async () => {
    const { rows } = await stack.db.pool.query(
      `SELECT n.id, n.type, n.case_id, n.task_id, n.org, d.body, p.secret FROM notices n JOIN documents d ON d.id = 'doc_' || n.id
         JOIN partners p ON p.org = n.org WHERE n.type = 'termination_request' AND n.org = 'visa' LIMIT 1`,
    );
    const n = rows[0];
    const body = JSON.stringify({ id: n.id, type: n.type, caseId: n.case_id, taskId: n.task_id, org: n.org, document: n.body, sentAt: new Date().toISOString() });
    const signed = (secret: string) => ({
      'content-type': 'application/json',
      'webhook-id': n.id,
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': new Webhook(secret).sign(n.id, new Date(), body),
      'idempotency-key': n.id,
    });
    const before = sim.stats();
    const actedBefore = sim.actedOn();

    const redelivered = await fetch(`${sim.url}/hooks/visa`, { method: 'POST', headers: signed(n.secret), body });
    expect(redelivered.status).toBe(200);
    expect(await redelivered.json()).toMatchObject({ duplicate: true });

    const forged = await fetch(`${sim.url}/hooks/visa`, { method: 'POST', headers: signed(`whsec_${Buffer.alloc(32, 1).toString('base64')}`), body });
    expect(forged.status).toBe(401);
    const tampered = await fetch(`${sim.url}/hooks/visa`, { method: 'POST', headers: signed(n.secret), body: body.replace('termination_request', 'hosting_notice') });
    expect(tampered.status).toBe(401);

    await sim.idle();
    const after = sim.stats();
    expect(after.duplicates - before.duplicates).toBe(1);
    expect(after.badSignatures - before.badSignatures).toBe(2);
    expect(after.completed).toBe(before.completed);
    expect(sim.actedOn()).toEqual(actedBefore);
  });

  it('still completes a case when partners answer 503 half the time and sometimes hang past the delivery timeout', async () => {
    for (const [org] of Object.entries(ORGS)) sim.setBehaviour(org, { transient5xxRate: 0.5, delayMs: 100 });
    // The test worker gives up on a delivery after 3 s; hanging 3.5 s makes Takedown retry.
    sim.setBehaviour('host-example', { timeoutRate: 0.5, hangMs: 3_500, transient5xxRate: 0.3 });
    const before = sim.stats();
    const actedBefore = sim.actedOn();
    const c = await runCase();
    expect(c.status).toBe('completed');
    await sim.idle();
    const s = sim.stats();
    expect((s.answered.hang ?? 0) - (before.answered.hang ?? 0)).toBeGreaterThan(0);
    expect((s.answered['503'] ?? 0) - (before.answered['503'] ?? 0)).toBeGreaterThan(0);
    expect(s.completed - before.completed).toBe(5);
    expect(s.badSignatures).toBe(before.badSignatures);
    const acted = [...sim.actedOn()].filter(([id]) => !actedBefore.has(id)).map(([, n]) => n);
    expect(acted).toHaveLength(5);
    expect(acted.every((n) => n === 1)).toBe(true);
    // Every retried delivery reached the chain as attempts; exactly one delivery per notice is recorded as sent.
    const audit = await auditor.caseAudit(c.id);
    expect(audit.entries.filter((e) => e.action === 'notice.sent')).toHaveLength(5);
    expect(audit.entries.filter((e) => e.action === 'notice.attempt').length).toBeGreaterThan(0);
    expect((await auditor.verifyAudit(c.id)).intact).toBe(true);
  }, 120_000);
});
