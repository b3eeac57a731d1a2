// Archives a closed case workflow's event history in PostgreSQL and records the archive's hash in the audit chain; then
// settles what the ended run left pending.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { auditAppendStatement, historyHash } from '../db/queries/audit';
import { prepared } from '../db/client';
import { settleNotices } from './notices';
import type { ArchiveArgs } from './types';

export async function archiveHistory(pool: pg.Pool, client: Client, { caseId, workflowId }: ArchiveArgs): Promise<{ hash: string; runs: number }> {
  const handle = client.workflow.getHandle(workflowId);
  // The archive starts while its case is closing: wait here a few seconds for the close (so the usual case needs one
  // attempt, not a failed one and a retry), then fall back to Temporal's retries.
  let desc = await handle.describe();
  for (let waited = 0; desc.status.name === 'RUNNING' && waited < 10_000; waited += 250) {
    Context.current().heartbeat();
    await Context.current().sleep(250);
    desc = await handle.describe();
  }
  if (desc.status.name === 'RUNNING') {
    // Retryable: the archive waits for the run to close so it holds the complete history.
    throw ApplicationFailure.retryable(`case workflow ${workflowId} is still running`, 'StillRunning');
  }
  const history = await handle.fetchHistory();
  const json = historyToJSON(history);
  const hash = historyHash(json);
  const events = history.events?.length ?? 0;
  // The archive and its audit entry in one statement (atomic, one round trip); a repeated archive of the same run
  // inserts nothing and the audit key is already there.
  const append = auditAppendStatement(caseId, [
    { key: `history.archived:${desc.runId}`, action: 'history.archived', actor: null, data: { workflowId, runId: desc.runId, events, sha256: hash } },
  ], 6);
  await pool.query(
    prepared(
      `WITH archived AS (
         INSERT INTO history_archives (case_id, run_id, workflow_id, hash, history) VALUES ($1,$2,$3,$4,$5) ON CONFLICT (case_id, run_id) DO NOTHING)
       ${append.sql}`,
      [caseId, desc.runId, workflowId, hash, json, ...append.params],
    ),
  );
  // Nothing sends a notice once its case's run has ended. One still pending here was stored after the close's settle, by
  // a prepare that outlived its cancellation; settled now, so that no row claims a delivery under way.
  await settleNotices(pool, { caseId, reason: 'the case ended before the notice was sent', round: 3 });
  return { hash, runs: 1 };
}
