// A per-test-file stack on the shared servers: a fresh database, a Temporal client, and a worker on its own task queue.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { caseWorkflowId } from '../../domain/ids';
import type { Actor, CaseInput, CaseView, Task } from '../../domain/types';
import { completeTaskUpdate, intakeUpdate, type CaseWorkflowInput } from '../../workflows/messages';
import { caseSearchAttributes } from '../../workflows/search-attributes';
import { createTakedownWorker } from '../../scripts/lib/worker';
import { freshDatabase, type TestDb } from './db';

export interface WorkflowStack {
  db: TestDb;
  client: Client;
  connection: Connection;
  taskQueue: string;
  namespace: string;
  address: string;
  worker: Worker;
  /** Starts another worker on the same task queue (restart tests); `noticeTimeoutMs` for its notices (default 3 s). */
  startWorker(opts?: { noticeTimeoutMs?: number }): Promise<{ worker: Worker; run: Promise<void>; stop(): Promise<void> }>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

import { HISTORIES_DIR } from './histories';

export { HISTORIES_DIR };

let runtimeInstalled = false;
/** Workers log errors only in tests (TEST_WORKER_LOGS=1 for more): their lines drown the test output. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    const level = process.env.TEST_WORKER_LOGS ? 'INFO' : 'ERROR';
    Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } } });
  } catch {
    // Already installed by another helper in this process.
  }
}

export async function startWorkflowStack(label: string): Promise<WorkflowStack> {
  quietRuntime();
  const db = await freshDatabase(label);
  const address = inject('temporalAddress');
  const namespace = 'default';
  const taskQueue = `tq-${label}-${randomBytes(4).toString('hex')}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const startWorker = async (opts: { noticeTimeoutMs?: number } = {}) => {
    const { worker, connection: wc } = await createTakedownWorker({
      address,
      namespace,
      taskQueue,
      workflowBundlePath: inject('workflowBundlePath'),
      deps: {
        pool: db.pool,
        temporal: client,
        notices: { timeoutMs: opts.noticeTimeoutMs ?? 3_000, allowPrivate: true },
        urlChecks: { timeoutMs: 2_000, allowPrivate: true },
      },
    });
    const run = worker.run();
    return {
      worker,
      run,
      stop: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await run.catch(() => {});
        await wc.close();
      },
    };
  };
  let current = await startWorker();
  return {
    db,
    client,
    connection,
    taskQueue,
    namespace,
    address,
    get worker() {
      return current.worker;
    },
    startWorker: async (opts?: { noticeTimeoutMs?: number }) => {
      current = await startWorker(opts);
      return current;
    },
    stopWorker: () => current.stop(),
    stop: async () => {
      await current.stop();
      await connection.close();
      await db.close();
    },
  };
}

let seq = 0;
export function newCaseId(): string {
  seq += 1;
  return `case_${randomBytes(8).toString('hex')}${seq}`;
}

export const actors = {
  lead: { id: 'p_lead', org: 'ceop', roles: ['case_lead'] } as Actor,
  analyst: { id: 'p_analyst', org: 'ceop', roles: ['analyst'] } as Actor,
  officer: { id: 'p_officer', org: 'ceop', roles: ['le_officer'] } as Actor,
  supervisor: { id: 'p_super', org: 'ceop', roles: ['le_supervisor'] } as Actor,
  partner: (org: string): Actor => ({ id: `p_${org}`, org, roles: ['partner'] }),
};


/**
 * Starts a case the way the API does: update-with-start with the case's search attributes, answering once intake is
 * recorded. `searchAttributes: false` starts it without them, as clients before the API set them all did.
 */
export async function startCase(
  stack: WorkflowStack,
  input: CaseInput,
  createdBy: Actor = actors.lead,
  caseId = newCaseId(),
  opts: { searchAttributes?: boolean } = {},
): Promise<CaseView> {
  const args: CaseWorkflowInput = { caseId, org: createdBy.org, createdBy, receivedAt: new Date().toISOString(), input };
  return stack.client.workflow.executeUpdateWithStart(intakeUpdate, {
    startWorkflowOperation: new WithStartWorkflowOperation('caseWorkflow', {
      workflowId: caseWorkflowId(caseId),
      taskQueue: stack.taskQueue,
      args: [args],
      workflowIdConflictPolicy: 'USE_EXISTING',
      ...(opts.searchAttributes === false ? {} : { typedSearchAttributes: caseSearchAttributes({ ...input, status: 'verifying' }) }),
    }),
  });
}

export async function tasksOf(stack: WorkflowStack, caseId: string): Promise<Task[]> {
  const { rows } = await stack.db.pool.query(`SELECT id, type, status, assignee_org, outcome FROM tasks WHERE case_id = $1 ORDER BY created_at, id`, [caseId]);
  return rows.map((r) => ({ id: r.id, type: r.type, status: r.status, assignee: { org: r.assignee_org }, outcome: r.outcome }) as unknown as Task);
}

/** Polls the task projection until a task of this type (and org) is open; fails with what it saw. */
export async function waitForTask(stack: WorkflowStack, caseId: string, type: string, org?: string, timeoutMs = 30_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  let seen: Task[] = [];
  while (Date.now() < deadline) {
    seen = await tasksOf(stack, caseId);
    const t = seen.find((x) => x.type === type && x.status === 'open' && (!org || x.assignee.org === org));
    if (t) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no open ${type}${org ? ` for ${org}` : ''} on ${caseId}; tasks: ${JSON.stringify(seen)}`);
}

export async function complete(stack: WorkflowStack, caseId: string, taskId: string, actor: Actor, outcome: string, data: Record<string, unknown> = {}, comment?: string): Promise<Task> {
  return stack.client.workflow.getHandle(caseWorkflowId(caseId)).executeUpdate(completeTaskUpdate, {
    args: [{ completion: { taskId, outcome, data, comment }, actor }],
  });
}

/**
 * Waits for the case to end. With RECORD_HISTORIES=<set> (e.g. `v2-settle-notices`) and a name, writes its history to
 * test/histories/<set>/<name>.json: every set is replayed by test/workflow/replay.test.ts, old sets are never rewritten.
 */
export async function waitForCaseEnd(stack: WorkflowStack, caseId: string, name?: string): Promise<CaseView> {
  const handle = stack.client.workflow.getHandle(caseWorkflowId(caseId));
  const view = await handle.result();
  const set = process.env.RECORD_HISTORIES;
  if (name && set) {
    const dir = path.join(HISTORIES_DIR, set.replace(/[^a-z0-9-]/gi, ''));
    mkdirSync(dir, { recursive: true });
    const history = await handle.fetchHistory();
    writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
  }
  return view;
}
