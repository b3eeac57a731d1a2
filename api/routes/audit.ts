// Audit: a case's hash chain and its verification, the NDJSON export, the chains' heads for anchoring, and the Temporal
// history (archived or live).
import { Router, type Request, type Response } from 'express';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { chainHeads, checkHeads, checkedArchives, exportAudit, exportRecorded, listAudit, recordedHorizon, verifyCase } from '../../db/queries/audit';
import { listDocuments, readDocument } from '../../db/queries/documents';
import { ProblemError } from '../../domain/errors';
import { caseWorkflowId } from '../../domain/ids';
import { AuditExportQuerySchema, ChainHeadsCheckSchema, ChainHeadsQuerySchema } from '../../domain/schemas';
import type { ApiDeps } from '../app';
import { DOCUMENT_ID_RE } from '../ids';
import { actorOf, requireRoles } from '../middleware/auth';
import { bodyOf } from '../middleware/body';
import { methodNotAllowed } from '../middleware/problem';
import { parseOr422, parseQueryOr422 } from '../middleware/validate';
import { isWorkflowGone, withTemporalDeadline } from '../temporal';
import { caseForAction, loadCase } from './cases';

/** A workflow continues-as-new at most a handful of times; the cap keeps a corrupt chain from looping. */
const MAX_RUNS = 100;

async function auditedCase(deps: ApiDeps, caseId: string) {
  const row = await loadCase(deps, caseId);
  if (!row) throw new ProblemError('not_found', 'no such case');
  return row;
}

/** The case whose audit trail the caller reads: auditors read every org's, a case lead only its own org's. */
async function readableAudit(deps: ApiDeps, req: Request) {
  const actor = actorOf(req);
  const id = String(req.params.id);
  return actor.roles.includes('auditor') ? auditedCase(deps, id) : caseForAction(deps, actor, id, ['case_lead']);
}

/** Waits for the client to take more (drain) or go away (close); the listener that did not fire is removed with it. */
function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

export function auditRouter(deps: ApiDeps): Router {
  const r = Router();
  const auditor = requireRoles('auditor');

  r.route('/cases/:id/audit')
    .get(async (req, res) => {
      const row = await readableAudit(deps, req);
      res.json({ caseId: row.id, entries: await listAudit(deps.pool, row.id) });
    })
    .all(methodNotAllowed(['GET']));

  // The documents partners were sent: an auditor (or the case's own case lead) can prove what each notice said.
  r.route('/cases/:id/documents')
    .get(async (req, res) => {
      const row = await readableAudit(deps, req);
      res.json({ caseId: row.id, items: await listDocuments(deps.pool, row.id) });
    })
    .all(methodNotAllowed(['GET']));

  r.route('/cases/:id/documents/:documentId')
    .get(async (req, res) => {
      const row = await readableAudit(deps, req);
      // Ids in paths as elsewhere (api/ids.ts): anything else (a NUL PostgreSQL would refuse) is simply no such document.
      const doc = DOCUMENT_ID_RE.test(req.params.documentId) ? await readDocument(deps.pool, row.id, req.params.documentId) : undefined;
      if (!doc) throw new ProblemError('not_found', 'no such document on this case');
      res.json(doc);
    })
    .all(methodNotAllowed(['GET']));

  r.route('/cases/:id/audit/verify')
    .get(auditor, async (req, res) => {
      const row = await auditedCase(deps, req.params.id);
      res.json(await verifyCase(deps.pool, row.id));
    })
    .all(methodNotAllowed(['GET']));

  r.route('/cases/:id/history')
    .get(auditor, async (req, res) => {
      const row = await auditedCase(deps, req.params.id);
      const workflowId = caseWorkflowId(row.id);
      const archived = await checkedArchives(deps.pool, row.id);
      if (archived.length > 0) {
        res.json({
          caseId: row.id,
          workflowId,
          source: 'archive',
          // sha256 is recomputed from what is served (SHA-256 of JSON.stringify(history, null, 2)), and intact says
          // whether it is still what the audit chain's history.archived entry recorded.
          runs: archived.map((a) => ({
            runId: a.runId,
            archivedAt: a.archivedAt.toISOString(),
            sha256: a.sha256,
            recordedSha256: a.recorded?.sha256 ?? null,
            intact: a.intact,
            history: JSON.parse(a.history),
          })),
        });
        return;
      }
      // Live: walk the continue-as-new chain backwards from the latest run, then answer oldest first.
      const runs: { runId: string; history: unknown }[] = [];
      try {
        let runId: string | undefined = (await withTemporalDeadline(deps.temporal, () => deps.temporal.workflow.getHandle(workflowId).describe())).runId;
        for (let i = 0; i < MAX_RUNS && runId; i++) {
          const handle = deps.temporal.workflow.getHandle(workflowId, runId);
          const history: History = await withTemporalDeadline(deps.temporal, () => handle.fetchHistory());
          runs.unshift({ runId, history: JSON.parse(historyToJSON(history)) });
          runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
        }
      } catch (err) {
        if (isWorkflowGone(err)) throw new ProblemError('not_found', 'the history is neither archived nor still held by Temporal');
        throw err;
      }
      res.json({ caseId: row.id, workflowId, source: 'temporal', runs });
    })
    .all(methodNotAllowed(['GET']));

  // Every chain's newest entry, paged by case id. Kept outside Takedown (a file, a notary, a court's record), they let
  // /audit/heads/check prove later that no chain was rewritten or cut since, which verify alone cannot: a chain rewritten
  // whole, every hash recomputed, verifies.
  r.route('/audit/heads')
    .get(auditor, async (req, res) => {
      const q = parseQueryOr422(ChainHeadsQuerySchema, req.query);
      // Taken before the read, whose snapshot comes after it: every entry committed before `at` is at or behind one of
      // these heads (an entry's own `at`, or when it was recorded, may be earlier than a commit that came after the read).
      const at = new Date().toISOString();
      const heads = await chainHeads(deps.pool, q);
      res.json({ at, heads, next: heads.length === q.limit ? heads[heads.length - 1].caseId : null });
    })
    .all(methodNotAllowed(['GET']));

  r.route('/audit/heads/check')
    .post(auditor, async (req, res) => {
      const { heads } = parseOr422(ChainHeadsCheckSchema, bodyOf(req));
      res.json(await checkHeads(deps.pool, heads));
    })
    .all(methodNotAllowed(['POST']));

  r.route('/audit/export')
    .get(auditor, async (req, res) => {
      const q = parseQueryOr422(AuditExportQuerySchema, req.query);
      let entries: AsyncGenerator<object>;
      if (q.since === undefined) {
        entries = exportAudit(deps.pool, q);
      } else {
        // Incremental: everything written from `since` up to a horizon no later write can fall behind; the horizon is
        // the next call's `since`. A header goes before the body, so a client takes it from an answer it read whole.
        const since = q.since === 'beginning' ? '-infinity' : q.since;
        const before = await recordedHorizon(deps.pool, since);
        res.setHeader('Audit-Recorded-Before', before === '-infinity' ? 'beginning' : before);
        entries = exportRecorded(deps.pool, since, before);
      }
      // The first batch is read before any byte is sent, so a database failure can still become a proper problem response.
      let next = await entries.next();
      res.status(200).type('application/x-ndjson');
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      // HEAD gets GET's status and headers, which the first batch settled; the rest is not read, since res.write drops a
      // HEAD's body without ever pushing back and the whole export would be paged through for nothing.
      const head = req.method === 'HEAD';
      try {
        while (!head && !next.done && !closed) {
          if (!res.write(`${JSON.stringify(next.value)}\n`)) {
            // Backpressure: wait for the client to drain (or go away) before reading more rows.
            await drainedOrClosed(res);
          }
          next = await entries.next();
        }
      } finally {
        await entries.return(undefined);
      }
      res.end();
    })
    .all(methodNotAllowed(['GET']));

  return r;
}
