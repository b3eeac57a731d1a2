// Cases: creation through update-with-start (with Idempotency-Key), lists and reads from the projection, withdraw and evidence as workflow updates.
import { Router } from 'express';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import { cases, tasks } from '../../db/schema';
import { ProblemError } from '../../domain/errors';
import { CASE_ID_RE, caseWorkflowId } from '../../domain/ids';
import { sameEvidence } from '../../domain/rules/evidence';
import { AddEvidenceSchema, CaseInputSchema, CaseListQuerySchema, WithdrawSchema } from '../../domain/schemas';
import { isClosedStatus, type Actor, type CaseInput, type CaseView, type Evidence, type Role } from '../../domain/types';
import { addEvidenceUpdate, type CaseWorkflowInput, intakeUpdate, withdrawUpdate } from '../../workflows/messages';
import { caseSearchAttributes } from '../../workflows/search-attributes';
import type { ApiDeps } from '../app';
import { CaseReads, type StoredCase } from '../case-reads';
import { decodeCursor, encodeCursor } from '../cursor';
import { bodyHash, claimKey, finishKey, idempotencyKeyOf, keyReusedWithAnotherBody, releaseKey, updateIdFor } from '../idempotency';
import { newCaseId } from '../ids';
import { actorOf, hasAnyRole, requireRoles } from '../middleware/auth';
import { bodyOf } from '../middleware/body';
import { mapError, methodNotAllowed } from '../middleware/problem';
import { parseOr422, parseQueryOr422 } from '../middleware/validate';
import { isWorkflowGone, runPurged, withTemporalDeadline } from '../temporal';
import { CASE_READ_ROLES, jsonArray, partnerCaseView, readsCaseInFull, tasksJson, type HeldTask } from '../views';

export type CaseRow = typeof cases.$inferSelect;

/** A text[] literal for drizzle (which would otherwise expand a JS array into a parameter list). */
function textArray(values: readonly string[]): SQL {
  return values.length === 0 ? sql`ARRAY[]::text[]` : sql`ARRAY[${sql.join(values.map((v) => sql`${v}`), sql`, `)}]::text[]`;
}

export async function loadCase(deps: ApiDeps, caseId: string): Promise<CaseRow | undefined> {
  if (!CASE_ID_RE.test(caseId)) return undefined;
  const rows = await deps.db.select().from(cases).where(eq(cases.id, caseId));
  return rows[0];
}

/**
 * The case a caller may act on with one of `roles` in the case's org. Role missing: 403 whatever the id. Case unknown:
 * 404. Case of another org: 403 (the contract's error table: the org rule forbids it).
 */
export async function caseForAction(deps: ApiDeps, actor: Actor, caseId: string, roles: Role[]): Promise<CaseRow> {
  if (!hasAnyRole(actor, roles)) throw new ProblemError('forbidden', `this needs one of the roles ${roles.join(', ')} in the case's org`);
  const row = await loadCase(deps, caseId);
  if (!row) throw new ProblemError('not_found', 'no such case');
  if (row.org !== actor.org) throw new ProblemError('forbidden', "only the case's org may do this");
  return row;
}

/**
 * The case as the caller may read it: in full (readers of the case's org, auditors), or, for a partner holding an open
 * task on it, restricted (`held` lists those tasks). Case unknown: 404. Anyone else: 403 (no reading role, another org,
 * or a partner holding no open task on it).
 */
async function readableCase(reads: CaseReads, actor: Actor, caseId: string): Promise<{ row: StoredCase; held?: HeldTask[] }> {
  const isPartner = actor.roles.includes('partner');
  if (!hasAnyRole(actor, CASE_READ_ROLES) && !isPartner) throw new ProblemError('forbidden', 'no role of yours reads cases');
  if (!CASE_ID_RE.test(caseId)) throw new ProblemError('not_found', 'no such case');
  const row = await reads.read(isPartner ? { caseId, partner: { org: actor.org, roles: actor.roles } } : { caseId });
  if (!row) throw new ProblemError('not_found', 'no such case');
  if (readsCaseInFull(actor, row.org)) return { row };
  // Partners read a case only while they hold an open task on it.
  const held = 'held' in row ? row.held : [];
  if (held.length > 0) return { row, held: held.map((t) => ({ ...t, dueAt: t.dueAt === null ? null : new Date(t.dueAt) })) };
  if (isPartner) throw new ProblemError('forbidden', 'a partner reads a case only while it holds an open task on it');
  throw new ProblemError('forbidden', "only the case's org and auditors read this case");
}

/** A JSON object's text with one more string member (the object text as PostgreSQL writes jsonb: `{...}`). */
function withMember(objectJson: string, key: string, value: string): string {
  const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  return objectJson === '{}' ? `{${member}}` : `${objectJson.slice(0, -1)},${member}}`;
}

function temporalLink(deps: ApiDeps, caseId: string): string {
  const base = (deps.temporalUiUrl ?? '').replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${encodeURIComponent(caseWorkflowId(caseId))}`;
}

/** Whether the case records this principal's withdrawal for this reason. */
function sameWithdrawal(view: CaseView, actor: Actor, reason: string): boolean {
  return view.withdrawal?.by === actor.id && view.withdrawal.reason === reason;
}

/** Whether a case holds every evidence item (by hash, with the same details), URL and hosting entry's URL an amendment adds. */
function holdsAmendment(view: CaseView, body: { evidence: Evidence[]; urls: string[]; hosting: { provider: string; urls: string[] }[] }): boolean {
  const held = (e: Evidence) => view.evidence.some((x) => sameEvidence(x, e));
  const hosted = (h: { provider: string; urls: string[] }) => view.merchant.hosting.some((x) => x.provider === h.provider && h.urls.every((u) => x.urls.includes(u)));
  return body.evidence.every(held) && body.urls.every((u) => view.merchant.urls.includes(u)) && body.hosting.every(hosted);
}

export async function startCase(deps: ApiDeps, actor: Actor, caseId: string, input: CaseInput): Promise<CaseView> {
  const workflowInput: CaseWorkflowInput = { caseId, org: actor.org, createdBy: actor, receivedAt: new Date().toISOString(), input };
  const startWorkflowOperation = new WithStartWorkflowOperation('caseWorkflow', {
    workflowId: caseWorkflowId(caseId),
    taskQueue: deps.taskQueue,
    args: [workflowInput],
    // A retried creation with the same case id joins the workflow the first attempt started: never a second case.
    workflowIdConflictPolicy: 'USE_EXISTING',
    // Nor a second run of a case that has closed meanwhile (a retry after a lost answer): it is answered from the record.
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: `${input.reference} · ${input.jurisdiction}`,
    // The same the workflow would set at intake, so it does not upsert them again (PATCHES.startAttributes).
    typedSearchAttributes: caseSearchAttributes({ ...input, status: 'verifying' }),
  });
  try {
    return await withTemporalDeadline(deps.temporal, () =>
      deps.temporal.workflow.executeUpdateWithStart(intakeUpdate, { startWorkflowOperation, updateId: `intake-${caseId}` }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const row = await loadCase(deps, caseId);
      if (row) return row.view;
      throw new ProblemError('conflict', `case ${caseId} was started before and has closed`);
    }
    throw err;
  }
}

/**
 * A creation without an Idempotency-Key that ends in a 503 (Temporal did not answer in time, or the case's first write
 * waits for PostgreSQL) may still have started its case, which then goes on: the answer names the case id it was given
 * (`caseId`, an extension member), so the client can look for it rather than create a second case by retrying.
 */
function mayHaveStarted(err: unknown, caseId: string): unknown {
  const mapped = mapError(err);
  if (mapped.kind !== 'unavailable') return err;
  const detail = `${mapped.detail.replace(/[;.]? retry later$/, '')}. The case may have been started as ${caseId}, and then goes on: GET /v1/cases/${caseId} finds it once it is stored (a 404 proves nothing while the database is catching up), so look there before creating it again; a creation sent with an Idempotency-Key is safe to retry`;
  return new ProblemError('unavailable', detail, undefined, { caseId });
}

/**
 * The case a key's earlier attempt made, as it is now; or, when it has none (that attempt failed or died before the
 * case was stored), the case started now: `started` says so, and the answer is then 201, since no earlier answer named it.
 */
async function viewOrRestart(deps: ApiDeps, actor: Actor, caseId: string, input: CaseInput): Promise<{ view: CaseView; started: boolean }> {
  const row = await loadCase(deps, caseId);
  return row ? { view: row.view, started: false } : { view: await startCase(deps, actor, caseId, input), started: true };
}

export function casesRouter(deps: ApiDeps): Router {
  const r = Router();
  const reads = new CaseReads(deps.pool);

  r.route('/cases')
    .post(requireRoles('case_lead'), async (req, res) => {
      const actor = actorOf(req);
      const key = idempotencyKeyOf(req.headersDistinct['idempotency-key']);
      const input = parseOr422(CaseInputSchema, bodyOf(req)) as CaseInput;
      if (!key) {
        const caseId = newCaseId();
        const view = await startCase(deps, actor, caseId, input).catch((err: unknown) => {
          throw mayHaveStarted(err, caseId);
        });
        res.status(201).location(`/v1/cases/${view.id}`).json(view);
        return;
      }
      const claim = await claimKey(deps.pool, actor.id, key, bodyHash(req.body), newCaseId());
      if (claim.kind === 'done') {
        const { view, started } = await viewOrRestart(deps, actor, claim.caseId, input);
        res.status(started ? 201 : 200).location(`/v1/cases/${claim.caseId}`).json(view);
        return;
      }
      let answer: { view: CaseView; started: boolean };
      try {
        // A retry taking over a dead or failed attempt answers with the case that attempt made, as it is now, if it got
        // that far; otherwise it starts the case itself.
        answer = claim.replay ? await viewOrRestart(deps, actor, claim.caseId, input) : { view: await startCase(deps, actor, claim.caseId, input), started: true };
      } catch (err) {
        await releaseKey(deps.pool, actor.id, key).catch(() => {});
        throw err;
      }
      await finishKey(deps.pool, actor.id, key);
      res.status(answer.started ? 201 : 200).location(`/v1/cases/${answer.view.id}`).json(answer.view);
    })
    .get(requireRoles(...CASE_READ_ROLES), async (req, res) => {
      const actor = actorOf(req);
      const q = parseQueryOr422(CaseListQuerySchema, req.query);
      const cursor = decodeCursor(q.cursor);
      const where: SQL[] = [];
      if (!actor.roles.includes('auditor')) where.push(eq(cases.org, actor.org));
      if (q.status) where.push(eq(cases.status, q.status));
      if (q.reference) where.push(eq(cases.reference, q.reference));
      if (q.merchantId) where.push(sql`${cases.merchantIds} @> ${textArray([q.merchantId])}`);
      if (cursor) where.push(sql`(${cases.createdAt}, ${cases.id}) < (${cursor.createdAt}::timestamptz, ${cursor.id})`);
      // Newest first: a case list is read from the top. Each view comes as its stored JSON text and goes out as it is
      // (as a single case read's does), so the API neither parses nor re-serialises 50 documents per page.
      const rows = await deps.db
        .select({ id: cases.id, createdAt: cases.createdAt, view: sql<string>`${cases.view}::text` })
        .from(cases)
        .where(where.length ? and(...where) : undefined)
        .orderBy(desc(cases.createdAt), desc(cases.id))
        .limit(q.limit + 1);
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      // Counts per status over the caller's whole scope (not just this page), for the board's summary.
      const scope = actor.roles.includes('auditor') ? undefined : eq(cases.org, actor.org);
      const counted = await deps.db.select({ status: cases.status, n: sql<number>`count(*)::int` }).from(cases).where(scope).groupBy(cases.status);
      const counts = Object.fromEntries(counted.map((c) => [c.status, c.n]));
      const nextCursor = rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null;
      res.type('json').send(`{"items":${jsonArray(page.map((c) => c.view))},"nextCursor":${JSON.stringify(nextCursor)},"counts":${JSON.stringify(counts)}}`);
    })
    .all(methodNotAllowed(['GET', 'POST']));

  // Every task of a case in one request (the case page's timeline); partners see only their own org's tasks.
  r.route('/cases/:id/tasks')
    .get(async (req, res) => {
      const actor = actorOf(req);
      const { row, held } = await readableCase(reads, actor, req.params.id);
      const all = await deps.db.select().from(tasks).where(eq(tasks.caseId, row.id)).orderBy(asc(tasks.createdAt), asc(tasks.id));
      const mine = held ? all.filter((t) => t.assigneeOrg === actor.org && t.roles.some((r) => actor.roles.includes(r as Role))) : all;
      res.type('json').send(`{"items":${tasksJson(mine)}}`);
    })
    .all(methodNotAllowed(['GET']));

  r.route('/cases/:id')
    .get(async (req, res) => {
      const actor = actorOf(req);
      const { row, held } = await readableCase(reads, actor, req.params.id);
      if (held) res.json(partnerCaseView(JSON.parse(row.view) as CaseView, actor.org, held));
      else res.type('json').send(deps.temporalUiUrl ? withMember(row.view, 'temporalUrl', temporalLink(deps, row.id)) : row.view);
    })
    .all(methodNotAllowed(['GET']));

  r.route('/cases/:id/withdraw')
    .post(async (req, res) => {
      const actor = actorOf(req);
      const row = await caseForAction(deps, actor, req.params.id, ['case_lead', 'le_supervisor']);
      const body = parseOr422(WithdrawSchema, bodyOf(req));
      const key = idempotencyKeyOf(req.headersDistinct['idempotency-key']);
      const view = await withTemporalDeadline(deps.temporal, () =>
        deps.temporal.workflow
          .getHandle(caseWorkflowId(row.id))
          .executeUpdate(withdrawUpdate, { args: [{ reason: body.reason, actor }], updateId: updateIdFor('withdraw', row.id, actor, key) }),
      ).catch(async (err: unknown) => {
        // A retry whose first attempt withdrew the case, made after Temporal dropped the closed run (its retention): the
        // stored case answers it, as for a task completion (api/routes/tasks.ts).
        const stored = row.view;
        const same = key !== undefined && stored.status === 'withdrawn' && sameWithdrawal(stored, actor, body.reason);
        if (same && isWorkflowGone(err) && (await runPurged(deps.temporal, caseWorkflowId(row.id)))) return stored;
        throw err;
      });
      // A repeated key gets the first request's answer: it must be this request's withdrawal.
      if (key !== undefined && !sameWithdrawal(view, actor, body.reason)) throw keyReusedWithAnotherBody();
      res.status(202).json(view);
    })
    .all(methodNotAllowed(['POST']));

  r.route('/cases/:id/evidence')
    .post(async (req, res) => {
      const actor = actorOf(req);
      const row = await caseForAction(deps, actor, req.params.id, ['case_lead']);
      const body = parseOr422(AddEvidenceSchema, bodyOf(req));
      const key = idempotencyKeyOf(req.headersDistinct['idempotency-key']);
      // An amendment an open case already holds whole (one sent again after a lost answer, with or without a key) adds
      // nothing: answered from the stored case, without an update that would count against the case's amendments and
      // write an empty evidence.added entry. The workflow writes the stored case before it answers an amendment.
      if (!isClosedStatus(row.view.status) && !row.view.withdrawal && holdsAmendment(row.view, body)) {
        res.status(200).json(row.view);
        return;
      }
      const view = await withTemporalDeadline(deps.temporal, () =>
        deps.temporal.workflow
          .getHandle(caseWorkflowId(row.id))
          .executeUpdate(addEvidenceUpdate, { args: [{ evidence: body.evidence, urls: body.urls, ...(body.hosting.length > 0 ? { hosting: body.hosting } : {}), actor }], updateId: updateIdFor('evidence', row.id, actor, key) }),
      ).catch(async (err: unknown) => {
        // A keyed retry of an amendment that took effect, made after Temporal dropped the closed run (its retention): the
        // stored case answers it when it holds the amendment whole, as for a withdrawal or a task completion.
        if (key !== undefined && holdsAmendment(row.view, body) && isWorkflowGone(err) && (await runPurged(deps.temporal, caseWorkflowId(row.id)))) return row.view;
        throw err;
      });
      // A repeated key gets the first request's answer: the case must hold what this request adds, or it was another body.
      if (key !== undefined && !holdsAmendment(view, body)) throw keyReusedWithAnotherBody();
      res.status(200).json(view);
    })
    .all(methodNotAllowed(['POST']));

  return r;
}
