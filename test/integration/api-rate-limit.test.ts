// Requests per principal and minute (TAKEDOWN_RATE_LIMIT_PER_MINUTE): a 429 problem with Retry-After, per principal.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness';

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi('ratelimit', { rateLimitPerMinute: 5 });
});
afterAll(async () => {
  await api?.stop();
});

it('refuses a principal past its limit with 429 problem+json and Retry-After, and counts each principal apart', async () => {
  const lead = await api.principal('ceop', ['case_lead']);
  const other = await api.principal('ceop', ['case_lead']);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await api.request('GET', '/v1/me', { token: lead.token });
    statuses.push(r.status);
    expect(r.headers['ratelimit-policy']).toMatch(/^"5-in-1min"; q=5; w=60/);
  }
  expect(statuses).toEqual([200, 200, 200, 200, 200]);

  const refused = await api.request('GET', '/v1/cases', { token: lead.token });
  expect(refused.status).toBe(429);
  expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(refused.body).toMatchObject({ status: 429, title: 'Too many requests' });
  const retryAfter = Number(refused.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(refused.headers.ratelimit).toMatch(/r=0/);

  // Another principal has its own budget; a refused request changed nothing (no case was listed or created).
  expect((await api.request('GET', '/v1/me', { token: other.token })).status).toBe(200);
  expect((await api.request('POST', '/v1/cases', { token: lead.token, body: {} })).status).toBe(429);
  const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM cases');
  expect(rows[0].n).toBe(0);
});

it('never limits a caller before it is authenticated: a bad token is a 401, not a 429', async () => {
  for (let i = 0; i < 7; i++) expect((await api.request('GET', '/v1/me', { token: 'tdk_' + 'x'.repeat(40) })).status).toBe(401);
});
