// A deliberately non-deterministic variant of the case workflow: a timer before anything else. Replay must reject it,
// which proves the replay test can fail at all.
import { sleep } from '@temporalio/workflow';
import { caseWorkflow as realCaseWorkflow } from '../../workflows/case';
import type { CaseWorkflowInput } from '../../workflows/messages';

export { archiveHistoryWorkflow } from '../../workflows/archive';

export async function caseWorkflow(input: CaseWorkflowInput) {
  await sleep('1s');
  return realCaseWorkflow(input);
}
