// `npm run worker` refuses a bad configuration before it takes work: a worker that polls its task queue and then exits
// leaves the workflow and activity tasks it took to their timeouts (and, restarted by its supervisor, does it again).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROOT } from '../support/paths';
import { freshDatabase, type TestDb } from '../support/db';

let db: TestDb;
let temporal: Connection;

beforeAll(async () => {
  db = await freshDatabase('worker-start');
  temporal = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await temporal?.close();
  await db?.drop();
});

function runWorker(env: NodeJS.ProcessEnv, script = 'scripts/worker.ts'): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** What a start of `npm run worker` on its own task queue needs; `env` adds to it. */
function workerEnv(taskQueue: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: db.url,
    MIGRATION_DATABASE_URL: db.ownerUrl,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    TAKEDOWN_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    TAKEDOWN_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'takedown-worker-start-')),
    ...env,
  };
}

/** Nothing polled the task queue: the worker was refused first, and said nothing of running. */
async function expectNeverPolled(taskQueue: string, out: string): Promise<void> {
  const pollers = async (taskQueueType: 1 | 2) =>
    (await temporal.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType })).pollers ?? [];
  expect.soft(out, 'the worker reported itself running before it failed').not.toMatch(/"msg":"worker running"/);
  expect.soft((await pollers(1)).length, 'workflow task pollers').toBe(0);
  expect.soft((await pollers(2)).length, 'activity task pollers').toBe(0);
}

/** `script` started on its own task queue with the port `env` names held by another listener: it exits 1 on EADDRINUSE, never polling. */
async function refusedOnTakenPort(script: string, queuePrefix: string, env: (port: string) => NodeJS.ProcessEnv): Promise<void> {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const taskQueue = `${queuePrefix}-${Date.now()}`;
    const { code, out } = await runWorker(workerEnv(taskQueue, env(String((taken.address() as net.AddressInfo).port))), script);
    expect(code).toBe(1);
    expect(out).toMatch(/EADDRINUSE/);
    await expectNeverPolled(taskQueue, out);
  } finally {
    taken.close();
  }
}

describe('npm run worker', () => {
  it('in production without an admin token but with TAKEDOWN_WORKER_PORT, fails before it polls its task queue', async () => {
    const taskQueue = `worker-start-${Date.now()}`;
    const { code, out } = await runWorker(workerEnv(taskQueue, { NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: '', TAKEDOWN_WORKER_PORT: '0' }));
    expect(code).toBe(1);
    expect(out).toMatch(/TAKEDOWN_ADMIN_TOKEN is required when NODE_ENV=production/);
    await expectNeverPolled(taskQueue, out);
  }, 20_000);

  it('fails before it polls its task queue when TAKEDOWN_WORKER_PORT is taken', async () => {
    await refusedOnTakenPort('scripts/worker.ts', 'worker-start-port', (port) => ({ TAKEDOWN_ADMIN_TOKEN: 'worker-start-admin-token-0123456789', TAKEDOWN_WORKER_PORT: port }));
  }, 20_000);
});

describe('npm run worker: configuration and its own metrics', () => {
  it('refuses a bad setting with one JSON fatal line naming it, and exit code 1, before anything starts', async () => {
    const taskQueue = `worker-config-${Date.now()}`;
    const { code, out } = await runWorker(workerEnv(taskQueue, { TAKEDOWN_SDK_METRICS_ADDRESS: 'http://0.0.0.0:9465' }));
    expect(code).toBe(1);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]) as { level: number; msg: string; err: { message: string } };
    expect(line).toMatchObject({ level: 60, msg: 'invalid configuration: not started' });
    expect(line.err.message).toContain('TAKEDOWN_SDK_METRICS_ADDRESS: must be an IP address and a port');
    await expectNeverPolled(taskQueue, out);
  }, 20_000);

  it('fails before it polls its task queue when TAKEDOWN_SDK_METRICS_ADDRESS is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const taskQueue = `worker-sdk-taken-${Date.now()}`;
      const { code, out } = await runWorker(workerEnv(taskQueue, { TAKEDOWN_SDK_METRICS_ADDRESS: `127.0.0.1:${(taken.address() as net.AddressInfo).port}` }));
      expect(code).toBe(1);
      expect(out).toMatch(/"msg":"the Temporal SDK runtime did not start: not started"/);
      expect(out).toMatch(/Address already in use/);
      await expectNeverPolled(taskQueue, out);
    } finally {
      taken.close();
    }
  }, 20_000);

  it('serves the Temporal SDK metrics at TAKEDOWN_SDK_METRICS_ADDRESS while it runs', async () => {
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const taskQueue = `worker-sdk-metrics-${Date.now()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...workerEnv(taskQueue, { TAKEDOWN_SDK_METRICS_ADDRESS: `127.0.0.1:${port}` }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const deadline = Date.now() + 20_000;
      let text = '';
      // The SDK registers its series once the worker polls: read until the pollers' gauge names this task queue.
      while (!text.includes(`task_queue="${taskQueue}"`)) {
        if (Date.now() > deadline) throw new Error(`no SDK metrics for ${taskQueue}; worker said:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      }
      expect(text).toMatch(new RegExp(`^temporal_num_pollers\\{[^}]*task_queue="${taskQueue}"`, 'm'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 40_000);
});

describe('npm start', () => {
  it('fails before its worker polls the task queue when the PORT asked for is taken', async () => {
    await refusedOnTakenPort('scripts/start.ts', 'system-start-port', (port) => ({ HOST: '127.0.0.1', PORT: port }));
  }, 20_000);
});
