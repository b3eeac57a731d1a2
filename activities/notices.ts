// Outbound partner notices: render and store the document once, then deliver it signed (Standard Webhooks), auditing every attempt.
import { createHash } from 'node:crypto';
import { ApplicationFailure, type RetryPolicy } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { documentIdOf } from '../domain/ids';
import { NOTICE_RETRY } from '../domain/rules/deadlines';
import { isHttpsUrl } from '../domain/rules/urls';
import type { AuditInput, CaseView, NoticeType } from '../domain/types';
import { inTransaction, prepared } from '../db/client';
import { appendAudit, appendAuditInTx, auditAppendStatement, lockCaseAudit } from '../db/queries/audit';
import { webhookDestination } from '../db/queries/partners';
import type { SettleNoticesArgs } from './types';
import { buildDocument, type DocumentContext, documentHash } from './documents';
import { guardedRequest, OutboundError } from './url-checks';

export interface NoticeDeps {
  pool: pg.Pool;
  timeoutMs: number;
  /** Allow webhooks on loopback/private addresses (tests, the simulator); production refuses them. */
  allowPrivate: boolean;
  /** Send to https:// webhooks only (production); a webhook registered as http:// fails the notice without sending it. */
  httpsOnly?: boolean;
}

export interface PrepareNoticeArgs {
  noticeId: string;
  type: NoticeType;
  caseId: string;
  taskId: string | null;
  org: string;
  /** Without a case view, the stored projection's is used. */
  context: Omit<DocumentContext, 'caseView'> & { caseView?: CaseView };
  /**
   * Earlier notices this one replaces (a request sent again on the same task): once this one is stored, those still
   * pending or retrying are superseded, so their retries stop rather than reach the partner beside it.
   */
  supersedes?: string[];
}

export interface PreparedNoticeResult {
  noticeId: string;
  documentId: string;
  documentHash: string;
  hasWebhook: boolean;
  missing: string[];
}

export interface SendNoticeArgs {
  noticeId: string;
  /** The activity attempt (Temporal's `Context.current().info.attempt`): audit keys include it, so a replayed attempt appends nothing. */
  attempt: number;
  /**
   * The activity's cancellation (`Context.current().cancellationSignal`, aborted when its worker is stopping): a
   * request under way stops at once, and the attempt is audited and retried like one the partner did not answer.
   */
  signal?: AbortSignal;
  /**
   * Asked when the attempt fails transiently, at that moment: whether Temporal will not retry it (see isLastAttempt).
   * Then the failure is final, recorded as `notice.failed` with reason `retries_exhausted`, so the chain and the
   * notice's row say how its delivery ended.
   */
  lastAttempt?: () => boolean;
}

/** What isLastAttempt reads of an activity's info (`Context.current().info`). */
export interface AttemptInfo {
  attempt: number;
  scheduledTimestampMs: number;
  scheduleToCloseTimeoutMs: number;
  retryPolicy?: RetryPolicy;
}

/**
 * Whether Temporal would not retry this attempt should it fail now: its maximum attempts are reached, or the next
 * backoff of its retry policy ends past its schedule-to-close deadline (a notice's week), when Temporal times the
 * activity out instead. `now` is when the attempt failed, as Temporal decides then. `marginMs` covers the clocks of
 * worker and server and the attempt's last writes: near the end, a notice's last attempt may come a backoff early, never
 * late. Without a policy in the info, the notices' own (NOTICE_RETRY) is assumed.
 */
export function isLastAttempt(info: AttemptInfo, now: number, marginMs = 60_000): boolean {
  const p: RetryPolicy = info.retryPolicy ?? NOTICE_RETRY;
  if (p.maximumAttempts && info.attempt >= p.maximumAttempts) return true;
  if (!info.scheduleToCloseTimeoutMs) return false;
  const initial = msToNumber(p.initialInterval ?? NOTICE_RETRY.initialInterval);
  const max = p.maximumInterval !== undefined ? msToNumber(p.maximumInterval) : 100 * initial;
  const backoff = Math.min(initial * (p.backoffCoefficient ?? 2) ** (info.attempt - 1), max);
  return now + backoff + marginMs > info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs;
}

export interface SendNoticeResult {
  delivered: boolean;
  status?: number;
  reason?: 'no_webhook' | 'already_delivered' | 'superseded' | 'abandoned' | 'task_closed';
}

export type DeliveryOutcome = 'delivered' | 'retry' | 'final';

export const USER_AGENT = 'takedown-notices/0.1 (+https://takedown.dev)';

/** The contract's rule: 2xx delivered; 5xx, 408, 429 retried; any other status final (a redirect is never followed with a signed body). */
export function classifyStatus(status: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 500 || status === 408 || status === 429) return 'retry';
  return 'final';
}

/**
 * The partner's answer as text that PostgreSQL and the audit chain take, made once where it is read: a binary or UTF-16
 * error page holds NUL bytes, which text and jsonb columns refuse, and the outcome's write failed with its audit entry (a
 * final 4xx was then retried for days). NUL and the other control characters but tab and line breaks are dropped (a
 * UTF-16 answer then reads as its text), and a lone surrogate becomes U+FFFD.
 */
function readableAnswer(text: string): string {
  return text.replace(/(?![\t\n\r])\p{Cc}/gu, '').replace(/\p{Cs}/gu, '\uFFFD');
}

/** At most `max` UTF-16 units of `text`, never ending in half a surrogate pair (jsonb refuses a lone one). */
function clip(text: string, max: number): string {
  return text.slice(0, max).replace(/\p{Cs}$/u, '');
}

/** What a prepare needs to know first: the document already stored for this notice, and whether the org has a webhook. */
async function lookup(pool: pg.Pool, args: { noticeId: string; org: string; caseId: string }, withView: boolean) {
  const res = await pool.query<{ hash: string | null; version: string | null; state: string | null; has_webhook: boolean | null; view: CaseView | null; closed: boolean | null }>(
    prepared(
      `SELECT d.hash, d.version, n.state,
              (SELECT p.webhook_url IS NOT NULL AND p.secret IS NOT NULL FROM partners p WHERE p.org = $3) AS has_webhook,
              ${withView ? '(SELECT c.view FROM cases c WHERE c.id = $4)' : 'NULL::jsonb'} AS view,
              (SELECT c.closed_at IS NOT NULL FROM cases c WHERE c.id = $4) AS closed
         FROM (SELECT 1) one
         LEFT JOIN notices n ON n.id = $1
         LEFT JOIN documents d ON d.id = $2 AND n.id IS NOT NULL`,
      [args.noticeId, documentIdOf(args.noticeId), args.org, args.caseId],
    ),
  );
  const row = res.rows[0];
  // A notice already stored answers from its own state: a retry after the partner's webhook was added or removed must
  // not send a notice stored skipped, nor leave unsent (and later abandoned) one stored pending.
  const stored = row.hash && row.version ? { hash: row.hash, version: row.version, hasWebhook: row.state !== 'skipped' } : null;
  return { stored, hasWebhook: row.has_webhook ?? false, view: row.view, closed: row.closed ?? false };
}

function renderedEntry(args: { noticeId: string; type: NoticeType; org: string }, documentId: string, kept: { hash: string; version: string }): AuditInput {
  return {
    key: `notice:${args.noticeId}:rendered`,
    action: 'document.rendered',
    actor: null,
    data: { noticeId: args.noticeId, documentId, type: args.type, org: args.org, documentHash: kept.hash, version: kept.version },
  };
}

/** Why a notice prepared after its case closed is stored abandoned (prepareNotice). */
const LATE_PREPARE = 'the case closed before the notice was prepared';

/** The entry of a notice that ends without being sent (one a notice): no webhook to send it to, or its task closed. */
function skippedEntry(notice: { noticeId: string; type: NoticeType; org: string; documentHash: string }, detail: Record<string, unknown>): AuditInput {
  return { key: `notice:${notice.noticeId}:skipped`, action: 'notice.skipped', actor: null, data: { ...notice, ...detail } };
}

/**
 * Builds the document; when complete, stores it with a `pending` notice and audits `document.rendered` in one
 * statement. For an org without a webhook the notice is stored `skipped` instead, with its `notice.skipped` entry in the
 * same statement: the workflow never sends it (hasWebhook: false), and a `pending` row would claim a delivery under way
 * that the case's close then called abandoned. A second call with the same notice id returns what was stored (and
 * audits it, idempotently, in case the first call's audit never happened). An incomplete document is refused
 * (non-retryable IncompleteDocument) and leaves no trace. Without a case view in the context, the one stored in
 * PostgreSQL is used: workflows store their projection, and wait for it, before preparing a notice.
 */
export async function prepareNotice(deps: NoticeDeps, args: PrepareNoticeArgs): Promise<PreparedNoticeResult> {
  const documentId = documentIdOf(args.noticeId);
  const first = await lookup(deps.pool, args, args.context.caseView === undefined);
  const done = async (kept: { hash: string; version: string; hasWebhook: boolean }) => {
    if (args.supersedes && args.supersedes.length > 0) await supersede(deps.pool, args.caseId, args.noticeId, args.supersedes);
    return { noticeId: args.noticeId, documentId, documentHash: kept.hash, hasWebhook: kept.hasWebhook, missing: [] };
  };
  if (first.stored) {
    await appendAudit(deps.pool, args.caseId, [renderedEntry(args, documentId, first.stored)]);
    return done(first.stored);
  }
  const caseView = args.context.caseView ?? first.view;
  if (!caseView) throw ApplicationFailure.retryable(`case ${args.caseId} is not in the projection yet`, 'CaseNotFound');

  const built = buildDocument(args.type, { ...args.context, caseView, type: args.type });
  if (built.missing.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${args.type} for ${args.org} is incomplete: missing ${built.missing.join(', ')}`,
      'IncompleteDocument',
      { missing: built.missing },
    );
  }
  // A request, reminder or re-notice prepared once its case has closed comes from a prepare that outlived its
  // cancellation: the close has settled the case's notices already, and nothing will send this one. Stored abandoned
  // (only withdrawal notices are prepared after a close).
  const late = first.closed && args.type !== 'withdrawal_notice';
  const mine = { hash: documentHash(built.document), version: built.version, hasWebhook: first.hasWebhook && !late };
  const state = late ? 'abandoned' : first.hasWebhook ? 'pending' : 'skipped';
  const lastError = late ? LATE_PREPARE : null;
  const entries = [renderedEntry(args, documentId, mine)];
  if (late) entries.push({ key: `notice:${args.noticeId}:abandoned`, action: 'notice.abandoned', actor: null, data: { noticeIds: [args.noticeId], reason: LATE_PREPARE } });
  else if (!first.hasWebhook) entries.push(skippedEntry({ noticeId: args.noticeId, type: args.type, org: args.org, documentHash: mine.hash }, { reason: 'no_webhook' }));
  // Document, notice and audit entries in one statement; the audit append runs only when this document was inserted.
  const audit = auditAppendStatement(args.caseId, entries, 14);
  const res = await deps.pool.query(
    prepared(
      `WITH doc AS (
         INSERT INTO documents (id, case_id, task_id, type, version, hash, body) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
         ON CONFLICT (id) DO NOTHING RETURNING id),
       -- The chain's head as this statement finds it (before the entries it appends): sent in the notice as auditHead.
       notice AS (
         INSERT INTO notices (id, case_id, task_id, org, type, state, last_error, audit_head)
         VALUES ($8, $9, $10, $11, $4, $12, $13,
                 (SELECT jsonb_build_object('seq', h.seq, 'hash', h.hash) FROM audit_entries h WHERE h.case_id = $9 ORDER BY h.seq DESC LIMIT 1))
         ON CONFLICT (id) DO NOTHING)
       SELECT a.seq FROM doc, LATERAL (${audit.sql}) a`,
      [documentId, args.caseId, args.taskId, args.type, built.version, mine.hash, JSON.stringify(built.document), args.noticeId, args.caseId, args.taskId, args.org, state, lastError, ...audit.params],
    ),
  );
  if ((res.rowCount ?? 0) > 0) return done(mine);
  // A concurrent prepare won the insert: report (and audit) the stored document, not this rebuild.
  const again = await lookup(deps.pool, args, false);
  if (!again.stored) throw ApplicationFailure.retryable(`notice ${args.noticeId}: document not visible yet`, 'DocumentRace');
  await appendAudit(deps.pool, args.caseId, [renderedEntry(args, documentId, again.stored)]);
  return done(again.stored);
}

/**
 * Marks the replaced notices still undelivered as superseded, with one audit entry naming them, keyed on the new notice
 * (a retried prepare appends nothing). A delivery already under way may still land and mark itself delivered.
 */
async function supersede(pool: pg.Pool, caseId: string, by: string, noticeIds: string[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    // The case's audit lock before the notice rows, the order recordOutcome takes them in (its append, then its update).
    await lockCaseAudit(client, caseId);
    const res = await client.query<{ id: string }>(
      `UPDATE notices SET state = 'superseded' WHERE case_id = $1 AND id = ANY($2::text[]) AND state IN ('pending', 'retrying') RETURNING id`,
      [caseId, noticeIds],
    );
    if (res.rows.length === 0) return;
    const superseded = res.rows.map((r) => r.id).sort();
    await appendAuditInTx(client, caseId, [{ key: `notice.superseded:${by}`, action: 'notice.superseded', actor: null, data: { noticeIds: superseded, by } }]);
  });
}

interface NoticeRow {
  id: string;
  case_id: string;
  task_id: string | null;
  org: string;
  type: NoticeType;
  state: string;
  last_status: number | null;
  last_error: string | null;
  document_hash: string | null;
  body: Record<string, unknown> | null;
  webhook_url: string | null;
  secret: string | null;
  /** The secrets PUTs replaced that still sign beside the current one, newest first. */
  retired_secrets: string[];
  /** A reminder's task's status in the projection (null for other notices). */
  task_status: string | null;
  /** When the notice was prepared: its body's `sentAt`, the same in every attempt. */
  created_at: Date;
  /** The case's chain head when the notice was prepared (migration 0021; null before it): the body's `auditHead`. */
  audit_head: { seq: number; hash: string } | null;
}

async function recordOutcome(
  deps: NoticeDeps,
  n: NoticeRow,
  attempt: number,
  update: { state: string; status: number | null; error: string | null; delivered: boolean },
  audit: { key: string; action: string; data: Record<string, unknown> },
): Promise<{ state: string; status: number | null }> {
  // The notice's row and its audit entry in one statement (atomic, one round trip).
  const append = auditAppendStatement(n.case_id, [{ key: audit.key, action: audit.action, actor: null, data: audit.data }], 7);
  await deps.pool.query(
    prepared(
      // 'delivered' is final. The other ends ('failed' and 'skipped' by an attempt, 'abandoned' at the case's close,
      // 'superseded' when sent again under a new id) yield only to a delivery that lands late, never to an attempt that
      // outlived its timeout (two attempts of one notice may then run at once): a row that stays as it was keeps the
      // status and error that ended it. Every attempt is audited all the same.
      `WITH updated AS (
         UPDATE notices SET state = CASE WHEN ${KEEPS_ROW} THEN state ELSE $2 END,
                attempts = GREATEST(attempts, $3),
                last_status = CASE WHEN ${KEEPS_ROW} THEN last_status ELSE $4 END,
                last_error = CASE WHEN ${KEEPS_ROW} THEN last_error ELSE $5 END,
                delivered_at = CASE WHEN $6::boolean THEN COALESCE(delivered_at, now()) ELSE delivered_at END
          WHERE id = $1)
       ${append.sql}`,
      [n.id, update.state, attempt, update.status, update.error, update.delivered, ...append.params],
    ),
  );
  if (update.delivered) return { state: 'delivered', status: update.status };
  // Read apart, not returned by the statement above: its audit append takes the case's lock before the notice's row,
  // the order supersede and settleNotices take them in. Only attempts that did not deliver come here.
  const { rows } = await deps.pool.query<{ state: string; last_status: number | null }>(prepared('SELECT state, last_status FROM notices WHERE id = $1', [n.id]));
  return { state: rows[0]?.state ?? update.state, status: rows[0]?.last_status ?? null };
}

/** The row stays as it is: delivered, or ended otherwise and this attempt did not deliver ($2: the attempt's state). */
const KEEPS_ROW = `(state = 'delivered' OR (state IN ('failed', 'skipped', 'abandoned', 'superseded') AND $2 <> 'delivered'))`;

/** A delivery that another attempt of the same notice recorded while this one was out (its own answer aside). */
function deliveredMeanwhile(row: { state: string; status: number | null }): SendNoticeResult | null {
  return row.state === 'delivered' ? { delivered: true, ...(row.status !== null ? { status: row.status } : {}), reason: 'already_delivered' } : null;
}

/**
 * The webhook-signature header: the current secret's `v1,` signature, and beside it one for each replaced secret that
 * still signs, newest first (Standard Webhooks lists several signatures separated by spaces; a verifier accepts any one
 * it can check). An unusable replaced secret is left out: the current one alone decides whether a notice can be signed.
 */
function signatures(current: Webhook, retired: readonly string[], id: string, at: Date, body: string): string {
  const all = [current.sign(id, at, body)];
  for (const secret of retired) {
    try {
      all.push(new Webhook(secret).sign(id, at, body));
    } catch {
      // not a usable secret: the others stand without it
    }
  }
  return all.join(' ');
}

function partnerRejected(org: string, noticeId: string, detail: { status: number | null; reason: string; message: string }): ApplicationFailure {
  const what = detail.reason === 'retries_exhausted' ? `${org} was not reached with notice ${noticeId}` : `${org} rejected notice ${noticeId}`;
  return ApplicationFailure.nonRetryable(`${what}: ${detail.message}`, 'PartnerRejected', { status: detail.status, reason: detail.reason });
}

/**
 * The answer of an attempt that ended a notice failed or skipped, given again from what it recorded: its audit entry
 * says why (the notice's last one of those), its row the partner's status and answer.
 */
async function answeredBefore(pool: pg.Pool, n: NoticeRow): Promise<SendNoticeResult> {
  const { rows } = await pool.query<{ data: { reason?: string } }>(
    prepared(
      `SELECT data FROM audit_entries WHERE case_id = $1 AND starts_with(event_key, $2) AND action = $3 ORDER BY seq DESC LIMIT 1`,
      [n.case_id, `notice:${n.id}:`, n.state === 'failed' ? 'notice.failed' : 'notice.skipped'],
    ),
  );
  const reason = rows[0]?.data.reason;
  if (n.state === 'skipped') return { delivered: false, reason: reason === 'task_closed' ? 'task_closed' : 'no_webhook' };
  throw partnerRejected(n.org, n.id, { status: n.last_status, reason: reason ?? 'rejected', message: n.last_error ?? 'refused' });
}

/**
 * Delivers a prepared notice once. Transient failures (5xx, 408, 429, timeouts, refused connections) are audited and
 * thrown as ordinary errors for Temporal to retry; other answers are final (non-retryable PartnerRejected). A notice
 * superseded meanwhile, a reminder whose task is no longer open, or a request whose task was cancelled, ends without
 * being sent.
 */
export async function sendNotice(deps: NoticeDeps, args: SendNoticeArgs): Promise<SendNoticeResult> {
  const { noticeId, attempt } = args;
  const res = await deps.pool.query<NoticeRow>(
    prepared(
      `SELECT n.id, n.case_id, n.task_id, n.org, n.type, n.state, n.last_status, n.last_error, n.created_at, n.audit_head, d.hash AS document_hash, d.body, p.webhook_url, p.secret,
              (SELECT coalesce(json_agg(r.e->>'secret' ORDER BY r.n), '[]') FROM jsonb_array_elements(p.retired_secrets) WITH ORDINALITY AS r(e, n)
                WHERE (r.e->>'until')::timestamptz > now()) AS retired_secrets, t.status AS task_status
         FROM notices n LEFT JOIN documents d ON d.id = $2 LEFT JOIN partners p ON p.org = n.org
              -- A reminder or a request reads its task (a withdrawal notice's task is cancelled by definition).
              LEFT JOIN tasks t ON n.type <> 'withdrawal_notice' AND t.id = n.task_id
        WHERE n.id = $1`,
      [noticeId, documentIdOf(noticeId)],
    ),
  );
  const n = res.rows[0];
  if (!n || n.body === null || n.document_hash === null) {
    throw ApplicationFailure.nonRetryable(`notice ${noticeId} was never prepared`, 'NoticeNotFound');
  }
  if (n.state === 'delivered') return { delivered: true, status: n.last_status ?? undefined, reason: 'already_delivered' };
  // Replaced by a later notice on the same task (see supersede): the partner has that one, so this one stops here.
  // Abandoned at the case's close (settleNotices): its task was answered, or the partner has been sent a withdrawal
  // notice naming it, so a retry would ask for what no longer stands. An attempt already under way may still land.
  if (n.state === 'superseded' || n.state === 'abandoned') return { delivered: false, reason: n.state };
  // Ended by an earlier attempt whose answer Temporal never heard (its worker died after recording it, or it outlived
  // its timeout): the same answer again, and nothing sent. A notice sent again is always a new notice, with a new id.
  if (n.state === 'failed' || n.state === 'skipped') return answeredBefore(deps.pool, n);

  const base = { noticeId, type: n.type, org: n.org, documentHash: n.document_hash };
  // A reminder whose task was answered (or cancelled) meanwhile would ask for what is no longer awaited: one still
  // retrying (the partner's webhook was briefly down) ends here without reaching the partner. So does a request whose
  // task was cancelled (the case lead skipped it, and its partner is sent a withdrawal notice; or the case ended): the
  // request no longer stands, and arriving after its withdrawal it would read as a new one. A request to a task already
  // completed is still sent: a partner that completed from its inbox first still gets the signed formal request.
  const closed = n.type === 'reminder' ? n.task_status !== 'open' : n.task_status === 'cancelled';
  if (n.task_status !== null && closed) {
    const why = `not sent: task ${n.task_id} is ${n.task_status}`;
    const entry = skippedEntry(base, { reason: 'task_closed', taskId: n.task_id, taskStatus: n.task_status });
    const row = await recordOutcome(deps, n, attempt, { state: 'skipped', status: n.last_status, error: why, delivered: false }, entry);
    return deliveredMeanwhile(row) ?? { delivered: false, reason: 'task_closed' };
  }
  if (!n.webhook_url || !n.secret) {
    const row = await recordOutcome(deps, n, attempt, { state: 'skipped', status: null, error: null, delivered: false }, skippedEntry(base, { reason: 'no_webhook' }));
    return deliveredMeanwhile(row) ?? { delivered: false, reason: 'no_webhook' };
  }

  // Where the attempt went, for the audit chain: the partner's webhook can change between attempts (PUT /v1/partners).
  // Its origin, and the SHA-256 of the whole URL rather than its path and query, which may carry a credential.
  const to = webhookDestination(n.webhook_url);
  const fail = async (detail: { status: number | null; reason: string; message: string }): Promise<SendNoticeResult> => {
    const row = await recordOutcome(deps, n, attempt, { state: 'failed', status: detail.status, error: detail.message.slice(0, 1000), delivered: false }, {
      key: `notice:${noticeId}:${attempt}:failed`,
      action: 'notice.failed',
      data: { ...base, attempt, status: detail.status, reason: detail.reason, to },
    });
    // Another attempt delivered it while this one was out (a partner may refuse the repeat of a notice it has): the
    // notice stands delivered, and the case lead is not asked about a refusal.
    const delivered = deliveredMeanwhile(row);
    if (delivered) return delivered;
    throw partnerRejected(n.org, noticeId, detail);
  };

  // A transient failure on the last attempt Temporal makes: the notice failed for good, not one attempt of it.
  const exhausted = (status: number | null, last: string) =>
    fail({ status, reason: 'retries_exhausted', message: `not delivered within the notice's deadline; the last attempt: ${last}` });

  // Stored before production refused http:// at PUT, or by a development system: not sent in the clear, and retrying
  // will not help, so the case lead hears of it as of a forbidden address.
  if (deps.httpsOnly && !isHttpsUrl(n.webhook_url)) {
    return fail({ status: null, reason: 'insecure_url', message: 'the webhook URL is not https://: production sends notices over TLS only' });
  }

  let webhook: Webhook;
  try {
    webhook = new Webhook(n.secret);
  } catch (err) {
    return fail({ status: null, reason: 'invalid_secret', message: `the partner's webhook secret is unusable (${(err as Error).message})` });
  }
  // Every attempt sends the same body, byte for byte: `sentAt` is when the notice was issued (prepared), so a partner's
  // idempotency middleware, which refuses a key repeated with another body, takes a retry for the same request. Only
  // the headers' timestamp and signature are the attempt's own (Standard Webhooks refuses stale timestamps).
  const signedAt = new Date();
  // `auditHead` (an extension of the contract's body): the case's chain head when the notice was prepared, so that the
  // partner's signed copy witnesses the chain outside Takedown (docs/audit-verification.md).
  const auditHead = n.audit_head ? { auditHead: { seq: n.audit_head.seq, hash: n.audit_head.hash } } : {};
  const body = JSON.stringify({ id: noticeId, type: n.type, caseId: n.case_id, taskId: n.task_id, org: n.org, document: n.body, sentAt: n.created_at.toISOString(), ...auditHead });
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': noticeId,
    'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
    'webhook-signature': signatures(webhook, n.retired_secrets ?? [], noticeId, signedAt, body),
    'idempotency-key': noticeId,
  };

  let status: number;
  let answer: string;
  try {
    const r = await guardedRequest(n.webhook_url, {
      method: 'POST',
      headers,
      body,
      timeoutMs: deps.timeoutMs,
      allowPrivate: deps.allowPrivate,
      keepBodyBytes: 1024,
      reuseConnection: true,
      signal: args.signal,
    });
    status = r.status;
    answer = readableAnswer(r.body);
  } catch (err) {
    const e = err instanceof OutboundError ? err : new OutboundError('network', String(err));
    // A forbidden or malformed address will not heal by retrying: the case lead must fix the partner's configuration.
    if (e.kind === 'forbidden_address' || e.kind === 'invalid_url') return fail({ status: null, reason: e.kind, message: e.message });
    if (args.lastAttempt?.()) return exhausted(null, `${e.kind}: ${e.message}`);
    const row = await recordOutcome(deps, n, attempt, { state: 'retrying', status: null, error: `${e.kind}: ${e.message}`.slice(0, 1000), delivered: false }, {
      key: `notice:${noticeId}:${attempt}:retry`,
      action: 'notice.attempt',
      data: { ...base, outcome: 'retry', error: e.kind, attempt, to },
    });
    const delivered = deliveredMeanwhile(row);
    if (delivered) return delivered;
    throw new Error(`notice ${noticeId} to ${n.org} not delivered (${e.kind}): ${e.message}`);
  }

  const outcome = classifyStatus(status);
  if (outcome === 'delivered') {
    // Keyed on the notice alone: however many attempts reached the partner, the chain records one delivery.
    await recordOutcome(deps, n, attempt, { state: 'delivered', status, error: null, delivered: true }, {
      key: `notice:${noticeId}:sent`,
      action: 'notice.sent',
      data: { ...base, status, attempt, to },
    });
    return { delivered: true, status };
  }
  if (outcome === 'retry') {
    if (args.lastAttempt?.()) return exhausted(status, `HTTP ${status}${answer ? `: ${clip(answer, 200)}` : ''}`);
    const row = await recordOutcome(deps, n, attempt, { state: 'retrying', status, error: clip(answer, 1000) || null, delivered: false }, {
      key: `notice:${noticeId}:${attempt}:retry`,
      action: 'notice.attempt',
      data: { ...base, outcome: 'retry', status, attempt, to },
    });
    const delivered = deliveredMeanwhile(row);
    if (delivered) return delivered;
    throw new Error(`notice ${noticeId} to ${n.org} not delivered: HTTP ${status}`);
  }
  return fail({ status, reason: 'rejected', message: `HTTP ${status}${answer ? `: ${clip(answer, 200)}` : ''}` });
}

/** A short key for a set of ids (sorted): the first 16 hex digits of the SHA-256 of their list. */
function setKey(sortedIds: string[]): string {
  return createHash('sha256').update(sortedIds.join(',')).digest('hex').slice(0, 16);
}

/**
 * At case close: notices still pending or retrying are abandoned (their task was answered through the API, or the case
 * ended), so no row claims a delivery is still under way. A delivery that lands afterwards still marks itself delivered.
 */
export async function settleNotices(pool: pg.Pool, args: SettleNoticesArgs): Promise<{ abandoned: string[] }> {
  const keep = args.keep ?? [];
  // Usually every notice is settled already: one read answers that, without a transaction.
  const open = await pool.query(
    prepared(`SELECT 1 FROM notices WHERE case_id = $1 AND state IN ('pending', 'retrying') AND NOT (id = ANY($2::text[])) LIMIT 1`, [args.caseId, keep]),
  );
  if (open.rowCount === 0) return { abandoned: [] };
  return inTransaction(pool, async (client) => {
    // The audit lock first, as in supersede: a delivery recorded meanwhile holds it and then updates its notice row.
    await lockCaseAudit(client, args.caseId);
    const res = await client.query<{ id: string }>(
      `UPDATE notices SET state = 'abandoned', last_error = COALESCE(last_error, $2)
        WHERE case_id = $1 AND state IN ('pending', 'retrying') AND NOT (id = ANY($3::text[])) RETURNING id`,
      [args.caseId, args.reason, keep],
    );
    const abandoned = res.rows.map((r) => r.id).sort();
    if (abandoned.length > 0) {
      await appendAuditInTx(client, args.caseId, [
        // Keyed on the notices it abandons: a settle run again (its worker died before Temporal heard) finds the first
        // run's notices abandoned already, and only one stored since (a prepare that finished after its cancellation)
        // is left to abandon, under an entry of its own.
        { key: `notices.abandoned:${args.caseId}${args.round ? `:${args.round}` : ''}:${setKey(abandoned)}`, action: 'notice.abandoned', actor: null, data: { noticeIds: abandoned, reason: args.reason } },
      ]);
    }
    return { abandoned };
  });
}
