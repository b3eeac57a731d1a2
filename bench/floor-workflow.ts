// The floor: a bare workflow with the takedown case's counts of activities (local and regular), updates, timers and children, doing nothing else.
// Bundled on its own (bench/lib/env.ts); its activities are no-ops (bench/lib/floor-activities.ts).
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { FloorActivities, ReadyNotice } from './lib/floor-activities';

/**
 * Activities as a sequence: `R` a (regular) activity, `L` a local activity, in the order the case runs them.
 * Local activities run inside the workflow task, regular ones go through the server's task queue.
 */
export type Acts = string;

/** The shape, counted at run time from a real case's history (bench/lib/shape.ts). */
export interface FloorShape {
  /** Before the intake update answers (the case's intake writes). */
  intake: Acts;
  /** People's tasks, one after the other: activities before each wait (opening the task), then timers during it. */
  sequential: { acts: Acts; timers: number }[];
  /** Partner tasks, in parallel branches: activities before the wait, timers during it. */
  parallel: { acts: Acts; timers: number }[];
  /** After the last completion: the branches' tails, step bookkeeping, closing. */
  tail: Acts;
  /**
   * What each wait's completion handler runs, by wait index (sequential waits first): the case records the task there,
   * unless the flow waiting for it carries that write (then nothing).
   */
  handlers: Acts[];
  /** Child workflows started at close (abandoned), and what each runs. */
  children: number;
  child: Acts;
}

export interface StepArgs {
  /** Which wait this completes: sequential ones first, then the parallel ones. */
  index: number;
  /** Skip the handler's activities: a bare update. */
  bare?: boolean;
}

export const floorIntake = defineUpdate<{ ok: true }, []>('intake');
export const floorStep = defineUpdate<{ index: number }, [StepArgs]>('step');
/** Which waits are open: the benchmark asks before timing updates on a workflow that must already be waiting. */
export const floorOpenQuery = defineQuery<number[]>('open');

// The same timeouts and retry policies as the case's proxies (workflows/activities.ts).
const { noop } = proxyActivities<FloorActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});
const local = proxyLocalActivities<FloorActivities>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Runs the activities in order; with `ready`, the last one tells the driver that this wait is about to open. */
async function run(acts: Acts, ready?: ReadyNotice): Promise<void> {
  for (let i = 0; i < acts.length; i++) {
    const arg = ready && i === acts.length - 1 ? ready : undefined;
    await (acts[i] === 'L' ? local.noop(arg) : noop(arg));
  }
}

export async function floorWorkflow(shape: FloorShape): Promise<{ ok: true }> {
  const waits = shape.sequential.length + shape.parallel.length;
  const open = new Set<number>();
  const done = new Set<number>();
  let intakeDone = false;

  setHandler(floorOpenQuery, () => [...open].filter((i) => !done.has(i)));
  setHandler(floorIntake, async () => {
    await condition(() => intakeDone);
    return { ok: true as const };
  });
  setHandler(
    floorStep,
    async ({ index, bare }: StepArgs) => {
      // Like a task completion: the task must exist (the wait is open) before it can be completed.
      await condition(() => open.has(index));
      if (!bare) await run(shape.handlers[index] ?? '');
      done.add(index);
      return { index };
    },
    {
      validator: ({ index }: StepArgs) => {
        if (!Number.isInteger(index) || index < 0 || index >= waits) throw ApplicationFailure.nonRetryable(`no wait ${index}`, 'NoSuchWait');
        if (done.has(index)) throw ApplicationFailure.nonRetryable(`wait ${index} already done`, 'AlreadyDone');
      },
    },
  );

  const waitFor = async (index: number, timers: number) => {
    open.add(index);
    // Each timer is a deadline that never fires (as the case's SLA timers): started, then cancelled by the completion.
    if (timers === 0) await condition(() => done.has(index));
    else await Promise.all(Array.from({ length: timers }, (_, j) => condition(() => done.has(index), `${48 + j}h`)));
  };

  const { workflowId } = workflowInfo();
  await run(shape.intake);
  intakeDone = true;
  let index = 0;
  // The wait (and its deadline timers) opens before the activities that make the task known run, as in the case: its
  // partner branches start the SLA timer, then deliver the notice, so the completion always lands in a later workflow task.
  const step = async (i: number, acts: Acts, timers: number) => {
    const wait = waitFor(i, timers);
    await run(acts, { workflowId, index: i });
    await wait;
  };
  for (const s of shape.sequential) await step(index++, s.acts, s.timers);
  const first = index;
  await Promise.all(shape.parallel.map((p, i) => step(first + i, p.acts, p.timers)));
  await run(shape.tail);
  for (let c = 0; c < shape.children; c++) {
    await startChild(floorChildWorkflow, {
      workflowId: `${workflowId}-child-${c}`,
      args: [shape.child],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }
  await condition(allHandlersFinished);
  return { ok: true };
}

export async function floorChildWorkflow(acts: Acts): Promise<void> {
  await run(acts);
}
