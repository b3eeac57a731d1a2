// Requests per principal and minute (TAKEDOWN_RATE_LIMIT_PER_MINUTE): a 429 problem with Retry-After, per principal;
// and failed authentications per address and minute (TAKEDOWN_AUTH_FAILURES_PER_MINUTE), which come with it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import net from 'node:net';
import { startApi, type ApiHarness } from '../support/api-harness';

let api: ApiHarness;
let guarded: ApiHarness;
let proxied: ApiHarness;
let direct: ApiHarness;
let metrics: ApiHarness;
beforeAll(async () => {
  api = await startApi('ratelimit', { rateLimitPerMinute: 5 });
  // Its own app, so its own counters: three failed authentications a minute from an address.
  guarded = await startApi('authfail', { rateLimitPerMinute: 1000, authFailuresPerMinute: 3 });
  // Behind a reverse proxy on loopback (TAKEDOWN_TRUST_PROXY=loopback): its X-Forwarded-For names the client.
  proxied = await startApi('proxied', { rateLimitPerMinute: 1000, authFailuresPerMinute: 2, trustProxy: ['loopback'] });
  direct = await startApi('direct', { rateLimitPerMinute: 1000, authFailuresPerMinute: 2 });
  metrics = await startApi('authmetrics', { rateLimitPerMinute: 1000, authFailuresPerMinute: 2 });
});
afterAll(async () => {
  await api?.stop();
  await guarded?.stop();
  await proxied?.stop();
  await direct?.stop();
  await metrics?.stop();
});

it('counts and refuses failed authentications on /metrics with those on /v1: a locked-out address gets 429 there too, before any lookup', async () => {
  const lead = await metrics.principal('ceop', ['case_lead']);
  const unknown = (i: number) => ({ token: `tdk_${String(i).padStart(40, 'm')}` });
  // /metrics counts: one failure there and one on /v1 use up the allowance of two.
  expect((await metrics.request('GET', '/metrics', unknown(1))).status).toBe(401);
  expect((await metrics.request('GET', '/v1/me', unknown(2))).status).toBe(401);
  const lookups = tokenLookups(metrics);
  try {
    for (let i = 3; i < 8; i++) expect((await metrics.request('GET', '/metrics', unknown(i))).status).toBe(429);
    // A good token that would need a lookup (never used here, so not in the cache) is refused too.
    const good = await metrics.request('GET', '/metrics', { token: lead.token });
    expect(good.status).toBe(429);
    expect(good.headers['retry-after']).toBeDefined();
    expect((await metrics.request('GET', '/v1/me', { token: lead.token })).status).toBe(429);
    expect(lookups.count).toBe(0);
    // The admin's token needs no lookup, but the operator chose it: a locked-out address may not go on testing guesses
    // at it (a right one would pass, a wrong one get 429), so it is refused like any other, on /metrics and /v1 alike.
    for (const p of ['/metrics', '/v1/principals']) expect((await metrics.request('GET', p, { token: metrics.adminToken })).status).toBe(429);
    expect(lookups.count).toBe(0);
  } finally {
    lookups.stop();
  }
});

/** Counts the token lookups PostgreSQL is asked for from now on, until `stop()`. */
function tokenLookups(harness: ApiHarness): { readonly count: number; stop(): void } {
  const pool = harness.db.pool;
  const query = pool.query.bind(pool);
  let count = 0;
  pool.query = ((config: unknown, ...rest: unknown[]) => {
    const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
    if (text?.includes('FROM principals WHERE token_hash')) count += 1;
    return (query as (...a: unknown[]) => unknown)(config, ...rest);
  }) as typeof pool.query;
  return {
    get count() {
      return count;
    },
    stop: () => {
      pool.query = query;
    },
  };
}

it('counts failed authentications by the address a trusted proxy forwards, and by the TCP peer when no proxy is trusted', async () => {
  const unknown = { token: `tdk_${'z'.repeat(40)}` };
  const from = (address: string) => ({ ...unknown, headers: { 'X-Forwarded-For': address } });
  // Behind the trusted proxy, one client's bad tokens lock out that client alone.
  for (let i = 0; i < 2; i++) expect((await proxied.request('GET', '/v1/me', from('203.0.113.7'))).status).toBe(401);
  expect((await proxied.request('GET', '/v1/me', from('203.0.113.7'))).status).toBe(429);
  expect((await proxied.request('GET', '/v1/me', from('198.51.100.9'))).status).toBe(401);
  // A client cannot pick its address by sending its own X-Forwarded-For through the proxy: the proxy appends the
  // address it saw, and only that last, untrusted hop counts.
  expect((await proxied.request('GET', '/v1/me', from('198.51.100.77, 203.0.113.7'))).status).toBe(429);
  // Without a trusted proxy the header is ignored: every client of the same peer shares one allowance.
  for (const a of ['192.0.2.1', '192.0.2.2']) expect((await direct.request('GET', '/v1/me', from(a))).status).toBe(401);
  expect((await direct.request('GET', '/v1/me', from('192.0.2.99'))).status).toBe(429);
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

it('never counts a bad token against a principal: under the per-address allowance (60 by default) it is a 401, not a 429', async () => {
  for (let i = 0; i < 7; i++) expect((await api.request('GET', '/v1/me', { token: 'tdk_' + 'x'.repeat(40) })).status).toBe(401);
});

it('refuses an address past its failed authentications with 429 problem+json and Retry-After, before any token lookup', async () => {
  const lead = await guarded.principal('ceop', ['case_lead']);
  // Answers other than 401 are not failures, however many, and a request that authenticates does not hold a count
  // while it runs: ten at once pass.
  for (const [path, status] of [
    ['/v1/me', 200],
    ['/v1/cases/case_unknown', 404],
    ['/v1/principals', 403],
    ['/v1/cases?limit=0', 422],
    ['/v1/me', 200],
  ] as const) {
    expect((await guarded.request('GET', path, { token: lead.token })).status, path).toBe(status);
  }
  const together = await Promise.all(Array.from({ length: 10 }, () => guarded.request('GET', '/v1/me', { token: lead.token })));
  expect(together.map((r) => r.status)).toEqual(new Array(10).fill(200));

  // Made now: once the address is locked out, the admin's token is refused from it too.
  const newcomer = await guarded.principal('ceop', ['case_lead']);
  // Count the token lookups PostgreSQL is asked for from here on.
  const lookups = tokenLookups(guarded);
  try {
    const unknown = `tdk_${'y'.repeat(40)}`;
    const failures = [
      await guarded.request('GET', '/v1/me', { token: unknown }),
      await guarded.request('GET', '/v1/cases', { token: null }),
      await guarded.request('POST', '/v1/cases', { token: unknown, body: {} }),
    ];
    expect(failures.map((r) => r.status)).toEqual([401, 401, 401]);
    expect(lookups.count).toBe(2);

    const refused = await guarded.request('GET', '/v1/me', { token: unknown });
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(refused.headers['www-authenticate']).toBeUndefined();
    expect(refused.body).toMatchObject({ status: 429, title: 'Too many requests', detail: expect.stringContaining('failed authentications') });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // No RateLimit headers of its own: those describe the per-principal limit.
    expect(refused.headers['ratelimit-policy']).toBeUndefined();

    // A burst of bad tokens, even concurrent, costs no lookup now; the address is refused until the window ends, and
    // the refused requests changed nothing.
    const burst = await Promise.all(Array.from({ length: 10 }, () => guarded.request('POST', '/v1/cases', { token: unknown, body: {} })));
    expect(burst.map((r) => r.status)).toEqual(new Array(10).fill(429));
    expect(lookups.count).toBe(2);
    const { rows } = await guarded.db.pool.query('SELECT count(*)::int AS n FROM cases');
    expect(rows[0].n).toBe(0);
    // A token in use (the principal cache holds it) is known without a lookup: bad tokens from the same address (one
    // NAT, one proxy) do not lock its holder out. A good token not yet used from this process needs a lookup: refused.
    expect((await guarded.request('GET', '/v1/me', { token: lead.token })).status).toBe(200);
    expect((await guarded.request('GET', '/v1/me', { token: newcomer.token })).status).toBe(429);
    expect((await guarded.request('GET', '/v1/principals', { token: guarded.adminToken })).status).toBe(429);
    expect(lookups.count).toBe(2);
  } finally {
    lookups.stop();
  }
});

it('never refuses good tokens that arrive together, and lets bad tokens past the allowance no further than one burst', async () => {
  const fresh = await startApi('authburst', { rateLimitPerMinute: 1000, authFailuresPerMinute: 3 });
  try {
    // Eight people's first requests, all at once: none is in the principal cache, so all are looked up together.
    const people = await Promise.all(Array.from({ length: 8 }, () => fresh.principal('ceop', ['case_lead'])));
    const good = await Promise.all(people.map((p) => fresh.request('GET', '/v1/me', { token: p.token })));
    expect(good.map((r) => r.status)).toEqual(new Array(8).fill(200));
    // Bad tokens sent at once are looked up before their 401s count; once counted, the address is refused.
    const bad = `tdk_${'z'.repeat(40)}`;
    const burst = await Promise.all(Array.from({ length: 12 }, () => fresh.request('GET', '/v1/me', { token: bad })));
    expect(burst.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(3);
    expect(burst.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    expect((await fresh.request('GET', '/v1/me', { token: bad })).status).toBe(429);
    // Those eight tokens are in use: still served.
    expect((await fresh.request('GET', '/v1/me', { token: people[0].token })).status).toBe(200);
  } finally {
    await fresh.stop();
  }
});

it('counts a failed authentication whose client hung up before the 401 was sent: hanging up is no way around the limit', async () => {
  const client = '203.0.113.50';
  const bad = `tdk_${'h'.repeat(40)}`;
  // Each token lookup takes 300 ms here, so the client is gone before its answer.
  const pool = proxied.db.pool;
  const query = pool.query.bind(pool);
  let lookups = 0;
  let lookup: Promise<unknown> = Promise.resolve();
  pool.query = ((config: unknown, ...rest: unknown[]) => {
    const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
    const run = async () => {
      if (text?.includes('FROM principals WHERE token_hash')) {
        lookups += 1;
        await new Promise((r) => setTimeout(r, 300));
      }
      return (query as (...a: unknown[]) => unknown)(config, ...rest);
    };
    const p = run();
    if (text?.includes('FROM principals WHERE token_hash')) lookup = p.catch(() => {});
    return p;
  }) as typeof pool.query;
  try {
    for (let i = 0; i < 2; i++) {
      const before = lookups;
      const socket = net.connect(proxied.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(`GET /v1/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${bad}\r\nX-Forwarded-For: ${client}\r\n\r\n`);
      for (let t = 0; lookups === before && t < 100; t++) await new Promise((r) => setTimeout(r, 20));
      expect(lookups).toBe(before + 1);
      socket.destroy();
      // The lookup ends and authenticate refuses the token, with no one left to answer: wait for the lookup itself, then
      // for the refusal that follows it within a few turns.
      await lookup;
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await proxied.request('GET', '/v1/me', { token: bad, headers: { 'X-Forwarded-For': client } });
    expect(after.status).toBe(429);
    expect(lookups).toBe(2);
  } finally {
    pool.query = query;
  }
});
