// The activities as the worker registers them (createActivities), run in Temporal's MockActivityEnvironment against PostgreSQL.
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createActivities } from '../../activities/index';
import { registry } from '../../telemetry/metrics';
import { freshDatabase, waitForLockWaits, type TestDb } from '../support/db';
import { startPartnerServer, startSilentServer, type PartnerServer } from '../support/partner-server';
import { caseViewFixture } from '../unit/documents-fixture';
import type { CaseView, Task } from '../../domain/types';
import { openTask } from '../../bench/lib/context';
import { auditLockCall, verifyChain } from '../../db/queries/audit';
import { NOTICE_DEADLINE } from '../../domain/rules/deadlines';
import { durationMs } from '../../domain/rules/duration';
import { NOTICE_OPTIONS } from '../../workflows/activities';

let db: TestDb;
let partners: PartnerServer;

beforeAll(async () => {
  db = await freshDatabase('activities');
  partners = await startPartnerServer();
  await partners.register(db.pool, { visa: 'card_scheme' });
});
afterAll(async () => {
  await partners?.close();
  await db?.close();
});

async function attemptsCounted(outcome: string): Promise<number> {
  const metric = (await registry.getSingleMetric('takedown_notice_attempts_total')?.get())?.values ?? [];
  return metric.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}

/** The activities as the worker registers them, on this suite's database; private addresses allowed (the test partners). */
const activities = () => createActivities({ pool: db.pool, notices: { timeoutMs: 2_000, allowPrivate: true }, urlChecks: { timeoutMs: 1_000, allowPrivate: true } });

/** An open confirm_termination task of `caseId` in visa's inbox. */
const visaTask = (caseId: string, id: string) => ({
  ...openTask(caseId, id),
  type: 'confirm_termination' as const,
  assignee: { org: 'visa', role: 'partner' as const },
  roles: ['partner' as const],
});

/**
 * A notice attempt's activity context as Temporal gives it: scheduled now, with the notice's week to run (the mock's
 * own defaults, a one-second deadline long past, would make every attempt the last). `scheduledAgoMs` moves the
 * schedule back: a week ago makes this the last attempt Temporal would make.
 */
const noticeAttempt = (attempt: number, scheduledAgoMs = 0) =>
  new MockActivityEnvironment({ attempt, scheduledTimestampMs: Date.now() - scheduledAgoMs, scheduleToCloseTimeoutMs: durationMs(NOTICE_DEADLINE), retryPolicy: NOTICE_OPTIONS.retry });

/** The view closed, as its closing write carries it. */
const closedView = (view: CaseView) => ({ ...view, status: 'completed' as const, closedAt: '2026-11-25T12:01:00.000Z', updatedAt: '2026-11-25T12:01:00.000Z' });

it('sends a notice with the attempt number from the activity context, counting each attempt by outcome', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000001', status: 'disrupting' });
  const prepared = await new MockActivityEnvironment().run(acts.prepareNotice, {
    noticeId: 'ntc_activities_1',
    type: 'termination_request' as const,
    caseId: view.id,
    taskId: 'tsk_activities_1',
    org: 'visa',
    view,
    scope: { channel: view.merchant.paymentChannels[0] },
    dueAt: '2026-12-05T10:00:00.000Z',
  });
  expect(prepared).toMatchObject({ noticeId: 'ntc_activities_1', hasWebhook: true, missing: [] });

  partners.script('visa', [503]);
  const retriesBefore = await attemptsCounted('retry');
  await expect(noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_1' })).rejects.toThrow(/503/);
  expect(await attemptsCounted('retry')).toBe(retriesBefore + 1);
  const deliveredBefore = await attemptsCounted('delivered');
  expect(await noticeAttempt(2).run(acts.sendNotice, { noticeId: 'ntc_activities_1' })).toMatchObject({ delivered: true });
  expect(await attemptsCounted('delivered')).toBe(deliveredBefore + 1);

  const audit = await db.pool.query(`SELECT action, data->>'attempt' AS attempt FROM audit_entries WHERE case_id = $1 ORDER BY seq`, [view.id]);
  expect(audit.rows).toEqual([
    { action: 'document.rendered', attempt: null },
    { action: 'notice.attempt', attempt: '1' },
    { action: 'notice.sent', attempt: '2' },
  ]);
  expect(partners.received.map((n) => [n.id, n.status, n.verified])).toEqual([
    ['ntc_activities_1', 503, true],
    ['ntc_activities_1', 200, true],
  ]);

  // A week on, the last attempt Temporal would make (read from the activity's own context) ends the notice failed.
  await new MockActivityEnvironment().run(acts.prepareNotice, {
    noticeId: 'ntc_activities_1w',
    type: 'termination_request' as const,
    caseId: view.id,
    taskId: 'tsk_activities_1w',
    org: 'visa',
    view,
    scope: { channel: view.merchant.paymentChannels[0] },
    dueAt: '2026-12-05T10:00:00.000Z',
  });
  partners.script('visa', [503, 503]);
  await expect(noticeAttempt(7, 3 * 86_400_000).run(acts.sendNotice, { noticeId: 'ntc_activities_1w' })).rejects.toThrow(/503/);
  const finalBefore = await attemptsCounted('final');
  await expect(noticeAttempt(900, durationMs(NOTICE_DEADLINE) - 60_000).run(acts.sendNotice, { noticeId: 'ntc_activities_1w' })).rejects.toMatchObject({
    type: 'PartnerRejected',
    nonRetryable: true,
    details: [{ reason: 'retries_exhausted', status: 503 }],
  });
  expect(await attemptsCounted('final')).toBe(finalBefore + 1);
  const { rows } = await db.pool.query(`SELECT state FROM notices WHERE id = 'ntc_activities_1w'`);
  expect(rows[0].state).toBe('failed');
});

it("stops a notice's request and a URL check under way when the worker stops (the activity's cancellation), failing each attempt for a retry", async () => {
  // A host that takes requests and never answers; timeouts far beyond the test's, so only the cancellation ends them.
  const silent = await startSilentServer();
  const url = silent.url;
  try {
    const acts = createActivities({ pool: db.pool, notices: { timeoutMs: 60_000, allowPrivate: true }, urlChecks: { timeoutMs: 60_000, allowPrivate: true } });
    const shutdownIn = (env: MockActivityEnvironment, ms: number) => setTimeout(() => env.cancel('WORKER_SHUTDOWN'), ms);
    const check = new MockActivityEnvironment();
    shutdownIn(check, 200);
    let started = Date.now();
    await expect(check.run(acts.checkUrls, { caseId: 'case_activities000009', urls: [`${url}/listing`] })).rejects.toThrow(/^URL check stopped before its end/);
    expect(Date.now() - started).toBeLessThan(2_000);

    await db.pool.query('INSERT INTO partners (org, kind, webhook_url, secret) VALUES ($1, $2, $3, $4)', ['host-silent', 'hosting_provider', `${url}/hook`, `whsec_${randomBytes(32).toString('base64')}`]);
    const view = caseViewFixture({ id: 'case_activities000009', status: 'disrupting' });
    await new MockActivityEnvironment().run(acts.prepareNotice, {
      noticeId: 'ntc_activities_9',
      type: 'termination_request' as const,
      caseId: view.id,
      taskId: 'tsk_activities_9',
      org: 'host-silent',
      view,
      scope: { channel: view.merchant.paymentChannels[0] },
      dueAt: '2026-12-05T10:00:00.000Z',
    });
    const send = noticeAttempt(1);
    shutdownIn(send, 200);
    started = Date.now();
    await expect(send.run(acts.sendNotice, { noticeId: 'ntc_activities_9' })).rejects.toThrow(/not delivered \(cancelled\)/);
    expect(Date.now() - started).toBeLessThan(2_000);
    const audit = await db.pool.query(`SELECT action, data->>'error' AS error FROM audit_entries WHERE case_id = $1 ORDER BY seq`, [view.id]);
    expect(audit.rows).toEqual([
      { action: 'document.rendered', error: null },
      { action: 'notice.attempt', error: 'cancelled' },
    ]);
  } finally {
    await silent.close();
  }
});

it('abandons notices still under way at case close; an attempt after that sends nothing', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000002', status: 'disrupting' });
  const env = new MockActivityEnvironment();
  await env.run(acts.prepareNotice, {
    noticeId: 'ntc_activities_2',
    type: 'termination_request' as const,
    caseId: view.id,
    taskId: 'tsk_activities_2',
    org: 'visa',
    view,
    scope: { channel: view.merchant.paymentChannels[0] },
    dueAt: '2026-12-05T10:00:00.000Z',
  });
  expect(await env.run(acts.settleNotices, { caseId: view.id, reason: 'case withdrawn' })).toEqual({ abandoned: ['ntc_activities_2'] });
  expect(await env.run(acts.settleNotices, { caseId: view.id, reason: 'again' })).toEqual({ abandoned: [] });
  const state = async () => (await db.pool.query('SELECT state FROM notices WHERE id = $1', ['ntc_activities_2'])).rows[0].state;
  const abandonedBefore = await attemptsCounted('abandoned');
  expect(await noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_2' })).toEqual({ delivered: false, reason: 'abandoned' });
  expect(await attemptsCounted('abandoned')).toBe(abandonedBefore + 1);
  expect(partners.received.filter((n) => n.id === 'ntc_activities_2')).toEqual([]);
  expect(await state()).toBe('abandoned');
  const actions = (await db.pool.query(`SELECT action FROM audit_entries WHERE case_id = $1 ORDER BY seq`, [view.id])).rows.map((r) => r.action);
  expect(actions).toEqual(['document.rendered', 'notice.abandoned']);
});

it('stores abandoned a request prepared after its case closed (a prepare that outlived its cancellation), but a withdrawal notice pending', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000021', status: 'disrupting' });
  await acts.recordCase({ view: closedView(view), version: 1, audit: [], fence: 5, knownTaskIds: [] });
  const env = new MockActivityEnvironment();
  const prepare = (noticeId: string, type: 'termination_request' | 'withdrawal_notice') =>
    env.run(acts.prepareNotice, {
      noticeId,
      type,
      caseId: view.id,
      taskId: type === 'withdrawal_notice' ? null : 'tsk_activities_21',
      org: 'visa',
      view,
      scope: { channel: view.merchant.paymentChannels[0] },
      dueAt: '2026-12-05T10:00:00.000Z',
      ...(type === 'withdrawal_notice' ? { extra: { withdrawnNoticeIds: ['ntc_activities_21'], withdrawnTaskIds: ['tsk_activities_21'], standingTaskIds: [], reason: 'withdrawn' } } : {}),
    });
  expect(await prepare('ntc_activities_21', 'termination_request')).toMatchObject({ noticeId: 'ntc_activities_21', hasWebhook: false, missing: [] });
  expect(await prepare('ntc_activities_22', 'withdrawal_notice')).toMatchObject({ noticeId: 'ntc_activities_22', hasWebhook: true, missing: [] });
  const rows = await db.pool.query('SELECT id, state, last_error FROM notices WHERE case_id = $1 ORDER BY id', [view.id]);
  expect(rows.rows).toEqual([
    { id: 'ntc_activities_21', state: 'abandoned', last_error: 'the case closed before the notice was prepared' },
    { id: 'ntc_activities_22', state: 'pending', last_error: null },
  ]);
  const entries = await db.pool.query<{ action: string; data: { noticeIds?: string[] } }>('SELECT action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [view.id]);
  expect(entries.rows.filter((e) => e.action === 'notice.abandoned').map((e) => e.data.noticeIds)).toEqual([['ntc_activities_21']]);
  // Nothing is left pending for a close's settle to find but the withdrawal notice, and the request is never sent.
  expect(await noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_21' })).toEqual({ delivered: false, reason: 'abandoned' });
  expect(partners.received.filter((n) => n.id === 'ntc_activities_21')).toEqual([]);
});

it('supersedes an undelivered notice when the request is prepared again under a new id: its next attempt sends nothing', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000006', status: 'disrupting' });
  const env = new MockActivityEnvironment();
  const request = (noticeId: string, supersedes?: string[]) =>
    env.run(acts.prepareNotice, {
      noticeId,
      type: 'termination_request' as const,
      caseId: view.id,
      taskId: 'tsk_activities_6',
      org: 'visa',
      view,
      scope: { channel: view.merchant.paymentChannels[0] },
      dueAt: '2026-12-05T10:00:00.000Z',
      ...(supersedes ? { supersedes } : {}),
    });
  const sent = () => partners.received.filter((n) => n.caseId === view.id).map((n) => [n.id, n.status]);
  const states = async () => (await db.pool.query(`SELECT id, state FROM notices WHERE case_id = $1 ORDER BY id`, [view.id])).rows;
  await request('ntc_activities_6a');
  partners.script('visa', [503]);
  await expect(noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_6a' })).rejects.toThrow(/503/);

  // Prepared again (twice: a retried activity), then sent; the first notice's retry then ends without a request.
  await request('ntc_activities_6b', ['ntc_activities_6a']);
  await request('ntc_activities_6b', ['ntc_activities_6a']);
  expect(await noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_6b' })).toMatchObject({ delivered: true });
  expect(await noticeAttempt(2).run(acts.sendNotice, { noticeId: 'ntc_activities_6a' })).toEqual({ delivered: false, reason: 'superseded' });
  expect(sent()).toEqual([
    ['ntc_activities_6a', 503],
    ['ntc_activities_6b', 200],
  ]);
  expect(await states()).toEqual([
    { id: 'ntc_activities_6a', state: 'superseded' },
    { id: 'ntc_activities_6b', state: 'delivered' },
  ]);

  // A delivered notice is never superseded, and nothing superseded appends nothing.
  await request('ntc_activities_6c', ['ntc_activities_6a', 'ntc_activities_6b']);
  expect((await states()).map((r) => r.state)).toEqual(['superseded', 'delivered', 'pending']);
  const audit = await db.pool.query(`SELECT action, data FROM audit_entries WHERE case_id = $1 AND action = 'notice.superseded'`, [view.id]);
  expect(audit.rows).toEqual([{ action: 'notice.superseded', data: { noticeIds: ['ntc_activities_6a'], by: 'ntc_activities_6b' } }]);
  expect(await verifyChain(db.pool, view.id)).toMatchObject({ intact: true });
});

it('does not send a reminder whose task was completed while it was retrying: it ends skipped (task_closed)', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000012', status: 'disrupting' });
  const task = visaTask(view.id, 'tsk_reminded_1');
  await acts.recordTask({ task, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [] });
  await new MockActivityEnvironment().run(acts.prepareNotice, {
    noticeId: 'ntc_activities_12',
    type: 'reminder' as const,
    caseId: view.id,
    taskId: task.id,
    org: 'visa',
    view,
    scope: {},
    dueAt: task.dueAt,
    extra: { escalated: false, taskType: task.type, noticeId: 'ntc_activities_12_request' },
  });
  // The partner's webhook is briefly down while the task is open: the reminder is retried...
  partners.script('visa', [503]);
  await expect(noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_12' })).rejects.toThrow(/503/);
  // ...and the partner completes the task through the API meanwhile: the reminder's next attempt sends nothing.
  const completed = { ...task, status: 'completed' as const, completedAt: new Date().toISOString(), completedBy: { id: 'prn_visa', org: 'visa' }, outcome: 'terminated' };
  await acts.recordTask({ task: completed, version: 2, caseOrg: view.org, audit: [] });
  const skippedBefore = await attemptsCounted('task_closed');
  expect(await noticeAttempt(2).run(acts.sendNotice, { noticeId: 'ntc_activities_12' })).toEqual({ delivered: false, reason: 'task_closed' });
  expect(await noticeAttempt(3).run(acts.sendNotice, { noticeId: 'ntc_activities_12' })).toEqual({ delivered: false, reason: 'task_closed' });
  expect(await attemptsCounted('task_closed')).toBe(skippedBefore + 2);
  expect(partners.received.filter((n) => n.caseId === view.id).map((n) => [n.type, n.status])).toEqual([['reminder', 503]]);
  const row = (await db.pool.query('SELECT state, last_status, last_error FROM notices WHERE id = $1', ['ntc_activities_12'])).rows[0];
  expect(row).toEqual({ state: 'skipped', last_status: 503, last_error: `not sent: task ${task.id} is completed` });
  const audit = await db.pool.query(`SELECT action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq`, [view.id]);
  expect(audit.rows.map((r) => r.action)).toEqual(['document.rendered', 'notice.attempt', 'notice.skipped']);
  expect(audit.rows[2].data).toMatchObject({ noticeId: 'ntc_activities_12', type: 'reminder', org: 'visa', reason: 'task_closed', taskId: task.id, taskStatus: 'completed' });
});

it('does not send a request whose task was cancelled while it was retrying (a skip, or the case ended); one whose task was completed is still sent', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000018', status: 'disrupting' });
  const request = async (task: Task, noticeId: string) => {
    await acts.recordTask({ task, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [] });
    await new MockActivityEnvironment().run(acts.prepareNotice, {
      noticeId,
      type: 'termination_request' as const,
      caseId: view.id,
      taskId: task.id,
      org: 'visa',
      view,
      scope: { channel: view.merchant.paymentChannels[0] },
      dueAt: task.dueAt,
    });
  };
  const skipped = visaTask(view.id, 'tsk_skipped_18');
  await request(skipped, 'ntc_activities_18a');
  // The partner's webhook is down while the task is open: the request is retried...
  partners.script('visa', [503]);
  await expect(noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_18a' })).rejects.toThrow(/503/);
  // ...and the case lead skips it meanwhile (its partner is sent a withdrawal notice): the retry sends nothing.
  await acts.recordTask({ task: { ...skipped, status: 'cancelled' }, version: 2, caseOrg: view.org, audit: [] });
  expect(await noticeAttempt(2).run(acts.sendNotice, { noticeId: 'ntc_activities_18a' })).toEqual({ delivered: false, reason: 'task_closed' });
  const row = (await db.pool.query('SELECT state, last_error FROM notices WHERE id = $1', ['ntc_activities_18a'])).rows[0];
  expect(row).toEqual({ state: 'skipped', last_error: `not sent: task ${skipped.id} is cancelled` });
  const skippedEntries = await db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'notice.skipped'`, [view.id]);
  expect(skippedEntries.rows.map((r) => r.data)).toEqual([expect.objectContaining({ noticeId: 'ntc_activities_18a', type: 'termination_request', reason: 'task_closed', taskStatus: 'cancelled' })]);

  // A partner that completed its task from its inbox before the request reached it still gets the signed request.
  const answered = visaTask(view.id, 'tsk_answered_18');
  await request(answered, 'ntc_activities_18b');
  const completed = { ...answered, status: 'completed' as const, completedAt: new Date().toISOString(), completedBy: { id: 'prn_visa', org: 'visa' }, outcome: 'terminated' };
  await acts.recordTask({ task: completed, version: 2, caseOrg: view.org, audit: [] });
  expect(await noticeAttempt(1).run(acts.sendNotice, { noticeId: 'ntc_activities_18b' })).toMatchObject({ delivered: true, status: 200 });
  expect(partners.received.filter((n) => n.caseId === view.id).map((n) => [n.id, n.status])).toEqual([
    ['ntc_activities_18a', 503],
    ['ntc_activities_18b', 200],
  ]);
  expect(await verifyChain(db.pool, view.id)).toMatchObject({ intact: true });
});

it('opens several tasks in one recordTask call with the case view and their audit entries; a repeated call changes nothing', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000003', status: 'disrupting' });
  // Partner tasks shaped like the benchmarks' open task (bench/lib/context.ts).
  const task = (n: number, org: string): Task => ({ ...openTask(view.id, `tsk_batch_${n}`), type: 'confirm_termination', assignee: { org, role: 'partner' }, roles: ['partner'] });
  const [first, ...rest] = [task(1, 'visa'), task(2, 'mastercard'), task(3, 'paypal')];
  const args = {
    task: first,
    version: 1,
    caseOrg: view.org,
    caseView: { view, version: 1 },
    audit: [first, ...rest].map((t, i) => ({ key: `wf:${i + 1}:task.created`, action: 'task.created', actor: null, data: { taskId: t.id }, at: '2026-11-25T10:00:00.000Z' })),
    moreTasks: rest.map((t) => ({ task: t, version: 1 })),
  };
  await acts.recordTask(args);
  await acts.recordTask(args);
  const tasks = await db.pool.query<{ id: string; assignee_org: string; status: string }>('SELECT id, assignee_org, status FROM tasks WHERE case_id = $1 ORDER BY id', [view.id]);
  expect(tasks.rows).toEqual([
    { id: 'tsk_batch_1', assignee_org: 'visa', status: 'open' },
    { id: 'tsk_batch_2', assignee_org: 'mastercard', status: 'open' },
    { id: 'tsk_batch_3', assignee_org: 'paypal', status: 'open' },
  ]);
  const cases = await db.pool.query<{ status: string; version: number }>('SELECT status, version FROM cases WHERE id = $1', [view.id]);
  expect(cases.rows).toEqual([{ status: 'disrupting', version: 1 }]);
  const audit = await db.pool.query<{ seq: number; data: { taskId: string } }>('SELECT seq, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [view.id]);
  expect(audit.rows.map((r) => [r.seq, r.data.taskId])).toEqual([
    [1, 'tsk_batch_1'],
    [2, 'tsk_batch_2'],
    [3, 'tsk_batch_3'],
  ]);
});

it("takes a rerun's write over a first attempt's at the same version, and keeps both events in the chain, the later one naming the one it supersedes", async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000004', status: 'disrupting' });
  const open = visaTask(view.id, 'tsk_rerun_1');
  await acts.recordTask({ task: open, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [{ key: 'wf:1:task.created', action: 'task.created', actor: null, data: { taskId: open.id } }] });
  // A completion written by a workflow task that never completed (its worker died), then the one its next attempt
  // accepted instead, under the same version and audit key.
  const completedBy = (id: string, outcome: string) => ({
    task: { ...open, status: 'completed' as const, outcome, completedBy: { id, org: 'visa' }, completedAt: '2026-11-25T11:00:00.000Z', data: {} },
    version: 2,
    caseOrg: view.org,
    audit: [{ key: 'wf:2:task.completed', action: 'task.completed', actor: { id, org: 'visa' }, data: { taskId: open.id, outcome } }],
  });
  await acts.recordTask(completedBy('prn_first', 'declined'));
  await acts.recordTask(completedBy('prn_second', 'terminated'));
  // The rerun retried: nothing more.
  await acts.recordTask(completedBy('prn_second', 'terminated'));
  const row = await db.pool.query('SELECT outcome, completed_by_id, version FROM tasks WHERE id = $1', [open.id]);
  expect(row.rows).toEqual([{ outcome: 'terminated', completed_by_id: 'prn_second', version: 2 }]);
  const audit = await db.pool.query<{ seq: number; actor_id: string | null; data: Record<string, unknown>; hash: string; event_key: string }>(
    'SELECT seq, actor_id, data, hash, event_key FROM audit_entries WHERE case_id = $1 ORDER BY seq',
    [view.id],
  );
  expect(audit.rows.map((r) => [r.seq, r.event_key, r.actor_id, r.data.outcome ?? null])).toEqual([
    [1, 'wf:1:task.created', null, null],
    [2, 'wf:2:task.completed', 'prn_first', 'declined'],
    [3, 'wf:2:task.completed:supersedes:2', 'prn_second', 'terminated'],
  ]);
  expect(audit.rows[2].data.supersedes).toEqual({ seq: 2, hash: audit.rows[1].hash });
  expect((await verifyChain(db.pool, view.id)).intact).toBe(true);
  // The same through appendAudit (the workflow's own entries): an event met under its key is appended after it.
  await acts.appendAudit({ caseId: view.id, entries: [{ key: 'wf:1:task.created', action: 'task.created', actor: null, data: { taskId: open.id, dueAt: 'later' } }] });
  const last = await db.pool.query<{ seq: number; event_key: string }>('SELECT seq, event_key FROM audit_entries WHERE case_id = $1 ORDER BY seq DESC LIMIT 1', [view.id]);
  expect(last.rows).toEqual([{ seq: 4, event_key: 'wf:1:task.created:supersedes:1' }]);
});

it("keeps a rerun's writes over those its replaced attempt finishes late (a lower fence), at any version, in the projection and the chain", async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000005', status: 'disrupting' });
  const open = visaTask(view.id, 'tsk_zombie_1');
  const created = { key: 'wf:1:task.created', action: 'task.created', actor: null, data: { taskId: open.id } };
  await acts.recordTask({ task: open, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [created], fence: 5 });
  const completedBy = (id: string, outcome: string, version: number, fence: number | undefined, key = 'wf:2:task.completed') => ({
    task: { ...open, status: 'completed' as const, outcome, completedBy: { id, org: 'visa' }, completedAt: '2026-11-25T11:00:00.000Z', data: {} },
    version,
    caseOrg: view.org,
    caseView: { view: { ...view, updatedAt: `2026-11-25T11:00:0${version}.000Z` }, version },
    audit: [{ key, action: 'task.completed', actor: { id, org: 'visa' }, data: { taskId: open.id, outcome } }],
    ...(fence === undefined ? {} : { fence }),
  });
  const state = async () => {
    const t = await db.pool.query('SELECT outcome, completed_by_id, version, fence FROM tasks WHERE id = $1', [open.id]);
    const c = await db.pool.query<{ version: number; fence: number; updated: string }>("SELECT version, fence, view->>'updatedAt' AS updated FROM cases WHERE id = $1", [view.id]);
    const a = await db.pool.query<{ seq: number; event_key: string; actor_id: string | null; fence: number | null }>(
      'SELECT seq, event_key, actor_id, fence FROM audit_entries WHERE case_id = $1 ORDER BY seq',
      [view.id],
    );
    return { task: t.rows[0], case: c.rows[0], audit: a.rows.map((r) => [r.seq, r.event_key, r.actor_id, r.fence]) };
  };
  // The rerun (fence 20) wrote first; then the attempt it replaced (fence 12) finishes on a worker cut off from Temporal:
  // its write at the same version, and one it made at a later version that the rerun never makes.
  await acts.recordTask(completedBy('prn_rerun', 'terminated', 2, 20));
  await acts.recordTask(completedBy('prn_lost', 'declined', 2, 12));
  await acts.recordTask(completedBy('prn_lost', 'declined', 3, 12, 'wf:3:task.completed'));
  // Through appendAudit too: its entry meets the rerun's under the same key.
  await acts.appendAudit({ caseId: view.id, entries: [{ ...created, data: { taskId: open.id, dueAt: 'lost' } }], fence: 4 });
  const afterLost = await state();
  expect(afterLost.task).toEqual({ outcome: 'terminated', completed_by_id: 'prn_rerun', version: 2, fence: 20 });
  expect(afterLost.case).toEqual({ version: 2, fence: 20, updated: '2026-11-25T11:00:02.000Z' });
  // The late attempt's new key is appended (the chain cannot know the rerun never makes it), its fence stored with it.
  expect(afterLost.audit).toEqual([
    [1, 'wf:1:task.created', null, 5],
    [2, 'wf:2:task.completed', 'prn_rerun', 20],
    [3, 'wf:3:task.completed', 'prn_lost', 12],
  ]);
  // A later task (fence 30) writes at any version; the same event again appends nothing.
  await acts.recordTask(completedBy('prn_rerun', 'terminated', 3, 30, 'wf:2:task.completed'));
  const later = await state();
  expect(later.task).toEqual({ outcome: 'terminated', completed_by_id: 'prn_rerun', version: 3, fence: 30 });
  expect(later.audit).toHaveLength(3);
  // Older workflow code (no fence) is ordered by the version alone, as before migration 0013.
  await acts.recordTask(completedBy('prn_old_code', 'terminated', 3, undefined, 'wf:4:task.completed'));
  await acts.recordTask(completedBy('prn_older_version', 'terminated', 2, undefined, 'wf:5:task.completed'));
  const unknown = await state();
  expect(unknown.task).toEqual({ outcome: 'terminated', completed_by_id: 'prn_old_code', version: 3, fence: 0 });
  expect(unknown.audit.slice(3)).toEqual([
    [4, 'wf:4:task.completed', 'prn_old_code', null],
    [5, 'wf:5:task.completed', 'prn_older_version', null],
  ]);
  // An entry from a higher fence than the one it meets still supersedes it.
  await acts.recordTask(completedBy('prn_next', 'declined', 4, 40, 'wf:3:task.completed'));
  const superseding = await state();
  expect(superseding.audit.at(-1)).toEqual([6, 'wf:3:task.completed:supersedes:3', 'prn_next', 40]);
  expect((await verifyChain(db.pool, view.id)).intact).toBe(true);
});

it('cancels, when the case closes, an open task its workflow does not know (a lost attempt left it), once, under the closing fence', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000007', status: 'disrupting' });
  const known = visaTask(view.id, 'tsk_known_1');
  const stray = visaTask(view.id, 'tsk_stray_1');
  await acts.recordTask({ task: known, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [{ key: 'wf:1:task.created', action: 'task.created', actor: null, data: { taskId: known.id } }], fence: 5 });
  // The lost attempt's task: written under its own (lower) fence, never known to the rerun.
  await acts.recordTask({ task: stray, version: 1, caseOrg: view.org, audit: [{ key: 'wf:2:task.created', action: 'task.created', actor: null, data: { taskId: stray.id } }], fence: 4 });
  // A write of the open case looks for nothing.
  await acts.recordCase({ view: { ...view, updatedAt: '2026-11-25T12:00:00.000Z' }, version: 2, audit: [], fence: 6 });
  const tasks = async () =>
    (await db.pool.query('SELECT id, status, version, fence FROM tasks WHERE case_id = $1 ORDER BY id', [view.id])).rows.map((r) => [r.id, r.status, r.version, r.fence]);
  expect(await tasks()).toEqual([
    ['tsk_known_1', 'open', 1, 5],
    ['tsk_stray_1', 'open', 1, 4],
  ]);
  // The closing write cancels the known task itself; the stray one is cancelled after it, with an entry of its own.
  const closed = closedView(view);
  const closing = {
    task: { ...known, status: 'cancelled' as const, completedAt: '2026-11-25T12:01:00.000Z' },
    version: 2,
    caseOrg: view.org,
    caseView: { view: closed, version: 3, knownTaskIds: ['tsk_known_1'] },
    audit: [{ key: 'wf:3:case.closed', action: 'case.closed', actor: null, data: { status: 'completed' } }],
    fence: 20,
  };
  await acts.recordTask(closing);
  expect(await tasks()).toEqual([
    ['tsk_known_1', 'cancelled', 2, 20],
    ['tsk_stray_1', 'cancelled', 2, 20],
  ]);
  const entries = async () =>
    (await db.pool.query('SELECT event_key, action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [view.id])).rows.map((r) => [r.event_key, r.action, r.data.taskId ?? null]);
  const afterClose = await entries();
  expect(afterClose.slice(2)).toEqual([
    ['wf:3:case.closed', 'case.closed', null],
    ['stray:tsk_stray_1:cancelled', 'task.cancelled', 'tsk_stray_1'],
  ]);
  // The closing write again (a retried local activity) changes nothing; nor does the lost attempt writing its task later.
  await acts.recordTask(closing);
  await acts.recordTask({ task: stray, version: 5, caseOrg: view.org, audit: [], fence: 4 });
  expect(await tasks()).toEqual([
    ['tsk_known_1', 'cancelled', 2, 20],
    ['tsk_stray_1', 'cancelled', 2, 20],
  ]);
  expect(await entries()).toEqual(afterClose);
  expect((await verifyChain(db.pool, view.id)).intact).toBe(true);
});

/**
 * Holds locks on another connection (`hold`, in a transaction), starts `write`, checks that it waits for them, then
 * commits and waits for the write: the interleaving where the write comes while the other transaction is in flight.
 */
async function whileHeld(hold: (other: pg.PoolClient) => Promise<unknown>, write: () => Promise<unknown>): Promise<void> {
  const other = await db.pool.connect();
  let committed = false;
  try {
    await other.query('BEGIN');
    await hold(other);
    let settled = false;
    const done = write().finally(() => (settled = true));
    await Promise.race([waitForLockWaits(db.pool), done]);
    expect(settled, 'the write waits for the other transaction').toBe(false);
    await other.query('COMMIT');
    committed = true;
    await done;
  } finally {
    // A failed check leaves the transaction open: end it, so the pool never hands out a connection holding locks.
    if (!committed) await other.query('ROLLBACK').catch(() => {});
    other.release();
  }
}

const taskRow = async (id: string) => (await db.pool.query('SELECT status, version, fence, completed_at IS NOT NULL AS done FROM tasks WHERE id = $1', [id])).rows[0];
const strayEntries = async (caseId: string) =>
  (await db.pool.query(`SELECT event_key, data->>'reason' AS reason FROM audit_entries WHERE case_id = $1 AND event_key LIKE 'stray:%' ORDER BY seq`, [caseId])).rows;

it('writes cancelled, with an entry, a task a replaced attempt opens after its case closed (a lower fence); a retry changes nothing', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000010', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  await acts.recordCase({ view: closedView(view), version: 2, audit: [{ key: 'wf:3:case.closed', action: 'case.closed', actor: null, data: {} }], fence: 20, knownTaskIds: [] });
  // The replaced attempt (fence 4) opens a task after the sweep of the closing write has read.
  const late = visaTask(view.id, 'tsk_late_10');
  const write = { task: late, version: 1, caseOrg: view.org, audit: [{ key: 'wf:2:task.created', action: 'task.created', actor: null, data: { taskId: late.id } }], fence: 4 };
  await acts.recordTask(write);
  expect(await taskRow(late.id)).toEqual({ status: 'cancelled', version: 1, fence: 4, done: true });
  const entries = async () => (await db.pool.query('SELECT event_key FROM audit_entries WHERE case_id = $1 ORDER BY seq', [view.id])).rows.map((r) => r.event_key);
  expect(await entries()).toEqual(['wf:3:case.closed', 'wf:2:task.created', 'stray:tsk_late_10:cancelled']);
  expect((await strayEntries(view.id))[0].reason).toMatch(/after the case had closed/);
  // The task, its opening and its cancellation in one transaction: no crash between them leaves one without the other.
  const { rows: xids } = await db.pool.query(
    `SELECT xmin::text AS x FROM tasks WHERE id = $1 UNION ALL SELECT xmin::text FROM audit_entries WHERE case_id = $2 AND event_key IN ('wf:2:task.created', 'stray:tsk_late_10:cancelled')`,
    [late.id, view.id],
  );
  expect(new Set(xids.map((r) => r.x)).size).toBe(1);
  await acts.recordTask(write);
  expect(await taskRow(late.id)).toEqual({ status: 'cancelled', version: 1, fence: 4, done: true });
  expect(await entries()).toEqual(['wf:3:case.closed', 'wf:2:task.created', 'stray:tsk_late_10:cancelled']);
  // A task opened under the closing fence's successor (a later attempt of a still open case) is left open: only a lower
  // or equal fence is refused.
  const view11 = caseViewFixture({ id: 'case_activities000011', status: 'disrupting' });
  await acts.recordCase({ view: closedView(view11), version: 2, audit: [], fence: 20, knownTaskIds: [] });
  await acts.recordTask({ task: visaTask(view11.id, 'tsk_later_11'), version: 1, caseOrg: view11.org, audit: [], fence: 21 });
  expect(await taskRow('tsk_later_11')).toMatchObject({ status: 'open', fence: 21 });
  expect((await verifyChain(db.pool, view.id)).intact).toBe(true);
});

it('refuses a late opening that meets a closing write in flight: it waits for the close to commit and sees it', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000012', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  const late = visaTask(view.id, 'tsk_late_12');
  await whileHeld(
    (closer) => closer.query(`UPDATE cases SET status = 'completed', version = 2, fence = 20 WHERE id = $1`, [view.id]),
    () => acts.recordTask({ task: late, version: 1, caseOrg: view.org, audit: [], fence: 4 }),
  );
  expect(await taskRow(late.id)).toEqual({ status: 'cancelled', version: 1, fence: 4, done: true });
  expect((await strayEntries(view.id)).map((r) => r.event_key)).toEqual(['stray:tsk_late_12:cancelled']);
});

it("takes the case's audit lock before the case row when it opens a task: a writer holding the audit lock finds the row free", async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000017', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  const t = visaTask(view.id, 'tsk_lockorder_17');
  const holder = await db.pool.connect();
  const probe = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT ${auditLockCall('$1')}`, [view.id]);
    const write = acts.recordTask({ task: t, version: 1, caseOrg: view.org, audit: [{ key: 'wf:1:task.created', action: 'task.created', actor: null, data: { taskId: t.id } }], fence: 6 });
    await waitForLockWaits(db.pool, { locktype: 'advisory' });
    // While the write waits for the audit lock, it holds no lock on the case row.
    await probe.query('BEGIN');
    await probe.query('SELECT 1 FROM cases WHERE id = $1 FOR UPDATE NOWAIT', [view.id]);
    await probe.query('ROLLBACK');
    await holder.query('COMMIT');
    await write;
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
    probe.release();
  }
  expect(await taskRow(t.id)).toEqual({ status: 'open', version: 1, fence: 6, done: false });
});

it('sweeps, after the closing write commits, a task whose write held the case row while the close came', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000013', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  // The late opening as closedGuard runs it: the case row locked (shared), the task inserted, not yet committed.
  await whileHeld(
    async (opener) => {
      await opener.query('SELECT 1 FROM cases WHERE id = $1 FOR SHARE', [view.id]);
      await opener.query(
        `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context, version, fence)
         VALUES ('tsk_late_13', $1, $2, 'confirm_termination', 'open', 'visa', 'partner', '{partner}', now(), '{}', 1, 4)`,
        [view.id, view.org],
      );
    },
    () => acts.recordCase({ view: closedView(view), version: 2, audit: [], fence: 20, knownTaskIds: [] }),
  );
  expect(await taskRow('tsk_late_13')).toEqual({ status: 'cancelled', version: 2, fence: 20, done: true });
  expect((await strayEntries(view.id)).map((r) => r.event_key)).toEqual(['stray:tsk_late_13:cancelled']);
});

it('opens, not refuses, a task written with an open view that replaces the closed one in the same statement (a sibling attempt at the same fence, a later version)', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000014', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  // Another attempt of the same workflow task (fence 20) closed the case at version 2; this one, also at fence 20, wins
  // with version 3 and opens a task in the same write: the guard must judge the case this statement leaves, not the row
  // it replaces.
  await acts.recordCase({ view: closedView(view), version: 2, audit: [], fence: 20, knownTaskIds: [] });
  const t = visaTask(view.id, 'tsk_sibling_14');
  await acts.recordTask({ task: t, version: 1, caseOrg: view.org, audit: [{ key: 'wf:9:task.created', action: 'task.created', actor: null, data: { taskId: t.id } }], fence: 20, caseView: { view, version: 3 } });
  expect((await db.pool.query('SELECT status, version, fence FROM cases WHERE id = $1', [view.id])).rows[0]).toEqual({ status: 'disrupting', version: 3, fence: 20 });
  expect(await taskRow(t.id)).toEqual({ status: 'open', version: 1, fence: 20, done: false });
  expect(await strayEntries(view.id)).toEqual([]);
  // A lower version with the open view loses to the closed row: still refused.
  const view15 = caseViewFixture({ id: 'case_activities000015', status: 'disrupting' });
  await acts.recordCase({ view: view15, version: 1, audit: [], fence: 5 });
  await acts.recordCase({ view: closedView(view15), version: 3, audit: [], fence: 20, knownTaskIds: [] });
  await acts.recordTask({ task: visaTask(view15.id, 'tsk_sibling_15'), version: 1, caseOrg: view15.org, audit: [], fence: 20, caseView: { view: view15, version: 2 } });
  expect(await taskRow('tsk_sibling_15')).toEqual({ status: 'cancelled', version: 1, fence: 20, done: true });
});

it('does not deadlock two writes of one task without audit entries, one guarded (case row, then task), one with the view (task, then case row)', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000016', status: 'disrupting' });
  await acts.recordCase({ view, version: 1, audit: [], fence: 5 });
  const t = visaTask(view.id, 'tsk_lockorder_16');
  await acts.recordTask({ task: t, version: 1, caseOrg: view.org, audit: [], fence: 5 });
  const holder = await db.pool.connect();
  try {
    // A reader holding the case row (shared) lines the two writes up: the unguarded one locks the task and waits for the
    // case row; the guarded one shares the case row and would wait for the task.
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM cases WHERE id = $1 FOR SHARE', [view.id]);
    const settle = (p: Promise<void>) => p.then(() => 'ok', (e: { code?: string }) => `error ${e.code}`);
    const withView = settle(acts.recordTask({ task: { ...t, status: 'completed', completedAt: '2026-11-25T12:02:00.000Z' }, version: 2, caseOrg: view.org, audit: [], fence: 6, caseView: { view, version: 2 } }));
    await waitForLockWaits(db.pool);
    const guarded = settle(acts.recordTask({ task: { ...t, escalated: true }, version: 3, caseOrg: view.org, audit: [], fence: 6 }));
    await waitForLockWaits(db.pool, { count: 2 });
    await holder.query('COMMIT');
    expect([await withView, await guarded]).toEqual(['ok', 'ok']);
    expect(await taskRow(t.id)).toMatchObject({ status: 'open', version: 3, fence: 6 });
  } finally {
    holder.release();
  }
});

it("leaves alone, when the case closes, the tasks its workflow knows: a completion still being written (another local activity, an older run's activity) lands after the closing write", async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000008', status: 'disrupting' });
  const known = visaTask(view.id, 'tsk_known_8');
  await acts.recordTask({ task: known, version: 1, caseOrg: view.org, caseView: { view, version: 1 }, audit: [], fence: 5 });
  const closed = closedView(view);
  // The workflow completed the task (its write, under fence 8, still in flight), then closed the case (fence 12).
  await acts.recordCase({ view: closed, version: 2, audit: [], fence: 12, knownTaskIds: [known.id] });
  const done = { ...known, status: 'completed' as const, outcome: 'terminated', completedAt: '2026-11-25T12:00:30.000Z', completedBy: { id: 'prn_partner', org: 'visa' } };
  await acts.recordTask({ task: done, version: 2, caseOrg: view.org, audit: [], fence: 8 });
  const { rows } = await db.pool.query('SELECT status FROM tasks WHERE id = $1', [known.id]);
  expect(rows[0].status).toBe('completed');
  const { rows: strays } = await db.pool.query(`SELECT 1 FROM audit_entries WHERE case_id = $1 AND event_key LIKE 'stray:%'`, [view.id]);
  expect(strays).toHaveLength(0);
});

it('does not cancel, at a closing write that lands late (a lost attempt), a task written under a later fence', async () => {
  const acts = activities();
  const view = caseViewFixture({ id: 'case_activities000009', status: 'disrupting' });
  const later = visaTask(view.id, 'tsk_later_9');
  // The rerun (fence 30) opened a task; the replaced attempt's closing write (fence 12) lands after it.
  await acts.recordTask({ task: later, version: 1, caseOrg: view.org, caseView: { view, version: 3 }, audit: [], fence: 30 });
  const closed = closedView(view);
  await acts.recordCase({ view: closed, version: 2, audit: [], fence: 12, knownTaskIds: [] });
  const { rows } = await db.pool.query('SELECT status, version, fence FROM tasks WHERE id = $1', [later.id]);
  expect(rows[0]).toEqual({ status: 'open', version: 1, fence: 30 });
});
