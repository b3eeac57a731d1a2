// What admins change outside any case is recorded with the change, append-only: partner webhooks and secrets (never a
// secret, nor a webhook's path), principals created and revoked; admins and auditors read it at GET /v1/admin/events.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness';

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi('admin-events');
});
afterAll(async () => {
  await api?.stop();
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function events(token = api.adminToken, query = '') {
  const res = await api.request('GET', `/v1/admin/events${query}`, { token });
  expect(res.status, res.text).toBe(200);
  return res.body as { items: { id: string; at: string; actor: { id: string; org: string }; action: string; subject: string; data: Record<string, unknown> }[]; nextCursor: string | null };
}

it('records each partner change with the change: who, when, the webhook before and after by origin and hash, whether the secret changed; never a secret or a path', async () => {
  const first = { kind: 'card_scheme', name: 'Visa', webhookUrl: 'https://hooks.visa.example/in/tok-abc123?k=v', secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` };
  expect((await api.request('PUT', '/v1/partners/visa-ev', { token: api.adminToken, body: first })).status).toBe(200);
  const moved = { ...first, webhookUrl: 'https://attacker.example/h' };
  expect((await api.request('PUT', '/v1/partners/visa-ev', { token: api.adminToken, body: moved })).status).toBe(200);
  const rotated = { ...moved, secret: `whsec_${Buffer.alloc(32, 2).toString('base64')}` };
  expect((await api.request('PUT', '/v1/partners/visa-ev', { token: api.adminToken, body: rotated })).status).toBe(200);

  const mine = (await events()).items.filter((e) => e.subject === 'visa-ev');
  expect(mine.map((e) => e.action)).toEqual(['partner.updated', 'partner.updated', 'partner.updated']);
  const [third, second, created] = mine; // newest first
  const ref = (url: string) => ({ origin: new URL(url).origin, urlSha256: sha256(url) });
  expect(created).toMatchObject({ actor: { id: 'admin', org: 'admin' }, data: { created: true, kind: 'card_scheme', name: 'Visa', webhook: { before: null, after: ref(first.webhookUrl) }, secretChanged: true, hasSecret: true } });
  expect(second.data).toMatchObject({ created: false, webhook: { before: ref(first.webhookUrl), after: ref(moved.webhookUrl) }, secretChanged: false });
  expect(third.data).toMatchObject({ webhook: { before: ref(moved.webhookUrl), after: ref(moved.webhookUrl) }, secretChanged: true });
  const text = JSON.stringify(mine);
  for (const secretish of [first.secret, rotated.secret, 'tok-abc123', '/in/', '?k=v']) expect(text).not.toContain(secretish);
  expect(Date.parse(third.at)).toBeGreaterThanOrEqual(Date.parse(created.at));

  // A refused PUT (422) changes nothing and records nothing.
  const before = (await events()).items.length;
  expect((await api.request('PUT', '/v1/partners/visa-ev', { token: api.adminToken, body: { ...first, webhookUrl: 'not a url' } })).status).toBe(422);
  expect((await events()).items.length).toBe(before);
});

it('records principals created and revoked (a second revocation adds nothing), by whom', async () => {
  const created = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name: 'Ann Analyst', org: 'ceop', roles: ['analyst'] } });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await api.request('DELETE', `/v1/principals/${id}`, { token: api.adminToken })).status).toBe(204);
  expect((await api.request('DELETE', `/v1/principals/${id}`, { token: api.adminToken })).status).toBe(204);
  const mine = (await events()).items.filter((e) => e.subject === id);
  expect(mine.map((e) => [e.action, e.actor.id, e.data])).toEqual([
    ['principal.revoked', 'admin', { org: 'ceop' }],
    ['principal.created', 'admin', { name: 'Ann Analyst', org: 'ceop', roles: ['analyst'] }],
  ]);
  expect(JSON.stringify(mine)).not.toContain(created.body.token);
});

it('is read by admins and auditors only, newest first, a page at a time', async () => {
  const auditor = await api.principal('oversight', ['auditor']);
  const lead = await api.principal('ceop', ['case_lead']);
  expect((await api.request('GET', '/v1/admin/events', { token: lead.token })).status).toBe(403);
  const all = (await events(auditor.token, '?limit=200')).items;
  expect(all.length).toBeGreaterThanOrEqual(4);
  // Page by page, the same events in the same order.
  const paged: string[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page = await events(auditor.token, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.items.length).toBeLessThanOrEqual(2);
    paged.push(...page.items.map((e) => e.id));
    cursor = page.nextCursor;
  }
  expect(paged).toEqual(all.map((e) => e.id));
  const times = all.map((e) => Date.parse(e.at));
  expect(times).toEqual([...times].sort((a, b) => b - a));
  expect((await api.request('GET', '/v1/admin/events?cursor=nope', { token: auditor.token })).status).toBe(422);
  expect((await api.request('GET', '/v1/admin/events?limit=0', { token: auditor.token })).status).toBe(422);
  expect((await api.request('POST', '/v1/admin/events', { token: api.adminToken, body: {} })).status).toBe(405);
});
