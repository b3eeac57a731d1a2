// `npm run reconcile`: open cases whose workflow ended outside Takedown (terminated by hand here) are found, left alone
// without --apply, and closed as failed with it: tasks cancelled, the chain told why and by whom, the history archived.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONCILE_FENCE, reconcile } from '../../scripts/lib/reconcile';
import { caseWorkflowId } from '../../domain/ids';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForCaseStatus, waitForInboxTask } from '../support/api-fixtures';
import { ROOT } from '../support/paths';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
type P = Awaited<ReturnType<ApiHarness['principal']>>;
let lead: P, analyst: P, auditor: P;

beforeAll(async () => {
  stack = await startWorkflowStack('reconcile');
  api = await startApi('reconcile', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  [lead, analyst, auditor] = await Promise.all([api.principal('ceop', ['case_lead']), api.principal('ceop', ['analyst']), api.principal('oversight', ['auditor'])]);
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

async function openCase(): Promise<{ id: string; taskId: string }> {
  const res = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() });
  expect(res.status, res.text).toBe(201);
  const task = await waitForInboxTask(api, analyst.token, res.body.id, 'verify_evidence');
  return { id: res.body.id, taskId: task.id };
}

/** `npm run reconcile` against the test's database and Temporal: its exit code and output. */
function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.db.url, TEMPORAL_ADDRESS: stack.address, TEMPORAL_NAMESPACE: stack.namespace },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('reconcile', () => {
  it('closes a case whose workflow was terminated by hand as failed, and only with --apply; running cases are left alone', async () => {
    const ended = await openCase();
    const running = await openCase();
    const deps = { pool: stack.db.pool, db: stack.db.db, client: stack.client };
    await stack.client.workflow.getHandle(caseWorkflowId(ended.id)).terminate('operator test: terminated by hand');

    // Found, but nothing changes without --apply; the CLI says so and exits 1 (a person must decide).
    const dry = await runCli(['--case', ended.id]);
    expect(dry.code, dry.out).toBe(1);
    expect(dry.out).toContain(`${ended.id}`);
    expect(dry.out).toContain('workflow terminated');
    expect(dry.out).toContain('would be closed as failed with --apply (1 open task(s))');
    expect((await api.request('GET', `/v1/cases/${ended.id}`, { token: lead.token })).body.status).toBe('verifying');
    // --apply without saying who is refused before anything is read.
    const anonymous = await runCli(['--apply', '--case', ended.id]);
    expect(anonymous.code).toBe(2);
    expect(anonymous.out).toMatch(/--apply needs --operator/);

    const findings = await reconcile(deps, { apply: true, operator: 'ops-oncall' });
    expect(findings.find((f) => f.caseId === ended.id)).toMatchObject({ state: 'terminated', openTasks: 1, action: 'closed' });
    expect(findings.some((f) => f.caseId === running.id)).toBe(false);

    const c = await waitForCaseStatus(api, lead.token, ended.id, ['failed']);
    expect(c.closedAt).toEqual(expect.any(String));
    expect(c.steps.find((s: { name: string }) => s.name === 'verification')).toMatchObject({ status: 'cancelled' });
    expect((await api.request('GET', `/v1/tasks/${ended.taskId}`, { token: analyst.token })).body).toMatchObject({ status: 'cancelled' });
    // No longer in the analyst's inbox; the running case's task still is.
    const inbox = (await api.request('GET', '/v1/tasks?status=open&type=verify_evidence', { token: analyst.token })).body.items.map((t: { id: string }) => t.id);
    expect(inbox).not.toContain(ended.taskId);
    expect(inbox).toContain(running.taskId);
    expect((await api.request('GET', `/v1/cases/${running.id}`, { token: lead.token })).body.status).toBe('verifying');

    // The chain says what happened, by whom, and holds the ended run's archived history; it verifies.
    const entries = (await api.request('GET', `/v1/cases/${ended.id}/audit`, { token: auditor.token })).body.entries as { action: string; data: Record<string, unknown> }[];
    expect(entries.find((e) => e.action === 'task.cancelled' && e.data.taskId === ended.taskId)?.data.reason).toMatch(/ended outside Takedown \(terminated\)/);
    expect(entries.find((e) => e.action === 'case.closed')?.data).toMatchObject({ status: 'failed', workflowStatus: 'terminated', reconciledBy: 'ops-oncall' });
    expect(entries.at(-1)?.action).toBe('history.archived');
    expect((await api.request('GET', `/v1/cases/${ended.id}/audit/verify`, { token: auditor.token })).body).toMatchObject({ intact: true });
    const history = await api.request('GET', `/v1/cases/${ended.id}/history`, { token: auditor.token });
    expect(history.body).toMatchObject({ source: 'archive', runs: [{ intact: true }] });
    // Written under the reconciling fence: a late write of the ended run cannot reopen it.
    const { rows } = await stack.db.pool.query('SELECT fence FROM cases WHERE id = $1', [ended.id]);
    expect(rows[0].fence).toBe(RECONCILE_FENCE);

    // Once closed, nothing more to do: a second run finds nothing and appends nothing.
    const before = entries.length;
    expect((await reconcile(deps, { apply: true, operator: 'ops-oncall', caseId: ended.id })).length).toBe(0);
    expect((await api.request('GET', `/v1/cases/${ended.id}/audit`, { token: auditor.token })).body.entries).toHaveLength(before);
  }, 60_000);
});
