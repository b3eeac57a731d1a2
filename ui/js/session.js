// Who holds the token: name, org, roles (GET /v1/me, once per sign-in) and what the console may offer them.
import { getJson } from './api.js';
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
    anchorAudit: has('auditor'),
    readHistory: has('auditor'),
    // GET /v1/principals/:id (auditors; the list is the admin's): an actor's name beside its id in the audit trail.
    readPrincipals: has('auditor', 'admin'),
    admin: has('admin'),
    // GET /v1/admin/events: what admins changed, read by auditors on the admin page (read-only for them).
    readAdminEvents: has('auditor', 'admin'),
  };
}

/** The token holder, cached for the session (sessionStorage) so page changes cost no request. */
export async function loadIdentity() {
  const cached = getStoredIdentity();
  // Capabilities are worked out again from the roles, so a console update that adds one needs no new sign-in.
  if (cached) return { ...cached, caps: capabilitiesOf(cached.roles ?? []) };
  const me = await getJson('/v1/me');
  const roles = me.roles ?? [];
  const identity = { id: me.id, name: me.name, org: me.org, roles, caps: capabilitiesOf(roles) };
  storeIdentity(identity);
  return identity;
}
