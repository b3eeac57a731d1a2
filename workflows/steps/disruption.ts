// Termination, asset freeze and hosting notices: every partner request runs in parallel, each step closes with its tasks.
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
  await Promise.all(
    DISRUPTION_STEPS.map(async (step) => {
      const mine = requests.flatMap((r, i) => (r.step === step ? [{ r, task: tasks[i] }] : []));
      if (mine.length === 0) return;
      const results = await Promise.all(mine.map(({ r, task }) => runPartnerRequest(state, r, task)));
      await state.finishStep(step, stepStatus(results), { results });
    }),
  );
}
