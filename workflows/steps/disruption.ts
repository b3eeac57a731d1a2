// Termination, asset freeze and hosting notices: every partner request runs in parallel, each step closes with its tasks.
import { CancellationScope } from '@temporalio/workflow';
import { partnerRequests, type PartnerRequest } from '../../domain/rules/plan';
import type { StepStatus } from '../../domain/types';
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
  // Not async itself: runs before stop-siblings await Promise.all's own promise, as they always did.
  const together = <T>(branches: (() => Promise<T>)[]): Promise<T[]> => (state.stopsSiblings ? allOrStop(branches) : Promise.all(branches.map((b) => b())));
  await together(
    DISRUPTION_STEPS.map((step) => async () => {
      const mine = requests.flatMap((r, i) => (r.step === step ? [{ r, task: tasks[i] }] : []));
      if (mine.length === 0) return;
      const results = await together(mine.map(({ r, task }) => () => runPartnerRequest(state, r, task)));
      await state.finishStep(step, stepStatus(results), { results });
    }),
  );
}

/**
 * Runs branches side by side, in a scope of their own (stop-siblings runs). When one fails (the case lead aborts on its
 * exception, an error), the others are cancelled and waited for, and only then is its error thrown: the case closes
 * with nothing of theirs still running (a timer, a URL check, a re-notice, a new exception for the case lead), as a
 * withdrawal's cancellation of the case's flow stops them. Their own cancellations are not the case's ending.
 */
async function allOrStop<T>(branches: (() => Promise<T>)[]): Promise<T[]> {
  const scope = new CancellationScope();
  let failure: { error: unknown } | undefined;
  const runs = branches.map((branch) =>
    scope.run(branch).catch((error: unknown) => {
      if (!failure) {
        failure = { error };
        scope.cancel();
      }
      throw error;
    }),
  );
  const settled = await Promise.allSettled(runs);
  if (failure) throw failure.error;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
