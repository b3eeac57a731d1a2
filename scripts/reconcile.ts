// `npm run reconcile [-- --apply --operator NAME] [--case ID]`: lists the open cases (DATABASE_URL) whose workflow is not
// running in Temporal (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE): terminated, timed out, failed, purged, paused, or completed
// while its case still reads open. Without --apply it changes nothing. With it, each case whose run ended for good is
// closed as `failed`: its open tasks cancelled, its audit chain told why and by whom, the ended run's history archived,
// and the partners that were sent a request listed to be told by hand (a missing workflow only when named with --case).
// That is final: a case meant to go on is reset with the Temporal CLI instead (docs/runbook.md, section 8). Exits 1
// when a case needs a person (found without --apply, left alone, or failed), 2 on misuse.
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import { connectDb } from '../db/client';
import { loadConfig } from './config';
import { connectTemporal, temporalAuthOf } from './lib/runtime';
import { reconcile, type Finding } from './lib/reconcile';

const USAGE = 'usage: npm run reconcile -- [--apply --operator NAME] [--case CASE_ID]';

function line(f: Finding): string {
  const what =
    f.action === 'closed'
      ? `closed as failed, ${f.openTasks} open task(s) cancelled`
      : f.action === 'error'
        ? `not closed: ${f.detail}`
        : f.detail
          ? f.detail
          : f.state === 'completed'
            ? 'workflow completed but the case reads open: left alone, look at its history'
            : f.state === 'other'
              ? 'workflow neither running nor ended (paused?): left alone'
              : f.state === 'missing'
                ? 'no such workflow here: check TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE; --apply closes it only when named with --case'
                : `would be closed as failed with --apply (${f.openTasks} open task(s))`;
  const tell = f.partners.length > 0 ? `; partners sent a request, to be told by hand: ${f.partners.join(', ')}` : '';
  return `${f.caseId}  ${f.reference}  workflow ${f.state}${f.runId ? ` (run ${f.runId})` : ''}: ${what}${tell}`;
}

async function main(): Promise<number> {
  let values: { apply?: boolean; operator?: string; case?: string };
  try {
    ({ values } = parseArgs({ options: { apply: { type: 'boolean' }, operator: { type: 'string' }, case: { type: 'string' } } }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  if (!config.databaseUrl || !config.temporalAddress) {
    console.error(`reconcile needs DATABASE_URL and TEMPORAL_ADDRESS of the system to look at.\n${USAGE}`);
    return 2;
  }
  if (values.apply && !values.operator?.trim()) {
    console.error(`--apply needs --operator: who closes these cases, recorded in their audit entries.\n${USAGE}`);
    return 2;
  }
  const db = connectDb(config.databaseUrl, { max: 4, applicationName: 'takedown-reconcile' });
  const connection = await connectTemporal(config.temporalAddress, temporalAuthOf(config.temporalTls));
  try {
    const client = new Client({ connection, namespace: config.temporalNamespace });
    console.log(`open cases in the database, their workflows in namespace ${config.temporalNamespace} at ${config.temporalAddress}`);
    const findings = await reconcile({ pool: db.pool, db: db.db, client }, { apply: Boolean(values.apply), operator: values.operator, caseId: values.case, onFinding: (f) => console.log(line(f)) });
    const waiting = findings.filter((f) => f.action !== 'closed');
    console.log(`${findings.length} open case(s) whose workflow is not running; ${findings.length - waiting.length} closed, ${waiting.length} left for a person`);
    return waiting.length > 0 ? 1 : 0;
  } finally {
    await connection.close();
    await db.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`reconcile failed: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = 2;
  },
);
