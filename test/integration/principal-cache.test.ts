// Principals remembered between requests (api/principal-cache.ts): a revocation, a role change or a lost listening connection never lets a stale principal through.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashToken } from '../../api/middleware/auth';
import { PrincipalCache } from '../../api/principal-cache';
import { startApi, type ApiHarness } from '../support/api-harness';

// Two API processes on one database, as in a scale-out deployment.
let a: ApiHarness;
let b: ApiHarness;

beforeAll(async () => {
  a = await startApi('principal-cache');
  b = await startApi('principal-cache-b', { db: a.db });
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

/** Waits for `cond`, failing with `what` after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  await vi.waitFor(
    () => {
      if (!cond()) throw new Error(`still waiting for ${what}`);
    },
    { timeout: ms, interval: 10 },
  );
}

async function listenerPids(): Promise<number[]> {
  const { rows } = await a.db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'takedown-principals-listener' AND datname = current_database()`,
  );
  return rows.map((r) => r.pid);
}

describe('principal cache', () => {
  it('answers from memory after the first request, and a revocation through one API process stops the token on the other', async () => {
    const lead = await a.principal('ceop', ['case_lead']);
    expect(a.principals.active && b.principals.active).toBe(true);
    for (const api of [a, b]) expect((await api.request('GET', '/v1/cases', { token: lead.token })).status).toBe(200);
    const hash = hashToken(lead.token);
    expect(a.principals.get(hash)).toMatchObject({ id: lead.id, org: 'ceop', roles: ['case_lead'] });
    expect(b.principals.get(hash)).toMatchObject({ id: lead.id });

    expect((await a.request('DELETE', `/v1/principals/${lead.id}`, { token: a.adminToken })).status).toBe(204);
    // The revoking process forgot before it answered; the other hears it from PostgreSQL within moments.
    expect((await a.request('GET', '/v1/cases', { token: lead.token })).status).toBe(401);
    await until(() => b.principals.get(hash) === undefined, 2_000, 'the other process forgetting the principal');
    expect((await b.request('GET', '/v1/cases', { token: lead.token })).status).toBe(401);
  });

  it('sees a role change made behind the API (straight in PostgreSQL) on the next request', async () => {
    const p = await a.principal('ceop', ['case_lead']);
    expect((await a.request('GET', '/v1/cases', { token: p.token })).status).toBe(200);
    expect(a.principals.get(hashToken(p.token))).toBeDefined();
    await a.db.pool.query(`UPDATE principals SET roles = '{partner}' WHERE id = $1`, [p.id]);
    await until(() => a.principals.get(hashToken(p.token)) === undefined, 2_000, 'the notification');
    const res = await a.request('GET', '/v1/cases', { token: p.token });
    expect(res.status).toBe(403);
  });

  it('stops using memory while its listening connection is gone, then listens again', async () => {
    const p = await a.principal('ceop', ['analyst']);
    expect((await b.request('GET', '/v1/tasks', { token: p.token })).status).toBe(200);
    expect(b.principals.get(hashToken(p.token))).toBeDefined();

    const before = await listenerPids();
    expect(before.length).toBe(2);
    await a.db.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
    await until(() => !a.principals.active && !b.principals.active, 2_000, 'both caches noticing the lost connection');
    expect(b.principals.get(hashToken(p.token))).toBeUndefined();
    // Without a listener nothing is remembered: a revocation now is seen at once, by a plain query.
    await a.db.pool.query('UPDATE principals SET revoked_at = now() WHERE id = $1', [p.id]);
    expect((await b.request('GET', '/v1/tasks', { token: p.token })).status).toBe(401);

    await until(() => a.principals.active && b.principals.active, 10_000, 'listening again');
    const after = await listenerPids();
    expect(after.length).toBe(2);
    expect(after.some((pid) => before.includes(pid))).toBe(false);
    const q = await a.principal('ceop', ['analyst']);
    expect((await b.request('GET', '/v1/tasks', { token: q.token })).status).toBe(200);
    expect(b.principals.get(hashToken(q.token))).toBeDefined();
  });

  it('does not remember an answer read before a change it was told of', async () => {
    const cache = await PrincipalCache.forPool(a.db.pool);
    try {
      expect(cache.active).toBe(true);
      const actor = { id: 'prn_x', org: 'ceop', roles: ['analyst' as const] };
      const stamp = cache.stamp;
      cache.clear(); // a notification arriving while the lookup was in flight
      cache.remember('h1', actor, stamp);
      expect(cache.get('h1')).toBeUndefined();
      cache.remember('h1', actor, cache.stamp);
      expect(cache.get('h1')).toEqual(actor);
      // Any change to principals (here one that touches no row) empties it.
      await a.db.pool.query(`UPDATE principals SET name = name WHERE id = 'prn_none'`);
      await until(() => cache.get('h1') === undefined, 2_000, 'the notification');
    } finally {
      await cache.close();
    }
    expect(cache.active).toBe(false);
  });

  it('reads a principal again once it has been remembered for maxAgeMs, notification or not', async () => {
    const cache = await PrincipalCache.forPool(a.db.pool, { maxAgeMs: 50 });
    try {
      cache.remember('h2', { id: 'prn_z', org: 'ceop', roles: ['analyst'] }, cache.stamp);
      expect(cache.get('h2')).toBeDefined();
      await new Promise((r) => setTimeout(r, 80));
      expect(cache.get('h2')).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it('counts a listening connection that stops answering as lost', async () => {
    const cache = await PrincipalCache.forPool(a.db.pool, { pingMs: 100, pingTimeoutMs: 300, retryMs: 60_000 });
    const before = new Set(await listenerPids());
    expect(cache.active).toBe(true);
    const { rows } = await a.db.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'takedown-principals-listener' AND datname = current_database() ORDER BY backend_start DESC LIMIT 1`,
    );
    const pid = rows[0].pid;
    expect(before.has(pid)).toBe(true);
    // The backend process stops (as a peer behind a dead network would): no error arrives, only silence.
    process.kill(pid, 'SIGSTOP');
    try {
      await until(() => !cache.active, 3_000, 'the ping noticing the silent connection');
    } finally {
      process.kill(pid, 'SIGCONT');
      await cache.close();
    }
  });

  it('stays off and keeps answering from PostgreSQL when it cannot listen at all', async () => {
    const cache = new PrincipalCache({ connection: { host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1_000 }, retryMs: 60_000 });
    const t0 = performance.now();
    await cache.start();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(cache.active).toBe(false);
    cache.remember('h', { id: 'prn_y', org: 'ceop', roles: ['analyst'] }, cache.stamp);
    expect(cache.get('h')).toBeUndefined();
    await cache.close();
  });
});
