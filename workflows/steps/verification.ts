// Intake checks and the analyst's verification: deconfliction review when another open case overlaps, then verify_evidence.
import { urlHost } from '../../domain/rules/plan';
import { CaseAborted, type CaseState } from '../case-state';
import { runInternalTask } from '../human-task';

/** Automatic checks before a person looks: well-formed hashes, parseable URLs, duplicates. Pure, so they live here. */
export function autoChecks(state: CaseState): Record<string, unknown> {
  const seen = new Set<string>();
  const duplicateEvidence: string[] = [];
  const malformedEvidence: string[] = [];
  for (const e of state.view.evidence) {
    if (!/^[0-9a-f]{64}$/.test(e.sha256)) malformedEvidence.push(e.sha256);
    if (seen.has(e.sha256)) duplicateEvidence.push(e.sha256);
    seen.add(e.sha256);
  }
  const { merchant } = state.view;
  const urls = [...merchant.urls, ...merchant.hosting.flatMap((h) => h.urls)];
  const unparseableUrls = urls.filter((u) => urlHost(u) === null);
  // A shop URL is listed under `urls` and again under its host, as it should be: a duplicate is a URL repeated within one
  // list, or named for two hosting providers.
  const repeated = (list: string[]) => {
    // Each occurrence after a URL's first, in order (a Set, not a search per URL: a case may name thousands).
    const seen = new Set<string>();
    return list.filter((u) => seen.has(u) || (seen.add(u), false));
  };
  const hostedTwice = repeated(merchant.hosting.flatMap((h) => [...new Set(h.urls)]));
  const duplicateUrls = [...repeated(merchant.urls), ...merchant.hosting.flatMap((h) => repeated(h.urls)), ...hostedTwice];
  return {
    evidenceItems: state.view.evidence.length,
    malformedEvidence,
    duplicateEvidence,
    unparseableUrls,
    duplicateUrls: [...new Set(duplicateUrls)],
    passed: malformedEvidence.length === 0 && unparseableUrls.length === 0,
  };
}

export async function runDeconfliction(state: CaseState): Promise<void> {
  if (state.view.deconflictedWith.length === 0) return;
  const task = await runInternalTask(state, {
    type: 'deconfliction_review',
    assignee: { org: state.view.org, role: 'le_supervisor' },
    step: 'verification',
    slaMs: state.slaMs('verification'),
    context: { overlappingCases: state.view.deconflictedWith },
  });
  if (task.outcome === 'abort') throw new CaseAborted('withdrawn', `deconfliction: ${task.comment ?? 'aborted'}`, task.completedBy);
}

export async function runVerification(state: CaseState): Promise<void> {
  // Staged (in runs that stage): the task opened below carries the step's start and the checks.
  await state.startStep('verification', { stage: true });
  await runDeconfliction(state);
  const checks = autoChecks(state);
  await state.appendAudit([state.audit('verification.checked', checks)], { stage: true });
  const task = await runInternalTask(state, {
    type: 'verify_evidence',
    assignee: { org: state.view.org, role: 'analyst' },
    step: 'verification',
    slaMs: state.slaMs('verification'),
    context: { autoChecks: checks },
  }, true);
  if (task.outcome !== 'verified') {
    await state.finishStep('verification', 'declined', { outcome: task.outcome });
    throw new CaseAborted('closed_unverified', task.comment ?? 'evidence rejected');
  }
  state.view.verifiedBy = task.completedBy?.id ?? null;
  // Staged: sign-off opens its task next, and that write carries this.
  await state.finishStep('verification', 'done', { verifiedBy: state.view.verifiedBy }, { stage: true });
}
