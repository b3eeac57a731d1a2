// Request bodies and polling helpers for the API tests.
import { randomBytes } from 'node:crypto';
import type { ApiHarness } from './api-harness';
import { sampleCase } from './fixtures';

/** A case body whose merchant ids, accounts and hosts are unique, so no deconfliction review is triggered. */
export function caseBody(unique = randomBytes(5).toString('hex')) {
  const input = sampleCase({}, unique);
  return {
    ...input,
    reference: `EFC-API-${unique}`,
    evidence: [{ ...input.evidence[0], sha256: randomBytes(32).toString('hex'), description: 'secret evidence description' }],
    plan: { freezeAssets: true },
  };
}

/** Polls an inbox until a task of `type` on `caseId` is open for the holder of `token`. */
export async function waitForInboxTask(api: ApiHarness, token: string, caseId: string, type: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await api.request('GET', `/v1/tasks?status=open&caseId=${caseId}&type=${type}`, { token });
    last = res.body;
    if (res.status === 200 && res.body.items.length > 0) return res.body.items[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no open ${type} on ${caseId} in the inbox; last answer ${JSON.stringify(last)}`);
}

export async function waitForCaseStatus(api: ApiHarness, token: string, caseId: string, statuses: string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await api.request('GET', `/v1/cases/${caseId}`, { token });
    last = res.body;
    if (res.status === 200 && statuses.includes(res.body.status)) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`case ${caseId} did not reach ${statuses.join('|')}; last ${JSON.stringify(last)}`);
}

/**
 * Takes a case through verification and sign-off (an analyst's and an officer's of its org, neither its creator), so it
 * reaches disruption and opens its partner tasks. Returns both tasks' ids.
 */
export async function approveCase(api: ApiHarness, caseId: string, tokens: { analyst: string; officer: string }) {
  const verify = await waitForInboxTask(api, tokens.analyst, caseId, 'verify_evidence');
  const verified = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: tokens.analyst, body: { outcome: 'verified' } });
  if (verified.status !== 200) throw new Error(`verify_evidence on ${caseId} answered ${verified.status}: ${verified.text}`);
  const signoff = await waitForInboxTask(api, tokens.officer, caseId, 'le_signoff');
  const approved = await api.request('POST', `/v1/tasks/${signoff.id}/complete`, { token: tokens.officer, body: { outcome: 'approved' } });
  if (approved.status !== 200) throw new Error(`le_signoff on ${caseId} answered ${approved.status}: ${approved.text}`);
  return { verifyTaskId: verify.id as string, signoffTaskId: signoff.id as string };
}
