// Termination, asset freeze and hosting notices: every partner request runs in parallel, each step closes with its tasks.
import { CancellationScope } from '@temporalio/workflow';
import { partnerRequests, type PartnerRequest } from '../../domain/rules/plan';
import type { StepStatus, Task } from '../../domain/types';
import type { CaseState } from '../case-state';
import { partnerTaskSpec, runPartnerRequest, type RequestResult } from './partner-request';

const DISRUPTION_STEPS = ['termination', 'freeze', 'hosting'] as const;

function stepStatus(results: RequestResult[]): StepStatus {
  if (results.includes('declined')) return 'declined';
  if (results.includes('skipped')) return 'skipped';
  return 'done';
}

const skipReason = (state: CaseState, step: (typeof DISRUPTION_STEPS)[number]) =>
  step === 'freeze' && !state.view.plan.freezeAssets ? 'not requested by the plan' : 'nothing to send';

export async function runDisruption(state: CaseState): Promise<void> {
  if (state.batched) return runBatched(state);
  await state.setStatus('disrupting');
  const requests = partnerRequests({ merchant: state.view.merchant, plan: state.view.plan });
  await Promise.all(
    DISRUPTION_STEPS.map(async (step) => {
      const mine: PartnerRequest[] = requests.filter((r) => r.step === step);
      if (mine.length === 0) {
        await state.finishStep(step, 'skipped', { reason: skipReason(state, step) });
        return;
      }
      // Staged: this branch opens its first task next, and that write (or an earlier one) carries it.
      await state.startStep(step, { stage: true });
      const results = await Promise.all(mine.map((r) => runPartnerRequest(state, r)));
      await state.finishStep(step, stepStatus(results), { results });
    }),
  );
}

/**
 * Batched-openings runs: the status, the steps' starts (or skips) and every partner task are written in one local
 * activity, then the requests run in parallel. An answered sign-off waits for that one write, not one per partner.
 */
async function runBatched(state: CaseState): Promise<void> {
  await state.setStatus('disrupting', [], { stage: true });
  const requests = partnerRequests({ merchant: state.view.merchant, plan: state.view.plan });
  for (const step of DISRUPTION_STEPS) {
    if (requests.some((r) => r.step === step)) await state.startStep(step, { stage: true });
    else await state.finishStep(step, 'skipped', { reason: skipReason(state, step) }, { stage: true });
  }
  const tasks = await state.openTaskBatch(requests.map((r) => partnerTaskSpec(state, r)));
  const mineOf = (step: (typeof DISRUPTION_STEPS)[number]) => requests.flatMap((r, i) => (r.step === step ? [{ r, task: tasks[i] }] : []));
  if (state.stopsSiblings) return runStoppable(state, mineOf);
  await Promise.all(
    DISRUPTION_STEPS.map(async (step) => {
      const mine = mineOf(step);
      if (mine.length === 0) return;
      const results = await Promise.all(mine.map(({ r, task }) => runPartnerRequest(state, r, task)));
      await state.finishStep(step, stepStatus(results), { results });
    }),
  );
}

/**
 * (stop-siblings runs) The steps and their requests side by side in one scope of their own. The first failure of a
 * request or a step (the case lead aborts on an exception, an error, a withdrawal's cancellation) cancels the scope, so
 * every other request stops wherever it waits; each step waits for all its requests to end before it is finished or
 * fails, and the failure is thrown once every step has ended. The case then closes with nothing of theirs still running
 * (a timer, a URL check, a re-notice, a new exception for the case lead). One scope and one settling per step: the
 * Temporal SDK captures a stack for every promise a workflow creates, so each one costs.
 */
async function runStoppable(state: CaseState, mineOf: (step: (typeof DISRUPTION_STEPS)[number]) => { r: PartnerRequest; task: Task }[]): Promise<void> {
  const scope = new CancellationScope();
  let failure: { error: unknown } | undefined;
  const stopOnFailure = <T>(p: Promise<T>): Promise<T> =>
    p.catch((error: unknown) => {
      if (!failure) {
        failure = { error };
        scope.cancel();
      }
      throw error;
    });
  await scope.run(() =>
    Promise.allSettled(
      DISRUPTION_STEPS.map((step) =>
        stopOnFailure(
          (async () => {
            const mine = mineOf(step);
            if (mine.length === 0) return;
            const settled = await Promise.allSettled(mine.map(({ r, task }) => stopOnFailure(runPartnerRequest(state, r, task))));
            const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
            if (failed) throw failed.reason;
            const results = settled.map((s) => (s as PromiseFulfilledResult<RequestResult>).value);
            await state.finishStep(step, stepStatus(results), { results });
          })(),
        ),
      ),
    ),
  );
  if (failure) throw failure.error;
}
