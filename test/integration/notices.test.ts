// Notices end to end against a real partner endpoint (node:http) that verifies Standard Webhooks signatures, on a real PostgreSQL.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHash } from '../../activities/documents';
import { classifyStatus, type NoticeDeps, prepareNotice, sendNotice, settleNotices } from '../../activities/notices';
import { appendAudit, listAudit, verifyChain } from '../../db/queries/audit';
import type { NoticeType } from '../../domain/types';
import { caseViewFixture, contextFor } from '../unit/documents-fixture';
import { freshDatabase, waitForLockWaits, type TestDb } from '../support/db';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  verified: unknown;
  verifyError: string | null;
  /** The connection it came on, by the sender's port. */
  port: number | undefined;
}

/**
 * A partner: answers each request with the next scripted reply: a status, 'hang' to never answer in time, 'reset'
 * to close the connection unanswered, as a server does with a kept-alive connection it has just timed out, or a status
 * with a body of its own (`unfinished`: the body's end never comes; `afterMs`: answered that much later).
 */
type Reply = number | 'hang' | 'reset' | { status: number; body: string | Buffer; unfinished?: boolean; afterMs?: number };
interface FakePartner {
  org: string;
  secret: string;
  received: Received[];
  script: Reply[];
}

let db: TestDb;
let server: http.Server;
let base: string;
const partners = new Map<string, FakePartner>();
let n = 0;
const uid = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

const deps = (): NoticeDeps => ({ pool: db.pool, timeoutMs: 500, allowPrivate: true });

async function addPartner(opts: { webhook?: boolean; script?: Reply[]; url?: string } = {}): Promise<FakePartner> {
  const org = `org-${uid()}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const p: FakePartner = { org, secret, received: [], script: opts.script ?? [200] };
  partners.set(org, p);
  const withHook = opts.webhook ?? true;
  await db.pool.query('INSERT INTO partners (org, kind, webhook_url, secret) VALUES ($1, $2, $3, $4)', [
    org,
    'card_scheme',
    withHook ? (opts.url ?? `${base}/hooks/${org}`) : null,
    withHook ? secret : null,
  ]);
  return p;
}

/** Prepares a hosting notice for `org` on a fresh case. */
async function prepared(org: string, type: NoticeType = 'hosting_notice') {
  const caseId = `case_ntc${uid()}`;
  const noticeId = `ntc_${uid()}`;
  const view = caseViewFixture({ id: caseId });
  const ctx = contextFor('hosting_notice', 'host-example', { org, taskId: `task_${uid()}` }, view);
  const result = await prepareNotice(deps(), { noticeId, type, caseId, taskId: ctx.taskId, org, context: { ...ctx, type } });
  return { caseId, noticeId, result, ctx };
}

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

const actions = async (caseId: string) => (await listAudit(db.pool, caseId)).map((e) => e.action);

/** Waits until a partner has been sent `n` requests: the attempts a test lines up must have reached it. */
async function received(partner: FakePartner, n: number): Promise<void> {
  for (const until = Date.now() + 10_000; partner.received.length < n; ) {
    if (Date.now() > until) throw new Error(`the partner was sent ${partner.received.length} request(s), not ${n}, within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  db = await freshDatabase('notices', { max: 30 });
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const org = (req.url ?? '').split('/').pop() ?? '';
      const p = partners.get(org);
      if (!p) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      let verified: unknown = null;
      let verifyError: string | null = null;
      try {
        verified = new Webhook(p.secret).verify(body, req.headers as Record<string, string>);
      } catch (err) {
        verifyError = (err as Error).message;
      }
      p.received.push({ headers: req.headers, body, verified, verifyError, port: req.socket.remotePort });
      const reply = p.script.length > 1 ? p.script.shift()! : p.script[0];
      if (reply === 'hang') return; // never answers: the sender's deadline must fire
      if (reply === 'reset') return void req.socket.destroy();
      if (typeof reply === 'object') {
        const answer = () => {
          res.writeHead(reply.status, { 'content-type': 'application/octet-stream' });
          if (reply.unfinished) res.write(reply.body);
          else res.end(reply.body);
        };
        return void (reply.afterMs ? setTimeout(answer, reply.afterMs) : answer());
      }
      res.writeHead(verifyError ? 401 : reply, { 'content-type': 'text/plain' }).end(`reply ${reply}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

describe('classifyStatus', () => {
  it('follows the contract', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(classifyStatus(s)).toBe('delivered');
    for (const s of [500, 502, 503, 504, 408, 429]) expect(classifyStatus(s)).toBe('retry');
    for (const s of [400, 401, 403, 404, 409, 410, 422, 301, 302]) expect(classifyStatus(s)).toBe('final');
  });
});

describe('prepareNotice', () => {
  it('stores the document and a pending notice once, auditing document.rendered', async () => {
    const p = await addPartner();
    const { caseId, noticeId, result, ctx } = await prepared(p.org);
    expect(result).toMatchObject({ noticeId, documentId: `doc_${noticeId}`, hasWebhook: true, missing: [] });
    expect(result.documentHash).toMatch(/^[0-9a-f]{64}$/);

    const doc = await db.pool.query('SELECT body, hash, type, version, case_id, task_id FROM documents WHERE id = $1', [result.documentId]);
    expect(doc.rows[0]).toMatchObject({ hash: result.documentHash, type: 'hosting_notice', version: '1.1', case_id: caseId, task_id: ctx.taskId });
    expect(documentHash(doc.rows[0].body)).toBe(result.documentHash);
    const notice = await db.pool.query('SELECT state, org, type FROM notices WHERE id = $1', [noticeId]);
    expect(notice.rows[0]).toEqual({ state: 'pending', org: p.org, type: 'hosting_notice' });

    // Again, even with a context that would render differently: the stored document stands.
    const again = await prepareNotice(deps(), { noticeId, type: 'hosting_notice', caseId, taskId: ctx.taskId, org: p.org, context: { ...ctx, issuedAt: '2030-01-01T00:00:00.000Z' } });
    expect(again).toEqual(result);
    expect((await db.pool.query('SELECT count(*)::int AS c FROM documents WHERE case_id = $1', [caseId])).rows[0].c).toBe(1);
    const audit = await listAudit(db.pool, caseId);
    expect(audit.map((e) => e.action)).toEqual(['document.rendered']);
    expect(audit[0].data).toMatchObject({ noticeId, type: 'hosting_notice', org: p.org, documentHash: result.documentHash, version: '1.1' });
  });

  it("stores a notice to an org without a webhook as skipped, with its entry, so the case's close does not call it abandoned", async () => {
    // The workflow sends nothing when hasWebhook is false: a pending row would claim a delivery under way.
    for (const org of [(await addPartner({ webhook: false })).org, `org-unregistered-${uid()}`]) {
      const { caseId, noticeId, result } = await prepared(org);
      expect(result.hasWebhook).toBe(false);
      expect((await db.pool.query('SELECT state FROM notices WHERE id = $1', [noticeId])).rows[0].state).toBe('skipped');
      const audit = await listAudit(db.pool, caseId);
      expect(audit.map((e) => e.action)).toEqual(['document.rendered', 'notice.skipped']);
      expect(audit[1].data).toEqual({ noticeId, type: 'hosting_notice', org, documentHash: result.documentHash, reason: 'no_webhook' });
      expect(await settleNotices(db.pool, { caseId, reason: 'case completed while the notice was still being delivered' })).toEqual({ abandoned: [] });
      expect((await db.pool.query('SELECT state FROM notices WHERE id = $1', [noticeId])).rows[0].state).toBe('skipped');
    }
  });

  it('runs concurrently for one notice without a second document or audit entry', async () => {
    const p = await addPartner();
    const caseId = `case_ntc${uid()}`;
    const noticeId = `ntc_${uid()}`;
    const ctx = contextFor('hosting_notice', 'host-example', { org: p.org }, caseViewFixture({ id: caseId }));
    const results = await Promise.all(
      Array.from({ length: 5 }, () => prepareNotice(deps(), { noticeId, type: 'hosting_notice', caseId, taskId: ctx.taskId, org: p.org, context: ctx })),
    );
    expect(new Set(results.map((r) => r.documentHash)).size).toBe(1);
    expect(await actions(caseId)).toEqual(['document.rendered']);
  });

  it("answers a retried prepare from the notice it stored, not from the partner's webhook as it is now", async () => {
    // The first attempt stored the notice, then its worker died; the partner's webhook changed before the retry.
    const again = (org: string, x: Awaited<ReturnType<typeof prepared>>) =>
      prepareNotice(deps(), { noticeId: x.noticeId, type: 'hosting_notice', caseId: x.caseId, taskId: x.ctx.taskId, org, context: { ...x.ctx, type: 'hosting_notice' } });
    const setHook = (org: string, on: boolean, secret: string) =>
      db.pool.query('UPDATE partners SET webhook_url = $2, secret = $3 WHERE org = $1', [org, on ? `${base}/hooks/${org}` : null, on ? secret : null]);

    // Stored skipped (no webhook then): a webhook added since does not make the workflow send it.
    const late = await addPartner({ webhook: false });
    const skipped = await prepared(late.org);
    expect(skipped.result.hasWebhook).toBe(false);
    await setHook(late.org, true, late.secret);
    expect(await again(late.org, skipped)).toEqual(skipped.result);
    expect((await db.pool.query('SELECT state FROM notices WHERE id = $1', [skipped.noticeId])).rows[0].state).toBe('skipped');

    // Stored pending: a webhook removed since still has the workflow send it, which records it skipped (not left pending
    // for the close to call abandoned).
    const gone = await addPartner();
    const pending = await prepared(gone.org);
    await setHook(gone.org, false, gone.secret);
    expect(await again(gone.org, pending)).toEqual(pending.result);
    expect(await sendNotice(deps(), { noticeId: pending.noticeId, attempt: 1 })).toEqual({ delivered: false, reason: 'no_webhook' });
    expect(await actions(pending.caseId)).toEqual(['document.rendered', 'notice.skipped']);
    expect(gone.received).toHaveLength(0);
  });

  it('refuses an incomplete document with IncompleteDocument and stores nothing', async () => {
    const p = await addPartner();
    const caseId = `case_ntc${uid()}`;
    const noticeId = `ntc_${uid()}`;
    const view = caseViewFixture({ id: caseId, signedOffBy: null });
    const ctx = contextFor('freeze_request', 'acq-northbank', { org: p.org }, view);
    const err = await failureOf(prepareNotice(deps(), { noticeId, type: 'freeze_request', caseId, taskId: ctx.taskId, org: p.org, context: ctx }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    const af = err as ApplicationFailure;
    expect(af.type).toBe('IncompleteDocument');
    expect(af.nonRetryable).toBe(true);
    expect(af.details).toEqual([{ missing: ['signature.signedOffBy'] }]);
    expect((await db.pool.query('SELECT 1 FROM notices WHERE id = $1', [noticeId])).rowCount).toBe(0);
    expect((await db.pool.query('SELECT 1 FROM documents WHERE case_id = $1', [caseId])).rowCount).toBe(0);
    expect(await listAudit(db.pool, caseId)).toEqual([]);
  });
});

describe('sendNotice', () => {
  it('delivers a signed notice once (2xx)', async () => {
    const p = await addPartner({ script: [202] });
    const { caseId, noticeId, result, ctx } = await prepared(p.org);

    expect(await sendNotice(deps(), { noticeId, attempt: 1 })).toEqual({ delivered: true, status: 202 });
    expect(p.received).toHaveLength(1);
    const r = p.received[0];
    expect(r.verifyError).toBeNull();
    expect(r.headers['webhook-id']).toBe(noticeId);
    expect(r.headers['idempotency-key']).toBe(noticeId);
    expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['user-agent']).toMatch(/^takedown/);
    const body = JSON.parse(r.body);
    expect(Object.keys(body).sort()).toEqual(['caseId', 'document', 'id', 'org', 'sentAt', 'taskId', 'type']);
    expect(body).toMatchObject({ id: noticeId, type: 'hosting_notice', caseId, taskId: ctx.taskId, org: p.org });
    expect(r.verified).toEqual(body);
    expect(documentHash(body.document)).toBe(result.documentHash);

    // Asked again (a retried activity): no second delivery, no second audit entry.
    expect(await sendNotice(deps(), { noticeId, attempt: 2 })).toEqual({ delivered: true, status: 202, reason: 'already_delivered' });
    expect(p.received).toHaveLength(1);
    const audit = await listAudit(db.pool, caseId);
    expect(audit.map((e) => e.action)).toEqual(['document.rendered', 'notice.sent']);
    expect(audit[1].data).toMatchObject({ noticeId, type: 'hosting_notice', org: p.org, status: 202, attempt: 1, documentHash: result.documentHash });
    // Where it went: the webhook's origin, and the whole URL (path and query may carry a credential) by its hash only.
    const url = `${base}/hooks/${p.org}`;
    expect(audit[1].data.to).toEqual({ origin: new URL(base).origin, urlSha256: createHash('sha256').update(url).digest('hex') });
    expect(JSON.stringify(audit[1].data)).not.toContain('/hooks/');
    const row = (await db.pool.query('SELECT state, attempts, last_status, delivered_at FROM notices WHERE id = $1', [noticeId])).rows[0];
    expect(row).toMatchObject({ state: 'delivered', attempts: 1, last_status: 202 });
    expect(row.delivered_at).toBeInstanceOf(Date);
    expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
  });

  it("carries the case's chain head as it was when the notice was prepared (auditHead), the same in every attempt: the partner's copy witnesses it", async () => {
    const p = await addPartner({ script: [503, 200] });
    const caseId = `case_ntc${uid()}`;
    const [created, assigned] = await appendAudit(db.pool, caseId, [
      { key: 'wf:1:case.created', action: 'case.created', actor: { id: 'p_lead', org: 'ceop' }, data: {} },
      { key: 'wf:2:task.created', action: 'task.created', actor: null, data: {} },
    ]);
    expect(created.seq).toBe(1);
    const noticeId = `ntc_${uid()}`;
    const view = caseViewFixture({ id: caseId });
    const ctx = contextFor('hosting_notice', 'host-example', { org: p.org, taskId: `task_${uid()}` }, view);
    await prepareNotice(deps(), { noticeId, type: 'hosting_notice', caseId, taskId: ctx.taskId, org: p.org, context: { ...ctx, type: 'hosting_notice' } });
    // Entries appended after the prepare do not move it.
    await appendAudit(db.pool, caseId, [{ key: 'wf:3:step.started', action: 'step.started', actor: null, data: {} }]);
    await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(await sendNotice(deps(), { noticeId, attempt: 2 })).toEqual({ delivered: true, status: 200 });
    const bodies = p.received.map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => b.auditHead)).toEqual([
      { seq: 2, hash: assigned.hash },
      { seq: 2, hash: assigned.hash },
    ]);
    expect(p.received.every((r) => r.verifyError === null)).toBe(true);
    // It is an entry of the chain, which the document.rendered entry of this notice follows.
    const chain = await listAudit(db.pool, caseId);
    expect(chain[1].hash).toBe(bodies[0].auditHead.hash);
    expect(chain.find((e) => e.action === 'document.rendered')?.seq).toBe(3);
  });

  it("signs with the replaced secret beside the current one while it still signs, so either verifies; alone after", async () => {
    const p = await addPartner({ script: [200, 200, 200] });
    const old = `whsec_${randomBytes(32).toString('base64')}`;
    /** The partner's replaced secrets, newest first, each signing until now + its interval. */
    const setRetired = (...retired: [secret: string, until: string][]) =>
      db.pool.query(
        `UPDATE partners SET retired_secrets = (SELECT coalesce(jsonb_agg(jsonb_build_object('secret', r.secret,
            'until', to_char((now() + r.until::interval) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY r.n), '[]')
           FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r(secret, until, n)) WHERE org = $1`,
        [p.org, retired.map((r) => r[0]), retired.map((r) => r[1])],
      );
    const setPrevious = (secret: string, until: string) => setRetired([secret, until]);
    const sendOne = async () => {
      const { noticeId } = await prepared(p.org);
      expect(await sendNotice(deps(), { noticeId, attempt: 1 })).toMatchObject({ delivered: true });
      return p.received[p.received.length - 1];
    };
    const verifies = (secret: string, r: FakePartner['received'][number]) => {
      try {
        new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    };
    await setPrevious(old, '1 hour');
    const both = await sendOne();
    expect(String(both.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*$/);
    expect([verifies(p.secret, both), verifies(old, both)]).toEqual([true, true]);
    // Past its time the replaced secret signs no more.
    await setPrevious(old, '-1 second');
    const alone = await sendOne();
    expect(String(alone.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect([verifies(p.secret, alone), verifies(old, alone)]).toEqual([true, false]);
    // An unusable replaced secret is left out, and the notice still goes.
    await setPrevious('not-a-secret', '1 hour');
    const kept = await sendOne();
    expect(String(kept.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifies(p.secret, kept)).toBe(true);
    // Two replaced secrets still signing (the secret changed twice within the overlap): either verifies, as the current.
    const older = `whsec_${randomBytes(32).toString('base64')}`;
    await setRetired([old, '1 hour'], [older, '30 minutes']);
    const three = await sendOne();
    expect(String(three.headers['webhook-signature']).split(' ')).toHaveLength(3);
    expect([verifies(p.secret, three), verifies(old, three), verifies(older, three)]).toEqual([true, true, true]);
    // The older one's overlap over, the other still signs.
    await setRetired([old, '1 hour'], [older, '-1 second']);
    const two = await sendOne();
    expect([verifies(p.secret, two), verifies(old, two), verifies(older, two)]).toEqual([true, true, false]);
  });

  it('retries a 503 (ordinary error), then delivers on the next attempt with the same webhook-id and the same body', async () => {
    const p = await addPartner({ script: [503, 503, 200] });
    const { caseId, noticeId } = await prepared(p.org);

    const first = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(first).not.toBeInstanceOf(ApplicationFailure);
    expect(first.message).toMatch(/503/);
    // The same attempt replayed (a worker crashed after the audit write) adds no second entry.
    await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(await sendNotice(deps(), { noticeId, attempt: 2 })).toEqual({ delivered: true, status: 200 });

    expect(p.received.map((r) => r.headers['webhook-id'])).toEqual([noticeId, noticeId, noticeId]);
    expect(p.received.every((r) => r.verifyError === null)).toBe(true);
    // Byte for byte the same body under the same Idempotency-Key (a partner's middleware refuses a key reused with
    // another body); its sentAt is when the notice was issued.
    expect(new Set(p.received.map((r) => r.body)).size).toBe(1);
    const { rows } = await db.pool.query<{ created_at: Date }>('SELECT created_at FROM notices WHERE id = $1', [noticeId]);
    expect(JSON.parse(p.received[0].body).sentAt).toBe(rows[0].created_at.toISOString());
    const audit = await listAudit(db.pool, caseId);
    expect(audit.map((e) => e.action)).toEqual(['document.rendered', 'notice.attempt', 'notice.sent']);
    expect(audit[1].data).toMatchObject({ noticeId, outcome: 'retry', status: 503, attempt: 1 });
    expect(audit[2].data).toMatchObject({ status: 200, attempt: 2 });
  });

  it('retries 429 and 408 too', async () => {
    for (const status of [429, 408]) {
      const p = await addPartner({ script: [status] });
      const { noticeId } = await prepared(p.org);
      const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
      expect(err).not.toBeInstanceOf(ApplicationFailure);
    }
  });

  it('treats a 410 as final: PartnerRejected, notice.failed', async () => {
    const p = await addPartner({ script: [410] });
    const { caseId, noticeId, result } = await prepared(p.org);
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    const af = err as ApplicationFailure;
    expect(af.type).toBe('PartnerRejected');
    expect(af.nonRetryable).toBe(true);
    expect(af.details?.[0]).toMatchObject({ status: 410 });
    const audit = await listAudit(db.pool, caseId);
    expect(audit.map((e) => e.action)).toEqual(['document.rendered', 'notice.failed']);
    expect(audit[1].data).toMatchObject({ noticeId, org: p.org, status: 410, attempt: 1, documentHash: result.documentHash });
    expect((await db.pool.query('SELECT state, last_status, last_error FROM notices WHERE id = $1', [noticeId])).rows[0]).toMatchObject({
      state: 'failed',
      last_status: 410,
      last_error: expect.stringContaining('reply 410'),
    });
  });

  it("ends a notice on its last attempt's transient failure: notice.failed (retries exhausted), the row failed, PartnerRejected", async () => {
    for (const reply of [503, 'reset'] as const) {
      const p = await addPartner({ script: [reply] });
      const { caseId, noticeId } = await prepared(p.org);
      // An attempt before the last is retried as ever.
      expect(await failureOf(sendNotice(deps(), { noticeId, attempt: 1, lastAttempt: () => false }))).not.toBeInstanceOf(ApplicationFailure);
      const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 2, lastAttempt: () => true }));
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).type).toBe('PartnerRejected');
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect((err as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'retries_exhausted', ...(reply === 503 ? { status: 503 } : { status: null }) });
      const audit = await listAudit(db.pool, caseId);
      expect(audit.map((e) => e.action)).toEqual(['document.rendered', 'notice.attempt', 'notice.failed']);
      expect(audit[2].data).toMatchObject({ noticeId, attempt: 2, reason: 'retries_exhausted' });
      const row = (await db.pool.query('SELECT state, last_error FROM notices WHERE id = $1', [noticeId])).rows[0];
      expect(row.state).toBe('failed');
      expect(row.last_error).toMatch(/^not delivered within the notice's deadline; the last attempt: /);
      // Asked again (Temporal never heard the answer): the same refusal, nothing sent.
      const sent = p.received.length;
      expect(await failureOf(sendNotice(deps(), { noticeId, attempt: 2, lastAttempt: () => true }))).toMatchObject({ type: 'PartnerRejected' });
      expect(p.received.length).toBe(sent);
    }
  });

  it('sends nothing again after a refusal recorded by an attempt whose answer Temporal never heard: the same refusal', async () => {
    // The attempt recorded its 410 and died before Temporal heard (or outlived its timeout): Temporal runs another.
    const p = await addPartner({ script: [410, 200] });
    const { caseId, noticeId } = await prepared(p.org);
    const first = (await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }))) as ApplicationFailure;
    const second = (await failureOf(sendNotice(deps(), { noticeId, attempt: 2 }))) as ApplicationFailure;
    expect(second).toBeInstanceOf(ApplicationFailure);
    expect({ type: second.type, nonRetryable: second.nonRetryable, message: second.message, details: second.details }).toEqual({
      type: 'PartnerRejected',
      nonRetryable: true,
      message: first.message,
      details: [{ status: 410, reason: 'rejected' }],
    });
    expect(p.received).toHaveLength(1);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.failed']);

    // So too a notice skipped because its partner had no webhook: one registered since is not sent to.
    const q = await addPartner();
    const skipped = await prepared(q.org);
    await db.pool.query('UPDATE partners SET webhook_url = NULL, secret = NULL WHERE org = $1', [q.org]);
    expect(await sendNotice(deps(), { noticeId: skipped.noticeId, attempt: 1 })).toEqual({ delivered: false, reason: 'no_webhook' });
    await db.pool.query('UPDATE partners SET webhook_url = $2, secret = $3 WHERE org = $1', [q.org, `${base}/hooks/${q.org}`, q.secret]);
    expect(await sendNotice(deps(), { noticeId: skipped.noticeId, attempt: 2 })).toEqual({ delivered: false, reason: 'no_webhook' });
    expect(q.received).toHaveLength(0);
  });

  it('keeps the outcome one attempt recorded when another, still out past its timeout, answers later', async () => {
    // Attempt 1's partner answers 503 only after attempt 2 has been refused for good: the notice stays failed.
    const p = await addPartner({ script: [{ status: 503, body: 'busy', afterMs: 300 }, 410] });
    const { caseId, noticeId } = await prepared(p.org);
    const one = failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    await received(p, 1);
    await expect(sendNotice(deps(), { noticeId, attempt: 2 })).rejects.toMatchObject({ type: 'PartnerRejected' });
    expect((await one).message).toMatch(/HTTP 503/);
    expect((await db.pool.query('SELECT state, last_status FROM notices WHERE id = $1', [noticeId])).rows[0]).toEqual({ state: 'failed', last_status: 410 });
    // Every attempt is in the chain; the close has nothing to abandon.
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.failed', 'notice.attempt']);
    expect(await settleNotices(db.pool, { caseId, reason: 'case completed while the notice was still being delivered' })).toEqual({ abandoned: [] });

    // Attempt 1 is delivered while attempt 2 is out; the partner refuses attempt 2's repeat: the notice stands delivered.
    const q = await addPartner({ script: [{ status: 200, body: 'ok', afterMs: 50 }, { status: 409, body: 'seen it', afterMs: 300 }] });
    const d = await prepared(q.org);
    const delivering = sendNotice(deps(), { noticeId: d.noticeId, attempt: 1 });
    await received(q, 1);
    const repeat = sendNotice(deps(), { noticeId: d.noticeId, attempt: 2 });
    expect(await delivering).toEqual({ delivered: true, status: 200 });
    expect(await repeat).toEqual({ delivered: true, status: 200, reason: 'already_delivered' });
    expect(q.received).toHaveLength(2);
    expect((await db.pool.query('SELECT state, last_status FROM notices WHERE id = $1', [d.noticeId])).rows[0]).toEqual({ state: 'delivered', last_status: 200 });
    expect(await actions(d.caseId)).toEqual(['document.rendered', 'notice.sent', 'notice.failed']);
  });

  it('treats a 400 whose body holds NUL bytes as final like any other, keeping its text without them', async () => {
    // A UTF-16 error page: PostgreSQL's text and jsonb refuse NUL, so the write of the outcome (and its audit entry) failed
    // and the notice was retried as if the refusal were transient.
    const p = await addPartner({ script: [{ status: 400, body: Buffer.from('refused\u0001', 'utf16le') }] });
    const { caseId, noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('PartnerRejected');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(err.message).toMatch(/HTTP 400: refused$/);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.failed']);
    expect((await db.pool.query('SELECT state, last_status, last_error FROM notices WHERE id = $1', [noticeId])).rows[0]).toEqual({
      state: 'failed',
      last_status: 400,
      last_error: 'HTTP 400: refused',
    });
  });

  it('audits a 503 attempt whose body holds a NUL byte, as every attempt is', async () => {
    const p = await addPartner({ script: [{ status: 503, body: 'busy\u0000\n' }] });
    const { caseId, noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.attempt']);
    expect((await db.pool.query('SELECT state, last_error FROM notices WHERE id = $1', [noticeId])).rows[0]).toEqual({ state: 'retrying', last_error: 'busy\n' });
  });

  it('never cuts a refusal message in the middle of a character', async () => {
    // 199 units, then a character of two (a surrogate pair): the message keeps 200 units of the answer at most.
    const p = await addPartner({ script: [{ status: 422, body: `${'x'.repeat(199)}\u{1F600}` }] });
    const { noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect((err as ApplicationFailure).type).toBe('PartnerRejected');
    expect(err.message).toMatch(/HTTP 422: x{199}$/);
  });

  it('keeps the connection to a partner open for its next notice', async () => {
    const p = await addPartner({ script: [200] });
    const first = await prepared(p.org);
    const second = await prepared(p.org);
    expect(await sendNotice(deps(), { noticeId: first.noticeId, attempt: 1 })).toEqual({ delivered: true, status: 200 });
    expect(await sendNotice(deps(), { noticeId: second.noticeId, attempt: 1 })).toEqual({ delivered: true, status: 200 });
    expect(p.received.map((r) => r.verifyError)).toEqual([null, null]);
    expect(p.received[1].port).toBe(p.received[0].port);
  });

  it('sends once more on a new connection when the kept-alive one turns out closed, without a retry of its own', async () => {
    const p = await addPartner({ script: [200, 'reset', 200] });
    const first = await prepared(p.org);
    const second = await prepared(p.org);
    expect(await sendNotice(deps(), { noticeId: first.noticeId, attempt: 1 })).toEqual({ delivered: true, status: 200 });
    expect(await sendNotice(deps(), { noticeId: second.noticeId, attempt: 1 })).toEqual({ delivered: true, status: 200 });
    // The reset request came on the first notice's connection; its second sending on another, with the same webhook-id.
    expect(p.received).toHaveLength(3);
    expect(p.received[1].port).toBe(p.received[0].port);
    expect(p.received[2].port).not.toBe(p.received[1].port);
    expect(p.received.slice(1).map((r) => r.headers['webhook-id'])).toEqual([second.noticeId, second.noticeId]);
    expect(await actions(second.caseId)).toEqual(['document.rendered', 'notice.sent']);
  });

  it('does not send again when a new connection is closed unanswered: the activity retries', async () => {
    // A server of its own, so that no connection kept from another test is at hand.
    const resets = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => resets.listen(0, '127.0.0.1', resolve));
    let requests = 0;
    resets.on('request', () => (requests += 1));
    try {
      const p = await addPartner({ url: `http://127.0.0.1:${(resets.address() as AddressInfo).port}/hooks/resets` });
      const { caseId, noticeId } = await prepared(p.org);
      const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
      expect(err).not.toBeInstanceOf(ApplicationFailure);
      expect(requests).toBe(1);
      expect((await listAudit(db.pool, caseId))[1]).toMatchObject({ action: 'notice.attempt', data: { outcome: 'retry', error: 'network', attempt: 1 } });
    } finally {
      await new Promise((resolve) => resets.close(resolve));
    }
  });

  it('retries a partner that does not answer in time', async () => {
    const p = await addPartner({ script: ['hang'] });
    const { caseId, noticeId } = await prepared(p.org);
    const started = Date.now();
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 1 }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/timeout/);
    const audit = await listAudit(db.pool, caseId);
    expect(audit[1]).toMatchObject({ action: 'notice.attempt', data: { outcome: 'retry', error: 'timeout', attempt: 1 } });
  });

  it('stops a request under way at once when the activity is cancelled (its worker stopping), auditing the attempt for a retry', async () => {
    const p = await addPartner({ script: ['hang', 200] });
    const { caseId, noticeId } = await prepared(p.org);
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(new Error('worker shutting down')), 300);
    const started = Date.now();
    // A deadline far beyond the test's: only the cancellation can end this attempt in time.
    const err = await failureOf(sendNotice({ ...deps(), timeoutMs: 60_000 }, { noticeId, attempt: 1, signal: stopping.signal }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err.message).toMatch(/\(cancelled\): stopped: worker shutting down/);
    expect((await listAudit(db.pool, caseId))[1]).toMatchObject({ action: 'notice.attempt', data: { outcome: 'retry', error: 'cancelled', attempt: 1 } });
    expect((await db.pool.query('SELECT state FROM notices WHERE id = $1', [noticeId])).rows[0].state).toBe('retrying');
    // A cancellation that came before the attempt sends nothing; the next attempt delivers, with the same webhook-id.
    await failureOf(sendNotice(deps(), { noticeId, attempt: 2, signal: stopping.signal }));
    expect(await sendNotice(deps(), { noticeId, attempt: 3 })).toEqual({ delivered: true, status: 200 });
    expect(p.received.map((r) => r.headers['webhook-id'])).toEqual([noticeId, noticeId]);
  });

  it('counts a 2xx as delivered once its status line came, though the body is not finished by the deadline', async () => {
    // The contract: a 2xx answer is delivery. Sent again, the partner would be asked twice.
    const p = await addPartner({ script: [{ status: 200, body: '{"accepted":', unfinished: true }] });
    const { caseId, noticeId } = await prepared(p.org);
    expect(await sendNotice(deps(), { noticeId, attempt: 1 })).toEqual({ delivered: true, status: 200 });
    expect(p.received).toHaveLength(1);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.sent']);
  });

  it('retries a refused connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const p = await addPartner({ url: `http://127.0.0.1:${port}/hooks/nobody` });
    const { caseId, noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice(deps(), { noticeId, attempt: 3 }));
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    const audit = await listAudit(db.pool, caseId);
    expect(audit[1]).toMatchObject({ action: 'notice.attempt', data: { outcome: 'retry', error: 'refused', attempt: 3 } });
    expect((await db.pool.query('SELECT state, attempts FROM notices WHERE id = $1', [noticeId])).rows[0]).toEqual({ state: 'retrying', attempts: 3 });
  });

  it('skips a partner without a webhook, and one with no partner row at all', async () => {
    const p = await addPartner({ webhook: false });
    const { caseId, noticeId, result } = await prepared(p.org);
    expect(result.hasWebhook).toBe(false);
    // Skipped by the prepare already (see prepareNotice); asked to send it anyway, it sends nothing and adds no entry.
    expect(await sendNotice(deps(), { noticeId, attempt: 1 })).toEqual({ delivered: false, reason: 'no_webhook' });
    expect(await sendNotice(deps(), { noticeId, attempt: 2 })).toEqual({ delivered: false, reason: 'no_webhook' });
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.skipped']);

    const unknown = await prepared(`org-unregistered-${uid()}`);
    expect(unknown.result.hasWebhook).toBe(false);
    expect(await sendNotice(deps(), { noticeId: unknown.noticeId, attempt: 1 })).toEqual({ delivered: false, reason: 'no_webhook' });
  });

  it('refuses a webhook on a private address unless allowed (SSRF guard), without sending', async () => {
    const p = await addPartner();
    const { caseId, noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice({ ...deps(), allowPrivate: false }, { noticeId, attempt: 1 }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('PartnerRejected');
    expect((err as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'forbidden_address' });
    expect(p.received).toHaveLength(0);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.failed']);

    const local = await addPartner({ url: `${base.replace('127.0.0.1', 'localhost')}/hooks/x` });
    const viaName = await prepared(local.org);
    const err2 = await failureOf(sendNotice({ ...deps(), allowPrivate: false }, { noticeId: viaName.noticeId, attempt: 1 }));
    expect((err2 as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'forbidden_address' });
  });

  it('refuses an http:// webhook where only https:// is sent to (production), without sending', async () => {
    const p = await addPartner();
    const { caseId, noticeId } = await prepared(p.org);
    const err = await failureOf(sendNotice({ ...deps(), httpsOnly: true }, { noticeId, attempt: 1 }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('PartnerRejected');
    expect((err as ApplicationFailure).details?.[0]).toMatchObject({ reason: 'insecure_url' });
    expect(p.received).toHaveLength(0);
    expect(await actions(caseId)).toEqual(['document.rendered', 'notice.failed']);
    // The same partner in development (http:// taken): delivered.
    const again = await prepared(p.org);
    expect(await sendNotice(deps(), { noticeId: again.noticeId, attempt: 1 })).toMatchObject({ delivered: true });
  });

  it('fails clearly for a notice that was never prepared', async () => {
    const err = await failureOf(sendNotice(deps(), { noticeId: 'ntc_missing', attempt: 1 }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });
});

describe('notices left at the close', () => {
  it('sends nothing on a retry of a notice abandoned at the close; an attempt already under way still lands and marks it delivered', async () => {
    const p = await addPartner({ script: [503, { status: 200, body: 'ok', afterMs: 300 }] });
    const { caseId, noticeId } = await prepared(p.org);
    await expect(sendNotice(deps(), { noticeId, attempt: 1 })).rejects.toThrow(/503/);
    expect(await settleNotices(db.pool, { caseId, reason: 'case withdrawn while the notice was still being delivered' })).toEqual({ abandoned: [noticeId] });
    // Its retry: the partner has been sent a withdrawal notice naming it (or its task was answered), so nothing goes out.
    expect(await sendNotice(deps(), { noticeId, attempt: 2 })).toEqual({ delivered: false, reason: 'abandoned' });
    expect(p.received).toHaveLength(1);

    // Abandoned while an attempt is on its way: the partner answers 2xx afterwards, and that delivery is recorded.
    const late = await prepared(p.org);
    const sending = sendNotice(deps(), { noticeId: late.noticeId, attempt: 1 });
    await received(p, 2);
    expect(await settleNotices(db.pool, { caseId: late.caseId, reason: 'case withdrawn while the notice was still being delivered' })).toEqual({ abandoned: [late.noticeId] });
    expect(await sending).toMatchObject({ delivered: true, status: 200 });
    const states = await db.pool.query('SELECT id, state FROM notices WHERE id = ANY($1) ORDER BY id', [[noticeId, late.noticeId]]);
    expect(Object.fromEntries(states.rows.map((r) => [r.id, r.state]))).toEqual({ [noticeId]: 'abandoned', [late.noticeId]: 'delivered' });
    expect(await actions(late.caseId)).toEqual(['document.rendered', 'notice.abandoned', 'notice.sent']);
  });

  it('audits each notice a settle run again abandons, under an entry of its own', async () => {
    // The settle committed, its worker died before Temporal heard, and a prepare that outlived its cancellation stored
    // one more pending notice before the settle ran again.
    const p = await addPartner();
    const a = await prepared(p.org);
    const reason = 'case withdrawn while the notice was still being delivered';
    expect(await settleNotices(db.pool, { caseId: a.caseId, reason })).toEqual({ abandoned: [a.noticeId] });
    const b = `ntc_${uid()}`;
    await prepareNotice(deps(), { noticeId: b, type: 'hosting_notice', caseId: a.caseId, taskId: a.ctx.taskId, org: p.org, context: { ...a.ctx, type: 'hosting_notice' } });
    expect(await settleNotices(db.pool, { caseId: a.caseId, reason })).toEqual({ abandoned: [b] });
    const abandoned = (await listAudit(db.pool, a.caseId)).filter((e) => e.action === 'notice.abandoned').map((e) => e.data.noticeIds);
    expect(abandoned).toEqual([[a.noticeId], [b]]);
    expect(await settleNotices(db.pool, { caseId: a.caseId, reason })).toEqual({ abandoned: [] });
    expect((await verifyChain(db.pool, a.caseId)).intact).toBe(true);
  });

  it('does not deadlock a delivery being recorded with the close settling its notices: both take the audit lock first', async () => {
    // A partner that refuses connections: sendNotice records a retrying attempt (its audit append, then its notice row).
    const refusing = http.createServer();
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/hooks/x`;
    await new Promise((resolve) => refusing.close(resolve));
    const p = await addPartner({ url: closedUrl });
    const { caseId, noticeId } = await prepared(p.org);
    // Holds recordOutcome after its audit lock, before its notice row: an uncommitted row at the seq it is about to use
    // makes its insert wait, as any slow moment there would.
    const owner = await db.admin();
    const monitor = await db.admin();
    const outcome = (x: Promise<unknown>) => x.then((r) => r, (err: Error & { code?: string }) => `${err.code ?? ''} ${err.message}`.trim());
    try {
      const { rows } = await owner.query<{ next: number }>(`SELECT coalesce(max(seq), 0) + 1 AS next FROM audit_entries WHERE case_id = $1`, [caseId]);
      await owner.query('BEGIN');
      await owner.query(`INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ($1, $2, now(), 'x', '{}', 'x', 'y', 'hold')`, [caseId, rows[0].next]);
      const sent = outcome(sendNotice(deps(), { noticeId, attempt: 1 }));
      await waitForLockWaits(monitor, { locktype: 'transactionid' });
      // The case closes meanwhile: settleNotices waits for the audit lock before it touches the notice row.
      const settled = outcome(settleNotices(db.pool, { caseId, reason: 'case completed while the notice was still being delivered' }));
      await waitForLockWaits(monitor, { locktype: 'advisory' });
      await owner.query('ROLLBACK');
      expect(await sent).toMatch(/not delivered/);
      expect(await settled).toEqual({ abandoned: [noticeId] });
      expect(await actions(caseId)).toEqual(['document.rendered', 'notice.attempt', 'notice.abandoned']);
    } finally {
      await owner.query('ROLLBACK').catch(() => {});
      await owner.end();
      await monitor.end();
    }
  });
});
