// Every path of the case workflow on the real dev server and PostgreSQL: happy, unverified, rejected, deconfliction,
// declined, notice failures, exceptions, withdrawal, amendment, SLA reminders and escalation, action day.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseWorkflowId } from '../../domain/ids';
import { verifyChain } from '../../db/queries/audit';
import { WorkflowUpdateStage } from '@temporalio/client';
import { withdrawUpdate, addEvidenceUpdate, completeTaskUpdate } from '../../workflows/messages';
import { CaseStatusKey } from '../../workflows/search-attributes';
import { PARTNER_ORGS, startPartnerServer, type PartnerServer } from '../support/partner-server';
import { actors, complete, startCase, startWorkflowStack, tasksOf, waitForCaseEnd, waitForTask, type WorkflowStack } from '../support/stack';
import { sampleCase } from '../support/fixtures';

let stack: WorkflowStack;
let partners: PartnerServer;
const c8 = () => randomBytes(4).toString('hex');
/** A task's context as its projection stores it (the contract's JSON of the task). */
const contextOf = async (taskId: string) => JSON.parse((await stack.db.pool.query<{ doc: string }>('SELECT doc FROM tasks WHERE id = $1', [taskId])).rows[0].doc).context;

beforeAll(async () => {
  stack = await startWorkflowStack('paths');
  partners = await startPartnerServer();
  await partners.register(stack.db.pool, PARTNER_ORGS);
});
afterAll(async () => {
  await stack?.stop();
  await partners?.close();
});

/** The case lead's first resolve_exception about one partner's request (with this reason, if given), once it exists (open or not). */
async function exceptionAbout(caseId: string, org: string, reason?: string): Promise<{ id: string; status: string }> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const { rows } = await stack.db.pool.query(
      `SELECT id, status FROM tasks WHERE case_id = $1 AND type = 'resolve_exception' AND context->>'org' = $2 AND ($3::text IS NULL OR context->>'reason' = $3) ORDER BY created_at, id`,
      [caseId, org, reason ?? null],
    );
    if (rows.length > 0) return rows[0] as { id: string; status: string };
  }
  throw new Error(`no exception about ${org}${reason ? ` (${reason})` : ''}`);
}

/** A case whose one URL, `site`, host-example hosts (removal SLA 2 s), started and taken through its sign-off. */
async function signedOffHostedAt(site: string): Promise<{ id: string }> {
  const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '2s' } } });
  const c = await startCase(stack, { ...base, merchant: { ...base.merchant, urls: [site], hosting: [{ provider: 'host-example', ip: '203.0.113.7', urls: [site] }] } });
  await throughSignoff(c.id);
  return c;
}

/** host-example answers its removal request: removed. */
async function hostRemoves(caseId: string): Promise<void> {
  const removal = await waitForTask(stack, caseId, 'confirm_removal', 'host-example');
  await complete(stack, caseId, removal.id, actors.partner('host-example'), 'removed', { removedAt: new Date().toISOString() });
}

/** Until the run has taken in its latest sendNotice's completion: the activity completed, then a workflow task after it. */
async function untilDeliveryTakenIn(caseId: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const events = (await stack.client.workflow.getHandle(caseWorkflowId(caseId)).fetchHistory()).events ?? [];
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendNotice').at(-1);
    const completed = events.findIndex((e) => scheduled && Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled.eventId));
    if (completed >= 0 && events.slice(completed).some((e) => e.workflowTaskCompletedEventAttributes)) return;
  }
  throw new Error(`case ${caseId}: the last notice's delivery was not taken in`);
}

/** What a sendNotice of this notice returned, once an attempt of it has completed (from the run's history). */
async function sendResultOf(caseId: string, id: string): Promise<unknown> {
  const decode = (p: { data?: Uint8Array | null } | undefined) => JSON.parse(Buffer.from(p?.data ?? []).toString('utf8'));
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const events = (await stack.client.workflow.getHandle(caseWorkflowId(caseId)).fetchHistory()).events ?? [];
    const scheduled = events.find((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'sendNotice' && decode(a.input?.payloads?.[0]).noticeId === id;
    });
    const done = scheduled && events.find((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled.eventId));
    if (done) return decode(done.activityTaskCompletedEventAttributes?.result?.payloads?.[0]);
  }
  throw new Error(`case ${caseId}: no attempt of ${id} completed`);
}

async function throughSignoff(caseId: string, data: Record<string, unknown> = {}) {
  const verify = await waitForTask(stack, caseId, 'verify_evidence');
  await complete(stack, caseId, verify.id, actors.analyst, 'verified');
  const signoff = await waitForTask(stack, caseId, 'le_signoff');
  await complete(stack, caseId, signoff.id, actors.officer, 'approved', data);
}

async function confirmAll(caseId: string, opts: { declineFreeze?: boolean } = {}) {
  const now = new Date().toISOString();
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_termination', 'paypal')).id, actors.partner('paypal'), 'terminated', { terminatedAt: now });
  const freezeNorth = await waitForTask(stack, caseId, 'confirm_freeze', 'acq-northbank');
  if (opts.declineFreeze) await complete(stack, caseId, freezeNorth.id, actors.partner('acq-northbank'), 'declined', {}, 'no funds held');
  else await complete(stack, caseId, freezeNorth.id, actors.partner('acq-northbank'), 'frozen', { amount: 1200.5, currency: 'EUR' });
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_freeze', 'paypal')).id, actors.partner('paypal'), 'frozen', { amount: '30', currency: 'GBP' });
  // The notified URLs are on a .test host that does not resolve: the removal check finds them down.
  await complete(stack, caseId, (await waitForTask(stack, caseId, 'confirm_removal', 'host-example')).id, actors.partner('host-example'), 'removed', { removedAt: now });
}

describe('case workflow', () => {
  it('runs a clean takedown to completed, with signed notices, a full audit chain and an archived history', async () => {
    const c = await startCase(stack, sampleCase());
    expect(c.status).toBe('verifying');
    const row = await stack.db.pool.query('SELECT status FROM cases WHERE id = $1', [c.id]);
    expect(row.rows[0].status).toBe('verifying');
    await throughSignoff(c.id);
    await confirmAll(c.id);
    const end = await waitForCaseEnd(stack, c.id, 'completed');
    expect(end.status).toBe('completed');
    expect(end.steps.map((s) => [s.name, s.status])).toEqual([
      ['verification', 'done'],
      ['signoff', 'done'],
      ['termination', 'done'],
      ['freeze', 'done'],
      ['hosting', 'done'],
    ]);
    const mine = partners.received.filter((n) => n.caseId === c.id);
    expect(mine.map((n) => `${n.org}:${n.type}`).sort()).toEqual(
      ['acq-northbank:freeze_request', 'host-example:hosting_notice', 'paypal:freeze_request', 'paypal:termination_request', 'visa:termination_request'].sort(),
    );
    expect(mine.every((n) => n.verified && n.idempotencyKey === n.id)).toBe(true);
    // Archive runs after close; wait for it, then the chain must verify and include it.
    await stack.client.workflow.getHandle(`archive-${c.id}`).result();
    const chain = await verifyChain(stack.db.pool, c.id);
    expect(chain.intact).toBe(true);
    const actions = (await stack.db.pool.query('SELECT action FROM audit_entries WHERE case_id = $1 ORDER BY seq', [c.id])).rows.map((r) => r.action);
    for (const a of ['case.created', 'task.created', 'task.completed', 'notice.sent', 'step.started', 'step.finished', 'case.closed', 'history.archived']) {
      expect(actions).toContain(a);
    }
    const open = (await tasksOf(stack, c.id)).filter((t) => t.status === 'open');
    expect(open).toEqual([]);
    // Every write the workflow made carries its workflow task's fence: the history length then, growing with the run.
    const events = (await stack.client.workflow.getHandle(caseWorkflowId(c.id)).fetchHistory()).events ?? [];
    const historyLength = events.length;
    const fences = async (sql: string) => (await stack.db.pool.query<{ fence: number }>(sql, [c.id])).rows.map((r) => r.fence);
    const entryFences = await fences("SELECT fence FROM audit_entries WHERE case_id = $1 AND event_key LIKE 'wf:%' ORDER BY seq");
    const rowFences = [...(await fences('SELECT fence FROM cases WHERE id = $1')), ...(await fences('SELECT fence FROM tasks WHERE case_id = $1'))];
    expect(entryFences.length).toBeGreaterThan(10);
    for (const f of [...entryFences, ...rowFences]) expect(f > 0 && f <= historyLength).toBe(true);
    expect(entryFences).toEqual([...entryFences].sort((a, b) => a - b));
    expect(new Set(entryFences).size).toBeGreaterThan(3);
    // A fence is the event id of its workflow task's WorkflowTaskStarted, so the history tells which attempt wrote what.
    for (const f of new Set([...entryFences, ...rowFences])) expect(events[f - 1]?.workflowTaskStartedEventAttributes, `event ${f}`).toBeTruthy();
  });

  it.each([
    ['set at start, as the API does: the workflow does not upsert them again', true],
    ['not set at start: the workflow upserts them at intake', false],
  ])('makes cases findable by search attributes in Temporal (reference, status, merchant id, jurisdiction): %s', async (_, atStart) => {
    const input = sampleCase();
    const c = await startCase(stack, input, actors.lead, undefined, { searchAttributes: atStart });
    const handle = stack.client.workflow.getHandle(caseWorkflowId(c.id));
    const merchantId = (input.merchant.paymentChannels[0] as { merchantId: string }).merchantId;
    const walletId = (input.merchant.paymentChannels.find((p) => p.kind !== 'card') as { accountId: string }).accountId;
    const query = `CaseReference = '${input.reference}' AND CaseStatus = 'verifying' AND MerchantIds = '${merchantId}' AND MerchantIds = '${walletId}' AND Jurisdiction = 'GB'`;
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of stack.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([caseWorkflowId(c.id)]);
    // One patch marker (and its TemporalChangeVersion upsert) for the run; the case's own attributes upserted at intake
    // only when the start did not set them.
    const events = (await handle.fetchHistory()).events ?? [];
    const patches = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    expect(patches).toHaveLength(1);
    const upserted = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.CaseReference);
    expect(upserted).toHaveLength(atStart ? 0 : 1);
    await handle.executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id);
    const closed = await handle.describe();
    expect(closed.typedSearchAttributes.get(CaseStatusKey)).toBe('withdrawn');
  });

  it('ends closed_unverified when the analyst rejects, and closed_rejected when the officer rejects', async () => {
    const a = await startCase(stack, sampleCase());
    const verify = await waitForTask(stack, a.id, 'verify_evidence');
    await complete(stack, a.id, verify.id, actors.analyst, 'rejected', {}, 'hashes do not match the purchase');
    expect((await waitForCaseEnd(stack, a.id, 'closed-unverified')).status).toBe('closed_unverified');

    const b = await startCase(stack, sampleCase());
    await complete(stack, b.id, (await waitForTask(stack, b.id, 'verify_evidence')).id, actors.analyst, 'verified');
    await complete(stack, b.id, (await waitForTask(stack, b.id, 'le_signoff')).id, actors.officer, 'rejected', {}, 'insufficient grounds');
    const end = await waitForCaseEnd(stack, b.id, 'closed-rejected');
    expect(end.status).toBe('closed_rejected');
    expect(partners.received.filter((n) => n.caseId === b.id)).toEqual([]);
  });

  it('enforces outcome, data and four-eyes rules in the update validator', async () => {
    const c = await startCase(stack, sampleCase(), actors.lead);
    const verify = await waitForTask(stack, c.id, 'verify_evidence');
    await expect(complete(stack, c.id, verify.id, actors.analyst, 'maybe')).rejects.toMatchObject({ cause: { type: 'InvalidCompletion' } });
    await expect(complete(stack, c.id, verify.id, actors.analyst, 'rejected')).rejects.toMatchObject({ cause: { type: 'InvalidCompletion' } });
    await expect(complete(stack, c.id, verify.id, actors.partner('visa'), 'verified')).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    // The creator holding the analyst role too may not verify its own case.
    const leadAnalyst = { ...actors.lead, roles: ['case_lead', 'analyst', 'le_officer'] } as typeof actors.lead;
    await expect(complete(stack, c.id, verify.id, leadAnalyst, 'verified')).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    const analystOfficer = { id: 'p_both', org: 'ceop', roles: ['analyst', 'le_officer'] } as typeof actors.lead;
    await complete(stack, c.id, verify.id, analystOfficer, 'verified');
    await expect(complete(stack, c.id, verify.id, actors.analyst, 'verified')).rejects.toMatchObject({ cause: { type: 'TaskNotOpen' } });
    const signoff = await waitForTask(stack, c.id, 'le_signoff');
    await expect(complete(stack, c.id, signoff.id, analystOfficer, 'approved')).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    // Concurrent completions of one task: exactly one wins.
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => complete(stack, c.id, signoff.id, actors.officer, 'rejected', {}, 'no')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await waitForCaseEnd(stack, c.id, 'four-eyes-concurrent')).status).toBe('closed_rejected');
  });

  it('asks for deconfliction review when another open case shares the merchant: proceed, then abort', async () => {
    const first = await startCase(stack, sampleCase({}, 'shared1'));
    const second = await startCase(stack, sampleCase({}, 'shared1'));
    expect(second.deconflictedWith).toContain(first.id);
    const review = await waitForTask(stack, second.id, 'deconfliction_review');
    await complete(stack, second.id, review.id, actors.supervisor, 'proceed');
    await waitForTask(stack, second.id, 'verify_evidence');

    const third = await startCase(stack, sampleCase({}, 'shared1'));
    const review3 = await waitForTask(stack, third.id, 'deconfliction_review');
    await complete(stack, third.id, review3.id, actors.supervisor, 'abort', {}, 'covered by the first case');
    expect((await waitForCaseEnd(stack, third.id, 'deconfliction-abort')).status).toBe('withdrawn');
    // Withdrawn by the reviewer's abort: the chain says so as for any withdrawal, by whom, before the case's close.
    const ending = await stack.db.pool.query<{ action: string; actor_id: string | null; actor_org: string | null; data: { reason?: string; notified?: string[] } }>(
      `SELECT action, actor_id, actor_org, data FROM audit_entries WHERE case_id = $1 AND action IN ('case.withdrawn', 'case.closed') ORDER BY seq`,
      [third.id],
    );
    expect(ending.rows.map((r) => r.action)).toEqual(['case.withdrawn', 'case.closed']);
    expect(ending.rows[0]).toMatchObject({ actor_id: actors.supervisor.id, actor_org: actors.supervisor.org, data: { reason: 'deconfliction: covered by the first case', notified: [] } });
    expect((await verifyChain(stack.db.pool, third.id)).intact).toBe(true);
    for (const id of [first.id, second.id]) {
      await stack.client.workflow.getHandle(caseWorkflowId(id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'test cleanup', actor: actors.lead }] });
    }
    await waitForCaseEnd(stack, second.id, 'deconfliction-proceed-withdrawn');
  });

  it('completes with exceptions when a freeze is declined', async () => {
    const c = await startCase(stack, sampleCase());
    await throughSignoff(c.id);
    await confirmAll(c.id, { declineFreeze: true });
    const end = await waitForCaseEnd(stack, c.id, 'declined-freeze');
    expect(end.status).toBe('completed_with_exceptions');
    expect(end.steps.find((s) => s.name === 'freeze')?.status).toBe('declined');
  });

  it('retries a transient 5xx until delivery, and turns a final 4xx into resolve_exception: retry, then skip', async () => {
    partners.script('visa', [503, 502]);
    partners.script('paypal', [410]);
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }));
    await throughSignoff(c.id);
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.status === 200);
    expect(partners.received.filter((n) => n.caseId === c.id && n.org === 'visa').map((n) => n.status)).toEqual([503, 502, 200]);
    const ids = new Set(partners.received.filter((n) => n.caseId === c.id && n.org === 'visa').map((n) => n.id));
    expect(ids.size).toBe(1);
    const ex = await waitForTask(stack, c.id, 'resolve_exception');
    partners.script('paypal', [404]);
    await complete(stack, c.id, ex.id, actors.lead, 'retry');
    const ex2 = await waitForTask(stack, c.id, 'resolve_exception');
    expect(ex2.id).not.toBe(ex.id);
    await complete(stack, c.id, ex2.id, actors.lead, 'skip');
    const now = new Date().toISOString();
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_removal', 'host-example')).id, actors.partner('host-example'), 'removed', { removedAt: now });
    const end = await waitForCaseEnd(stack, c.id, 'notice-5xx-4xx-retry-skip');
    expect(end.status).toBe('completed_with_exceptions');
    expect(end.steps.find((s) => s.name === 'termination')?.status).toBe('skipped');
    expect(end.steps.find((s) => s.name === 'freeze')?.status).toBe('skipped');
    const actions = (await stack.db.pool.query('SELECT action FROM audit_entries WHERE case_id = $1', [c.id])).rows.map((r) => r.action);
    expect(actions).toContain('notice.failed');
  });

  it('ends failed when the case lead aborts an exception, withdrawing the requests already sent', async () => {
    partners.script('paypal', [400]);
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }));
    await throughSignoff(c.id);
    const ex = await waitForTask(stack, c.id, 'resolve_exception');
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'termination_request');
    // The case lead's note on the abort is about PayPal, for the case's own people: it stays in the audit chain.
    const note = `paypal compliance refused ${c8()}, merchant may have been tipped off`;
    await complete(stack, c.id, ex.id, actors.lead, 'abort', {}, note);
    const end = await waitForCaseEnd(stack, c.id, 'exception-abort');
    expect(end.status).toBe('failed');
    const toVisa = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'withdrawal_notice');
    const toHost = await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice');
    expect((await tasksOf(stack, c.id)).filter((t) => t.status === 'open')).toEqual([]);
    // Partners are told the case closed, never the note.
    for (const told of [toVisa, toHost]) {
      expect(JSON.stringify(told.document)).not.toContain('tipped off');
      expect((told.document as { reason: string }).reason).toBe('the case was closed before these requests were completed');
    }
    const closed = await stack.db.pool.query(`SELECT data->>'reason' AS reason FROM audit_entries WHERE case_id = $1 AND action = 'case.closed'`, [c.id]);
    expect(closed.rows).toEqual([{ reason: `aborted by the case lead: ${note}` }]);
  });

  it('closes a withdrawn case at once while a partner is down, and delivers its withdrawal notice once the partner is back', async () => {
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }));
    await throughSignoff(c.id);
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.status === 200);
    // Every request delivered before the withdrawal (on a busy machine the schemes' may still be under way): one still
    // being delivered at the close would rightly be abandoned, which this test is not about.
    // Three requests: the two schemes' terminations (no freeze in this plan) and the host's notice.
    const requestsDelivered = async () =>
      (await stack.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notices WHERE case_id = $1 AND type IN ('termination_request', 'hosting_notice') AND state = 'delivered'`, [c.id])).rows[0].n === 3;
    for (const deadline = Date.now() + 20_000; !(await requestsDelivered()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(await requestsDelivered()).toBe(true);
    // The host's webhook is down for a while: its notices are retried with backoff (1 s, 2 s, 4 s...).
    partners.script('host-example', [503, 503, 503]);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'court order', actor: actors.lead }] });
    // Once the withdrawal is accepted, the stored case shows it under way, before its close is written.
    const stored = await stack.db.pool.query<{ withdrawal: unknown }>(`SELECT view->'withdrawal' AS withdrawal FROM cases WHERE id = $1`, [c.id]);
    expect(stored.rows[0].withdrawal).toMatchObject({ reason: 'court order', by: actors.lead.id });
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice' && n.status === 503, 20_000);
    // Closed while the host is still down: withdrawn in lists and to deconfliction, with its closedAt.
    const row = async () => (await stack.db.pool.query<{ status: string; closed_at: Date | null }>('SELECT status, closed_at FROM cases WHERE id = $1', [c.id])).rows[0];
    const hostTold = () => partners.received.some((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice' && n.status === 200);
    for (const deadline = Date.now() + 10_000; (await row()).status !== 'withdrawn' && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect({ ...(await row()), hostTold: hostTold() }).toMatchObject({ status: 'withdrawn', closed_at: expect.any(Date), hostTold: false });
    const delivered = await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice' && n.status === 200, 20_000);
    // The run ends once the notice is delivered; the notice is delivered, not abandoned at the close.
    expect((await waitForCaseEnd(stack, c.id, 'withdrawn-partner-down')).status).toBe('withdrawn');
    const notice = await stack.db.pool.query('SELECT state FROM notices WHERE id = $1', [delivered.id]);
    expect(notice.rows).toEqual([{ state: 'delivered' }]);
    const actions = (await stack.db.pool.query<{ action: string; data: { noticeId?: string } }>('SELECT action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [c.id])).rows;
    const at = (pred: (e: { action: string; data: { noticeId?: string } }) => boolean) => actions.findIndex(pred);
    expect(at((e) => e.action === 'case.withdrawn')).toBeLessThan(at((e) => e.action === 'case.closed'));
    expect(at((e) => e.action === 'case.closed')).toBeLessThan(at((e) => e.action === 'notice.sent' && e.data.noticeId === delivered.id));
    expect(actions.filter((e) => e.action === 'notice.abandoned')).toEqual([]);
    expect((await verifyChain(stack.db.pool, c.id)).intact).toBe(true);
  });

  it('withdraws at each stage: open tasks cancelled, partners already asked get a withdrawal notice', async () => {
    const handle = (id: string) => stack.client.workflow.getHandle(caseWorkflowId(id));
    const atVerify = await startCase(stack, sampleCase());
    await waitForTask(stack, atVerify.id, 'verify_evidence');
    await handle(atVerify.id).executeUpdate(withdrawUpdate, { args: [{ reason: 'duplicate', actor: actors.lead }] });
    expect((await waitForCaseEnd(stack, atVerify.id, 'withdrawn-at-verification')).status).toBe('withdrawn');

    const atSignoff = await startCase(stack, sampleCase());
    await complete(stack, atSignoff.id, (await waitForTask(stack, atSignoff.id, 'verify_evidence')).id, actors.analyst, 'verified');
    await waitForTask(stack, atSignoff.id, 'le_signoff');
    await handle(atSignoff.id).executeUpdate(withdrawUpdate, { args: [{ reason: 'operation paused', actor: actors.supervisor }] });
    expect((await waitForCaseEnd(stack, atSignoff.id, 'withdrawn-at-signoff')).status).toBe('withdrawn');

    const atDisruption = await startCase(stack, sampleCase());
    await throughSignoff(atDisruption.id);
    await partners.waitFor((n) => n.caseId === atDisruption.id && n.org === 'visa' && n.type === 'termination_request');
    await partners.waitFor((n) => n.caseId === atDisruption.id && n.org === 'host-example');
    // Visa has done its part before the withdrawal: its notice says that task stands, and withdraws nothing of it.
    const visaTask = await waitForTask(stack, atDisruption.id, 'confirm_termination', 'visa');
    await complete(stack, atDisruption.id, visaTask.id, actors.partner('visa'), 'terminated', { terminatedAt: new Date().toISOString() });
    await expect(
      handle(atDisruption.id).executeUpdate(withdrawUpdate, { args: [{ reason: 'x', actor: actors.partner('visa') }] }),
    ).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    await handle(atDisruption.id).executeUpdate(withdrawUpdate, { args: [{ reason: 'court order', actor: actors.lead }] });
    const end = await waitForCaseEnd(stack, atDisruption.id, 'withdrawn-at-disruption');
    expect(end.status).toBe('withdrawn');
    const withdrawals = await Promise.all(
      ['visa', 'paypal', 'acq-northbank', 'host-example'].map((org) => partners.waitFor((n) => n.caseId === atDisruption.id && n.org === org && n.type === 'withdrawal_notice')),
    );
    expect(withdrawals).toHaveLength(4);
    const visaWithdrawal = withdrawals[0].document as { withdraws: { taskIds: string[]; noticeIds: string[] }; stands: { taskIds: string[] } };
    expect(visaWithdrawal.withdraws).toEqual({ taskIds: [], noticeIds: [] });
    expect(visaWithdrawal.stands.taskIds).toEqual([visaTask.id]);
    const hostWithdrawal = withdrawals[3].document as { withdraws: { taskIds: string[] }; stands: { taskIds: string[] } };
    expect(hostWithdrawal.withdraws.taskIds).toHaveLength(1);
    expect(hostWithdrawal.stands.taskIds).toEqual([]);
    const tasks = await tasksOf(stack, atDisruption.id);
    expect(tasks.filter((t) => t.status === 'open')).toEqual([]);
    // Every task but the verification, the sign-off and visa's completed termination.
    expect(tasks.filter((t) => t.status === 'cancelled').length).toBeGreaterThanOrEqual(4);
    // The run has ended: a second withdrawal finds no workflow to take it (the API answers it from the stored case).
    await expect(handle(atDisruption.id).executeUpdate(withdrawUpdate, { args: [{ reason: 'again', actor: actors.lead }] })).rejects.toMatchObject({
      name: 'WorkflowNotFoundError',
      message: 'workflow execution already completed',
    });
  });

  it("settles the case lead's exception when the partner completes meanwhile, and tells a skipped partner at once, not again at close", async () => {
    const slas = { verification: '1h', signoff: '1h', termination: '2s', freeze: '1h', removal: '1h' };
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas } }));
    await throughSignoff(c.id);
    const exceptionFor = (org: string) => exceptionAbout(c.id, org);
    // Both schemes stay silent past twice their deadline: the case lead is asked about each.
    const visaException = await exceptionFor('visa');
    const paypalException = await exceptionFor('paypal');
    const visaTask = await waitForTask(stack, c.id, 'confirm_termination', 'visa');
    await complete(stack, c.id, visaTask.id, actors.partner('visa'), 'terminated', { terminatedAt: new Date().toISOString() });
    // Visa's late answer settles its exception: cancelled, and the case lead can no longer act on it.
    for (const deadline = Date.now() + 10_000; (await exceptionFor('visa')).status === 'open' && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect((await exceptionFor('visa')).status).toBe('cancelled');
    await expect(complete(stack, c.id, visaException.id, actors.lead, 'retry')).rejects.toMatchObject({ cause: { type: 'TaskNotOpen', message: expect.stringMatching(/is cancelled$/) } });
    // PayPal is skipped: it is told at once, naming its task and the request sent for it.
    const paypalTask = await waitForTask(stack, c.id, 'confirm_termination', 'paypal');
    await complete(stack, c.id, paypalException.id, actors.lead, 'skip');
    const skipped = await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'withdrawal_notice', 20_000);
    expect(skipped.verified).toBe(true);
    expect(skipped.taskId).toBe(paypalTask.id);
    expect(skipped.document).toMatchObject({ withdraws: { taskIds: [paypalTask.id], noticeIds: [expect.stringContaining(paypalTask.id)] } });
    // The run knows the notice was delivered before the withdrawal comes: a withdrawal while it is still in flight
    // (answered by PayPal, its activity not yet completed) cancels it and names the request again at the close.
    await untilDeliveryTakenIn(c.id);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'court order', actor: actors.lead }] });
    expect((await waitForCaseEnd(stack, c.id, 'partner-closure')).status).toBe('withdrawn');
    const closing = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'withdrawal_notice', 20_000);
    expect(closing.document).toMatchObject({ withdraws: { taskIds: [] }, stands: { taskIds: [visaTask.id] } });
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice', 20_000);
    expect(partners.received.filter((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'withdrawal_notice')).toHaveLength(1);
    const tasks = await tasksOf(stack, c.id);
    expect(tasks.find((t) => t.id === visaTask.id)).toMatchObject({ status: 'completed', outcome: 'terminated' });
    expect(tasks.find((t) => t.id === paypalTask.id)).toMatchObject({ status: 'cancelled' });
  });

  it("names each payment channel in its own termination request when one scheme holds two of the merchant's channels", async () => {
    const u = c8();
    const base = sampleCase({}, u);
    const channels = [
      { kind: 'card' as const, scheme: 'visa', acquirer: 'acq-northbank', merchantId: `MA${u}` },
      { kind: 'card' as const, scheme: 'visa', acquirer: 'acq-northbank', merchantId: `MB${u}` },
    ];
    const c = await startCase(stack, { ...base, merchant: { ...base.merchant, paymentChannels: channels, hosting: [] }, plan: { ...base.plan, freezeAssets: false } });
    await throughSignoff(c.id);
    const requests = () => partners.received.filter((n) => n.caseId === c.id && n.type === 'termination_request');
    await partners.waitFor((n) => n.caseId === c.id && n.type === 'termination_request' && requests().length >= 2, 20_000);
    expect(requests()).toHaveLength(2);
    // Each request names the channel its task is about (and not the other one), so both merchant ids are asked for.
    const named: string[] = [];
    for (const n of requests()) {
      const own = ((await contextOf(n.taskId!)) as { scope: { channel: { merchantId: string } } }).scope.channel.merchantId;
      const other = own === `MA${u}` ? `MB${u}` : `MA${u}`;
      expect(JSON.stringify(n.document)).toContain(own);
      expect(JSON.stringify(n.document)).not.toContain(other);
      named.push(own);
    }
    expect(named.sort()).toEqual([`MA${u}`, `MB${u}`]);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'test done', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id);
  });

  /** A case whose one payment channel is a PayPal wallet, with no freeze and no hosting: termination is all it waits for. */
  const paypalOnlyCase = (terminationSla: string) => {
    const u = c8();
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: terminationSla, freeze: '1h', removal: '1h' } } }, u);
    return { ...base, merchant: { ...base.merchant, paymentChannels: [{ kind: 'wallet' as const, provider: 'paypal', accountId: `PP-${u}` }], hosting: [] } };
  };
  const withdrawalsTo = (caseId: string, org: string) => partners.received.filter((n) => n.caseId === caseId && n.org === org && n.type === 'withdrawal_notice');

  it('closes the case when a skip was the last thing it waited for, and still tells the skipped partner, however long that takes', async () => {
    const c = await startCase(stack, paypalOnlyCase('2s'));
    await throughSignoff(c.id);
    const task = await waitForTask(stack, c.id, 'confirm_termination', 'paypal');
    // PayPal stays silent past twice its deadline; the case lead skips it, and nothing else is left to wait for. Its
    // webhook then fails once: the case is closed meanwhile, not held open by the notice.
    const ex = await waitForTask(stack, c.id, 'resolve_exception');
    partners.script('paypal', [503]);
    await complete(stack, c.id, ex.id, actors.lead, 'skip');
    const end = await waitForCaseEnd(stack, c.id, 'skip-last-request');
    expect(end.status).toBe('completed_with_exceptions');
    const told = withdrawalsTo(c.id, 'paypal');
    expect(told.map((n) => n.status)).toEqual([503, 200]);
    expect(told[1].document).toMatchObject({ withdraws: { taskIds: [task.id] } });
    const { rows } = await stack.db.pool.query<{ type: string; state: string }>('SELECT type, state FROM notices WHERE case_id = $1 AND org = $2', [c.id, 'paypal']);
    expect(rows.filter((r) => r.type === 'withdrawal_notice')).toEqual([{ type: 'withdrawal_notice', state: 'delivered' }]);
    // Recorded closed first, then the notice sent; it was never abandoned.
    const actions = (await stack.db.pool.query<{ action: string; data: { type?: string } }>('SELECT action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [c.id])).rows;
    const sentAt = actions.findIndex((a) => a.action === 'notice.sent' && a.data.type === 'withdrawal_notice');
    expect(sentAt).toBeGreaterThan(actions.findIndex((a) => a.action === 'case.closed'));
    expect(actions.filter((a) => a.action === 'notice.abandoned')).toEqual([]);
  });

  it("withdraws a skipped request again at the case's withdrawal when its own notice had not reached the partner", async () => {
    // Visa's request and the hosting notice keep the case open after PayPal's is skipped.
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '2s', freeze: '1h', removal: '1h' } } }));
    await throughSignoff(c.id);
    const task = await waitForTask(stack, c.id, 'confirm_termination', 'paypal');
    const ex = await exceptionAbout(c.id, 'paypal');
    // The skip's notice meets a partner that answers 503: it is still being retried when the case is withdrawn.
    partners.script('paypal', [503, 503, 503]);
    await complete(stack, c.id, ex.id, actors.lead, 'skip');
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'withdrawal_notice' && n.status === 503, 20_000);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'court order', actor: actors.lead }] });
    expect((await waitForCaseEnd(stack, c.id, 'skip-notice-then-withdrawal')).status).toBe('withdrawn');
    // The closing notice names the skipped task (the withdrawal cancelled the skip's own notice).
    const delivered = withdrawalsTo(c.id, 'paypal').filter((n) => n.status === 200);
    expect(delivered).toHaveLength(1);
    expect(delivered[0].document).toMatchObject({ withdraws: { taskIds: [task.id] } });
    expect(delivered[0].taskId).toBeNull();
    // Every 503 was used up by this case's notices.
    partners.script('paypal', []);
  });

  it('never accepts a withdrawal and then ends the case otherwise: raced with the last completion, one of them wins whole', async () => {
    const runs = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }));
        await throughSignoff(c.id);
        const now = new Date().toISOString();
        // The removal first (its URL check runs and ends), then one termination; the other is the last task.
        await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_removal', 'host-example')).id, actors.partner('host-example'), 'removed', { removedAt: now });
        await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
        const last = await waitForTask(stack, c.id, 'confirm_termination', 'paypal');
        // Let the removal's check finish, so the last completion ends the flow at once.
        await new Promise((r) => setTimeout(r, 1_500));
        // The last completion and a withdrawal at the same moment.
        const [, withdraw] = await Promise.allSettled([
          complete(stack, c.id, last.id, actors.partner('paypal'), 'terminated', { terminatedAt: now }),
          stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'raced', actor: actors.lead }] }),
        ]);
        const end = await waitForCaseEnd(stack, c.id, `withdrawal-race-${i}`);
        return { accepted: withdraw.status === 'fulfilled', end };
      }),
    );
    for (const { accepted, end } of runs) {
      if (accepted) {
        expect(end.status).toBe('withdrawn');
        expect(end.withdrawal).toMatchObject({ reason: 'raced' });
      } else {
        expect(end.status).toBe('completed');
        expect(end.withdrawal).toBeNull();
      }
    }
  });

  it('names a task completed while the close cancels the others as standing in the withdrawal notice, not as withdrawn', async () => {
    const base = sampleCase();
    const c = await startCase(stack, { ...base, plan: { ...base.plan, freezeAssets: false }, merchant: { ...base.merchant, hosting: [] } });
    await throughSignoff(c.id);
    const visaTask = await waitForTask(stack, c.id, 'confirm_termination', 'visa');
    const paypalTask = await waitForTask(stack, c.id, 'confirm_termination', 'paypal');
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'termination_request');
    const handle = stack.client.workflow.getHandle(caseWorkflowId(c.id));
    // Visa's task row is held: the close's first cancellation (Visa's, the tasks are cancelled in the order they were
    // opened) waits for it, and the case's other writes wait behind it.
    const holder = await stack.db.pool.connect();
    let withdrawal: Promise<unknown> | undefined;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [visaTask.id]);
      withdrawal = handle.executeUpdate(withdrawUpdate, { args: [{ reason: 'no longer needed', actor: actors.lead }] });
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const { rows } = await stack.db.pool.query(`SELECT 1 FROM audit_entries WHERE case_id = $1 AND action = 'case.withdrawal_requested'`, [c.id]);
        if (rows.length > 0) break;
      }
      // Meanwhile PayPal completes its task (accepted once the run's workflow task, kept open by the held write, is
      // handed over), before the close has come to it.
      await handle.startUpdate(completeTaskUpdate, {
        args: [{ completion: { taskId: paypalTask.id, outcome: 'terminated', data: { terminatedAt: new Date().toISOString() } }, actor: actors.partner('paypal') }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await withdrawal;
    expect((await waitForCaseEnd(stack, c.id, 'completed-during-close')).status).toBe('withdrawn');
    const toPaypal = partners.received.find((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'withdrawal_notice');
    expect(toPaypal?.document).toMatchObject({ withdraws: { taskIds: [] }, stands: { taskIds: [paypalTask.id] } });
    const toVisa = partners.received.find((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'withdrawal_notice');
    expect(toVisa?.document).toMatchObject({ withdraws: { taskIds: [visaTask.id] }, stands: { taskIds: [] } });
    const cancelled = await stack.db.pool.query(`SELECT data->>'taskId' AS id FROM audit_entries WHERE case_id = $1 AND action = 'task.cancelled'`, [c.id]);
    expect(cancelled.rows.map((r) => r.id)).toEqual([visaTask.id]);
  });

  it('amends a case: new evidence and URLs reach the hosting notice not yet sent', async () => {
    const c = await startCase(stack, sampleCase({}, 'amend1'));
    const newUrl = 'https://shop-amend1.example.test/b';
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(addEvidenceUpdate, {
      args: [{ evidence: [{ kind: 'screenshot_hash', sha256: 'b'.repeat(64) }], urls: [newUrl], actor: actors.lead }],
    });
    await throughSignoff(c.id);
    const notice = await partners.waitFor((n) => n.caseId === c.id && n.type === 'hosting_notice');
    expect(JSON.stringify(notice.document)).toContain(newUrl);
    expect(JSON.stringify(notice.document)).toContain('b'.repeat(64));
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'amendment');
  });

  it('amends a case with hosting entries: a named provider joins the plan, and its URLs reach its hosting notice', async () => {
    const c = await startCase(stack, sampleCase({}, 'amend2'));
    const mirror = 'https://mirror-amend2.example.test/m';
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(addEvidenceUpdate, {
      args: [{ evidence: [], urls: [], hosting: [{ provider: 'host-example', urls: [mirror] }, { provider: 'host-amend2', urls: ['https://two-amend2.example.test/t'] }], actor: actors.lead }],
    });
    await throughSignoff(c.id);
    const notice = await partners.waitFor((n) => n.caseId === c.id && n.type === 'hosting_notice' && n.org === 'host-example');
    expect(JSON.stringify(notice.document)).toContain(mirror);
    // The new provider has no webhook here: its removal task is open all the same.
    await waitForTask(stack, c.id, 'confirm_removal', 'host-amend2');
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'hosting-amendment');
  });
});

describe('removal checks', () => {
  it('checks after a removal only the URLs the host was asked to remove, not one added to its entry since', async () => {
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '2s' } } });
    const gone = `https://gone-${c8()}.example.test/p`; // never resolves: down
    const c = await startCase(stack, { ...base, merchant: { ...base.merchant, paymentChannels: [], urls: [gone], hosting: [{ provider: 'host-example', urls: [gone] }] } });
    await throughSignoff(c.id);
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.status === 200);
    // After the host was asked, the case lead adds a URL to its entry (up: the local partner server answers it).
    const later = partners.url(`later-${c8()}`);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(addEvidenceUpdate, {
      args: [{ evidence: [], urls: [], hosting: [{ provider: 'host-example', urls: [later] }], actor: actors.lead }],
    });
    await hostRemoves(c.id);
    const checks = async () => (await stack.db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'urls.checked'`, [c.id])).rows.map((r) => r.data);
    for (const deadline = Date.now() + 20_000; (await checks()).length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(await checks()).toEqual([expect.objectContaining({ org: 'host-example', up: [], down: [gone] })]);
    const end = await waitForCaseEnd(stack, c.id);
    expect(partners.received.filter((n) => n.caseId === c.id && n.org === 'host-example').map((n) => n.type)).toEqual(['hosting_notice']);
    expect(end.status).toBe('completed');
  });
});

describe('deadlines of seconds', () => {
  it('reminds a partner at half the SLA, escalates at the deadline, then raises resolve_exception', async () => {
    const slas = { verification: '1h', signoff: '1h', termination: '4s', freeze: '1h', removal: '1h' };
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas } }));
    await throughSignoff(c.id);
    const reminder = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'reminder', 20_000);
    expect(reminder.document).toBeTruthy();
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'reminder' && n.id !== reminder.id, 20_000);
    const escalated = await stack.db.pool.query(`SELECT escalated FROM tasks WHERE case_id = $1 AND type = 'confirm_termination' AND assignee_org = 'visa'`, [c.id]);
    expect(escalated.rows[0].escalated).toBe(true);
    // The exception asks the case lead about visa's silence.
    expect(await exceptionAbout(c.id, 'visa', 'no_response')).toMatchObject({ status: 'open' });
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'partner-reminder-escalation-exception');
  });

  it('raises resolve_exception when a partner refuses a reminder with a final 4xx; retry sends the request again', async () => {
    const slas = { verification: '1h', signoff: '1h', termination: '4s', freeze: '1h', removal: '1h' };
    partners.script('visa', [200, 410]);
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas } }));
    await throughSignoff(c.id);
    const first = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'termination_request', 20_000);
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'reminder' && n.status === 410, 20_000);
    const ex = await waitForTask(stack, c.id, 'resolve_exception', 'ceop', 20_000);
    // The partner's answer, not the SDK's wrapper ("Activity task failed"), so the case lead sees what was refused.
    expect(await contextOf(ex.id)).toMatchObject({
      reason: 'notice_rejected',
      org: 'visa',
      notice: { failure: 'PartnerRejected', status: 410, message: expect.stringMatching(/^visa rejected notice .*410/) },
    });
    const retriedAt = Date.now();
    await complete(stack, c.id, ex.id, actors.lead, 'retry');
    const again = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'termination_request' && n.id !== first.id, 20_000);
    expect(again.verified).toBe(true);
    // The request is sent again with a new deadline cycle (a whole SLA from the retry), not the first cycle's dueAt.
    expect(Date.parse((again.document as { dueAt: string }).dueAt)).toBeGreaterThan(retriedAt + 3_000);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'refused-reminder');
  });

  it('gives a refused request retried by the case lead a new deadline cycle, as a retried no-response gets', async () => {
    const u = c8();
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '3s', freeze: '1h', removal: '1h' } } }, u);
    const input = { ...base, merchant: { ...base.merchant, paymentChannels: [{ kind: 'wallet' as const, provider: 'paypal', accountId: `PP-${u}` }], hosting: [] } };
    partners.script('paypal', [410]);
    const c = await startCase(stack, input);
    await throughSignoff(c.id);
    const ex = await exceptionAbout(c.id, 'paypal', 'notice_rejected');
    // The case lead takes a while (well inside the exception's own 1 h SLA, past the request's 3 s) to choose.
    await new Promise((r) => setTimeout(r, 7_000));
    const retriedAt = Date.now();
    await complete(stack, c.id, ex.id, actors.lead, 'retry');
    const again = await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'termination_request' && n.status === 200, 20_000);
    const dueAt = (again.document as { dueAt: string }).dueAt;
    await new Promise((r) => setTimeout(r, 2_500));
    const noResponse = await stack.db.pool.query(`SELECT id FROM tasks WHERE case_id = $1 AND type = 'resolve_exception' AND context->>'reason' = 'no_response'`, [c.id]);
    const task = (await stack.db.pool.query(`SELECT id, escalated, due_at FROM tasks WHERE case_id = $1 AND type = 'confirm_termination'`, [c.id])).rows[0];
    const extended = await stack.db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'task.extended'`, [c.id]);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'refused-request-retry');
    // The re-sent request gives the partner a deadline after the retry, the task's own; the partner is not escalated or
    // reported silent at once.
    expect(Date.parse(dueAt)).toBeGreaterThan(retriedAt);
    expect(new Date(task.due_at).toISOString()).toBe(dueAt);
    expect(extended.rows.map((r) => r.data)).toEqual([{ taskId: task.id, dueAt }]);
    expect(task.escalated).toBe(false);
    expect(noResponse.rows).toEqual([]);
  });

  it('stops retrying the first request once a retried no-response sends it again: the partner is asked once, not twice', async () => {
    const u = c8();
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '2s', freeze: '1h', removal: '1h' } } }, u);
    const input = { ...base, merchant: { ...base.merchant, paymentChannels: [{ kind: 'wallet' as const, provider: 'paypal', accountId: `PP-${u}` }], hosting: [] } };
    // PayPal's webhook fails the request's first three attempts (at about 0, 1 and 3 s); its fourth would come at about 7 s.
    partners.script('paypal', [503, 503, 503]);
    const c = await startCase(stack, input);
    await throughSignoff(c.id);
    const first = await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'termination_request', 20_000);
    // Silent for twice the SLA (its notice still retrying): the case lead hears of it and retries at once.
    const ex = await exceptionAbout(c.id, 'paypal', 'no_response');
    await complete(stack, c.id, ex.id, actors.lead, 'retry');
    const again = await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'termination_request' && n.id !== first.id && n.status === 200, 20_000);
    // The first notice's next attempt ends without sending: it was superseded when the second was stored.
    expect(await sendResultOf(c.id, first.id)).toEqual({ delivered: false, reason: 'superseded' });
    const states = await stack.db.pool.query(`SELECT id, state FROM notices WHERE case_id = $1 AND type = 'termination_request' ORDER BY id`, [c.id]);
    const superseded = await stack.db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'notice.superseded'`, [c.id]);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'no-response-retry-supersedes');
    expect(states.rows).toEqual(expect.arrayContaining([{ id: first.id, state: 'superseded' }, { id: again.id, state: 'delivered' }]));
    expect(superseded.rows.map((r) => r.data)).toEqual([{ noticeIds: [first.id], by: again.id }]);
    // Every request PayPal got under the first id was refused: none reached it beside the second.
    expect(partners.received.filter((n) => n.id === first.id).map((n) => n.status)).toEqual([503, 503, 503]);
    expect(await verifyChain(stack.db.pool, c.id)).toMatchObject({ intact: true });
  });

  it("stops the other partner requests when the case lead aborts one: nothing of theirs runs on into the case's close", async () => {
    const site = partners.url(`site-${c8()}`); // answers 200: the removal check finds it still up
    partners.script('visa', [410]);
    const c = await signedOffHostedAt(site);
    const visaEx = await exceptionAbout(c.id, 'visa', 'notice_rejected');
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'termination_request');
    await hostRemoves(c.id);
    // The hosting request re-notices the URL still up and waits the removal SLA (2 s) before it checks again.
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.document.followUp !== undefined, 20_000);
    // PayPal's withdrawal notice is retried for a while, as a partner's webhook may be: the close takes some seconds,
    // long enough for a request still running to check again and ask the case lead.
    partners.script('paypal', [503, 503, 503, 503]);
    await complete(stack, c.id, visaEx.id, actors.lead, 'abort', {}, 'partner refuses');
    // While PayPal's withdrawal notice is still retried (refused once so far), an amendment is refused: no request would
    // carry it. It was accepted and written before.
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'paypal' && n.type === 'withdrawal_notice', 20_000);
    const amended = stack.client.workflow
      .getHandle(caseWorkflowId(c.id))
      .executeUpdate(addEvidenceUpdate, { args: [{ evidence: [], urls: ['https://late-amendment.example.test/x'], actor: actors.lead }] });
    await expect(amended).rejects.toMatchObject({ cause: { type: 'CaseClosed', message: expect.stringMatching(/the case is closing|case is failed/) } });
    const end = await waitForCaseEnd(stack, c.id, 'abort-stops-siblings');
    partners.script('paypal', []);
    expect(end.status).toBe('failed');
    const open = await stack.db.pool.query(`SELECT id, type, context->>'reason' AS reason FROM tasks WHERE case_id = $1 AND status = 'open'`, [c.id]);
    expect(open.rows).toEqual([]);
    // After the abort, no request checked URLs again, opened a task or was noticed again.
    const audit = (await stack.db.pool.query<{ action: string; data: Record<string, unknown> }>('SELECT action, data FROM audit_entries WHERE case_id = $1 ORDER BY seq', [c.id])).rows;
    const aborted = audit.findIndex((a) => a.action === 'task.completed' && a.data.taskId === visaEx.id);
    expect(aborted).toBeGreaterThan(0);
    expect(audit.slice(aborted).filter((a) => ['urls.checked', 'task.created', 'task.escalated', 'task.extended'].includes(a.action))).toEqual([]);
    expect(audit.filter((a) => a.action === 'task.cancelled').map((a) => a.data.reason)).toEqual(expect.arrayContaining(['case failed']));
    expect(audit.filter((a) => a.action === 'task.cancelled' && String(a.data.reason).startsWith('settled'))).toEqual([]);
    expect(audit.filter((a) => a.action === 'evidence.added')).toEqual([]);
    const toHost = partners.received.filter((n) => n.caseId === c.id && n.org === 'host-example').map((n) => n.type);
    expect(toHost.at(-1)).toBe('withdrawal_notice');
    expect(toHost.filter((t) => t === 'hosting_notice')).toHaveLength(2);
    // The host's removal stands; the re-notice asking it to remove what was still up is withdrawn.
    const renotice = partners.received.find((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.document.followUp !== undefined)!;
    const hostTask = (await tasksOf(stack, c.id)).find((t) => t.type === 'confirm_removal')!;
    const hostWithdrawal = partners.received.filter((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'withdrawal_notice' && n.verified).at(-1)!;
    expect(hostWithdrawal.document).toMatchObject({ withdraws: { noticeIds: [renotice.id], taskIds: [] }, stands: { taskIds: [hostTask.id] } });
  });

  it("cancels a sibling request's open exception for the case's ending, not as settled by the partner, when the case lead aborts another", async () => {
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '2s', freeze: '1h', removal: '1h' } } });
    const input = { ...base, merchant: { ...base.merchant, hosting: [] } };
    partners.script('visa', [410]);
    const c = await startCase(stack, input);
    await throughSignoff(c.id);
    const visaEx = await exceptionAbout(c.id, 'visa', 'notice_rejected');
    // PayPal stays silent past twice its deadline: the case lead is asked about it too.
    const paypalEx = await exceptionAbout(c.id, 'paypal', 'no_response');
    const paypalTask = (await tasksOf(stack, c.id)).find((t) => t.type === 'confirm_termination' && t.assignee.org === 'paypal')!;
    await complete(stack, c.id, visaEx.id, actors.lead, 'abort', {}, 'partner refuses');
    expect((await waitForCaseEnd(stack, c.id, 'abort-with-sibling-exception')).status).toBe('failed');
    const cancelled = async (taskId: string) =>
      (await stack.db.pool.query(`SELECT data->>'reason' AS reason FROM audit_entries WHERE case_id = $1 AND action = 'task.cancelled' AND data->>'taskId' = $2`, [c.id, taskId])).rows.map((r) => r.reason);
    // The partner did not complete its task: both it and the exception about it are cancelled by the case's ending.
    expect((await stack.db.pool.query('SELECT status FROM tasks WHERE id = $1', [paypalTask.id])).rows[0].status).toBe('cancelled');
    expect(await cancelled(paypalTask.id)).toEqual(['case failed']);
    expect(await cancelled(paypalEx.id)).toEqual(['case failed']);
  });

  it('raises resolve_exception at once when the host refuses the re-notice for URLs still up after removal', async () => {
    // The merchant's page answers 200 (a path of the local partner server), so the removal check finds it still up.
    const site = partners.url(`site-${c8()}`);
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } });
    const input = { ...base, merchant: { ...base.merchant, urls: [site], hosting: [{ provider: 'host-example', ip: '203.0.113.7', urls: [site] }] } };
    const c = await startCase(stack, input);
    await throughSignoff(c.id);
    // The host takes its hosting notice, then refuses the next one (scripted only now, so no other case's notice to the
    // host, sent meanwhile, can take the refusal meant for the re-notice).
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.status === 200, 20_000);
    partners.script('host-example', [410]);
    const removal = await waitForTask(stack, c.id, 'confirm_removal', 'host-example');
    await complete(stack, c.id, removal.id, actors.partner('host-example'), 'removed', { removedAt: new Date().toISOString() });
    // The first hosting notice got 200; the one refused is the re-notice.
    await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.status === 410, 20_000);
    const ex = await waitForTask(stack, c.id, 'resolve_exception', 'ceop', 20_000);
    expect(await contextOf(ex.id)).toMatchObject({ reason: 'notice_rejected', org: 'host-example', urls: [site] });
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'refused-renotice');
  });

  it('re-notices a URL still up after removal through a redirect, naming where it led, then asks the case lead', async () => {
    // The merchant's page now redirects to a page that answers 200: still up, and the host is told where it leads.
    const landing = partners.url(`suspended-${c8()}`);
    const site = landing.replace('/hooks/', '/moved/');
    const c = await signedOffHostedAt(site);
    await hostRemoves(c.id);
    const renotice = await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.document.followUp !== undefined, 20_000);
    expect(renotice.verified).toBe(true);
    expect(renotice.document).toMatchObject({
      content: { urls: [site] },
      followUp: { stillReachable: [site], redirected: [{ url: site, to: landing }], nextCheckNotBefore: expect.any(String) },
      reportTo: { how: null },
    });
    // Due by the next check, not by the answered task's deadline, which has passed or soon will.
    const doc = renotice.document as { dueAt: string; reportTo: { requestedBy: string }; followUp: { nextCheckNotBefore: string } };
    expect(doc.dueAt).toBe(doc.followUp.nextCheckNotBefore);
    expect(doc.reportTo.requestedBy).toBe(doc.dueAt);
    const ex = await waitForTask(stack, c.id, 'resolve_exception', 'ceop', 20_000);
    expect(await contextOf(ex.id)).toMatchObject({ reason: 'urls_still_up', org: 'host-example', urls: [site], redirected: [{ url: site, to: landing }] });
    const checked = await stack.db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'urls.checked' ORDER BY seq`, [c.id]);
    expect(checked.rows.map((r) => r.data)).toEqual([
      expect.objectContaining({ up: [site], down: [], redirected: [{ url: site, to: landing }] }),
      expect.objectContaining({ up: [site], down: [], redirected: [{ url: site, to: landing }] }),
    ]);
    await complete(stack, c.id, ex.id, actors.lead, 'skip');
    for (const org of ['visa', 'paypal']) {
      const t = await waitForTask(stack, c.id, 'confirm_termination', org);
      await complete(stack, c.id, t.id, actors.partner(org), 'terminated', { terminatedAt: new Date().toISOString() });
    }
    expect((await waitForCaseEnd(stack, c.id, 'redirected-still-up')).status).toBe('completed_with_exceptions');
  });

  it('asks the host again when the case lead retries on URLs still up: a new re-notice, then a whole removal SLA before the next check', async () => {
    const site = partners.url(`still-${c8()}`); // answers 200: still up at every check
    const c = await signedOffHostedAt(site);
    await hostRemoves(c.id);
    const renotices = () => partners.received.filter((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.document.followUp !== undefined && n.verified);
    const first = await exceptionAbout(c.id, 'host-example', 'urls_still_up');
    expect(new Set(renotices().map((n) => n.id)).size).toBe(1);
    const retriedAt = Date.now();
    await complete(stack, c.id, first.id, actors.lead, 'retry');
    // A second re-notice under a new id, then the next exception only after the removal SLA.
    const second = await partners.waitFor((n) => n.caseId === c.id && n.org === 'host-example' && n.type === 'hosting_notice' && n.document.followUp !== undefined && n.id !== renotices()[0].id, 20_000);
    expect(second.document).toMatchObject({ content: { urls: [site] }, followUp: { stillReachable: [site], nextCheckNotBefore: expect.any(String) } });
    const next = await waitForTask(stack, c.id, 'resolve_exception', 'ceop', 20_000);
    expect(next.id).not.toBe(first.id);
    const opened = (await stack.db.pool.query<{ created_at: Date }>('SELECT created_at FROM tasks WHERE id = $1', [next.id])).rows[0].created_at.getTime();
    expect(opened - retriedAt).toBeGreaterThanOrEqual(2_000);
    const checks = await stack.db.pool.query(`SELECT count(*)::int AS n FROM audit_entries WHERE case_id = $1 AND action = 'urls.checked'`, [c.id]);
    // After removed, before the first exception, at the retry, and after the second re-notice's SLA.
    expect(checks.rows[0].n).toBe(4);
    await complete(stack, c.id, next.id, actors.lead, 'skip');
    for (const org of ['visa', 'paypal']) {
      const t = await waitForTask(stack, c.id, 'confirm_termination', org);
      await complete(stack, c.id, t.id, actors.partner(org), 'terminated', { terminatedAt: new Date().toISOString() });
    }
    expect((await waitForCaseEnd(stack, c.id, 'still-up-retry')).status).toBe('completed_with_exceptions');
    // Each check was scheduled to be retried until a worker finishes it (0: no cap), so workers stopping or dying under
    // a check never fail the case; Temporal's server keeps to the policy recorded here.
    const events = (await stack.client.workflow.getHandle(caseWorkflowId(c.id)).fetchHistory()).events ?? [];
    const scheduledChecks = events.map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a?.activityType?.name === 'checkUrls');
    expect(scheduledChecks).toHaveLength(4);
    expect(scheduledChecks.map((a) => a?.retryPolicy?.maximumAttempts ?? 0)).toEqual([0, 0, 0, 0]);
  });

  it('escalates an overdue sign-off to le_supervisor, who may then complete it', async () => {
    const slas = { verification: '1h', signoff: '2s', termination: '1h', freeze: '1h', removal: '1h' };
    const c = await startCase(stack, sampleCase({ plan: { freezeAssets: false, slas } }));
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'verify_evidence')).id, actors.analyst, 'verified');
    const signoff = await waitForTask(stack, c.id, 'le_signoff');
    await expect(complete(stack, c.id, signoff.id, actors.supervisor, 'approved')).rejects.toMatchObject({ cause: { type: 'Forbidden' } });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const r = await stack.db.pool.query('SELECT escalated, roles FROM tasks WHERE id = $1', [signoff.id]);
      if (r.rows[0].escalated) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    await complete(stack, c.id, signoff.id, actors.supervisor, 'rejected', {}, 'not enough');
    expect((await waitForCaseEnd(stack, c.id, 'signoff-escalation')).status).toBe('closed_rejected');
    // The chain says in what capacity each completed: the analyst as analyst, the sign-off by a supervisor as one.
    const { rows } = await stack.db.pool.query<{ actor_id: string; data: { type: string; as?: string[] } }>(
      `SELECT actor_id, data FROM audit_entries WHERE case_id = $1 AND action = 'task.completed' ORDER BY seq`,
      [c.id],
    );
    expect(rows.map((r) => [r.actor_id, r.data.type, r.data.as])).toEqual([
      [actors.analyst.id, 'verify_evidence', ['analyst']],
      [actors.supervisor.id, 'le_signoff', ['le_supervisor']],
    ]);
  });

  it('waits for the action day before any notice leaves', async () => {
    const c = await startCase(stack, sampleCase());
    const actionDate = new Date(Date.now() + 4_000).toISOString();
    await throughSignoff(c.id, { actionDate });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(partners.received.filter((n) => n.caseId === c.id)).toEqual([]);
    const first = await partners.waitFor((n) => n.caseId === c.id, 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(actionDate) - 50);
    expect(first.type).toMatch(/request|notice/);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id, 'action-day');
  });
});

describe('notice outcomes', () => {
  it('brings a final 4xx whose body holds NUL bytes to the case lead at once, without sending the notice again', async () => {
    // A UTF-16 error page: PostgreSQL refused its NUL bytes, so the refusal was retried as if transient.
    const u = c8();
    const org = `binary-${u}`;
    await partners.register(stack.db.pool, { [org]: 'card_scheme' });
    partners.script(org, [{ status: 400, body: Buffer.from('refused', 'utf16le') }]);
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }, u);
    const channels = [{ kind: 'card' as const, scheme: org, acquirer: 'acq-northbank', merchantId: `M${u}` }];
    const c = await startCase(stack, { ...base, merchant: { ...base.merchant, paymentChannels: channels, hosting: [] } });
    await throughSignoff(c.id);
    const ex = await exceptionAbout(c.id, org, 'notice_rejected');
    const context = await contextOf(ex.id);
    const sent = partners.received.filter((n) => n.caseId === c.id && n.org === org).map((n) => n.status);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id);
    expect(context).toMatchObject({ notice: { failure: 'PartnerRejected', status: 400, message: expect.stringMatching(/HTTP 400: refused$/) } });
    expect(sent).toEqual([400]);
  });

  it('does not send a reminder once its task is completed: one still being retried ends skipped (task_closed)', async () => {
    const u = c8();
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '2s', freeze: '1h', removal: '1h' } } }, u);
    // Visa's and PayPal's terminations: the case stays open after Visa answers.
    const c = await startCase(stack, { ...base, merchant: { ...base.merchant, hosting: [] } });
    // The request is delivered; the reminder (at half the 2 s SLA) meets Visa's webhook briefly down and is retried.
    partners.script('visa', [200, 503, 503]);
    await throughSignoff(c.id);
    const reminder = await partners.waitFor((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'reminder' && n.status === 503, 20_000);
    const task = await waitForTask(stack, c.id, 'confirm_termination', 'visa');
    await complete(stack, c.id, task.id, actors.partner('visa'), 'terminated', { terminatedAt: new Date().toISOString() });
    const seen = partners.received.length;
    // The reminder's next attempt finds the task completed and sends nothing.
    expect(await sendResultOf(c.id, reminder.id)).toEqual({ delivered: false, reason: 'task_closed' });
    const state = (await stack.db.pool.query('SELECT state FROM notices WHERE id = $1', [reminder.id])).rows[0].state;
    const skipped = await stack.db.pool.query(`SELECT data FROM audit_entries WHERE case_id = $1 AND action = 'notice.skipped'`, [c.id]);
    await stack.client.workflow.getHandle(caseWorkflowId(c.id)).executeUpdate(withdrawUpdate, { args: [{ reason: 'cleanup', actor: actors.lead }] });
    await waitForCaseEnd(stack, c.id);
    partners.script('visa', []);
    expect(partners.received.slice(seen).filter((n) => n.caseId === c.id && n.org === 'visa' && n.type === 'reminder')).toEqual([]);
    expect(state).toBe('skipped');
    expect(skipped.rows.map((r) => r.data)).toEqual([expect.objectContaining({ noticeId: reminder.id, reason: 'task_closed', taskId: task.id, taskStatus: 'completed' })]);
  });

  it('records a notice to an org without a webhook as skipped, never as abandoned while still being delivered', async () => {
    // The contract: an org without a webhook still gets its tasks in GET /v1/tasks; no notice is ever under way to it.
    const u = c8();
    const noHook = `nohook-${u}`;
    const base = sampleCase({ plan: { freezeAssets: false, slas: { verification: '1h', signoff: '1h', termination: '1h', freeze: '1h', removal: '1h' } } }, u);
    const channels = [
      { kind: 'card' as const, scheme: 'visa', acquirer: 'acq-northbank', merchantId: `M${u}` },
      { kind: 'card' as const, scheme: noHook, acquirer: 'acq-northbank', merchantId: `N${u}` },
    ];
    const c = await startCase(stack, { ...base, merchant: { ...base.merchant, paymentChannels: channels, hosting: [] } });
    await throughSignoff(c.id);
    const now = new Date().toISOString();
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', 'visa')).id, actors.partner('visa'), 'terminated', { terminatedAt: now });
    await complete(stack, c.id, (await waitForTask(stack, c.id, 'confirm_termination', noHook)).id, actors.partner(noHook), 'terminated', { terminatedAt: now });
    expect((await waitForCaseEnd(stack, c.id)).status).toBe('completed');
    const notices = await stack.db.pool.query('SELECT id, state FROM notices WHERE case_id = $1 AND org = $2', [c.id, noHook]);
    expect(notices.rows).toEqual([{ id: expect.any(String), state: 'skipped' }]);
    const audit = await stack.db.pool.query<{ action: string; data: Record<string, unknown> }>(
      `SELECT action, data FROM audit_entries WHERE case_id = $1 AND action IN ('notice.skipped', 'notice.abandoned') ORDER BY seq`,
      [c.id],
    );
    expect(audit.rows).toEqual([{ action: 'notice.skipped', data: expect.objectContaining({ noticeId: notices.rows[0].id, org: noHook, reason: 'no_webhook' }) }]);
  });
});
