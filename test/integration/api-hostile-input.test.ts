// Hostile input that passes the schemas' shapes but not what lies behind them (Temporal's limits, PostgreSQL's index
// entries), and names that collide with JavaScript's object model: a 4xx naming the field, or a case that works; never a
// 5xx, a request that hangs on a workflow stuck retrying, or a case that stops taking requests.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit } from '../../db/queries/audit';
import { caseWorkflowId } from '../../domain/ids';
import { MAX_SEARCH_ATTRIBUTE_BYTES, MerchantIdsKey } from '../../workflows/search-attributes';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
let api: ApiHarness;
let lead: string;
let auditor: string;

beforeAll(async () => {
  stack = await startWorkflowStack('api-hostile');
  api = await startApi('api-hostile', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  lead = (await api.principal('ceop', ['case_lead'])).token;
  auditor = (await api.principal('oversight', ['auditor'])).token;
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

const caseCount = async () => (await api.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM cases')).rows[0].n;

/** `n` random CJK characters (3 bytes each in UTF-8, and too random for PostgreSQL to compress). */
function cjk(n: number): string {
  return Array.from(randomBytes(n * 2).toString('hex').match(/..../g)!.slice(0, n), (h) => String.fromCharCode(0x4e00 + (parseInt(h, 16) % 20_000))).join('');
}

function withChannels(paymentChannels: unknown[]) {
  const b = caseBody();
  return { ...b, merchant: { ...b.merchant, paymentChannels } };
}

describe('hosts longer than any DNS name', () => {
  // 2,000 characters outside ASCII are a well-formed URL, but a host of 6 kB cannot be a key of cases.hosts' index: every
  // write of the case failed, so creation answered 503 after 10 s with its workflow retrying forever, and an amendment
  // left the case unable to take any request (a withdrawal too).
  const longHost = () => `https://${cjk(2000)}/`;

  it('refuses one at creation, naming the field, and starts nothing', async () => {
    const before = await caseCount();
    const b = caseBody();
    for (const [body, field] of [
      [{ ...b, merchant: { ...b.merchant, urls: [longHost()] } }, 'merchant.urls.0'],
      [{ ...b, merchant: { ...b.merchant, hosting: [{ provider: 'host-example', urls: ['https://ok.example.test/', longHost()] }] } }, 'merchant.hosting.0.urls.1'],
    ] as const) {
      const res = await api.request('POST', '/v1/cases', { token: lead, body, headers: { 'Idempotency-Key': `long-host-${field}` }, timeoutMs: 20_000 });
      expect(res.status, res.text.slice(0, 300)).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors[field]).toBe('must name a host of at most 253 characters');
    }
    // An ASCII host of 300 characters is no DNS name either.
    const ascii = await api.request('POST', '/v1/cases', { token: lead, body: { ...b, merchant: { ...b.merchant, urls: [`https://${'a'.repeat(300)}.test/`] } } });
    expect(ascii.status).toBe(422);
    expect(await caseCount()).toBe(before);
  });

  it('refuses one in an amendment, and the case goes on taking requests', async () => {
    const created = await api.request('POST', '/v1/cases', { token: lead, body: caseBody() });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const amended = await api.request('POST', `/v1/cases/${id}/evidence`, { token: lead, body: { urls: [longHost()] }, timeoutMs: 20_000 });
    expect(amended.status, amended.text.slice(0, 300)).toBe(422);
    expect(amended.body.errors['urls.0']).toBe('must name a host of at most 253 characters');
    // The longest DNS name (four labels of 63, 61 and 63 characters, 253 in all) is taken.
    const longest = `https://${['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(61), 'd'.repeat(63)].join('.')}/x`;
    const ok = await api.request('POST', `/v1/cases/${id}/evidence`, { token: lead, body: { urls: [longest] } });
    expect(ok.status, ok.text.slice(0, 300)).toBe(200);
    expect(ok.body.merchant.urls).toContain(longest);
    const withdrawn = await api.request('POST', `/v1/cases/${id}/withdraw`, { token: lead, body: { reason: 'still answering' } });
    expect(withdrawn.status, withdrawn.text.slice(0, 300)).toBe(202);
  });
});

describe('more merchant ids than a search attribute holds', () => {
  it('starts the case (it answered 500: Temporal refuses a MerchantIds value over 2 KiB), listing the first ids that fit', async () => {
    // 50 wallet channels with 128-character account ids: what the schema allows, 6.5 kB of ids.
    const wallets = Array.from({ length: 50 }, (_, i) => ({ kind: 'wallet', provider: 'paypal', accountId: `W${i}-`.padEnd(128, 'w') }));
    const body = withChannels(wallets);
    const res = await api.request('POST', '/v1/cases', { token: lead, body, headers: { 'Idempotency-Key': 'many-wallets' }, timeoutMs: 20_000 });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    expect(res.body.merchant.paymentChannels).toHaveLength(50);
    const again = await api.request('POST', '/v1/cases', { token: lead, body, headers: { 'Idempotency-Key': 'many-wallets' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    const described = await stack.client.workflow.getHandle(caseWorkflowId(res.body.id)).describe();
    const listed = described.typedSearchAttributes.get(MerchantIdsKey)!;
    expect(listed).toEqual(wallets.slice(0, listed.length).map((w) => w.accountId));
    expect(listed.length).toBeGreaterThan(10);
    expect(Buffer.byteLength(JSON.stringify(listed))).toBeLessThanOrEqual(MAX_SEARCH_ATTRIBUTE_BYTES);
    // Deconfliction reads PostgreSQL, not the attribute: an id past the ones listed still finds the case.
    const later = wallets[49];
    const next = await api.request('POST', '/v1/cases', { token: lead, body: withChannels([later]) });
    expect(next.status).toBe(201);
    expect(next.body.deconflictedWith).toContain(res.body.id);
  });

  it('lists them all when their JSON is exactly the limit (non-ASCII counted in bytes)', async () => {
    // 15 ids of 128 characters and one of 79 bytes: ["...",...] is 2,048 bytes.
    const ids = [...Array.from({ length: 15 }, (_, i) => `X${i}-`.padEnd(128, 'x')), `é-${randomBytes(2).toString('hex')}`.padEnd(78, 'y')];
    expect(Buffer.byteLength(JSON.stringify(ids))).toBe(MAX_SEARCH_ATTRIBUTE_BYTES);
    const res = await api.request('POST', '/v1/cases', { token: lead, body: withChannels(ids.map((accountId) => ({ kind: 'wallet', provider: 'paypal', accountId }))), timeoutMs: 20_000 });
    expect(res.status, res.text.slice(0, 300)).toBe(201);
    const described = await stack.client.workflow.getHandle(caseWorkflowId(res.body.id)).describe();
    expect(described.typedSearchAttributes.get(MerchantIdsKey)).toEqual(ids);
  });
});

describe('names from the object model', () => {
  it('names a __proto__ query parameter among the unknown ones (the 422 listed no field)', async () => {
    for (const path of ['/v1/cases?__proto__=x', '/v1/tasks?__proto__=x&limit=5', '/v1/audit/export?__proto__=x', '/v1/audit/heads?__proto__=x']) {
      const res = await api.request('GET', path, { token: auditor });
      expect(res.status, path).toBe(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Object.hasOwn(res.body.errors ?? {}, '__proto__'), `${path}: ${res.text}`).toBe(true);
      expect(res.body.errors.__proto__).toBe('is not a known field');
    }
  });

  it('refuses a body holding a member named __proto__, at any depth, naming it, and creates nothing (it was dropped silently)', async () => {
    const body = caseBody();
    const top = JSON.stringify(body).replace(/^\{/, '{"__proto__":{"isAdmin":true},');
    const deep = JSON.stringify({ ...body, merchant: { ...body.merchant, name: 'x' } }).replace('"name":"x"', '"name":"x","__proto__":{"polluted":true}');
    for (const [text, field] of [[top, '__proto__'], [deep, 'merchant.__proto__']] as const) {
      const res = await api.request('POST', '/v1/cases', { token: lead, raw: text, headers: { 'content-type': 'application/json' } });
      expect(res.status, res.text).toBe(422);
      expect(Object.hasOwn(res.body.errors ?? {}, field), res.text).toBe(true);
      expect(res.body.errors[field]).toBe('is not a permitted member name');
    }
    const { rowCount } = await api.db.pool.query('SELECT 1 FROM cases WHERE reference = $1', [body.reference]);
    expect(rowCount).toBe(0);
  });
});

describe('document ids', () => {
  it('answers 404 for a document id PostgreSQL could not even look up (a NUL), as for any unknown one', async () => {
    const created = await api.request('POST', '/v1/cases', { token: lead, body: caseBody() });
    expect(created.status).toBe(201);
    for (const doc of ['%00', 'doc_%00x', 'x'.repeat(300), 'doc_nope']) {
      const res = await api.request('GET', `/v1/cases/${created.body.id}/documents/${doc}`, { token: auditor });
      expect(res.status, doc).toBe(404);
      expect(res.body.detail).toBe('no such document on this case');
    }
  });
});

describe('audit export bounds at the edges', () => {
  it('takes a bound in the last millisecond of 9999 (it answered 422 naming no field) and a lower-case t with sub-milliseconds', async () => {
    const caseId = `case_edges${randomBytes(4).toString('hex')}`;
    await appendAudit(api.db.pool, caseId, [{ key: 'k1', action: 'case.created', actor: null, data: {}, at: '2021-06-01T00:00:00.000Z' }]);
    const exported = async (q: string) => {
      const res = await api.request('GET', `/v1/audit/export?${q}`, { token: auditor });
      expect(res.status, `${q}: ${res.text.slice(0, 300)}`).toBe(200);
      return res.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { caseId: string }).filter((e) => e.caseId === caseId).length;
    };
    expect(await exported('to=9999-12-31T23:59:59.9999Z')).toBe(1);
    expect(await exported('from=9999-12-31T23:59:59.9999Z')).toBe(0);
    expect(await exported('from=2021-06-01T00:00:00.000Z&to=9999-12-31T23:59:59.999999999Z')).toBe(1);
    // A bound between two milliseconds is raised to the next one, however its T is written: the entry lies before it.
    expect(await exported('from=2021-06-01t00:00:00.0001z&to=2021-06-02T00:00:00Z')).toBe(0);
    expect(await exported('from=2021-06-01T00:00:00.0001Z&to=2021-06-02T00:00:00Z')).toBe(0);
    expect(await exported('from=2021-06-01t00:00:00z&to=2021-06-01t00:00:00.001z')).toBe(1);
    // A range is empty or not as the export reads it, in whole milliseconds: …00Z to …00.0001Z holds that millisecond's
    // entries (it was refused as empty), while two bounds inside one millisecond hold none and are refused.
    expect(await exported('from=2021-06-01T00:00:00Z&to=2021-06-01T00:00:00.0001Z')).toBe(1);
    const empty = await api.request('GET', '/v1/audit/export?from=2021-06-01T00:00:00.0001Z&to=2021-06-01T00:00:00.0002Z', { token: auditor });
    expect(empty.status).toBe(422);
    expect(empty.body.errors).toEqual({ to: 'must be later than from, in whole milliseconds' });
  });
});

describe('concurrent withdrawals', () => {
  it('takes one and refuses the others saying why (a 409 said "case is verifying" while the first was under way)', async () => {
    const created = await api.request('POST', '/v1/cases', { token: lead, body: caseBody() });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => api.request('POST', `/v1/cases/${id}/withdraw`, { token: lead, body: { reason: `reason ${i}` } })));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect(a.status).toBe(409);
      expect(a.body.detail).toMatch(/^(the case is already being withdrawn|case is withdrawn)$/);
    }
    const requested = await api.db.pool.query('SELECT count(*)::int AS n FROM audit_entries WHERE case_id = $1 AND action = $2', [id, 'case.withdrawal_requested']);
    expect(requested.rows[0].n).toBe(1);
  });
});
