// The fault suite: a mix of concurrent cases while workers are SIGKILLed, a worker dies for good, Temporal and PostgreSQL
// restart, partners fail and dawdle, completions race and the audit table is tampered with. Then: nothing lost, nothing twice.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON, historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/app';
import { PrincipalCache } from '../../api/principal-cache';
import { connectDb, type DbHandle } from '../../db/client';
import { migrateFor } from '../../db/migrate';
import { verifyChain } from '../../db/queries/audit';
import { caseWorkflowId } from '../../domain/ids';
import type { CaseStatus, Role, Task } from '../../domain/types';
import { ApiError, TakedownClient } from '../../scripts/lib/api-client';
import { startPartnerSimulator, type PartnerSimulator } from '../../scripts/lib/partner-simulator';
import { expressServerOptions } from '../../scripts/lib/http-server';
import { quietRuntime } from '../support/stack';
import { ROOT, Servers, spawnWorker, type WorkerProcess } from './processes';

const LARGE = process.env.FAULT_PROFILE === 'large';
const CASES = LARGE ? 40 : 16;
const MIN_KILLS = LARGE ? 60 : 20;
/** The large profile starts its cases in waves, so that cases stay in flight long enough for all its kills to land. */
const WAVES = LARGE ? 4 : 1;
const WAVE_GAP_MS = 15_000;
/**
 * And some cases' sign-offs wait for a number of kills, so that however fast the machine runs the cases, some are still
 * in flight when the last kills land: in the quick profile a quarter of the cases until every kill has landed (a quick
 * run on a fast machine once ended its cases after 18 of 20). In the large profile, half of the last wave's until 15
 * kills before the last, so that cases are disrupting (notices out, partner tasks open) while those kills land, and the
 * other half until every kill has landed (a large run once ended every case after 49 of 60 kills).
 */
const signoffHeldUntil = (n: number, wave: number): number => {
  if (!LARGE) return n % 4 === 3 ? MIN_KILLS : 0;
  if (wave !== WAVES - 1) return 0;
  return n % 2 === 0 ? MIN_KILLS - 15 : MIN_KILLS;
};

type Scenario = 'clean' | 'rejected' | 'unverified' | 'declined' | 'withdrawn';
const EXPECTED: Record<Scenario, CaseStatus> = {
  clean: 'completed',
  rejected: 'closed_rejected',
  unverified: 'closed_unverified',
  declined: 'completed_with_exceptions',
  withdrawn: 'withdrawn',
};
const MIX: Scenario[] = ['clean', 'declined', 'withdrawn', 'clean', 'rejected', 'unverified'];

interface CaseRun {
  id: string;
  scenario: Scenario;
  wave: number;
  /** Its sign-off waits until this many kills have landed (0: not held). */
  signoffHeldUntil: number;
  withdrawSent: boolean;
}
interface Completion {
  taskId: string;
  caseId: string;
  outcome: string;
  status: number;
  key: string;
}

const counts = { kills: 0, workersLostForGood: 0, temporalRestarts: 0, postgresRestarts: 0, racesRun: 0, http503: 0, tampered: 0 };
let servers: Servers;
let db: DbHandle;
let principals: PrincipalCache | undefined;
let temporal: Client;
let temporalConnection: Connection;
let apiServer: http.Server;
let apiUrl: string;
let admin: TakedownClient;
let sim: PartnerSimulator;
const people: Partial<Record<'lead' | 'analyst' | 'officer' | 'supervisor' | 'auditor', TakedownClient & { id: string }>> = {};
const tokens: Partial<Record<keyof typeof people, string>> = {};
const workers = new Map<string, WorkerProcess>();
const dead = new Set<string>();
let workerEnv: Record<string, string>;
let dataDir: string;

function person(name: keyof typeof people) {
  const p = people[name];
  if (!p) throw new Error(`no principal ${name}`);
  return p;
}

function startWorkerProcess(name: string) {
  const w = spawnWorker(name, workerEnv);
  workers.set(name, w);
  // A process manager's job: a worker that exits is started again, unless the suite killed it for good.
  void w.exited.then(() => {
    if (!dead.has(name) && workers.get(name) === w && !stopping) setTimeout(() => startWorkerProcess(name), 300);
  });
}
let stopping = false;

beforeAll(async () => {
  quietRuntime();
  dataDir = path.join(ROOT, '.test-data', `faults-${process.pid}`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  servers = new Servers(dataDir, inject('temporalCliPath'));
  await servers.start();
  db = connectDb(servers.pg.url, { max: 20 });
  await migrateFor(servers.pg.ownerUrl, db.pool);
  temporalConnection = await Connection.connect({ address: servers.temporal.address });
  temporal = new Client({ connection: temporalConnection });
  const adminToken = `fault-admin-${randomBytes(12).toString('hex')}`;
  const taskQueue = `faults-${randomBytes(4).toString('hex')}`;
  // Principals remembered as in production: the PostgreSQL restart below also drops the cache's listening connection.
  principals = await PrincipalCache.forPool(db.pool);
  const app = createApp({
    pool: db.pool,
    db: db.db,
    temporal,
    taskQueue,
    namespace: 'default',
    adminToken,
    logger: pino({ level: 'silent' }),
    principals,
  });
  apiServer = http.createServer(expressServerOptions(app), app);
  await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
  admin = new TakedownClient({ baseUrl: apiUrl, token: adminToken, retries: 8 });
  const roles: Record<keyof typeof people, Role[]> = {
    lead: ['case_lead'],
    analyst: ['analyst'],
    officer: ['le_officer'],
    supervisor: ['le_supervisor'],
    auditor: ['auditor'],
  };
  for (const [name, r] of Object.entries(roles) as [keyof typeof people, Role[]][]) {
    const p = await admin.createPrincipal({ name, org: 'ceop', roles: r });
    tokens[name] = p.token;
    people[name] = Object.assign(new TakedownClient({ baseUrl: apiUrl, token: p.token, retries: 0, timeoutMs: 20_000 }), { id: p.id });
  }
  const flaky = { transient5xxRate: 0.3, timeoutRate: 0.1, hangMs: 3_000, slowMs: 50, delayMs: 100 };
  sim = await startPartnerSimulator({
    apiUrl,
    adminToken,
    seed: 42,
    orgs: {
      visa: { kind: 'card_scheme', behaviour: flaky },
      'visa-slow': { kind: 'card_scheme', behaviour: { ...flaky, delayMs: 10 * 60_000 } },
      paypal: { kind: 'payment_provider', behaviour: flaky },
      'acq-northbank': { kind: 'acquirer', behaviour: flaky },
      'acq-decline': { kind: 'acquirer', behaviour: { ...flaky, outcome: 'decline' } },
      'host-example': { kind: 'hosting_provider', behaviour: flaky },
    },
  });
  workerEnv = {
    DATABASE_URL: servers.pg.url,
    MIGRATION_DATABASE_URL: servers.pg.ownerUrl,
    TEMPORAL_ADDRESS: servers.temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TAKEDOWN_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    TAKEDOWN_NOTICE_TIMEOUT: '2s',
    TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: '1',
    TAKEDOWN_DATA_DIR: dataDir,
  };
  startWorkerProcess('w1');
  startWorkerProcess('w2');
}, 180_000);

afterAll(async () => {
  stopping = true;
  await Promise.allSettled([...workers.values()].map((w) => w.kill('SIGTERM')));
  await sim?.stop();
  apiServer?.closeAllConnections();
  await new Promise<void>((r) => (apiServer ? apiServer.close(() => r()) : r()));
  await temporalConnection?.close();
  await principals?.close();
  await db?.close();
  await servers?.stop();
  if (!process.env.KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
  console.log(`fault suite counts: ${JSON.stringify({ ...counts, cases: CASES, partner: sim?.stats() })}`);
});

function caseBody(run: { scenario: Scenario; n: number }) {
  const u = `${run.n}-${randomBytes(3).toString('hex')}`;
  const scheme = run.scenario === 'withdrawn' ? 'visa-slow' : 'visa';
  const acquirer = run.scenario === 'declined' ? 'acq-decline' : 'acq-northbank';
  return {
    reference: `FAULT-${u}`,
    jurisdiction: 'GB',
    priority: 'high',
    merchant: {
      name: `Fault Shop ${u}`,
      urls: [`https://fault-${u}.example.test/`],
      paymentChannels: [
        { kind: 'card', scheme, acquirer, merchantId: `FM${u}` },
        { kind: 'wallet', provider: 'paypal', accountId: `FPP-${u}` },
      ],
      hosting: [{ provider: 'host-example', urls: [`https://fault-${u}.example.test/`] }],
    },
    evidence: [{ kind: 'test_transaction', sha256: randomBytes(32).toString('hex') }],
  } as const;
}

/** Retries through outages: network errors and 5xx are retried with the same idempotency key. */
async function persist<T>(what: string, fn: () => Promise<T>, deadlineMs = 240_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      // A 409 on an Idempotency-Key still in flight says "retry shortly": an attempt cut off while PostgreSQL was down
      // could not release its claim, which holds until it lapses. Any other 409 (a task no longer open) is final.
      const inFlight = err instanceof ApiError && err.status === 409 && /Idempotency-Key is (still )?being processed/.test(err.problem?.detail ?? '');
      const retryable = !(err instanceof ApiError) || err.status >= 500 || inFlight;
      if (err instanceof ApiError && err.status === 503) counts.http503 += 1;
      if (!retryable) throw err;
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

const completions: Completion[] = [];
const keys = new Map<string, string>();

/** Completes a task; every third one races four requests (three keys, one repeated) and exactly one key must win. */
async function completeTask(who: TakedownClient, task: Task, outcome: string, data: Record<string, unknown> = {}, comment?: string) {
  const body = { outcome, data, comment };
  const key = keys.get(task.id) ?? randomUUID();
  keys.set(task.id, key);
  const race = completions.length % 3 === 0;
  const attempt = async (k: string) => {
    try {
      await persist(`complete ${task.type}`, () => who.completeTask(task.id, body, k), 240_000);
      completions.push({ taskId: task.id, caseId: task.caseId, outcome, status: 200, key: k });
    } catch (err) {
      completions.push({ taskId: task.id, caseId: task.caseId, outcome, status: err instanceof ApiError ? err.status : 0, key: k });
    }
  };
  if (!race) return attempt(key);
  counts.racesRun += 1;
  await Promise.all([attempt(key), attempt(key), attempt(randomUUID()), attempt(randomUUID())]);
}

async function playHumans(runs: CaseRun[]): Promise<void> {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const act = async (who: keyof typeof people) => {
    const page = await persist('list tasks', () => person(who).listTasks({ status: 'open', limit: 200 }), 240_000);
    for (const t of page.items) {
      const run = byId.get(t.caseId);
      if (!run) continue;
      if (t.type === 'verify_evidence') await completeTask(person(who), t, run.scenario === 'unverified' ? 'rejected' : 'verified', {}, 'hashes do not match');
      else if (t.type === 'le_signoff' && counts.kills < run.signoffHeldUntil) continue;
      else if (t.type === 'le_signoff') await completeTask(person(who), t, run.scenario === 'rejected' ? 'rejected' : 'approved', {}, 'not enough');
      else if (t.type === 'deconfliction_review') await completeTask(person(who), t, 'proceed');
      else if (t.type === 'resolve_exception') await completeTask(person(who), t, 'retry');
    }
  };
  await act('analyst');
  await act('officer');
  await act('supervisor');
  await act('lead');
  for (const run of runs.filter((r) => r.scenario === 'withdrawn' && !r.withdrawSent)) {
    const c = await persist('read case', () => person('lead').getCase(run.id), 240_000);
    if (c.status === 'disrupting' && c.steps.find((s) => s.name === 'termination')?.status === 'in_progress') {
      try {
        await persist('withdraw', () => person('lead').withdrawCase(run.id, 'fault suite withdrawal', `withdraw-${run.id}`), 240_000);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409)) throw err;
      }
      run.withdrawSent = true;
    }
  }
}

/**
 * The cases' statuses from the projection. Read while faults are injected, so a PostgreSQL restart can cut the read
 * (a pooled connection the restart terminated fails its next query): it is read again until it succeeds.
 */
async function statuses(ids: string[]): Promise<Map<string, string>> {
  const { rows } = await persist('read case statuses', () => db.pool.query<{ id: string; status: string }>('SELECT id, status FROM cases WHERE id = ANY($1)', [ids]));
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** While a dependency is down the API answers 503 quickly: it never hangs and never crashes. */
async function expectUnavailable(check: () => Promise<Response>, label: string) {
  const t0 = Date.now();
  const res = await check();
  const ms = Date.now() - t0;
  expect(res.status, `${label} while down`).toBe(503);
  expect(ms, `${label} answered within 15 s`).toBeLessThan(15_000);
  counts.http503 += 1;
}

async function injectFaults(done: () => boolean): Promise<void> {
  const rand = () => Math.random();
  // Kills come at random moments while cases are in flight; a worker is killed only once it has had time to start and
  // poll (a slow machine must still make progress), and the kills stop once enough have landed.
  while (counts.kills < MIN_KILLS && !done()) {
    await new Promise((r) => setTimeout(r, 300 + rand() * 1_200));
    const live = [...workers.entries()].filter(
      ([n, w]) => !dead.has(n) && w.child.exitCode === null && w.child.signalCode === null && Date.now() - w.startedAt > 2_000 + rand() * 2_500,
    );
    if (live.length === 0) continue;
    const [name, w] = live[Math.floor(rand() * live.length)];
    await w.kill('SIGKILL');
    counts.kills += 1;
    if (counts.kills === 5) {
      // One worker goes for good; a third takes its place in the pool so that kills keep hitting a pair.
      dead.add(name);
      counts.workersLostForGood += 1;
      startWorkerProcess('w3');
    }
    if (counts.kills === 8) {
      await servers.restartTemporal(2_000, async () => {
        await expectUnavailable(() => fetch(`${apiUrl}/healthz`), 'healthz (Temporal down)');
        // A valid case while Temporal is down: refused with 503 (and not half-created), never a hang.
        const body = JSON.stringify(caseBody({ scenario: 'clean', n: 999 }));
        await expectUnavailable(
          () => fetch(`${apiUrl}/v1/cases`, { method: 'POST', headers: { authorization: `Bearer ${tokens.lead}`, 'content-type': 'application/json' }, body }),
          'POST /v1/cases (Temporal down)',
        );
      });
      counts.temporalRestarts += 1;
    }
    if (counts.kills === 12) {
      await servers.restartPostgres(2_000, async () => {
        await expectUnavailable(() => fetch(`${apiUrl}/healthz`), 'healthz (PostgreSQL down)');
        await expectUnavailable(() => fetch(`${apiUrl}/v1/cases`, { headers: { authorization: `Bearer ${tokens.lead}` } }), 'GET /v1/cases (PostgreSQL down)');
      });
      counts.postgresRestarts += 1;
    }
  }
}

describe('fault injection', () => {
  it('loses nothing and does nothing twice under crashes, restarts, flaky partners and races', async () => {
    const runs: CaseRun[] = [];
    const creating = Array.from({ length: CASES }, async (_, n) => {
      const scenario = MIX[n % MIX.length];
      const wave = Math.floor((n * WAVES) / CASES);
      await new Promise((r) => setTimeout(r, wave * WAVE_GAP_MS));
      const key = `fault-case-${n}-${randomUUID()}`;
      const body = caseBody({ scenario, n });
      const c = await persist('create case', () => person('lead').createCase(body as never, key));
      runs.push({ id: c.id, scenario, wave, signoffHeldUntil: signoffHeldUntil(n, wave), withdrawSent: false });
    });
    let allEnded = false;
    const faults = injectFaults(() => allEnded);
    await Promise.all(creating);
    const deadline = Date.now() + (LARGE ? 40 : 12) * 60_000;
    while (!allEnded) {
      if (Date.now() > deadline) {
        // Keep the histories of the cases that did not end, with the reason their workflow tasks fail, for investigation.
        const s = await statuses(runs.map((r) => r.id));
        const dir = path.join(ROOT, '.test-data', `fault-stuck-${process.pid}`);
        mkdirSync(dir, { recursive: true });
        for (const r of runs.filter((x) => ['verifying', 'awaiting_signoff', 'disrupting'].includes(s.get(x.id) ?? 'verifying'))) {
          const json = historyToJSON(await temporal.workflow.getHandle(caseWorkflowId(r.id)).fetchHistory());
          writeFileSync(path.join(dir, `${r.scenario}-${r.id}.json`), json);
        }
        throw new Error(`cases stuck (histories in ${dir}): ${JSON.stringify(Object.fromEntries(s))}`);
      }
      await playHumans(runs);
      const s = await statuses(runs.map((r) => r.id));
      allEnded = runs.every((r) => !['verifying', 'awaiting_signoff', 'disrupting'].includes(s.get(r.id) ?? 'verifying'));
      await new Promise((r) => setTimeout(r, 500));
    }
    await faults;
    stopping = true;
    expect(counts.kills, 'worker kills while cases were in flight').toBeGreaterThanOrEqual(MIN_KILLS);

    // Every case reached the end it would have reached without faults.
    const final = await statuses(runs.map((r) => r.id));
    for (const r of runs) expect(`${r.scenario}:${final.get(r.id)}`).toBe(`${r.scenario}:${EXPECTED[r.scenario]}`);

    // A closed case's run ends once its closing notices are delivered or failed for good (close-first runs): wait for
    // every run to end, so the histories below are final and no notice is counted while its delivery is still retried.
    const runsEnded = Promise.all(runs.map((r) => temporal.workflow.getHandle(caseWorkflowId(r.id)).result().catch(() => undefined)));
    const runsDeadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('case runs still open 5 minutes after their cases closed')), 5 * 60_000).unref());
    await Promise.race([runsEnded, runsDeadline]);

    // Every final history replays against the current code; the deliberately broken canary does not. Histories are
    // written under .test-data/ first and kept when one fails, for investigation.
    const historyDir = path.join(ROOT, '.test-data', `fault-histories-${process.pid}`);
    mkdirSync(historyDir, { recursive: true });
    const histories = [];
    for (const r of runs) {
      const json = historyToJSON(await temporal.workflow.getHandle(caseWorkflowId(r.id)).fetchHistory());
      writeFileSync(path.join(historyDir, `${r.scenario}-${r.id}.json`), json);
      histories.push({ run: r, history: historyFromJSON(JSON.parse(json)) });
    }
    const replayFailures: string[] = [];
    for (const { run, history } of histories) {
      try {
        await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, `fault-replay-${run.id}`);
      } catch (err) {
        replayFailures.push(`${run.scenario}-${run.id}: ${(err as Error).message}`);
      }
    }
    expect(replayFailures, `histories kept in ${historyDir}`).toEqual([]);
    rmSync(historyDir, { recursive: true, force: true });
    const canary = await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'test/replay/canary-workflows.ts'), logger: new DefaultLogger('WARN') });
    await expect(Worker.runReplayHistory({ workflowBundle: { code: canary.code } }, histories[0].history, 'fault-canary')).rejects.toThrow();

    // No task is left open on a finished case.
    const open = await db.pool.query(`SELECT t.id FROM tasks t JOIN cases c ON c.id = t.case_id WHERE t.status = 'open' AND c.id = ANY($1)`, [runs.map((r) => r.id)]);
    expect(open.rows).toEqual([]);

    // Every notice reached its partner, and no partner acted twice on one idempotency key.
    const notices = await db.pool.query<{ id: string; state: string; org: string; case_id: string; task_id: string | null; type: string; attempts: number }>(
      `SELECT id, state, org, case_id, task_id, type, attempts FROM notices WHERE case_id = ANY($1)`,
      [runs.map((r) => r.id)],
    );
    const received = new Set(sim.notices().map((n) => n.id));
    const withdrawn = new Set(notices.rows.filter((n) => n.type === 'withdrawal_notice' && n.state === 'delivered').map((n) => `${n.case_id}/${n.org}`));
    const lost = notices.rows.filter((n) => {
      if (n.state === 'delivered') return !received.has(n.id);
      // Abandoned at close: its task was answered (the partner had it: a worker died between the 2xx and recording it),
      // or the case was withdrawn before it was ever sent, or after: then the partner got a withdrawal notice naming it.
      if (n.state === 'abandoned') return !received.has(n.id) && n.attempts > 0 && !withdrawn.has(`${n.case_id}/${n.org}`);
      // Sent again under a new id on its task (a retried no-response): the newer notice reached the partner, or the
      // partner got a withdrawal notice naming both.
      if (n.state === 'superseded') {
        const newer = notices.rows.some((m) => m.task_id === n.task_id && m.type === n.type && m.id !== n.id && m.state === 'delivered' && received.has(m.id));
        return !newer && !withdrawn.has(`${n.case_id}/${n.org}`);
      }
      // Not sent, by design: a reminder whose task was answered while it was being retried (notice.skipped, task_closed),
      // or a request whose task was cancelled meanwhile, whose partner got a withdrawal notice.
      if (n.state === 'skipped') return n.type !== 'reminder' && !withdrawn.has(`${n.case_id}/${n.org}`);
      return true;
    });
    expect(lost).toEqual([]);
    expect([...sim.actedOn().values()].every((v) => v === 1)).toBe(true);
    expect(sim.stats().badSignatures).toBe(0);

    // Every accepted completion is in the workflow, the task table and the audit chain; every refused one changed nothing.
    const accepted = new Map<string, Completion>();
    for (const c of completions.filter((x) => x.status === 200)) {
      const prior = accepted.get(c.taskId);
      if (prior) expect(prior.key, `task ${c.taskId} accepted under two keys`).toBe(c.key);
      accepted.set(c.taskId, c);
    }
    expect(completions.filter((c) => c.status !== 200 && c.status !== 409 && c.status !== 403).map((c) => c.status)).toEqual([]);
    for (const c of accepted.values()) {
      const row = await db.pool.query('SELECT status, outcome FROM tasks WHERE id = $1', [c.taskId]);
      expect(row.rows[0]).toMatchObject({ outcome: c.outcome });
      const audit = await db.pool.query(`SELECT count(*)::int AS n FROM audit_entries WHERE case_id = $1 AND action = 'task.completed' AND data->>'taskId' = $2`, [c.caseId, c.taskId]);
      expect(audit.rows[0].n, `audit entries for ${c.taskId}`).toBe(1);
      const wfTasks = await temporal.workflow.getHandle(caseWorkflowId(c.caseId)).query<Task[]>('tasks');
      expect(wfTasks.find((t) => t.id === c.taskId)).toMatchObject({ status: 'completed', outcome: c.outcome });
    }

    // Every audit chain verifies; then each kind of tampering is found at the exact entry.
    for (const r of runs) expect((await verifyChain(db.pool, r.id)).intact, `chain of ${r.id}`).toBe(true);
    // An entry appended over a write that a killed worker left behind (a workflow task that never completed) names the
    // earlier entry under its key, which it follows in the chain, and comes from a later workflow task (a higher fence).
    const superseding = await db.pool.query<{ case_id: string; seq: number; event_key: string; action: string; fence: number | null; data: { supersedes?: { seq: number; hash: string } } }>(
      `SELECT case_id, seq, event_key, action, fence, data FROM audit_entries WHERE event_key LIKE '%:supersedes:%'`,
    );
    let supersedingSameFence = 0;
    for (const e of superseding.rows) {
      const met = await db.pool.query<{ seq: number; hash: string; action: string; event_key: string; fence: number | null }>(
        'SELECT seq, hash, action, event_key, fence FROM audit_entries WHERE case_id = $1 AND seq = $2',
        [e.case_id, e.data.supersedes?.seq],
      );
      expect(met.rows[0], e.event_key).toMatchObject({ hash: e.data.supersedes?.hash, action: e.action });
      expect(e.event_key.startsWith(`${met.rows[0].event_key}:supersedes:`), e.event_key).toBe(true);
      expect(met.rows[0].seq).toBeLessThan(e.seq);
      // Never from an earlier workflow task: a later attempt's fence is higher, or equal when both attempts came after the
      // task's first timeout (Temporal writes no events for repeated attempts, so they see the same history length).
      expect(e.fence !== null && met.rows[0].fence !== null && e.fence >= met.rows[0].fence, `fence of ${e.event_key}: ${e.fence} after ${met.rows[0].fence}`).toBe(true);
      if (e.fence === met.rows[0].fence) supersedingSameFence += 1;
    }
    // A task a replaced attempt opened (swept at the close, or refused after it) is cancelled, with its entry.
    const strays = await db.pool.query<{ task_id: string; status: string | null }>(
      `SELECT e.data->>'taskId' AS task_id, t.status FROM audit_entries e LEFT JOIN tasks t ON t.id = e.data->>'taskId' WHERE e.event_key LIKE 'stray:%'`,
    );
    for (const s of strays.rows) expect(s.status, `stray task ${s.task_id}`).toBe('cancelled');
    // And every cancelled task has its cancellation in the chain (the workflow's, a stray's or a refused one's).
    const unrecorded = await db.pool.query<{ id: string }>(
      `SELECT t.id FROM tasks t WHERE t.status = 'cancelled'
          AND NOT EXISTS (SELECT 1 FROM audit_entries e WHERE e.case_id = t.case_id AND e.action = 'task.cancelled' AND e.data->>'taskId' = t.id)`,
    );
    expect(unrecorded.rows.map((r) => r.id), 'cancelled tasks without a task.cancelled entry').toEqual([]);
    const su = new pg.Client({ connectionString: servers.pg.ownerUrl });
    await su.connect();
    try {
      await su.query(`SET session_replication_role = replica`);
      const [a, b, c, d] = runs;
      await su.query(`UPDATE audit_entries SET data = data || '{"forged":true}' WHERE case_id = $1 AND seq = 3`, [a.id]);
      await su.query(`DELETE FROM audit_entries WHERE case_id = $1 AND seq = 4`, [b.id]);
      await su.query(
        `WITH x AS (SELECT seq, data FROM audit_entries WHERE case_id = $1 AND seq IN (5, 6))
         UPDATE audit_entries e SET data = (SELECT data FROM x WHERE x.seq = CASE WHEN e.seq = 5 THEN 6 ELSE 5 END) WHERE case_id = $1 AND seq IN (5, 6)`,
        [c.id],
      );
      await su.query(`UPDATE audit_entries SET seq = seq + 1000 WHERE case_id = $1 AND seq >= 2`, [d.id]);
      await su.query(
        `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key)
         SELECT case_id, 2, at, 'case.forged', '{}'::jsonb, prev_hash, hash, 'forged' FROM audit_entries WHERE case_id = $1 AND seq = 1002`,
        [d.id],
      );
      await su.query(`UPDATE audit_entries SET seq = seq - 999 WHERE case_id = $1 AND seq >= 1002`, [d.id]);
      counts.tampered += 4;
    } finally {
      await su.end();
    }
    expect(await verifyChain(db.pool, runs[0].id)).toMatchObject({ intact: false, firstBadSeq: 3 });
    expect(await verifyChain(db.pool, runs[1].id)).toMatchObject({ intact: false, firstBadSeq: 4 });
    expect(await verifyChain(db.pool, runs[2].id)).toMatchObject({ intact: false, firstBadSeq: 5 });
    expect(await verifyChain(db.pool, runs[3].id)).toMatchObject({ intact: false, firstBadSeq: 2 });

    const attempts = await db.pool.query(`SELECT count(*)::int AS n FROM audit_entries WHERE action = 'notice.attempt'`);
    const abandoned = notices.rows.filter((n) => n.state === 'abandoned').length;
    console.log(
      `fault suite: ${CASES} cases, ${counts.kills} worker kills (${counts.workersLostForGood} for good), ${counts.temporalRestarts} Temporal and ${counts.postgresRestarts} PostgreSQL restarts, ${notices.rows.length} notices (${abandoned} abandoned at close), ${attempts.rows[0].n} retried attempts, ${counts.racesRun} completion races, ${counts.http503} answers 503, ${superseding.rows.length} audit entries superseding a killed worker's write (${supersedingSameFence} from a repeated attempt with the same fence), ${strays.rows.length} tasks a replaced attempt opened cancelled at or after the close, ${counts.tampered} tamperings found`,
    );
  }, (LARGE ? 50 : 18) * 60_000);
});
