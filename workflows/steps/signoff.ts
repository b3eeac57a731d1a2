// Law-enforcement sign-off (four eyes, escalation to a supervisor) and the optional coordinated action day.
import { sleep } from '@temporalio/workflow';
import { CaseAborted, type CaseState } from '../case-state';
import { runInternalTask } from '../human-task';

export async function runSignoff(state: CaseState): Promise<void> {
  // Staged: the sign-off task's write carries the status and the step's start.
  await state.setStatus('awaiting_signoff', [], { stage: true });
  await state.startStep('signoff', { stage: true });
  const task = await runInternalTask(state, {
    type: 'le_signoff',
    assignee: { org: state.view.org, role: 'le_officer' },
    step: 'signoff',
    slaMs: state.slaMs('signoff'),
    context: { verifiedBy: state.view.verifiedBy },
  }, true);
  if (task.outcome !== 'approved') {
    await state.finishStep('signoff', 'declined', { outcome: task.outcome });
    throw new CaseAborted('closed_rejected', task.comment ?? 'sign-off rejected');
  }
  state.view.signedOffBy = task.completedBy?.id ?? null;
  const actionDate = typeof task.data?.actionDate === 'string' ? task.data.actionDate : null;
  state.view.actionDate = actionDate;
  // Staged: carried by the action-day audit, or else by the disruption's status write, before any notice.
  await state.finishStep('signoff', 'done', { signedOffBy: state.view.signedOffBy, actionDate }, { stage: true });
  const waitMs = actionDate ? Date.parse(actionDate) - Date.now() : 0;
  if (waitMs > 0) {
    await state.appendAudit([state.audit('action_day.waiting', { actionDate })]);
    // A durable timer: a coordinated action day survives restarts; withdrawal cancels it.
    await sleep(waitMs, { summary: `action day: ${actionDate}` });
  }
}
