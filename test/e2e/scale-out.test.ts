// Scale-out entry points: two `npm run api` processes and two `npm run worker` processes against one PostgreSQL and one
// Temporal; a case created through one API instance is driven to its end through the other; an instance stops cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { TakedownClient } from '../../scripts/lib/api-client';
import { freePort } from '../../scripts/lib/ports';
import { freshDatabase } from '../support/db';
import { getOver } from '../support/keep-alive';
import { sampleCase } from '../support/fixtures';
import { ROOT } from '../support/paths';

const children: ChildProcess[] = [];
const apis: ChildProcess[] = [];
let urls: string[] = [];
let workerOpsUrl = '';
const adminToken = `scale-admin-${randomBytes(16).toString('hex')}`;

function start(entry: 'api' | 'worker', env: Record<string, string>): ChildProcess {
  // As docker-compose.yml runs them: node itself, so that it receives the signals.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, `scripts/${entry}.ts`)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', process.env.SCALE_TEST_LOGS ? 'inherit' : 'ignore'],
  });
  children.push(child);
  return child;
}

async function healthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} never became healthy`);
}

beforeAll(async () => {
  const db = await freshDatabase('scale');
  await db.close();
  const env = {
    // The production split: the app's role for queries, the tables' owner only to migrate and grant.
    DATABASE_URL: db.url,
    MIGRATION_DATABASE_URL: db.ownerUrl,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `scale-${randomBytes(4).toString('hex')}`,
    TAKEDOWN_ADMIN_TOKEN: adminToken,
    TAKEDOWN_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    NODE_ENV: 'production',
  };
  const ports = [await freePort(0), await freePort(0)];
  urls = ports.map((p) => `http://127.0.0.1:${p}`);
  // The second waits a second, not ready, before it drains on SIGTERM (TAKEDOWN_SHUTDOWN_DELAY).
  for (const [i, port] of ports.entries()) apis.push(start('api', { ...env, PORT: String(port), ...(i === 1 ? { TAKEDOWN_SHUTDOWN_DELAY: '1s' } : {}) }));
  // One worker serves its operations endpoints (TAKEDOWN_WORKER_PORT), the other none.
  const opsPort = await freePort(0);
  workerOpsUrl = `http://127.0.0.1:${opsPort}`;
  start('worker', { ...env, TAKEDOWN_WORKER_PORT: String(opsPort) });
  start('worker', env);
  await Promise.all([...urls, workerOpsUrl].map(healthy));
}, 120_000);

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
});

it('serves one case across two API instances and two workers', async () => {
  const [a, b] = urls.map((u) => new TakedownClient({ baseUrl: u, token: adminToken }));
  const lead = await a.createPrincipal({ name: 'lead', org: 'ceop', roles: ['case_lead'] });
  const analyst = await b.createPrincipal({ name: 'analyst', org: 'ceop', roles: ['analyst'] });
  const created = await a.withToken(lead.token).createCase(sampleCase() as never);
  let task;
  for (let i = 0; i < 100 && !task; i++) {
    task = (await b.withToken(analyst.token).listTasks({ status: 'open', caseId: created.id })).items[0];
    if (!task) await new Promise((r) => setTimeout(r, 100));
  }
  expect(task?.type).toBe('verify_evidence');
  await b.withToken(analyst.token).completeTask(task!.id, { outcome: 'rejected', comment: 'hashes do not match' });
  let status = '';
  for (let i = 0; i < 100 && status !== 'closed_unverified'; i++) {
    status = (await a.withToken(lead.token).getCase(created.id)).status;
    if (status !== 'closed_unverified') await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe('closed_unverified');
  expect((await a.withToken(lead.token).verifyAudit(created.id).catch((e) => e.status)) as number).toBe(403);
}, 60_000);

it("a standalone worker serves its own /healthz and, to an admin or auditor, its /metrics", async () => {
  const health = await fetch(`${workerOpsUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok', db: 'ok', temporal: 'ok' });
  expect((await fetch(`${workerOpsUrl}/metrics`)).status).toBe(401);
  const metrics = await fetch(`${workerOpsUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  expect(metrics.status).toBe(200);
  const text = await metrics.text();
  expect(text).toContain('# TYPE takedown_notice_attempts_total counter');
  expect(text).toMatch(/takedown_cases\{status="closed_unverified"\} [1-9]/);
  expect((await fetch(`${workerOpsUrl}/v1/cases`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(404);
});

it('an API instance stops on SIGTERM while a client polls it back to back on a keep-alive connection, not ready first', async () => {
  const [url, child] = [urls[1], apis[1]];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let polling = true;
  let answered = 0;
  let draining = 0;
  // The status of a /v1 request made while /healthz said draining (checked after the poller: an expect inside its try
  // would be swallowed by the catch that waits out refused connections).
  let servedWhileDraining: number | string | undefined;
  const poller = (async () => {
    while (polling) {
      try {
        const r = await getOver(agent, `${url}/healthz`);
        if (r.status === 200) answered += 1;
        // Not ready, yet answering, for TAKEDOWN_SHUTDOWN_DELAY; the API itself still serves meanwhile.
        if (r.status === 503 && (JSON.parse(r.body) as { status: string }).status === 'draining') {
          if (draining++ === 0) {
            servedWhileDraining = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${adminToken}` } }).then(
              (res) => res.status,
              (err: Error) => err.message,
            );
          }
        }
      } catch {
        // Refused once the instance is gone; a real client would go to the other one.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  const elapsed = Date.now() - started;
  polling = false;
  await poller;
  agent.destroy();
  expect(answered).toBeGreaterThan(0);
  expect(draining).toBeGreaterThan(0);
  expect(servedWhileDraining).toBe(200);
  expect(elapsed).toBeGreaterThanOrEqual(1_000);
  expect(code).toBe(0);
  // Before the HTTP server drained, the busy keep-alive connection held the shutdown until SIGKILL; the drain cuts
  // connections only after 15 s, and a clean drain is much quicker than that.
  expect(elapsed).toBeLessThan(8_000);
}, 30_000);
