// Dependencies down: the API answers 503 quickly (never hangs, never 500) when Temporal or PostgreSQL is unreachable,
// and stops within seconds when PostgreSQL has stopped answering.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app';
import { connectDb, type DbHandle } from '../../db/client';
import { loadConfig } from '../../scripts/config';
import { freePort } from '../../scripts/lib/ports';
import type { Services } from '../../scripts/lib/runtime';
import { startApiPart } from '../../scripts/lib/system';
import { rawRequest, startApi, type ApiHarness } from '../support/api-harness';
import { caseBody } from '../support/api-fixtures';
import { freshDatabase, type TestDb } from '../support/db';

let deadTemporal: ApiHarness;
let deadConnection: Connection;
let deadDb: DbHandle;
let deadDbServer: http.Server;
let deadDbPort: number;
const adminToken = 'outage-admin-token-0123456789';

beforeAll(async () => {
  // Nothing listens on this port: every Temporal call fails with UNAVAILABLE.
  const nowhere = `127.0.0.1:${await freePort(0)}`;
  deadConnection = Connection.lazy({ address: nowhere });
  deadTemporal = await startApi('outage', { client: new Client({ connection: deadConnection, namespace: 'default' }) });

  const livePort = await freePort(0);
  deadDb = connectDb(`postgres://nobody:x@127.0.0.1:${livePort}/nothing`, { max: 2 });
  const app = createApp({
    pool: deadDb.pool,
    db: deadDb.db,
    temporal: deadTemporal.client,
    taskQueue: 'tq-outage',
    namespace: 'default',
    adminToken,
    logger: pino({ level: 'silent' }),
  });
  deadDbServer = http.createServer(app);
  await new Promise<void>((resolve) => deadDbServer.listen(0, '127.0.0.1', resolve));
  deadDbPort = (deadDbServer.address() as AddressInfo).port;
});
afterAll(async () => {
  deadDbServer?.closeAllConnections();
  await new Promise<void>((resolve) => (deadDbServer ? deadDbServer.close(() => resolve()) : resolve()));
  await deadDb?.close().catch(() => {});
  await deadTemporal?.stop();
  await deadConnection?.close().catch(() => {});
});

describe('Temporal unreachable', () => {
  it('reports 503 on /healthz within a few seconds', async () => {
    const t0 = Date.now();
    const res = await deadTemporal.request('GET', '/healthz');
    expect(res.status).toBe(503);
    // No token needed here, so no detail: where Temporal was looked for goes to the log only.
    expect(res.body).toEqual({ status: 'degraded', db: 'ok', temporal: 'unavailable' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    // Not ready, but alive: a liveness probe must not restart it for a dependency's outage.
    const live = await deadTemporal.request('GET', '/livez');
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
  });

  it('answers case creation with 503 and Retry-After within the deadline, and reads from PostgreSQL still work', async () => {
    const lead = await deadTemporal.principal('ceop', ['case_lead']);
    const t0 = Date.now();
    const res = await deadTemporal.request('POST', '/v1/cases', { token: lead.token, body: caseBody(), headers: { 'Idempotency-Key': 'outage-1' }, timeoutMs: 20_000 });
    expect(res.status, res.text).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(Date.now() - t0).toBeLessThan(13_000);
    // The key was released: a retry owns it at once (and meets the same outage) instead of a 409.
    const { rows } = await deadTemporal.db.pool.query(`SELECT state, locked_until <= now() AS released FROM idempotency_keys WHERE key = 'outage-1'`);
    expect(rows[0]).toEqual({ state: 'in_flight', released: true });
    expect((await deadTemporal.request('GET', '/v1/cases', { token: lead.token })).status).toBe(200);
  }, 30_000);

  it('names the case id a creation without an Idempotency-Key may have started, so the client looks before creating another', async () => {
    const lead = await deadTemporal.principal('ceop', ['case_lead']);
    const res = await deadTemporal.request('POST', '/v1/cases', { token: lead.token, body: caseBody(), timeoutMs: 20_000 });
    expect(res.status, res.text).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body.caseId).toMatch(/^case_[a-z0-9]+$/);
    expect(res.body).toMatchObject({ status: 503, type: expect.stringMatching(/unavailable$/) });
    expect(res.body.detail).toContain(`GET /v1/cases/${res.body.caseId}`);
  }, 30_000);
});

describe('PostgreSQL unreachable', () => {
  it("never writes a failed statement's parameters to the log: a partner's webhook secret stays out of it", async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const app = createApp({ pool: deadDb.pool, db: deadDb.db, temporal: deadTemporal.client, taskQueue: 'tq-outage', namespace: 'default', adminToken, logger });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const res = await rawRequest((server.address() as AddressInfo).port, 'PUT', '/v1/partners/visa', {
        token: adminToken,
        body: { kind: 'card_scheme', webhookUrl: 'https://visa.example.test/hook', secret },
      });
      expect(res.status).toBe(503);
      // The PUT runs in a transaction (its admin event with it): with PostgreSQL down it fails at the connection,
      // before any statement. A read that fails as one statement shows how a failed statement is logged: the statement
      // is named, its values are not.
      const principalId = `prn_${randomBytes(8).toString('hex')}`;
      expect((await rawRequest((server.address() as AddressInfo).port, 'GET', `/v1/principals/${principalId}`, { token: adminToken })).status).toBe(503);
      const failed = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string; params?: unknown } }).filter((l) => l.msg === 'request failed: unavailable');
      expect(failed).toHaveLength(2);
      expect(failed[1].err?.message).toMatch(/^Failed query: select [\s\S]* from "principals"[\s\S]*params: \[not logged\]$/);
      expect(failed[1].err?.params).toBe('[not logged]');
      expect(JSON.stringify(failed[1].err)).not.toContain(principalId);
      expect(lines.filter((l) => l.includes(secret.slice(6, 30)))).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('answers authenticated requests with 503 quickly, and /healthz with 503', async () => {
    const t0 = Date.now();
    const res = await rawRequest(deadDbPort, 'GET', '/v1/tasks', { token: `tdk_${'a'.repeat(43)}` });
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const admin = await rawRequest(deadDbPort, 'GET', '/v1/principals', { token: adminToken });
    expect(admin.status).toBe(503);
    const health = await rawRequest(deadDbPort, 'GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'degraded', db: 'unavailable' });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

/** A TCP relay to PostgreSQL that can freeze: connections stay open, and nothing more passes either way (no FIN either). */
async function freezableRelay(targetPort: number) {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => void (frozen || upstream.write(d)));
    upstream.on('data', (d) => void (frozen || client.write(d)));
    client.on('end', () => void (frozen || upstream.end()));
    upstream.on('end', () => void (frozen || client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** 'settled' or 'still waiting' after `ms`. */
function within(ms: number, p: Promise<unknown>): Promise<'settled' | 'still waiting'> {
  return Promise.race([p.then(() => 'settled' as const, () => 'settled' as const), new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), ms))]);
}

describe('shutdown while PostgreSQL does not answer', () => {
  let db: TestDb;
  let relay: Awaited<ReturnType<typeof freezableRelay>>;
  let temporal: Connection;

  beforeAll(async () => {
    db = await freshDatabase('shutdown-outage');
    relay = await freezableRelay(Number(new URL(db.url).port));
    temporal = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => {
    relay?.close();
    await temporal?.close();
    await db?.drop();
  });

  it("answers /healthz 503 `starting` until the process's worker is up, then 200", async () => {
    const handle = connectDb(db.url, { max: 2, applicationName: 'starting' });
    const config = loadConfig({ TAKEDOWN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'takedown-starting-')), PORT: '0', LOG_LEVEL: 'silent' });
    const services = { db: handle, databaseUrl: db.url, temporalAddress: inject('temporalAddress'), temporalAuth: {} } as unknown as Services;
    const api = await startApiPart(config, services, new Client({ connection: temporal, namespace: 'default' }), pino({ level: 'silent' }), 'starting-admin-token-0123456789', 0, { starting: true });
    try {
      const before = await fetch(`${api.url}/healthz`);
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual({ status: 'starting', db: 'ok', temporal: 'ok' });
      api.ready();
      const after = await fetch(`${api.url}/healthz`);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ status: 'ok', db: 'ok', temporal: 'ok' });
    } finally {
      await api.stop();
      await handle.close();
    }
  });

  it('stops the API and closes its pool within seconds', async () => {
    const url = new URL(db.url);
    url.port = String(relay.port);
    const handle = connectDb(url.href, { max: 4, applicationName: 'shutdown-outage' });
    const config = loadConfig({ TAKEDOWN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'takedown-shutdown-')), PORT: '0', LOG_LEVEL: 'silent' });
    const services = { db: handle, databaseUrl: url.href, temporalAddress: inject('temporalAddress'), temporalAuth: {} } as unknown as Services;
    const client = new Client({ connection: temporal, namespace: 'default' });
    const api = await startApiPart(config, services, client, pino({ level: 'silent' }), 'shutdown-outage-admin-token', 0);
    // Serving as usual: the principal cache listens, the pool holds a connection.
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);

    relay.freeze();
    const started = Date.now();
    // What scripts/api.ts runs on SIGTERM (the Temporal connection aside): the API, then the services' pool.
    // The principal cache cuts its listening connection after 2 s; the drain itself waits for nothing here.
    const apiStop = await within(6_000, api.stop());
    expect.soft(apiStop, `api.stop() ${Math.round((Date.now() - started) / 1000)} s after the freeze (its principal cache's LISTEN connection ending)`).toBe('settled');
    expect.soft(await within(5_000, handle.close()), 'the pool closing').toBe('settled');
  }, 20_000);
});
