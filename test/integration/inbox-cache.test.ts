// The inbox cache (api/inbox-cache.ts, migration 0014) against real PostgreSQL and Temporal: every task write is in the
// next inbox answer, whichever process answers it; pages are never shared across orgs or role sets; ETags and 304s;
// the cache turned off; and writes racing reads across two caching processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index';
import type { TakedownActivities } from '../../activities/types';
import { InboxCache, inboxKey } from '../../api/inbox-cache';
import { openTask } from '../../bench/lib/context';
import type { InboxPage } from '../../db/queries/tasks';
import type { Role, Task } from '../../domain/types';
import { registry } from '../../telemetry/metrics';
import { startApi, type ApiHarness, type ApiResponse } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';

let stack: WorkflowStack;
/** Two caching API processes on the same database, and one without a cache (the reference: every request reads). */
let api: ApiHarness;
let api2: ApiHarness;
let uncached: ApiHarness;
let acts: TakedownActivities;
type P = Awaited<ReturnType<ApiHarness['principal']>>;
let visa: P, visa2: P, paypal: P, analyst: P, officer: P, analystOfficer: P, lead: P;

beforeAll(async () => {
  stack = await startWorkflowStack('inbox-cache');
  api = await startApi('inbox-cache', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  api2 = await startApi('inbox-cache-2', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  uncached = await startApi('inbox-cache-off', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue, inboxCacheMb: 0 });
  acts = createActivities({ pool: stack.db.pool, notices: { timeoutMs: 2_000, allowPrivate: true }, urlChecks: { timeoutMs: 1_000, allowPrivate: true } });
  [visa, visa2, paypal, analyst, officer, analystOfficer, lead] = await Promise.all([
    api.principal('visa', ['partner']),
    api.principal('visa', ['partner'], 'second visa desk'),
    api.principal('paypal', ['partner']),
    api.principal('ceop', ['analyst']),
    api.principal('ceop', ['le_officer']),
    api.principal('ceop', ['analyst', 'le_officer']),
    api.principal('ceop', ['case_lead']),
  ]);
});
afterAll(async () => {
  await uncached?.stop();
  await api2?.stop();
  await api?.stop();
  await stack?.stop();
});

let clock = Date.parse('2026-03-01T00:00:00.000Z');
/** A task with a createdAt after every earlier one's (so pages have a known order). */
function task(id: string, org: string, role: Role, over: Partial<Task> = {}): Task {
  clock += 1000;
  return {
    ...openTask('case_inboxcache0000000001', id),
    type: role === 'partner' ? 'confirm_termination' : role === 'analyst' ? 'verify_evidence' : 'le_signoff',
    assignee: { org, role },
    roles: [role],
    createdAt: new Date(clock).toISOString(),
    dueAt: null,
    context: {},
    ...over,
  };
}

const versions = new Map<string, number>();
/** Writes tasks as the worker does (recordTask: one statement with their audit entries, each a new version). */
async function record(...tasks: Task[]): Promise<void> {
  const [first, ...more] = tasks.map((t) => {
    const version = (versions.get(t.id) ?? 0) + 1;
    versions.set(t.id, version);
    return { task: t, version };
  });
  await acts.recordTask({ ...first, caseOrg: 'ceop', audit: [], moreTasks: more });
}

const get = (on: ApiHarness, p: P, query = 'status=open', headers: Record<string, string> = {}) => on.request('GET', `/v1/tasks?${query}`, { token: p.token, headers });
const ids = (res: ApiResponse): string[] => res.body.items.map((t: { id: string }) => t.id);

async function reads(): Promise<Record<string, number>> {
  const values = (await registry.getSingleMetric('takedown_inbox_reads_total')?.get())?.values ?? [];
  const out: Record<string, number> = {};
  for (const v of values) out[`${v.labels.cache}/${v.labels.status}`] = (out[`${v.labels.cache}/${v.labels.status}`] ?? 0) + v.value;
  return out;
}
async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; delta: Record<string, number> }> {
  const before = await reads();
  const result = await fn();
  const after = await reads();
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) delta[k] = v - (before[k] ?? 0);
  return { result, delta };
}

/** The answer of the cached process, checked against the process without a cache: the same bytes and ETag. */
async function checked(p: P, query = 'status=open', on = api): Promise<ApiResponse> {
  const res = await get(on, p, query);
  const reference = await get(uncached, p, query);
  expect(res.status, res.text).toBe(200);
  expect(res.text).toBe(reference.text);
  expect(res.headers.etag).toBe(reference.headers.etag);
  return res;
}

describe('inbox versions (migration 0014)', () => {
  it('bump once per statement for each org it touched: inserted, updated (old and new org) or deleted; truncate bumps all', async () => {
    const owner = await stack.db.admin();
    try {
      const version = async (org: string) => Number((await owner.query(`SELECT version FROM inbox_versions WHERE org = $1`, [org])).rows[0]?.version ?? 0);
      const all = async () => ({ 'v-a': await version('v-a'), 'v-b': await version('v-b'), 'v-c': await version('v-c') });
      const insert = (id: string, org: string) =>
        `('${id}', 'case_v', 'ceop', 'confirm_freeze', 'open', '${org}', 'partner', '{partner}', now(), '{}')`;
      const cols = '(id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context)';
      await stack.db.pool.query(`INSERT INTO tasks ${cols} VALUES ${insert('tsk_v1', 'v-a')}, ${insert('tsk_v2', 'v-a')}, ${insert('tsk_v3', 'v-b')}`);
      expect(await all()).toEqual({ 'v-a': 1, 'v-b': 1, 'v-c': 0 });
      // An upsert that inserts one row and updates another fires both statement triggers; one that changes nothing, none.
      const upsert = `INSERT INTO tasks ${cols} VALUES ${insert('tsk_v1', 'v-a')}, ${insert('tsk_v4', 'v-c')}
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status WHERE tasks.id <> $1`;
      await stack.db.pool.query(upsert, ['none']);
      expect(await all()).toEqual({ 'v-a': 2, 'v-b': 1, 'v-c': 1 });
      await stack.db.pool.query(`INSERT INTO tasks ${cols} VALUES ${insert('tsk_v1', 'v-a')} ON CONFLICT (id) DO UPDATE SET status = 'x' WHERE false`);
      expect(await all()).toEqual({ 'v-a': 2, 'v-b': 1, 'v-c': 1 });
      // A task moved to another org changes both inboxes.
      await stack.db.pool.query(`UPDATE tasks SET assignee_org = 'v-b' WHERE id = 'tsk_v2'`);
      expect(await all()).toEqual({ 'v-a': 3, 'v-b': 2, 'v-c': 1 });
      await stack.db.pool.query(`UPDATE tasks SET escalated = true WHERE id = 'nothing'`);
      expect(await all()).toEqual({ 'v-a': 3, 'v-b': 2, 'v-c': 1 });
      // Deletes and truncates (the owner's: the app role may do neither) too.
      await owner.query(`DELETE FROM tasks WHERE id IN ('tsk_v3', 'tsk_v4')`);
      expect(await all()).toEqual({ 'v-a': 3, 'v-b': 3, 'v-c': 2 });
      // In a transaction that rolls back, nothing happened: neither the tasks nor the versions.
      await owner.query('BEGIN');
      await owner.query(`UPDATE tasks SET escalated = true WHERE assignee_org = 'v-a'`);
      await owner.query('ROLLBACK');
      expect(await all()).toEqual({ 'v-a': 3, 'v-b': 3, 'v-c': 2 });
      await owner.query('BEGIN');
      await owner.query(`TRUNCATE tasks`);
      expect(await all()).toEqual({ 'v-a': 4, 'v-b': 4, 'v-c': 3 });
      await owner.query('ROLLBACK');
      await owner.query(`DELETE FROM tasks WHERE assignee_org LIKE 'v-%'`);
    } finally {
      await owner.end();
    }
  });
});

describe('inbox versions under concurrent writers', () => {
  it('never deadlock: writes that each complete one org\'s task and open another\'s, in opposite pairs, all commit, one bump each', async () => {
    const orgs = ['dl-a', 'dl-b'];
    const mk = (id: string, caseId: string, org: string, status: 'open' | 'completed'): Task => ({
      ...task(id, org, 'partner'),
      caseId,
      status,
    });
    const before = async () => Object.fromEntries(await Promise.all(orgs.map(async (o) => [o, Number((await stack.db.pool.query(`SELECT version FROM inbox_versions WHERE org = $1`, [o])).rows[0]?.version ?? 0)])));
    const start = await before();
    const errors: string[] = [];
    let statements = 0;
    // An upsert that updates one org's task (its UPDATE trigger) and inserts the other's (its INSERT trigger): with bumps
    // taken per trigger, opposite pairs locked the two rows in opposite orders (PostgreSQL reported deadlocks).
    const loop = async (w: number) => {
      for (let i = 0; i < 25; i++) {
        const caseId = `case_dl_${w}_${i}`;
        const [a, b] = w % 2 === 0 ? orgs : [...orgs].reverse();
        const old = mk(`tsk_dl_${w}_${i}_o`, caseId, a, 'open');
        try {
          await acts.recordTask({ task: old, version: 1, caseOrg: 'ceop', audit: [] });
          await acts.recordTask({ task: { ...old, status: 'completed' }, version: 2, caseOrg: 'ceop', audit: [], moreTasks: [{ task: mk(`tsk_dl_${w}_${i}_n`, caseId, b, 'open'), version: 1 }] });
          statements += 2;
        } catch (err) {
          errors.push(`${(err as { code?: string }).code ?? (err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => loop(w)));
    expect(errors).toEqual([]);
    // Each statement bumped each org it touched once: 8 x 25 x (1 + 2) bumps spread over the two orgs.
    const end = await before();
    expect(end['dl-a'] - start['dl-a'] + end['dl-b'] - start['dl-b']).toBe(8 * 25 * 3);
    expect(statements).toBe(8 * 25 * 2);
  }, 60_000);

  it('bumps a transaction\'s orgs once, at its commit, and nothing when it rolls back', async () => {
    const client = await stack.db.pool.connect();
    const version = async (org: string) => Number((await stack.db.pool.query(`SELECT version FROM inbox_versions WHERE org = $1`, [org])).rows[0]?.version ?? 0);
    try {
      const v0 = await version('tx-a');
      await client.query('BEGIN');
      for (const id of ['tsk_tx_1', 'tsk_tx_2', 'tsk_tx_3']) {
        await client.query(
          `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context) VALUES ($1, 'case_tx', 'ceop', 'confirm_freeze', 'open', 'tx-a', 'partner', '{partner}', now(), '{}')`,
          [id],
        );
      }
      // Not yet: other sessions see neither the tasks nor a new version.
      expect(await version('tx-a')).toBe(v0);
      await client.query('COMMIT');
      expect(await version('tx-a')).toBe(v0 + 1);
      await client.query('BEGIN');
      await client.query(`UPDATE tasks SET escalated = true WHERE assignee_org = 'tx-a'`);
      await client.query('ROLLBACK');
      expect(await version('tx-a')).toBe(v0 + 1);
    } finally {
      client.release();
    }
  });
});

describe('the inbox cache', () => {
  it('answers a repeated read from the cache, and has every write of the projection in the next answer', async () => {
    const a = task('tsk_ic_a', 'visa', 'partner');
    await record(a);
    const first = await counted(() => checked(visa));
    expect(ids(first.result)).toEqual(['tsk_ic_a']);
    const again = await counted(() => get(api, visa));
    expect(again.delta).toEqual({ 'hit/200': 1 });
    expect(again.result.text).toBe(first.result.text);
    expect(again.result.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(again.result.headers['cache-control']).toBe('no-store');
    // Another principal of the same org with the same roles reads the same page.
    expect((await counted(() => get(api, visa2))).delta).toEqual({ 'hit/200': 1 });

    // A new task, a completion, a cancellation: each in the very next answer.
    const b = task('tsk_ic_b', 'visa', 'partner');
    await record(b);
    expect(ids(await checked(visa))).toEqual(['tsk_ic_a', 'tsk_ic_b']);
    await record({ ...a, status: 'completed', completedAt: '2026-03-02T00:00:00.000Z', completedBy: { id: visa.id, org: 'visa' }, outcome: 'terminated', data: { terminatedAt: '2026-03-02T00:00:00.000Z' } });
    expect(ids(await checked(visa))).toEqual(['tsk_ic_b']);
    expect(ids(await checked(visa, 'status=completed'))).toEqual(['tsk_ic_a']);
    await record({ ...b, status: 'cancelled' });
    expect(ids(await checked(visa))).toEqual([]);
    expect(ids(await checked(visa, 'status=cancelled'))).toEqual(['tsk_ic_b']);
    // A change that keeps a task open but changes its JSON (an escalation) is in the next answer too.
    const c = task('tsk_ic_c', 'visa', 'partner');
    await record(c);
    expect((await checked(visa)).body.items[0].escalated).toBe(false);
    await record({ ...c, escalated: true });
    expect((await checked(visa)).body.items[0].escalated).toBe(true);

    // A write to another org's tasks leaves this org's page cached.
    const before = await get(api, visa);
    await record(task('tsk_ic_p', 'paypal', 'partner'));
    const after = await counted(() => get(api, visa));
    expect(after.delta).toEqual({ 'hit/200': 1 });
    expect(after.result.text).toBe(before.text);
    expect(ids(await checked(paypal))).toEqual(['tsk_ic_p']);
  });

  it('has a completion through the API and the workflow in the next inbox answer', async () => {
    const created = await api.request('POST', '/v1/cases', { token: lead.token, body: caseBody() });
    expect(created.status, created.text).toBe(201);
    const verify = await waitForInboxTask(api, analyst.token, created.body.id, 'verify_evidence');
    const query = `caseId=${created.body.id}`;
    expect(ids(await get(api, analyst, query))).toEqual([verify.id]);
    expect(ids(await get(api2, analyst, query))).toEqual([verify.id]);
    const done = await api.request('POST', `/v1/tasks/${verify.id}/complete`, { token: analyst.token, body: { outcome: 'verified' } });
    expect(done.status, done.text).toBe(200);
    // Both processes: the one that took the completion and one that heard nothing of it.
    expect(ids(await get(api, analyst, query))).toEqual([]);
    expect(ids(await get(api2, analyst, query))).toEqual([]);
    expect(ids(await get(api2, analyst, `${query}&status=completed`))).toEqual([verify.id]);
  });

  it('never shares a page across orgs or role sets', async () => {
    const forAnalyst = task('tsk_ic_an', 'ceop', 'analyst', { caseId: 'case_inboxcache0000000002' });
    const forOfficer = task('tsk_ic_of', 'ceop', 'le_officer', { caseId: 'case_inboxcache0000000002' });
    const forVisa = task('tsk_ic_vi', 'visa', 'partner', { caseId: 'case_inboxcache0000000002' });
    const forPaypal = task('tsk_ic_pp', 'paypal', 'partner', { caseId: 'case_inboxcache0000000002' });
    await record(forAnalyst, forOfficer, forVisa, forPaypal);
    const query = 'caseId=case_inboxcache0000000002';
    const expected: [P, string[]][] = [
      [analyst, ['tsk_ic_an']],
      [officer, ['tsk_ic_of']],
      [analystOfficer, ['tsk_ic_an', 'tsk_ic_of']],
      [visa, ['tsk_ic_vi']],
      [paypal, ['tsk_ic_pp']],
      [lead, []],
    ];
    // Twice in each order: the second rounds are answered from the cache, each with its own page.
    for (const order of [expected, [...expected].reverse(), expected]) {
      for (const [p, want] of order) expect(ids(await checked(p, query)), `${p.org} ${p.roles.join('+')}`).toEqual(want);
    }
    const hits = await counted(() => Promise.all(expected.map(([p]) => get(api, p, query))));
    expect(hits.delta).toEqual({ 'hit/200': expected.length });
    hits.result.forEach((res, i) => expect(ids(res)).toEqual(expected[i][1]));
    // Each filter is part of the key.
    expect(ids(await checked(analystOfficer, `${query}&type=le_signoff`))).toEqual(['tsk_ic_of']);
    expect(ids(await checked(analystOfficer, `${query}&type=verify_evidence`))).toEqual(['tsk_ic_an']);
    expect(ids(await checked(analystOfficer, `${query}&limit=1`))).toEqual(['tsk_ic_an']);
    expect(ids(await checked(analystOfficer, `${query}&status=completed`))).toEqual([]);
  });

  it('pages with cursors, each page cached on its own and current after a write', async () => {
    const caseId = 'case_inboxcache0000000003';
    const tasks = Array.from({ length: 5 }, (_, i) => task(`tsk_ic_pg${i}`, 'visa', 'partner', { caseId, dueAt: new Date(Date.parse('2026-04-01T00:00:00.000Z') - i * 3600_000).toISOString() }));
    await record(...tasks);
    const walk = async (sort: string) => {
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const res: ApiResponse = await checked(visa, `caseId=${caseId}&limit=2&sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(ids(res));
        cursor = res.body.nextCursor;
      } while (cursor);
      return pages;
    };
    const created = [['tsk_ic_pg0', 'tsk_ic_pg1'], ['tsk_ic_pg2', 'tsk_ic_pg3'], ['tsk_ic_pg4']];
    expect(await walk('created')).toEqual(created);
    const cachedWalk = await counted(() => walk('created'));
    expect(cachedWalk.result).toEqual(created);
    expect(cachedWalk.delta['hit/200']).toBe(3);
    expect(await walk('due')).toEqual([['tsk_ic_pg4', 'tsk_ic_pg3'], ['tsk_ic_pg2', 'tsk_ic_pg1'], ['tsk_ic_pg0']]);
    // A task completed in the middle: every page after it moves up at once.
    await record({ ...tasks[1], status: 'completed' });
    expect(await walk('created')).toEqual([['tsk_ic_pg0', 'tsk_ic_pg2'], ['tsk_ic_pg3', 'tsk_ic_pg4']]);
  });

  it('gives every answer a strong ETag of its bytes, answers a matching If-None-Match with 304, and a changed page with 200', async () => {
    const caseId = 'case_inboxcache0000000004';
    const t = task('tsk_ic_et', 'visa', 'partner', { caseId });
    await record(t);
    const query = `caseId=${caseId}`;
    const first = await checked(visa, query);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    // Every process gives the same ETag for the same bytes, cached or not.
    expect((await get(api2, visa, query)).headers.etag).toBe(etag);
    for (const [on, cache] of [[api, 'hit'], [api2, 'hit'], [uncached, 'off']] as const) {
      for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const { result: res, delta } = await counted(() => get(on, visa, query, { 'If-None-Match': tag }));
        expect(res.status, tag).toBe(304);
        expect(delta).toEqual({ [`${cache}/304`]: 1 });
        expect(res.text).toBe('');
        expect(res.headers.etag).toBe(etag);
        expect(res.headers['cache-control']).toBe('no-store');
      }
      const other = await get(on, visa, query, { 'If-None-Match': '"something-else"' });
      expect(other.status).toBe(200);
      expect(other.text).toBe(first.text);
    }
    // A HEAD is answered like the GET, without the body.
    const head = await api.request('HEAD', `/v1/tasks?${query}`, { token: visa.token, headers: { 'If-None-Match': etag } });
    expect(head.status).toBe(304);
    // The page changes: the old ETag gets the new page and a new ETag, which then gets a 304.
    await record({ ...t, escalated: true });
    const changed = await get(api, visa, query, { 'If-None-Match': etag });
    expect(changed.status).toBe(200);
    expect(changed.body.items[0].escalated).toBe(true);
    expect(changed.headers.etag).not.toBe(etag);
    expect((await get(api2, visa, query, { 'If-None-Match': etag })).status).toBe(200);
    expect((await get(api, visa, query, { 'If-None-Match': String(changed.headers.etag) })).status).toBe(304);
    expect((await get(uncached, visa, query, { 'If-None-Match': String(changed.headers.etag) })).status).toBe(304);
    // Errors carry no ETag.
    const bad = await get(api, visa, 'limit=0', { 'If-None-Match': '*' });
    expect(bad.status).toBe(422);
    expect(bad.headers.etag).toBeUndefined();
  });

  it('holds pages up to its size in bytes, the least recently used going first, and never one bigger than the whole', async () => {
    for (const id of ['tsk_ic_size_1', 'tsk_ic_size_2']) await record(task(id, 'paypal', 'partner'));
    const render = (page: InboxPage) => `[${page.items.map((i) => i.doc).join(',')}]`;
    // Three keys for pages of the same bytes (both tasks fit each limit).
    const filter = (limit: number) => ({ org: 'paypal', roles: ['partner'], status: 'open' as const, limit });
    const first = await new InboxCache(1 << 20).answer(stack.db.pool, filter(50), render);
    // An entry counts its body, its key (two bytes a character) and 200 bytes more: room for one and a half.
    const entry = first.body.length + inboxKey(filter(50)).length * 2 + 200;
    const cache = new InboxCache(Math.floor(entry * 1.5));
    expect((await cache.answer(stack.db.pool, filter(50), render)).cache).toBe('miss');
    expect((await cache.answer(stack.db.pool, filter(50), render)).cache).toBe('hit');
    await cache.answer(stack.db.pool, filter(49), render);
    await cache.answer(stack.db.pool, filter(48), render);
    expect(cache.stats).toEqual({ entries: 1, bytes: entry });
    expect((await cache.answer(stack.db.pool, filter(48), render)).cache).toBe('hit');
    expect((await cache.answer(stack.db.pool, filter(50), render)).cache).toBe('miss');
    // A cache smaller than one page keeps nothing and still answers.
    const tiny = new InboxCache(100);
    const answers = [await tiny.answer(stack.db.pool, filter(50), render), await tiny.answer(stack.db.pool, filter(50), render)];
    expect(answers.map((a) => a.cache)).toEqual(['miss', 'miss']);
    expect(answers[1].body.equals(first.body)).toBe(true);
    expect(tiny.stats).toEqual({ entries: 0, bytes: 0 });
  });

  it('without a cache (TAKEDOWN_INBOX_CACHE_MB=0) reads every page, with the same answers', async () => {
    const caseId = 'case_inboxcache0000000005';
    await record(task('tsk_ic_off', 'visa', 'partner', { caseId }));
    const { result, delta } = await counted(async () => [await get(uncached, visa, `caseId=${caseId}`), await get(uncached, visa, `caseId=${caseId}`)]);
    expect(delta).toEqual({ 'off/200': 2 });
    expect(result.map(ids)).toEqual([['tsk_ic_off'], ['tsk_ic_off']]);
    expect(result[0].text).toBe((await get(api, visa, `caseId=${caseId}`)).text);
  });

  it('never answers with a page older than the request, while writes race reads in two caching processes', async () => {
    // One task of visa carries a counter: the writer writes n = 1, 2, ... one after another (each as the worker writes
    // tasks). A read sent after write n was acknowledged must show at least n; one answered before write m was sent
    // can show at most m - 1. Two processes with their own caches read throughout; afterwards every cached page is
    // the final one.
    const caseId = 'case_inboxcache0000000006';
    const counter = task('tsk_ic_race', 'visa', 'partner', { caseId });
    const other = task('tsk_ic_race2', 'visa', 'partner', { caseId });
    await record(counter, other);
    const query = `caseId=${caseId}`;
    let acknowledged = 0;
    let sent = 0;
    let finished = false;
    const WRITES = 120;
    const writer = (async () => {
      for (let n = 1; n <= WRITES; n++) {
        sent = n;
        // Every third write touches the other task only: the counter's page still changes (its bytes do).
        if (n % 3 === 0) await record({ ...other, comment: `other ${n}` }, { ...counter, comment: `n=${n}` });
        else await record({ ...counter, comment: `n=${n}` });
        acknowledged = n;
        if (n % 4 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })().finally(() => (finished = true));
    const violations: string[] = [];
    let answers = 0;
    const reader = async (on: ApiHarness, p: P) => {
      while (!finished) {
        const floor = acknowledged;
        const res = await get(on, p, query);
        const ceiling = sent;
        answers += 1;
        const comment: string | null = res.body.items.find((x: { id: string }) => x.id === counter.id)?.comment ?? null;
        const n = comment ? Number(comment.slice(2)) : 0;
        if (res.status !== 200 || n < floor || n > ceiling) violations.push(`${res.status}: n=${n} outside [${floor}, ${ceiling}]`);
      }
    };
    const { delta } = await counted(() => Promise.all([writer, ...[api, api2].flatMap((on) => [visa, visa2, visa, visa2].map((p) => reader(on, p)))]));
    expect(violations).toEqual([]);
    expect(answers).toBeGreaterThan(WRITES);
    // The race went through every path: pages served from the cache, read anew, and (usually) shared reads.
    expect(delta['hit/200'] ?? 0).toBeGreaterThan(0);
    expect(delta['miss/200'] ?? 0).toBeGreaterThan(0);
    for (const on of [api, api2]) {
      for (const p of [visa, visa2]) {
        const res = await checked(p, query, on);
        expect(res.body.items.find((x: { id: string }) => x.id === counter.id).comment).toBe(`n=${WRITES}`);
      }
    }
  });
});
