// A worker restart in the middle of a step loses and duplicates nothing: the new worker replays and carries on.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PARTNER_ORGS, startPartnerServer, startSilentServer, type PartnerServer } from '../support/partner-server';
import { actors, complete, startCase, startWorkflowStack, waitForCaseEnd, waitForTask, type WorkflowStack } from '../support/stack';
import { sampleCase } from '../support/fixtures';

let stack: WorkflowStack;
let partners: PartnerServer;

beforeAll(async () => {
  stack = await startWorkflowStack('restart');
  partners = await startPartnerServer();
  await partners.register(stack.db.pool, PARTNER_ORGS);
});
afterAll(async () => {
  await stack?.stop();
  await partners?.close();
});

const REQUESTS = ['visa:termination_request', 'paypal:termination_request', 'acq-northbank:freeze_request', 'paypal:freeze_request', 'host-example:hosting_notice'];

/** Every partner confirms its task; the case's end (its history recorded as `name` under RECORD_HISTORIES). */
async function confirmAll(caseId: string, name?: string) {
  const now = new Date().toISOString();
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_termination', 'paypal')).id, actors.partner('paypal'), 'terminated', { terminatedAt: now });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_freeze', 'acq-northbank')).id, actors.partner('acq-northbank'), 'frozen', { amount: 10, currency: 'EUR' });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_freeze', 'paypal')).id, actors.partner('paypal'), 'frozen', { amount: 5, currency: 'EUR' });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_removal', 'host-example')).id, actors.partner('host-example'), 'removed', { removedAt: now });
  return waitForCaseEnd(stack, caseId, name);
}

it('survives a worker restart while notices are being retried and tasks are open', async () => {
  partners.script('visa', [503, 503, 503]);
  const c = await startCase(stack, sampleCase());
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'verify_evidence')).id, actors.analyst, 'verified');
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'le_signoff')).id, actors.officer, 'approved');
  await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.status === 503);
  await waitForTask(stack, c.id, 'confirm_freeze', 'paypal');

  await stack.stopWorker();
  const receivedWhileDown = partners.received.length;
  await new Promise((r) => setTimeout(r, 1_500));
  expect(partners.received.length).toBe(receivedWhileDown);
  await stack.startWorker();

  // Every request reaches its partner before the tasks are confirmed (a confirmed case settles notices still owed).
  // An activity task in transit to the stopping worker's poll is lost to it (Core interrupts the poll, sdk-rust#1080):
  // the server hands it out again at its start-to-close timeout, 60 s for notices, so the wait allows for that.
  for (const r of REQUESTS) {
    await partners.waitFor((n) => n.caseId === c.id && `${n.org}:${n.type}` === r && n.status === 200, 90_000);
  }
  const end = await confirmAll(c.id, 'worker-restart');
  expect(end.status).toBe('completed');

  // Each request reached its partner exactly once as delivered, under one notice id.
  const delivered = partners.received.filter((n) => n.caseId === c.id && n.status === 200 && n.type !== 'reminder');
  const perKey = new Map<string, number>();
  for (const n of delivered) perKey.set(n.id, (perKey.get(n.id) ?? 0) + 1);
  expect([...perKey.values()].every((v) => v === 1)).toBe(true);
  expect(delivered.map((n) => `${n.org}:${n.type}`).sort()).toEqual([...REQUESTS].sort());
  const tasks = await stack.db.pool.query(`SELECT count(*)::int AS n FROM tasks WHERE case_id = $1`, [c.id]);
  expect(tasks.rows[0].n).toBe(7);
}, 150_000);

it("stops, 5 s after its shutdown began, a notice whose partner never answers, instead of waiting out the notice's own timeout; another worker delivers it", async () => {
  // visa's webhook takes the request and never answers; the worker's notice timeout is far longer than its 5 s grace.
  const silent = await startSilentServer();
  const hung = () => silent.requests.map((h) => String(h['webhook-id']));
  const visaUrl = (await stack.db.pool.query(`SELECT webhook_url FROM partners WHERE org = 'visa'`)).rows[0].webhook_url;
  await stack.db.pool.query(`UPDATE partners SET webhook_url = $1 WHERE org = 'visa'`, [`${silent.url}/visa`]);
  try {
    await stack.stopWorker();
    const worker = await stack.startWorker({ noticeTimeoutMs: 50_000 });
    const c = await startCase(stack, sampleCase());
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'verify_evidence')).id, actors.analyst, 'verified');
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'le_signoff')).id, actors.officer, 'approved');
    for (let i = 0; i < 300 && hung().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(hung()).toHaveLength(1);
    const noticeId = hung()[0];

    const started = Date.now();
    await worker.stop();
    const took = Date.now() - started;
    // The grace (scripts/lib/worker.ts: shutdownGraceTime 5 s), then the cancellation ends the request at once.
    expect(took).toBeGreaterThanOrEqual(4_500);
    expect(took).toBeLessThan(10_000);
    const notice = (await stack.db.pool.query(`SELECT state, last_error FROM notices WHERE id = $1`, [noticeId])).rows[0];
    expect(notice.state).toBe('retrying');
    expect(notice.last_error).toMatch(/^cancelled: stopped: /);
    const attempts = await stack.db.pool.query(`SELECT data->>'error' AS error FROM audit_entries WHERE case_id = $1 AND action = 'notice.attempt' AND data->>'noticeId' = $2`, [c.id, noticeId]);
    expect(attempts.rows).toEqual([{ error: 'cancelled' }]);

    // visa answers again; a new worker retries the attempt under the same notice id, and the case ends as usual.
    await stack.db.pool.query(`UPDATE partners SET webhook_url = $1 WHERE org = 'visa'`, [visaUrl]);
    await stack.startWorker();
    await partners.waitFor((n) => n.id === noticeId && n.status === 200, 90_000);
    expect((await confirmAll(c.id)).status).toBe('completed');
    expect(hung()).toEqual([noticeId]);
  } finally {
    await stack.db.pool.query(`UPDATE partners SET webhook_url = $1 WHERE org = 'visa'`, [visaUrl]);
    await silent.close();
  }
}, 150_000);
