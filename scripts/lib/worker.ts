// Builds the Temporal worker: the case workflows from a bundle (or bundled at start) and the activities bound to deps.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index';
import type { TemporalAuth } from './runtime';

export const WORKFLOWS_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workflows/index.ts');

export interface WorkerSetup {
  address: string;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A pre-built bundle (tests share one); without it the workflows are bundled at start. */
  workflowBundlePath?: string;
  identity?: string;
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'>>;
  /** TLS and API key for the Temporal frontend (none for the embedded dev server). */
  auth?: TemporalAuth;
  /** Worker interceptors (the benchmarks time activities with one). */
  interceptors?: WorkerOptions['interceptors'];
}

export async function createTakedownWorker(setup: WorkerSetup): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: setup.address, ...setup.auth });
  const worker = await Worker.create({
    connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    ...(setup.identity ? { identity: setup.identity } : {}),
    activities: createActivities(setup.deps),
    ...(setup.workflowBundlePath ? { workflowBundle: { codePath: setup.workflowBundlePath } } : { workflowsPath: WORKFLOWS_PATH }),
    shutdownGraceTime: '5s',
    ...setup.tuning,
    ...(setup.interceptors ? { interceptors: setup.interceptors } : {}),
  });
  return { worker, connection };
}
