// Identifier shapes: case ids, workflow ids derived from them, and notice ids stable across retries.

export const CASE_ID_RE = /^case_[0-9a-z]{6,40}$/;

export function caseWorkflowId(caseId: string): string {
  return `takedown-${caseId}`;
}

export function archiveWorkflowId(caseId: string): string {
  return `archive-${caseId}`;
}

/** One document per notice, with an id derived from the notice so a retried prepare finds it. */
export function documentIdOf(noticeId: string): string {
  return `doc_${noticeId}`;
}

/** A notice id is derived from the task and the attempt round, so a retried activity sends the same id. */
export function noticeId(taskOrCase: string, type: string, round: number): string {
  return `ntc_${taskOrCase}_${type}_${round}`;
}
