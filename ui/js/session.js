// Who holds the token: org, roles and what the console may offer them, asked of the API once per sign-in.
import { ApiError, getJson, request } from './api.js';
import { getStoredIdentity, storeIdentity } from './token.js';

const CASE_READERS = ['case_lead', 'le_officer', 'le_supervisor', 'analyst', 'auditor'];

/** What each role may do in the console; mirrors the contract's role table, the API still decides. */
function capabilitiesOf(roles) {
  const has = (...r) => r.some((x) => roles.includes(x));
  return {
    readCases: has(...CASE_READERS),
    createCase: has('case_lead'),
    addEvidence: has('case_lead'),
    withdraw: has('case_lead', 'le_supervisor'),
    readAudit: has('auditor', 'case_lead'),
    verifyAudit: has('auditor'),
    exportAudit: has('auditor'),
    admin: has('admin'),
  };
}

// An id of the right shape that names no case: the API answers 404 past the role check and 403 before it.
const NO_CASE = 'case_0000000000probe';

/**
 * Roles from the answers the API gives to harmless requests, for an API without GET /v1/me. Every probe is rejected
 * before any effect: a role check (403) or an unknown case (404). analyst and le_officer cannot be told apart this way;
 * the inbox needs no such distinction since the API filters it.
 */
async function probeIdentity() {
  const code = (p) =>
    p.then(
      (res) => res,
      (err) => {
        if (err instanceof ApiError && err.status >= 400 && err.status !== 401 && err.status < 500) return err;
        throw err;
      },
    );
  const [principals, verify, evidence, withdraw, cases, tasks] = await Promise.all([
    code(request('/v1/principals')),
    code(request(`/v1/cases/${NO_CASE}/audit/verify`)),
    code(request(`/v1/cases/${NO_CASE}/evidence`, { method: 'POST', body: {} })),
    code(request(`/v1/cases/${NO_CASE}/withdraw`, { method: 'POST', body: {} })),
    code(request('/v1/cases', { query: { limit: 1 } })),
    code(request('/v1/tasks', { query: { limit: 1 } })),
  ]);
  const passed = (r) => !(r instanceof ApiError) || r.status === 404;
  const roles = [];
  if (principals.ok) roles.push('admin');
  if (passed(verify)) roles.push('auditor');
  if (passed(evidence)) roles.push('case_lead');
  else if (passed(withdraw)) roles.push('le_supervisor');
  const readsCases = cases.ok === true;
  if (readsCases && roles.every((r) => r === 'admin')) roles.push('analyst or le_officer');
  if (!readsCases && !roles.includes('admin')) roles.push('partner');
  const firstTask = tasks.ok ? (await tasks.json()).items[0] : undefined;
  const firstCase = readsCases && !roles.includes('auditor') ? (await cases.json()).items[0] : undefined;
  const org = roles.includes('admin') ? 'admin' : (firstTask?.assignee.org ?? firstCase?.org ?? null);
  return { id: null, name: null, org, roles, inferred: true, caps: { ...capabilitiesOf(roles), readCases: readsCases } };
}

/** The token holder, cached for the session. Uses GET /v1/me where the API serves it. */
export async function loadIdentity() {
  const cached = getStoredIdentity();
  if (cached) return cached;
  let identity;
  try {
    const me = await getJson('/v1/me');
    identity = { id: me.id ?? null, name: me.name ?? null, org: me.org ?? null, roles: me.roles ?? [], inferred: false, caps: capabilitiesOf(me.roles ?? []) };
  } catch (err) {
    if (!(err instanceof ApiError) || !err.noRoute) throw err;
    identity = await probeIdentity();
  }
  storeIdentity(identity);
  return identity;
}
