// Termination, asset freeze and hosting notices: every partner request runs in parallel, each step closes with its tasks.
import { partnerRequests, type PartnerRequest } from '../../domain/rules/plan';
import type { StepStatus } from '../../domain/types';
import type { CaseState } from '../case-state';
import { runPartnerRequest, type RequestResult } from './partner-request';

const DISRUPTION_STEPS = ['termination', 'freeze', 'hosting'] as const;

function stepStatus(results: RequestResult[]): StepStatus {
  if (results.includes('declined')) return 'declined';
  if (results.includes('skipped')) return 'skipped';
  return 'done';
}

export async function runDisruption(state: CaseState): Promise<void> {
  await state.setStatus('disrupting');
  const requests = partnerRequests({ merchant: state.view.merchant, plan: state.view.plan });
  await Promise.all(
    DISRUPTION_STEPS.map(async (step) => {
      const mine: PartnerRequest[] = requests.filter((r) => r.step === step);
      if (mine.length === 0) {
        const reason = step === 'freeze' && !state.view.plan.freezeAssets ? 'not requested by the plan' : 'nothing to send';
        await state.finishStep(step, 'skipped', { reason });
        return;
      }
      // Staged: this branch opens its first task next, and that write (or an earlier one) carries it.
      await state.startStep(step, { stage: true });
      const results = await Promise.all(mine.map((r) => runPartnerRequest(state, r)));
      await state.finishStep(step, stepStatus(results), { results });
    }),
  );
}
