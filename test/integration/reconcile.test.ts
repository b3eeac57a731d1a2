// `npm run reconcile`: open cases whose workflow ended outside Takedown (terminated by hand here) are found, left alone
// without --apply, and closed as failed with it: tasks cancelled, the chain told why and by whom, the history archived.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordCase } from '../../activities/cases';
import { renderMetrics } from '../../telemetry/metrics';
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
    // As the workflow's own close of a failed case leaves them: unfinished steps failed.
    expect(c.steps.find((s: { name: string }) => s.name === 'verification')).toMatchObject({ status: 'failed' });
    expect((await api.request('GET', `/v1/tasks/${ended.taskId}`, { token: analyst.token })).body).toMatchObject({ status: 'cancelled' });
    // No longer in the analyst's inbox; the running case's task still is.
    const inbox = (await api.request('GET', '/v1/tasks?status=open&type=verify_evidence', { token: analyst.token })).body.items.map((t: { id: string }) => t.id);
    expect(inbox).not.toContain(ended.taskId);
    expect(inbox).toContain(running.taskId);
    expect((await api.request('GET', `/v1/cases/${running.id}`, { token: lead.token })).body.status).toBe('verifying');

    // The chain says what happened, by whom, and holds the ended run's archived history (archived first, so that a
    // failure there leaves the case open for the next run); it verifies.
    const entries = (await api.request('GET', `/v1/cases/${ended.id}/audit`, { token: auditor.token })).body.entries as { action: string; data: Record<string, unknown> }[];
    expect(entries.find((e) => e.action === 'task.cancelled' && e.data.taskId === ended.taskId)?.data.reason).toMatch(/ended outside Takedown \(terminated\)/);
    expect(entries.at(-1)?.data).toMatchObject({ status: 'failed', workflowStatus: 'terminated', reconciledBy: 'ops-oncall', partnersNotNotified: [] });
    expect(entries.at(-1)?.action).toBe('case.closed');
    expect(entries.some((e) => e.action === 'history.archived')).toBe(true);
    expect((await api.request('GET', `/v1/cases/${ended.id}/audit/verify`, { token: auditor.token })).body).toMatchObject({ intact: true });
    const history = await api.request('GET', `/v1/cases/${ended.id}/history`, { token: auditor.token });
    expect(history.body).toMatchObject({ source: 'archive', runs: [{ intact: true }] });
    // Written under the reconciling fence: a late write of the ended run cannot reopen it.
    const { rows } = await stack.db.pool.query('SELECT fence, version, view FROM cases WHERE id = $1', [ended.id]);
    expect(rows[0].fence).toBe(RECONCILE_FENCE);
    await recordCase(stack.db.pool, { view: { ...rows[0].view, status: 'verifying', closedAt: null }, version: rows[0].version + 5, audit: [], fence: 500 });
    expect((await api.request('GET', `/v1/cases/${ended.id}`, { token: lead.token })).body.status).toBe('failed');

    // Once closed, nothing more to do: a second run finds nothing and appends nothing.
    const before = entries.length;
    expect((await reconcile(deps, { apply: true, operator: 'ops-oncall', caseId: ended.id })).length).toBe(0);
    expect((await api.request('GET', `/v1/cases/${ended.id}/audit`, { token: auditor.token })).body.entries).toHaveLength(before);
  }, 60_000);

  it('closes a case whose workflow cannot be found only when it is named: in bulk, a wrong namespace would make every case look missing', async () => {
    // An open case with no workflow behind it (one purged by Temporal's retention after it was terminated reads the
    // same): a real case's view, stored under an id of its own.
    const real = await openCase();
    const view = (await api.request('GET', `/v1/cases/${real.id}`, { token: lead.token })).body;
    const id = `case_${randomBytes(13).toString('hex').slice(0, 26).replace(/[w-z]/g, 'a')}`;
    const created = { key: 'wf:1:case.created', action: 'case.created', actor: { id: lead.id, org: 'ceop' }, data: { reference: view.reference } };
    await recordCase(stack.db.pool, { view: { ...view, id }, version: 1, audit: [created], fence: 1 });
    const deps = { pool: stack.db.pool, db: stack.db.db, client: stack.client };
    // In bulk, with --apply: reported, not closed.
    const bulk = (await reconcile(deps, { apply: true, operator: 'ops-oncall' })).find((f) => f.caseId === id);
    expect(bulk).toMatchObject({ state: 'missing', runId: null, action: 'none' });
    expect((await api.request('GET', `/v1/cases/${id}`, { token: lead.token })).body.status).toBe('verifying');
    const named = await reconcile(deps, { apply: true, operator: 'ops-oncall', caseId: id });
    expect(named).toMatchObject([{ caseId: id, state: 'missing', action: 'closed' }]);
    expect((await api.request('GET', `/v1/cases/${id}`, { token: lead.token })).body.status).toBe('failed');
    expect((await api.request('GET', `/v1/cases/${id}/audit/verify`, { token: auditor.token })).body).toMatchObject({ intact: true });
    // No history is left to archive: the gauge of closed cases without one does not count it (an hour past its close).
    await stack.db.pool.query(`UPDATE cases SET closed_at = now() - interval '2 hours' WHERE id = $1`, [id]);
    expect((await renderMetrics(stack.db.pool)).body).toMatch(/^takedown_closed_cases_without_archive 0$/m);
    // The real case, whose workflow runs, was never touched.
    expect((await api.request('GET', `/v1/cases/${real.id}`, { token: lead.token })).body.status).toBe('verifying');
  }, 60_000);
});
