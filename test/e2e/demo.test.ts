// The demo's five scenarios against the real stack: every case reaches its expected end, with its audit chain intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, SCENARIOS, type DemoResult } from '../../scripts/demo';
import { TakedownClient } from '../../scripts/lib/api-client';
import { startApi, type ApiHarness } from '../support/api-harness';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
let result: DemoResult;

beforeAll(async () => {
  stack = await startWorkflowStack('demo');
  api = await startApi('demo', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  result = await runDemo({ apiUrl: api.url, adminToken: api.adminToken, quiet: true, timeoutMs: 90_000 });
}, 150_000);
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

const byKey = (key: string) => {
  const c = result.cases.find((x) => x.key === key);
  if (!c) throw new Error(`no case ${key} in ${JSON.stringify(result.cases)}`);
  return c;
};
const step = (key: string, name: string) => byKey(key).steps.find((s) => s.name === name)?.status;

describe('npm run demo (runDemo)', () => {
  it('brings every case to its expected end, with intact audit chains', () => {
    expect(result.cases.map((c) => [c.key, c.status])).toEqual(SCENARIOS.map((s) => [s.key, s.expected]));
    expect(result.cases.every((c) => c.auditIntact)).toBe(true);
    expect(result.ok).toBe(true);
  });

  it('takes each path through the steps', () => {
    expect(byKey('clean').steps.map((s) => s.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
    // visa + paypal terminations, acq-northbank + paypal freezes, one hosting notice.
    expect(byKey('clean').noticesSent).toBe(5);

    expect(step('rejected', 'signoff')).toBe('declined');
    expect(step('rejected', 'termination')).toBe('cancelled');
    expect(byKey('rejected').noticesSent).toBe(0);

    expect(step('declined-freeze', 'freeze')).toBe('declined');
    expect(step('declined-freeze', 'termination')).toBe('done');
    expect(step('declined-freeze', 'hosting')).toBe('done');

    expect(step('unreachable-host', 'hosting')).toBe('skipped');
    expect(step('unreachable-host', 'termination')).toBe('done');
    // The 410 is never "sent": termination and freeze only.
    expect(byKey('unreachable-host').noticesSent).toBe(2);

    expect(step('withdrawn', 'hosting')).toBe('cancelled');
    // Three requests, then a withdrawal notice to each partner that got one.
    expect(byKey('withdrawn').noticesSent).toBe(6);
  });

  it('kept the partner side honest: every delivery verified, nothing acted on twice', () => {
    expect(result.simulator.badSignatures).toBe(0);
    expect(result.actedTwice).toBe(0);
    expect(result.simulator.verified).toBe(result.simulator.received);
    expect(result.simulator.answered['410']).toBeGreaterThan(0);
    expect(result.simulator.byType.withdrawal_notice).toBe(3);
  });

  it('records the human and partner decisions in the audit trail', async () => {
    const auditorToken = (await api.principal('oversight', ['auditor'])).token;
    const auditor = new TakedownClient({ baseUrl: api.url, token: auditorToken });
    const declined = await auditor.caseAudit(byKey('declined-freeze').caseId);
    const freeze = declined.entries.find((e) => e.action === 'task.completed' && e.data.type === 'confirm_freeze');
    expect(freeze?.data).toMatchObject({ outcome: 'declined', comment: expect.stringContaining('nothing to freeze') });
    expect(freeze?.actor?.org).toBe('acq-southbank');

    const unreachable = await auditor.caseAudit(byKey('unreachable-host').caseId);
    expect(unreachable.entries.some((e) => e.action === 'notice.failed' && e.data.org === 'host-gone' && e.data.status === 410)).toBe(true);
    expect(unreachable.entries.some((e) => e.action === 'task.completed' && e.data.type === 'resolve_exception' && e.data.outcome === 'skip')).toBe(true);

    const withdrawn = await auditor.caseAudit(byKey('withdrawn').caseId);
    const closed = withdrawn.entries.find((e) => e.action === 'case.withdrawn');
    expect((closed?.data.notified as string[]).sort()).toEqual(['acq-northbank', 'host-slow', 'mastercard']);
  });
});
