// Dependencies down: the API answers 503 quickly (never hangs, never 500) when Temporal or PostgreSQL is unreachable.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { connectDb, type DbHandle } from '../../db/client';
import { freePort } from '../../scripts/lib/ports';
import { rawRequest, startApi, type ApiHarness } from '../support/api-harness';
import { caseBody } from '../support/api-fixtures';

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
      const failed = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string; params?: unknown } }).filter((l) => l.msg === 'request failed: unavailable');
      expect(failed).toHaveLength(1);
      // The statement is named, its values are not.
      expect(failed[0].err?.message).toMatch(/^Failed query: insert into "partners"[\s\S]*params: \[not logged\]$/);
      expect(failed[0].err?.params).toBe('[not logged]');
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
