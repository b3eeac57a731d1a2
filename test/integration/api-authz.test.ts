// The authorization matrix: every role (own org and another org) against every endpoint, with the expected 2xx/401/403
// (404 is for unknown ids only: a case or task of another org is 403, as the contract's error table says).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../domain/types';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

interface Who {
  label: string;
  token: string | null;
  org: string;
  roles: Role[];
}

let stack: WorkflowStack;
let api: ApiHarness;
let creator: Who;
let caseId: string;
let taskId: string;
const everyone: Who[] = [];

beforeAll(async () => {
  stack = await startWorkflowStack('api-authz');
  api = await startApi('api-authz', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  const make = async (label: string, org: string, roles: Role[]): Promise<Who> => ({ label, org, roles, token: (await api.principal(org, roles)).token });
  creator = await make('creator', 'ceop', ['case_lead']);
  for (const role of ['case_lead', 'analyst', 'le_officer', 'le_supervisor'] as Role[]) {
    everyone.push(await make(`${role}@ceop`, 'ceop', [role]));
    everyone.push(await make(`${role}@nca`, 'nca', [role]));
  }
  everyone.push(await make('auditor@oversight', 'oversight', ['auditor']));
  everyone.push(await make('partner@visa', 'visa', ['partner']));
  everyone.push(await make('partner@ceop', 'ceop', ['partner']));
  everyone.push({ label: 'admin', token: api.adminToken, org: 'admin', roles: ['admin'] });
  everyone.push({ label: 'anonymous', token: null, org: '', roles: [] });

  const c = await api.request('POST', '/v1/cases', { token: creator.token, body: caseBody() });
  expect(c.status, c.text).toBe(201);
  caseId = c.body.id;
  taskId = (await waitForInboxTask(api, everyone.find((w) => w.label === 'analyst@ceop')!.token!, caseId, 'verify_evidence')).id;
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

const has = (w: Who, ...roles: Role[]) => w.roles.some((r) => roles.includes(r));
const ceop = (w: Who) => w.org === 'ceop';
const readsOrg = (w: Who) => has(w, 'auditor') || (ceop(w) && has(w, 'case_lead', 'analyst', 'le_officer', 'le_supervisor'));

/** A fresh case (created by `creator`) for endpoints whose success changes the case. */
async function freshCase(): Promise<string> {
  const res = await api.request('POST', '/v1/cases', { token: creator.token, body: caseBody() });
  expect(res.status, res.text).toBe(201);
  return res.body.id;
}

interface Endpoint {
  name: string;
  method: string;
  path: (w: Who) => Promise<string> | string;
  body?: unknown;
  expect: (w: Who) => number;
}

const adminOnly = (ok: number) => (w: Who) => (has(w, 'admin') ? ok : 403);
// A principal is read by auditors too, one by one: they name the actors of audit entries (the list is the admin's).
const adminOrAuditor = (ok: number) => (w: Who) => (has(w, 'admin', 'auditor') ? ok : 403);

const endpoints: Endpoint[] = [
  { name: 'create principal', method: 'POST', path: () => '/v1/principals', body: { name: 'n', org: 'ceop', roles: ['analyst'] }, expect: adminOnly(201) },
  { name: 'list principals', method: 'GET', path: () => '/v1/principals', expect: adminOnly(200) },
  { name: 'read a principal', method: 'GET', path: async () => `/v1/principals/${(await api.principal('ceop', ['analyst'])).id}`, expect: adminOrAuditor(200) },
  {
    name: 'revoke principal',
    method: 'DELETE',
    path: async () => `/v1/principals/${(await api.principal('ceop', ['analyst'])).id}`,
    expect: adminOnly(204),
  },
  { name: 'list partners', method: 'GET', path: () => '/v1/partners', expect: adminOnly(200) },
  // Any org's case readers (their own cases name partners), admins; never partners.
  { name: 'partner directory', method: 'GET', path: () => '/v1/partner-directory', expect: (w) => (has(w, 'admin', 'case_lead', 'analyst', 'le_officer', 'le_supervisor', 'auditor') ? 200 : 403) },
  { name: 'put partner', method: 'PUT', path: () => '/v1/partners/visa', body: { kind: 'card_scheme', webhookUrl: 'https://visa.example.test/h', secret: `whsec_${randomBytes(32).toString('base64')}` }, expect: adminOnly(200) },
  { name: 'create case', method: 'POST', path: () => '/v1/cases', body: caseBody(), expect: (w) => (has(w, 'case_lead') ? 201 : 403) },
  { name: 'list cases', method: 'GET', path: () => '/v1/cases', expect: (w) => (has(w, 'case_lead', 'analyst', 'le_officer', 'le_supervisor', 'auditor') ? 200 : 403) },
  {
    name: 'read case',
    method: 'GET',
    path: () => `/v1/cases/${caseId}`,
    expect: (w) => (readsOrg(w) ? 200 : 403),
  },
  {
    name: 'withdraw case',
    method: 'POST',
    path: async (w) => `/v1/cases/${ceop(w) && has(w, 'case_lead', 'le_supervisor') ? await freshCase() : caseId}/withdraw`,
    body: { reason: 'matrix' },
    expect: (w) => (ceop(w) && has(w, 'case_lead', 'le_supervisor') ? 202 : 403),
  },
  {
    name: 'add evidence',
    method: 'POST',
    path: () => `/v1/cases/${caseId}/evidence`,
    body: { urls: ['https://extra.example.test/p'] },
    expect: (w) => (ceop(w) && has(w, 'case_lead') ? 200 : 403),
  },
  {
    name: 'case tasks',
    method: 'GET',
    path: () => `/v1/cases/${caseId}/tasks`,
    expect: (w) => (readsOrg(w) ? 200 : 403),
  },
  { name: 'me', method: 'GET', path: () => '/v1/me', expect: () => 200 },
  { name: 'inbox', method: 'GET', path: () => '/v1/tasks', expect: () => 200 },
  {
    name: 'read task',
    method: 'GET',
    path: () => `/v1/tasks/${taskId}`,
    expect: (w) => (readsOrg(w) ? 200 : 403),
  },
  {
    name: 'complete task',
    method: 'POST',
    path: async (w) => {
      if (!(ceop(w) && has(w, 'analyst'))) return `/v1/tasks/${taskId}/complete`;
      const id = await freshCase();
      return `/v1/tasks/${(await waitForInboxTask(api, w.token!, id, 'verify_evidence')).id}/complete`;
    },
    body: { outcome: 'verified' },
    expect: (w) => (ceop(w) && has(w, 'analyst') ? 200 : 403),
  },
  {
    // Whether a caller may complete the task is settled before its body is read: a bad body from anyone else is 403.
    name: 'complete task with a bad body',
    method: 'POST',
    path: () => `/v1/tasks/${taskId}/complete`,
    body: { outcome: 'verified', data: 'not an object' },
    expect: (w) => (ceop(w) && has(w, 'analyst') ? 422 : 403),
  },
  {
    name: 'read audit',
    method: 'GET',
    path: () => `/v1/cases/${caseId}/audit`,
    expect: (w) => (has(w, 'auditor') || (ceop(w) && has(w, 'case_lead')) ? 200 : 403),
  },
  { name: 'verify audit', method: 'GET', path: () => `/v1/cases/${caseId}/audit/verify`, expect: (w) => (has(w, 'auditor') ? 200 : 403) },
  { name: 'history', method: 'GET', path: () => `/v1/cases/${caseId}/history`, expect: (w) => (has(w, 'auditor') ? 200 : 403) },
  { name: 'export', method: 'GET', path: () => '/v1/audit/export', expect: (w) => (has(w, 'auditor') ? 200 : 403) },
  { name: 'chain heads', method: 'GET', path: () => '/v1/audit/heads?limit=5', expect: (w) => (has(w, 'auditor') ? 200 : 403) },
  {
    name: 'check heads',
    method: 'POST',
    path: () => '/v1/audit/heads/check',
    body: { heads: [{ caseId: 'case_unknown0000', seq: 1, hash: '0'.repeat(64) }] },
    expect: (w) => (has(w, 'auditor') ? 200 : 403),
  },
  { name: 'metrics', method: 'GET', path: () => '/metrics', expect: (w) => (has(w, 'admin', 'auditor') ? 200 : 403) },
  { name: 'healthz', method: 'GET', path: () => '/healthz', expect: () => 200 },
  { name: 'openapi', method: 'GET', path: () => '/openapi.json', expect: () => 200 },
];

const PUBLIC = new Set(['healthz', 'openapi']);

describe('authorization matrix', () => {
  it('gives every role on every endpoint exactly the expected status', async () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const e of endpoints) {
      for (const w of everyone) {
        const expected = w.token === null && !PUBLIC.has(e.name) ? 401 : e.expect(w);
        const path = await e.path(w);
        const res = await api.request(e.method, path, { token: w.token, body: e.body });
        checked += 1;
        if (res.status !== expected) mismatches.push(`${e.name} as ${w.label}: expected ${expected}, got ${res.status} ${res.text.slice(0, 160)}`);
        if (res.status >= 400) expect(res.headers['content-type'], `${e.name} as ${w.label}`).toMatch(/application\/problem\+json/);
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(endpoints.length * everyone.length);
  });

  it('answers the four-eyes rule before the body: the case creator gets 403 for a bad body too', async () => {
    // The creator also holds the analyst role: without the four-eyes rule it could complete the verification.
    const both = { token: (await api.principal('ceop', ['case_lead', 'analyst'])).token };
    const res = await api.request('POST', '/v1/cases', { token: both.token, body: caseBody() });
    expect(res.status, res.text).toBe(201);
    const v = await waitForInboxTask(api, both.token, res.body.id, 'verify_evidence');
    const bad = await api.request('POST', `/v1/tasks/${v.id}/complete`, { token: both.token, body: { outcome: 'verified', data: 'not an object' } });
    expect(bad.status, bad.text).toBe(403);
    expect(bad.body.detail).toMatch(/created the case/);
    expect((await api.request('GET', `/v1/tasks/${v.id}`, { token: both.token })).body.status).toBe('open');
  });

  it('lets a partner read a case only while it holds an open task on it', async () => {
    // After sign-off, partner tasks exist: the matrix above already showed 403 without one.
    const analyst = everyone.find((w) => w.label === 'analyst@ceop')!;
    const officer = everyone.find((w) => w.label === 'le_officer@ceop')!;
    const visa = everyone.find((w) => w.label === 'partner@visa')!;
    const id = await freshCase();
    const v = await waitForInboxTask(api, analyst.token!, id, 'verify_evidence');
    expect((await api.request('POST', `/v1/tasks/${v.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } })).status).toBe(200);
    const s = await waitForInboxTask(api, officer.token!, id, 'le_signoff');
    expect((await api.request('POST', `/v1/tasks/${s.id}/complete`, { token: officer.token, body: { outcome: 'approved' } })).status).toBe(200);
    const t = await waitForInboxTask(api, visa.token!, id, 'confirm_termination');
    expect((await api.request('GET', `/v1/cases/${id}`, { token: visa.token })).status).toBe(200);
    expect((await api.request('GET', `/v1/tasks/${t.id}`, { token: visa.token })).status).toBe(200);
    // The partner role in the case's own org does not get a task and so no view.
    expect((await api.request('GET', `/v1/cases/${id}`, { token: everyone.find((w) => w.label === 'partner@ceop')!.token })).status).toBe(403);
  });
});
