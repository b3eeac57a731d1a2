// A worker restart in the middle of a step loses and duplicates nothing: the new worker replays and carries on.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PARTNER_ORGS, startPartnerServer, type PartnerServer } from '../support/partner-server';
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
  const requests = ['visa:termination_request', 'paypal:termination_request', 'acq-northbank:freeze_request', 'paypal:freeze_request', 'host-example:hosting_notice'];
  for (const r of requests) {
    await partners.waitFor((n) => n.caseId === c.id && `${n.org}:${n.type}` === r && n.status === 200, 90_000);
  }
  const now = new Date().toISOString();
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', 'paypal')).id, actors.partner('paypal'), 'terminated', { terminatedAt: now });
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_freeze', 'acq-northbank')).id, actors.partner('acq-northbank'), 'frozen', { amount: 10, currency: 'EUR' });
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_freeze', 'paypal')).id, actors.partner('paypal'), 'frozen', { amount: 5, currency: 'EUR' });
  await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_removal', 'host-example')).id, actors.partner('host-example'), 'removed', { removedAt: now });
  const end = await waitForCaseEnd(stack, c.id, 'worker-restart');
  expect(end.status).toBe('completed');

  // Each request reached its partner exactly once as delivered, under one notice id.
  const delivered = partners.received.filter((n) => n.caseId === c.id && n.status === 200 && n.type !== 'reminder');
  const perKey = new Map<string, number>();
  for (const n of delivered) perKey.set(n.id, (perKey.get(n.id) ?? 0) + 1);
  expect([...perKey.values()].every((v) => v === 1)).toBe(true);
  expect(delivered.map((n) => `${n.org}:${n.type}`).sort()).toEqual([...requests].sort());
  const tasks = await stack.db.pool.query(`SELECT count(*)::int AS n FROM tasks WHERE case_id = $1`, [c.id]);
  expect(tasks.rows[0].n).toBe(7);
}, 150_000);
