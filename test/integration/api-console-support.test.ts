// Extensions the console relies on: who am I, every task of a case in one request, counts per status in the case list.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;

beforeAll(async () => {
  stack = await startWorkflowStack('api-console');
  api = await startApi('api-console', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

it('answers /v1/me with the caller, /v1/cases/:id/tasks with every task, and counts per status', async () => {
  const lead = await api.principal('ceop', ['case_lead'], 'Lead Person');
  const analyst = await api.principal('ceop', ['analyst']);
  const other = await api.principal('nca', ['case_lead']);
  const me = await api.request('GET', '/v1/me', { token: lead.token });
  expect(me.body).toEqual({ id: lead.id, name: 'Lead Person', org: 'ceop', roles: ['case_lead'] });
  expect((await api.request('GET', '/v1/me', { token: api.adminToken })).body).toMatchObject({ id: 'admin', roles: ['admin'] });

  const created = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() });
  const second = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() });
  const verify = await waitForInboxTask(api, analyst.token, created.body.id, 'verify_evidence');
  const tasks = await api.request('GET', `/v1/cases/${created.body.id}/tasks`, { token: lead.token });
  expect(tasks.status).toBe(200);
  expect(tasks.body.items.map((t: { id: string; type: string }) => [t.id, t.type])).toEqual([[verify.id, 'verify_evidence']]);
  expect((await api.request('GET', `/v1/cases/${created.body.id}/tasks`, { token: other.token })).status).toBe(403);

  await api.request('POST', `/v1/cases/${second.body.id}/withdraw`, { token: lead.token, body: { reason: 'test' } });
  let list;
  for (let i = 0; i < 100; i++) {
    list = await api.request('GET', '/v1/cases?limit=1', { token: lead.token });
    if (list.body.counts.withdrawn === 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(list!.body.items).toHaveLength(1);
  expect(list!.body.counts).toEqual({ verifying: 1, withdrawn: 1 });
  expect((await api.request('GET', '/v1/cases', { token: other.token })).body.counts).toEqual({});
});
