// Tasks: inboxes from the projection, reads, and completion as a workflow update (the workflow's validator is the authority).
import { Router } from 'express';
import canonicalize from 'canonicalize';
import { requestDocumentOfTask } from '../../db/queries/documents';
import { taskById, taskWithFacts, type InboxPage } from '../../db/queries/tasks';
import { ProblemError, type ProblemKind } from '../../domain/errors';
import { caseWorkflowId } from '../../domain/ids';
import { checkActor, checkOutcome, completionDataInUtc, mayActOn, type RuleViolation } from '../../domain/rules/tasks';
import { CompleteTaskSchema, TaskListQuerySchema } from '../../domain/schemas';
import { PARTNER_TASK_TYPES, type Actor, type Task } from '../../domain/types';
import { countInboxRead } from '../../telemetry/metrics';
import { completeTaskUpdate } from '../../workflows/messages';
import type { ApiDeps } from '../app';
import { decodeCursor, decodeDueCursor, encodeCursor, encodeDueCursor } from '../cursor';
import { DEFAULT_INBOX_CACHE_MB, InboxCache, noneMatchHits } from '../inbox-cache';
import { idempotencyKeyOf, keyReusedWithAnotherBody, updateIdFor, validIdempotencyKey } from '../idempotency';
import { TASK_ID_RE } from '../ids';
import { actorOf } from '../middleware/auth';
import { bodyOf } from '../middleware/body';
import { methodNotAllowed } from '../middleware/problem';
import { parseOr422, parseQueryOr422 } from '../middleware/validate';
import { isWorkflowGone, refusedAs, runPurged, withTemporalDeadline } from '../temporal';
import { readsCaseInFull, taskFromRow, tasksJson, type TaskRow } from '../views';

const VIOLATION_KIND: Record<RuleViolation['kind'], ProblemKind> = { not_found: 'not_found', forbidden: 'forbidden', not_open: 'conflict', invalid: 'validation' };

async function loadTask(deps: ApiDeps, taskId: string): Promise<TaskRow | undefined> {
  return TASK_ID_RE.test(taskId) ? taskById(deps.pool, taskId) : undefined;
}

async function loadTaskWithFacts(deps: ApiDeps, taskId: string): ReturnType<typeof taskWithFacts> {
  return TASK_ID_RE.test(taskId) ? taskWithFacts(deps.pool, taskId) : undefined;
}

/** Whether a completed task records exactly this principal's completion (outcome, data, comment). */
function sameCompletion(done: Task, actor: Actor, c: { outcome: string; data?: Record<string, unknown>; comment?: string }): boolean {
  return done.completedBy?.id === actor.id && done.outcome === c.outcome && canonicalize(done.data ?? {}) === canonicalize(c.data ?? {}) && (done.comment ?? null) === (c.comment ?? null);
}

function visibleTo(actor: Actor, row: TaskRow): boolean {
  return mayActOn(actor, { assignee: { org: row.assigneeOrg, role: row.assigneeRole as Task['assignee']['role'] }, roles: row.roles as Task['roles'] }) || readsCaseInFull(actor, row.caseOrg);
}

/** The task as the caller may read it (GET /v1/tasks/:id and what hangs off it): 404 unknown, 403 not the caller's to read. */
async function readableTask(deps: ApiDeps, actor: Actor, taskId: string): Promise<TaskRow> {
  const row = await loadTask(deps, taskId);
  if (!row) throw new ProblemError('not_found', 'no such task');
  if (!visibleTo(actor, row)) throw new ProblemError('forbidden', "only the task's assignee and the case's org read it");
  return row;
}

const REQUEST_TASK_TYPES: ReadonlySet<string> = new Set(PARTNER_TASK_TYPES);

/** Why a reader of the task may not read its request document, or null when it may. */
function requestDocumentRefusal(actor: Actor, row: TaskRow): string | null {
  // Auditors and the case org's case leads read every document of a case already (GET /v1/cases/:id/documents).
  if (actor.roles.includes('auditor') || (actor.org === row.caseOrg && actor.roles.includes('case_lead'))) return null;
  const partner = row.assigneeRole === 'partner' && actor.org === row.assigneeOrg && actor.roles.includes('partner');
  if (!partner) return "a task's request document is read by the partner org it asks, the case's case leads and auditors";
  // While the task is open, and after the partner org completed it: what it was asked is the record of what it acted on
  // (a partner with a webhook keeps the notice it was sent), and a host's re-notice after `removed` comes on a completed
  // task. Not once the task was cancelled: the request was withdrawn, and a partner holds no task on the case any more.
  if (row.status === 'open' || (row.status === 'completed' && row.completedByOrg === row.assigneeOrg)) return null;
  return 'the request on this task was withdrawn (the task is cancelled): its document is no longer read by the partner';
}

/** The problem for a rule the completion breaks, if any. */
function refuseOn(violation: RuleViolation | null, task: Task): void {
  if (!violation) return;
  if (violation.kind === 'not_open') throw new ProblemError('conflict', `task no longer open (${task.status})`);
  throw new ProblemError(VIOLATION_KIND[violation.kind], violation.detail, violation.kind === 'invalid' ? violation.errors : undefined);
}

export function tasksRouter(deps: ApiDeps): Router {
  const r = Router();
  const inbox = new InboxCache((deps.inboxCacheMb ?? DEFAULT_INBOX_CACHE_MB) * 1024 * 1024);

  r.route('/tasks')
    .get(async (req, res) => {
      const actor = actorOf(req);
      const q = parseQueryOr422(TaskListQuerySchema, req.query);
      const due = q.sort === 'due';
      const cursor = due ? decodeDueCursor(q.cursor) : decodeCursor(q.cursor);
      const after = cursor && { at: 'dueAt' in cursor ? cursor.dueAt : cursor.createdAt, id: cursor.id };
      // The inbox: tasks of the caller's org that one of its roles may act on, oldest first (or soonest deadline first).
      // PostgreSQL writes each task's JSON, so the page is joined here, never parsed and serialised again; the bytes are
      // kept and sent again while the org's tasks are unchanged (api/inbox-cache.ts).
      const filter = { org: actor.org, roles: actor.roles, status: q.status, caseId: q.caseId, type: q.type, sort: q.sort, after, limit: q.limit };
      const render = (page: InboxPage) => {
        const nextCursor = !page.last ? null : due ? encodeDueCursor(page.last.dueAt, page.last.id) : encodeCursor(page.last.createdAt, page.last.id);
        return `{"items":${tasksJson(page.items)},"nextCursor":${JSON.stringify(nextCursor)}}`;
      };
      const answer = await inbox.answer(deps.pool, filter, render);
      // Conditional polling: the same bytes as the caller's copy are not sent again. Express's own ETags stay off.
      res.setHeader('ETag', answer.etag);
      if (noneMatchHits(req.get('if-none-match'), answer.etag)) {
        countInboxRead(answer.cache, 304);
        res.status(304).end();
        return;
      }
      countInboxRead(answer.cache, 200);
      res.type('json').send(answer.body);
    })
    .all(methodNotAllowed(['GET']));

  r.route('/tasks/:id')
    .get(async (req, res) => {
      const row = await readableTask(deps, actorOf(req), req.params.id);
      res.type('json').send(row.doc);
    })
    .all(methodNotAllowed(['GET']));

  // An extension: the formal request a partner task asks, as the notice's `document` carries it. Above all for partner
  // orgs without a webhook, which are sent no notice: their requests are prepared and stored all the same (stored
  // `skipped`, activities/notices.ts), and this is where they read what their task needs of the merchant.
  r.route('/tasks/:id/document')
    .get(async (req, res) => {
      const actor = actorOf(req);
      // Whoever may not read the task is answered as GET /v1/tasks/:id answers it, and learns nothing more here.
      const row = await readableTask(deps, actor, req.params.id);
      if (!REQUEST_TASK_TYPES.has(row.type)) {
        throw new ProblemError('not_found', `a ${row.type} task has no document: only partner tasks (${[...REQUEST_TASK_TYPES].join(', ')}) carry a formal request`);
      }
      const refusal = requestDocumentRefusal(actor, row);
      if (refusal) throw new ProblemError('forbidden', refusal);
      const doc = await requestDocumentOfTask(deps.pool, row.caseId, row.id);
      // The workflow opens the task first and prepares its request moments later (workflows/steps/partner-request.ts):
      // an inbox poll can find the task before its document, which a later read then finds.
      if (!doc) throw new ProblemError('not_found', 'the request for this task has not been prepared yet; ask again shortly');
      res.json(doc);
    })
    .all(methodNotAllowed(['GET']));

  r.route('/tasks/:id/complete')
    .post(async (req, res) => {
      const actor = actorOf(req);
      const keyHeader = req.headersDistinct['idempotency-key'];
      const found = await loadTaskWithFacts(deps, req.params.id);
      if (!found) throw new ProblemError('not_found', 'no such task');
      const { row, facts } = found;
      const task = taskFromRow(row);
      // Early answers from the projection; a retry carrying the same Idempotency-Key goes to the workflow even when the
      // projection already shows the task done, because Temporal answers a repeated update id with the first result.
      const retryOfDone = validIdempotencyKey(keyHeader) !== undefined && task.status !== 'open' && mayActOn(actor, task);
      // Who may complete the task is settled before the body is read: a caller without the right gets 403 (or 409 for a
      // task no longer open), never the body's validation errors.
      if (!retryOfDone) refuseOn(checkActor(task, actor, { taskId: task.id }, facts), task);
      // A malformed key is a 422 too, so it comes after the 404, 409 and 403 (the contract's order), before the body's.
      const key = idempotencyKeyOf(keyHeader);
      const body = parseOr422(CompleteTaskSchema, bodyOf(req));
      const completion = { taskId: task.id, outcome: body.outcome, data: completionDataInUtc(body.data), ...(body.comment !== undefined ? { comment: body.comment } : {}) };
      if (!retryOfDone) refuseOn(checkOutcome(task, completion), task);
      try {
        const done = await withTemporalDeadline(deps.temporal, () =>
          deps.temporal.workflow
            .getHandle(caseWorkflowId(row.caseId))
            .executeUpdate(completeTaskUpdate, { args: [{ completion, actor }], updateId: updateIdFor('complete', task.id, actor, key) }),
        );
        // A repeated key gets the first request's answer: it must be this request's completion, not another body's.
        if (key !== undefined && !sameCompletion(done, actor, completion)) throw keyReusedWithAnotherBody();
        res.status(200).json(done);
      } catch (err) {
        // A task the projection holds open but the case's workflow does not know: a stray that a workflow task attempt
        // which never completed wrote (its rerun decided otherwise). It takes no completion and is closed with the case;
        // "no such task" would contradict GET /v1/tasks/:id, which shows it.
        if (refusedAs(err, 'TaskNotFound')) throw new ProblemError('conflict', 'task no longer open: the case’s workflow does not hold it (left by an interrupted workflow task); it is closed with the case');
        if (!isWorkflowGone(err)) throw err;
        // A retry whose first attempt completed the task, made after Temporal dropped the closed run (its retention):
        // Temporal can no longer answer the update id, the projection can. Only the run gone for good counts; a
        // closed run still kept answers a repeated update id itself, and refuses a new one (the task is not open).
        if (retryOfDone && task.status === 'completed' && sameCompletion(task, actor, completion) && (await runPurged(deps.temporal, caseWorkflowId(row.caseId)))) {
          res.status(200).json(task);
          return;
        }
        // A closed workflow cannot take completions: for the caller the task is simply no longer open.
        throw new ProblemError('conflict', 'task no longer open: the case is closed');
      }
    })
    .all(methodNotAllowed(['POST']));

  return r;
}
