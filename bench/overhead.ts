// Benchmark 1: whole cases through the HTTP API against the floor, a bare workflow of the same shape, in alternating blocks.
import { randomUUID } from 'node:crypto';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { caseWorkflowId } from '../domain/ids';
import type { CaseView } from '../domain/types';
import { startPartnerSimulator, type PartnerSimulator } from '../scripts/lib/partner-simulator';
import { completeTaskUpdate } from '../workflows/messages';
import { floorIntake, floorStep, type FloorShape } from './floor-workflow';
import { caseBody, createPrincipal, PARTNER_ORGS, rid, type Bench, type BenchContext, type BenchPrincipal, type BenchResult } from './lib/context';
import type { BenchDb, Sut } from './lib/env';
import type { ActivityStats, LoopDelay } from './lib/sut-protocol';
import { fetchParsedHistory, unionLength, type ActivitySpan, type ParsedHistory } from './lib/history';
import { HttpJson } from './lib/http';
import { InboxPoller } from './lib/pollers';
import { writeSvg } from './lib/report';
import { countsOf, describeShape, shapeFrom, shapeTotals, type ShapeCounts } from './lib/shape';
import { int, mapLimit, mean, median, ms, num, sleep, summarize, table, targetGap, until, withTimeout, type Summary } from './lib/stats';
import { cdfSvg } from './lib/svg';
import { CpuMeter, type CpuSample } from './lib/cpu';
import { summarizeCpuProfile, type CpuSummary } from './lib/cpu-profile';
import { addDelta, KIND, perCaseRows, scrapeCounters, type Counters } from './lib/temporal-metrics';
import { resetStatements, shortSql, topStatements, totalStatements, type StatementStat } from './lib/statements';

/**
 * BENCH_SPLIT=1 runs the API in a process of its own, as `npm run api` and `npm run worker` do in production; by default
 * it shares the workers' process, as `npm start` runs it. On the 2-core machine of BENCHMARKS.md both gave the same
 * throughput ratio (0.61 split, 0.60 shared, quick profile): the machine is CPU-bound, and the split adds work.
 */
const SPLIT = process.env.BENCH_SPLIT === '1';

/**
 * Warm-up: V8 compiles the API's, the activities' and the drivers' code in the background for the first hundred cases or
 * so (TurboFan, on helper threads), which is not what a long-running worker spends per case. With 8 warm-up cases per side
 * the quick profile's takedown cases used 561 and 562 ms of CPU, with 80 cases 486 and 539 ms (other threads 46/44 ms
 * against 31/29 ms); the floor's code, far less of it, moved little (docs/performance-experiments.md).
 */
const PROFILES = {
  smoke: { concurrency: 4, blocks: 2, casesPerBlock: 4, warmup: 4, historySample: 4, updatesPerRound: 8, rounds: 2, serialUpdates: 6, profileCases: 4, pollMs: 25, sweep: { levels: [2], rounds: 1, cases: 2 } },
  quick: { concurrency: 8, blocks: 4, casesPerBlock: 12, warmup: 48, historySample: 16, updatesPerRound: 16, rounds: 2, serialUpdates: 20, profileCases: 12, pollMs: 25, sweep: { levels: [2, 4], rounds: 2, cases: 8 } },
  full: { concurrency: 16, blocks: 4, casesPerBlock: 64, warmup: 128, historySample: 48, updatesPerRound: 100, rounds: 2, serialUpdates: 60, profileCases: 32, pollMs: 25, sweep: { levels: [2, 4, 8], rounds: 2, cases: 24 } },
};

/** A case (or floor run) that makes no progress for this long fails the benchmark rather than hanging it. */
const CASE_TIMEOUT_MS = 180_000;

/** How long after a block's last case its CPU and Temporal counters are read (see `settle`). */
const SETTLE_MS = 2_000;

/** People's steps the driver plays, one after the other: the analyst verifies, the officer approves. */
const PEOPLE_STEPS = 2;

interface TakedownSample {
  caseId: string;
  latency: number;
  create: number;
  complete: number[];
  discovery: number[];
  ok: boolean;
  status: string;
}

interface FloorSample {
  workflowId: string;
  latency: number;
  intake: number;
  steps: number[];
  ok: boolean;
}

/** One load level of the sweep: both sides at the same number of cases in flight, in alternating blocks. */
interface SweepLevel {
  concurrency: number;
  side: Record<'takedown' | 'floor', { cases: number; failed: number; wallMs: number; latencies: number[]; cpuMs: number; machineBusyMs: number }>;
}

interface BlockResult {
  kind: 'takedown' | 'floor';
  index: number;
  cases: number;
  failed: number;
  wallMs: number;
  throughput: number;
  latency: Summary;
}

/** Floor waits announced open by the floor's activities (over IPC from the worker process), awaited by the floor driver. */
class ReadyHub {
  private readonly seen = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  constructor(sut: Sut) {
    sut.onReady(({ workflowId, index }) => {
      const key = `${workflowId}#${index}`;
      const w = this.waiting.get(key);
      if (w) {
        this.waiting.delete(key);
        w();
      } else this.seen.add(key);
    });
  }

  wait(workflowId: string, index: number): Promise<void> {
    const key = `${workflowId}#${index}`;
    if (this.seen.delete(key)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }
}

interface Rig {
  ctx: BenchContext;
  db: BenchDb;
  sut: Sut;
  /** The API's own process, when SPLIT. */
  apiSut: Sut | null;
  http: HttpJson;
  client: Client;
  connection: Connection;
  sim: PartnerSimulator;
  lead: BenchPrincipal;
  analyst: BenchPrincipal;
  officer: BenchPrincipal;
  pollers: { verify: InboxPoller; signoff: InboxPoller };
  takedownQueue: string;
  floorQueue: string;
  ready: ReadyHub;
  shape?: FloorShape;
}

async function runTakedownCase(rig: Rig): Promise<TakedownSample> {
  const t0 = performance.now();
  const created = await rig.http.ok<CaseView>('POST', '/v1/cases', { token: rig.lead.token, body: caseBody() });
  const caseId = created.body.id;
  const complete: number[] = [];
  const discovery: number[] = [];
  for (const [poller, who, outcome] of [
    [rig.pollers.verify, rig.analyst, 'verified'],
    [rig.pollers.signoff, rig.officer, 'approved'],
  ] as const) {
    const task = await withTimeout(poller.wait(caseId), CASE_TIMEOUT_MS, `${caseId}: its task in the inbox`);
    discovery.push(task.seenAt - Date.parse(task.createdAt));
    const r = await rig.http.ok('POST', `/v1/tasks/${encodeURIComponent(task.id)}/complete`, { token: who.token, body: { outcome } });
    complete.push(r.ms);
  }
  const view = await withTimeout(rig.client.workflow.getHandle<() => Promise<CaseView>>(caseWorkflowId(caseId)).result(), CASE_TIMEOUT_MS, `${caseId} to close`);
  return { caseId, latency: performance.now() - t0, create: created.ms, complete, discovery, ok: view.status === 'completed', status: view.status };
}

async function runFloorCase(rig: Rig): Promise<FloorSample> {
  const shape = rig.shape!;
  const workflowId = `floor-${randomUUID()}`;
  const t0 = performance.now();
  await rig.client.workflow.executeUpdateWithStart(floorIntake, {
    startWorkflowOperation: new WithStartWorkflowOperation('floorWorkflow', {
      workflowId,
      taskQueue: rig.floorQueue,
      args: [shape],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
  const intake = performance.now() - t0;
  const handle = rig.client.workflow.getHandle(workflowId);
  const steps: number[] = [];
  // Each update goes out once its wait is announced open (the floor's "task is visible" / "notice delivered").
  const step = async (index: number) => {
    await withTimeout(rig.ready.wait(workflowId, index), CASE_TIMEOUT_MS, `${workflowId}: wait ${index} to open`);
    const s = performance.now();
    await handle.executeUpdate(floorStep, { args: [{ index }] });
    steps.push(performance.now() - s);
  };
  await Promise.all(Array.from({ length: shape.sequential.length + shape.parallel.length }, (_, i) => step(i)));
  await withTimeout(handle.result(), CASE_TIMEOUT_MS, `${workflowId} to close`);
  return { workflowId, latency: performance.now() - t0, intake, steps, ok: true };
}

async function runBlock<T extends { latency: number; ok: boolean }>(
  rig: Rig,
  label: string,
  n: number,
  concurrency: number,
  one: () => Promise<T>,
): Promise<{ samples: T[]; failed: number; wallMs: number }> {
  const samples: T[] = [];
  let failed = 0;
  const t0 = performance.now();
  let lastErr: unknown;
  await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      try {
        const s = await one();
        if (s.ok) samples.push(s);
        else failed += 1;
      } catch (err) {
        failed += 1;
        lastErr = err;
      }
      const secs = (performance.now() - t0) / 1000;
      rig.ctx.progress.update(`${label}: ${samples.length + failed}/${n} cases, ${num(samples.length / secs)} cases/s${failed ? `, ${failed} failed` : ''}`);
    },
  );
  if (failed > 0) rig.ctx.progress.log(`    ${failed} case(s) failed in ${label}; last error: ${String((lastErr as Error)?.message ?? lastErr ?? 'ended in another status')}`);
  return { samples, failed, wallMs: performance.now() - t0 };
}

/** The most common counts among the warm-up cases, and the history that has them (counts vary with timing: a fast completion can pre-empt a timer). */
function typicalHistory(histories: { h: ParsedHistory; child?: ParsedHistory; counts: ShapeCounts }[]): { h: ParsedHistory; child?: ParsedHistory; counts: ShapeCounts; spread: string } {
  const key = (c: ShapeCounts) => `${c.localActivities}/${c.activities}/${c.updates}/${c.timers}/${c.children}`;
  const tally = new Map<string, number>();
  for (const x of histories) tally.set(key(x.counts), (tally.get(key(x.counts)) ?? 0) + 1);
  const best = [...tally.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const chosen = histories.find((x) => key(x.counts) === best)!;
  const spread = [...tally.entries()].map(([k, v]) => `${k} ×${v}`).join(', ');
  return { ...chosen, spread };
}

const PG_LABEL = 'PostgreSQL projection and audit writes';
function category(a: ActivitySpan): string {
  if (a.type === 'noop') return a.local ? 'no-op local activities' : 'no-op activities';
  if (a.type === 'sendNotice') return 'notice delivery (HTTP to partners)';
  if (a.type === 'prepareNotice') return 'notice preparation (render, store)';
  if (a.type === 'checkUrls') return 'URL checks';
  if (a.type === 'observeOutcome') return 'metrics';
  return a.local ? `${PG_LABEL} (local activities)` : PG_LABEL;
}

interface Breakdown {
  wall: number;
  busy: number;
  idle: number;
  workflowTasks: number;
  byCategory: Record<string, number>;
  scheduleToStart: number;
  activityRun: Record<string, { count: number; run: number }>;
  /** Per task type: task opened (workflow time) → completion accepted by the workflow. */
  outside: Record<string, number[]>;
  /** Partner tasks: notice delivered (sendNotice done) → completion accepted. */
  partnerRoundTrip: number[];
  events: number;
  bytes: number;
  wftCount: number;
  /** Sums over the case's workflow tasks: scheduled → picked up by the worker, and picked up → completed. */
  wftQueue: number;
  wftRun: number;
}

function breakdown(h: ParsedHistory, taskInfo: Map<string, { type: string; createdAt: number }> = new Map()): Breakdown {
  const end = h.closedAt ?? NaN;
  const wall = end - h.startedAt;
  // Local activities run inside workflow tasks; their markers' timestamps are not reliable, so their time counts in the
  // workflow tasks here, and their execution time comes from the worker itself (the timing interceptor).
  const spans = h.activities.filter((a) => a.closedAt !== null && !a.local);
  const wft = h.workflowTasks.map((w) => [w.scheduledAt, w.completedAt ?? NaN] as [number, number]);
  const act = spans.map((a) => [a.scheduledAt, a.closedAt as number] as [number, number]);
  const busy = unionLength([...wft, ...act]);
  const byCategory: Record<string, number> = {};
  for (const cat of new Set(spans.map(category))) {
    byCategory[cat] = unionLength(spans.filter((a) => category(a) === cat).map((a) => [a.scheduledAt, a.closedAt as number]));
  }
  const activityRun: Breakdown['activityRun'] = {};
  for (const a of spans) {
    const r = (activityRun[a.type] ??= { count: 0, run: 0 });
    r.count += 1;
    r.run += (a.closedAt as number) - (a.startedAt ?? a.scheduledAt);
  }
  const outside: Record<string, number[]> = {};
  const partnerRoundTrip: number[] = [];
  const noticeSent = new Map<string, number>();
  for (const a of spans) {
    const input = a.input as { noticeId?: string } | null;
    if (a.type === 'sendNotice' && input?.noticeId) noticeSent.set(input.noticeId, a.closedAt as number);
  }
  for (const u of h.updates) {
    const taskId = (u.args as { completion?: { taskId?: string } } | null)?.completion?.taskId;
    if (!taskId) continue;
    const opened = taskInfo.get(taskId);
    if (opened) (outside[opened.type] ??= []).push(u.acceptedAt - opened.createdAt);
    for (const [noticeId, at] of noticeSent) if (noticeId.startsWith(`ntc_${taskId}_`)) partnerRoundTrip.push(u.acceptedAt - at);
  }
  const s2s = spans.filter((a) => a.startedAt !== null).map((a) => (a.startedAt as number) - a.scheduledAt);
  return {
    wall,
    busy,
    idle: wall - busy,
    workflowTasks: unionLength(wft),
    byCategory,
    scheduleToStart: mean(s2s),
    activityRun,
    outside,
    partnerRoundTrip,
    events: h.events,
    bytes: h.bytes,
    wftCount: h.workflowTasks.length,
    wftQueue: h.workflowTasks.reduce((n, w) => n + ((w.startedAt ?? w.scheduledAt) - w.scheduledAt), 0),
    wftRun: h.workflowTasks.reduce((n, w) => n + ((w.completedAt ?? w.startedAt ?? w.scheduledAt) - (w.startedAt ?? w.scheduledAt)), 0),
  };
}

function meanOf(bs: Breakdown[], f: (b: Breakdown) => number): number {
  return mean(bs.map(f).filter((v) => Number.isFinite(v)));
}

async function parkTakedownCases(rig: Rig, n: number, concurrency: number): Promise<{ caseId: string; taskId: string }[]> {
  const ids = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => (await rig.http.ok<CaseView>('POST', '/v1/cases', { token: rig.lead.token, body: caseBody() })).body.id,
  );
  return until(`${n} parked cases at verify_evidence`, CASE_TIMEOUT_MS, async () => {
    const { rows } = await rig.db.pool.query<{ id: string; case_id: string }>(
      `SELECT id, case_id FROM tasks WHERE type = 'verify_evidence' AND status = 'open' AND case_id = ANY($1::text[])`,
      [ids],
    );
    return rows.length === n ? rows.map((r) => ({ caseId: r.case_id, taskId: r.id })) : undefined;
  }, 100);
}

async function parkFloorWorkflows(rig: Rig, n: number, concurrency: number): Promise<string[]> {
  const ids = await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      const workflowId = `floor-park-${randomUUID()}`;
      await rig.client.workflow.executeUpdateWithStart(floorIntake, {
        startWorkflowOperation: new WithStartWorkflowOperation('floorWorkflow', { workflowId, taskQueue: rig.floorQueue, args: [rig.shape!], workflowIdConflictPolicy: 'USE_EXISTING' }),
      });
      return workflowId;
    },
  );
  await withTimeout(Promise.all(ids.map((id) => rig.ready.wait(id, 0))), CASE_TIMEOUT_MS, `${n} parked floor runs`);
  return ids;
}

type UpdateVariant = 'api' | 'direct' | 'floor' | 'bare';
const VARIANT_LABEL: Record<UpdateVariant, string> = {
  api: 'task completion through the API (POST /v1/tasks/:id/complete)',
  direct: 'the same completion as a direct update on the case workflow (no HTTP)',
  floor: "floor update whose handler runs what the case's handler runs at that wait, as no-ops",
  bare: 'bare update on the floor (handler does nothing)',
};

/**
 * Updates of each variant on parked workflows. `interleave` (one at a time only): every variant is parked first, then
 * they are fired in turn (api, direct, floor, bare, api, ...), so drift on the shared machine hits all of them alike.
 */
async function measureUpdates(
  rig: Rig,
  m: { rounds: number; perRound: number; concurrency: number; parkConcurrency: number; interleave?: boolean },
): Promise<Record<UpdateVariant, number[]>> {
  const out: Record<UpdateVariant, number[]> = { api: [], direct: [], floor: [], bare: [] };
  const actor = { id: rig.analyst.id, org: rig.analyst.org, roles: rig.analyst.roles };
  const VARIANTS: UpdateVariant[] = ['api', 'direct', 'floor', 'bare'];
  const park = async (v: UpdateVariant, label: string): Promise<(() => Promise<void>)[]> => {
    rig.ctx.progress.update(`${label}: parking ${m.perRound} workflows at their first wait`);
    if (v === 'floor' || v === 'bare') {
      const parked = await parkFloorWorkflows(rig, m.perRound, m.parkConcurrency);
      return parked.map((id) => async () => {
        const s = performance.now();
        await rig.client.workflow.getHandle(id).executeUpdate(floorStep, { args: [{ index: 0, bare: v === 'bare' }] });
        out[v].push(performance.now() - s);
      });
    }
    const parked = await parkTakedownCases(rig, m.perRound, m.parkConcurrency);
    return parked.map((t) =>
      v === 'api'
        ? async () => {
            const r = await rig.http.ok('POST', `/v1/tasks/${encodeURIComponent(t.taskId)}/complete`, { token: rig.analyst.token, body: { outcome: 'verified' } });
            out.api.push(r.ms);
          }
        : async () => {
            const s = performance.now();
            await rig.client.workflow
              .getHandle(caseWorkflowId(t.caseId))
              .executeUpdate(completeTaskUpdate, { args: [{ completion: { taskId: t.taskId, outcome: 'verified', data: {} }, actor }], updateId: randomUUID() });
            out.direct.push(performance.now() - s);
          },
    );
  };
  for (let round = 0; round < m.rounds; round++) {
    const label = (v: string) => `updates (${m.concurrency} in flight) round ${round + 1}/${m.rounds}: ${v}`;
    if (m.interleave) {
      const fire: Record<string, (() => Promise<void>)[]> = {};
      for (const v of VARIANTS) fire[v] = await park(v, label(v));
      // Let the parking traffic drain so the measured updates start from a quiet state.
      await sleep(1_000);
      rig.ctx.progress.update(`${label('all variants in turn')}: ${m.perRound * VARIANTS.length} updates`);
      for (let i = 0; i < m.perRound; i++) for (const v of VARIANTS) await fire[v][i]();
      await sleep(500);
      continue;
    }
    for (const v of VARIANTS) {
      const fire = await park(v, label(v));
      await sleep(1_000);
      rig.ctx.progress.update(`${label(v)}: ${fire.length} updates`);
      await mapLimit(fire, m.concurrency, (f) => f());
      await sleep(500);
    }
  }
  return out;
}

async function setup(ctx: BenchContext, pollMs: number): Promise<Rig> {
  const db = await ctx.env.freshDatabase('overhead');
  const adminToken = `bench-admin-${rid(12)}`;
  const takedownQueue = `bench-takedown-${rid()}`;
  const floorQueue = `bench-floor-${rid()}`;
  const base = { databaseUrl: db.url, temporalAddress: ctx.env.temporal.address, namespace: 'default' };
  // The workers (takedown and floor) in one process; the API in the same one as `npm start` runs it, or in a process
  // of its own as `npm run api` and `npm run worker` run them in production (SPLIT).
  const sut = await ctx.env.startSut('overhead', {
    ...base,
    takedown: { taskQueue: takedownQueue, bundlePath: ctx.env.bundles.takedown },
    floor: { taskQueue: floorQueue, bundlePath: ctx.env.bundles.floor },
    ...(SPLIT ? {} : { api: { adminToken } }),
  });
  const apiSut = SPLIT ? await ctx.env.startSut('overhead-api', { ...base, api: { adminToken, taskQueue: takedownQueue } }) : null;
  const http = new HttpJson((apiSut ?? sut).started.apiUrl!, 256);
  const [lead, analyst, officer] = await Promise.all([
    createPrincipal(http, adminToken, 'ceop', ['case_lead']),
    createPrincipal(http, adminToken, 'ceop', ['analyst']),
    createPrincipal(http, adminToken, 'ceop', ['le_officer']),
  ]);
  const sim = await startPartnerSimulator({ apiUrl: (apiSut ?? sut).started.apiUrl!, adminToken, orgs: { ...PARTNER_ORGS }, seed: 1 });
  const connection = await Connection.connect({ address: ctx.env.temporal.address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    ctx,
    db,
    sut,
    apiSut,
    http,
    client,
    connection,
    sim,
    lead,
    analyst,
    officer,
    pollers: { verify: new InboxPoller(http, analyst, 'verify_evidence', pollMs), signoff: new InboxPoller(http, officer, 'le_signoff', pollMs) },
    takedownQueue,
    floorQueue,
    ready: new ReadyHub(sut),
  };
}

async function teardown(rig: Rig): Promise<void> {
  await rig.sim.stop().catch(() => {});
  rig.http.close();
  await rig.sut.stop();
  await rig.apiSut?.stop();
  await rig.connection.close().catch(() => {});
  await rig.db.close().catch(() => {});
}

/** The shape is counted from the last warm-up cases' histories (the most common counts among them). */
const SHAPE_SAMPLE = 32;

/** BENCH_WARMUP overrides the profile's warm-up cases per side. */
function warmupCases(profileDefault: number): number {
  const n = Number(process.env.BENCH_WARMUP ?? profileDefault);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_WARMUP must be a whole number of cases, at least 1 (got ${process.env.BENCH_WARMUP})`);
  return n;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const p = { ...PROFILES[ctx.profile], warmup: warmupCases(PROFILES[ctx.profile].warmup) };
  const { progress } = ctx;
  progress.phase('overhead: starting the worker, the API and the partner simulator');
  const rig = await setup(ctx, p.pollMs);
  try {
    // Warm-up, and the shape: the floor copies the counts of a real case run under the same concurrency.
    progress.phase('overhead: warm-up');
    const warm = await runBlock(rig, 'warm-up takedown', p.warmup, p.concurrency, () => runTakedownCase(rig));
    if (warm.samples.length === 0) throw new Error(`no warm-up case completed (SUT log: ${rig.sut.logFile})`);
    await sleep(3_000); // the archive children of the last cases finish
    const warmHistories = await mapLimit(warm.samples.slice(-SHAPE_SAMPLE), 4, async (s) => {
      const h = await fetchParsedHistory(rig.client, caseWorkflowId(s.caseId));
      const children = await Promise.all(h.children.map((c) => fetchParsedHistory(rig.client, c)));
      return { h, child: children[0], counts: countsOf(h, children) };
    });
    const typical = typicalHistory(warmHistories);
    rig.shape = shapeFrom(typical.h, PEOPLE_STEPS, typical.child);
    const totals = shapeTotals(rig.shape);
    const c0 = typical.counts;
    if (totals.activities !== c0.activities || totals.localActivities !== c0.localActivities || totals.updates !== c0.updates || totals.timers !== c0.timers) {
      throw new Error(`floor shape ${JSON.stringify(totals)} does not match the case's counts ${JSON.stringify(typical.counts)}`);
    }
    await runBlock(rig, 'warm-up floor', p.warmup, p.concurrency, () => runFloorCase(rig));
    progress.done(`shape: ${c0.localActivities} local + ${c0.activities} regular activities, ${c0.updates} updates, ${c0.timers} timers, ${c0.children} child(ren)`);

    // Alternating blocks, so that drift (other load on the machine, a growing SQLite file) hits both alike.
    progress.phase('overhead: alternating blocks');
    const blocks: BlockResult[] = [];
    const takedownSamples: TakedownSample[][] = [];
    const floorSamples: FloorSample[][] = [];
    const pollsBefore = rig.pollers.verify.polls + rig.pollers.signoff.polls;
    let takedownWall = 0;
    const meter = new CpuMeter(
      { sut: rig.sut.started.pid, ...(rig.apiSut ? { api: rig.apiSut.started.pid } : {}), temporal: ctx.env.temporal.process.pid, postgres: ctx.env.postgresPid },
      { workflowThreads: rig.sut.started.workflowThreads },
    );
    const cpu: Record<'takedown' | 'floor', ReturnType<typeof CpuMeter.diff>[]> = { takedown: [], floor: [] };
    const acts: Record<'takedown' | 'floor', ActivityStats> = { takedown: {}, floor: {} };
    const addStats = (into: ActivityStats, from: ActivityStats) => {
      for (const [k, v] of Object.entries(from)) {
        const t = (into[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
        t.count += v.count;
        t.totalMs += v.totalMs;
        t.maxMs = Math.max(t.maxMs, v.maxMs);
      }
    };
    const loops: Record<'takedown' | 'floor', LoopDelay[]> = { takedown: [], floor: [] };
    // What each side asked of Temporal: the dev server's own counters, read where each block's window closes.
    const metricsUrl = ctx.env.temporal.metricsUrl;
    const temporalOps = { takedown: new Map() as Counters, floor: new Map() as Counters };
    const readCounters = async () => (metricsUrl ? scrapeCounters(metricsUrl) : new Map<string, number>());
    // A block's window closes when its work has settled: the archives still running after their case closed (and the
    // floor's children) count for their own side, and the server has published its counters (it does so every second).
    const settle = () => sleep(SETTLE_MS);
    await resetStatements(rig.db.pool);
    let ops0 = await readCounters();
    // The CPU window and counters of a side's block close after the settle; how busy the machine was counts the block alone.
    const busyInBlocks: Record<'takedown' | 'floor', ReturnType<typeof CpuMeter.diff>[]> = { takedown: [], floor: [] };
    const runSide = async <T extends { latency: number; ok: boolean }>(side: 'takedown' | 'floor', b: number, one: () => Promise<T>) => {
      await rig.sut.activityStats(true);
      await rig.sut.loopDelay(true);
      const m0 = meter.sample();
      const r = await runBlock(rig, `block ${b + 1}/${p.blocks} ${side}`, p.casesPerBlock, p.concurrency, one);
      const end = meter.sample();
      loops[side].push(await rig.sut.loopDelay(true));
      await settle();
      const ops1 = await readCounters();
      cpu[side].push(CpuMeter.diff(m0, meter.sample()));
      busyInBlocks[side].push(CpuMeter.diff(m0, end));
      addDelta(temporalOps[side], ops0, ops1);
      ops0 = ops1;
      addStats(acts[side], await rig.sut.activityStats(true));
      blocks.push({ kind: side, index: b, cases: r.samples.length, failed: r.failed, wallMs: r.wallMs, throughput: r.samples.length / (r.wallMs / 1000), latency: summarize(r.samples.map((s) => s.latency)) });
      return r;
    };
    for (let b = 0; b < p.blocks; b++) {
      const t = await runSide('takedown', b, () => runTakedownCase(rig));
      takedownWall += t.wallMs;
      takedownSamples.push(t.samples);
      const f = await runSide('floor', b, () => runFloorCase(rig));
      floorSamples.push(f.samples);
    }
    if (Object.keys(acts.takedown).length === 0) progress.log('    note: no activity timings came back from the worker (the timing interceptor did not run)');
    const polls = rig.pollers.verify.polls + rig.pollers.signoff.polls - pollsBefore;
    // Only the takedown side touches PostgreSQL, so these are its statements.
    const statements = await topStatements(rig.db.pool, 12);
    const statementTotals = await totalStatements(rig.db.pool);
    progress.done();

    // The same comparison at lighter loads, where the machine is not yet CPU-bound.
    progress.phase('overhead: the ratio at lighter loads');
    const sweep: SweepLevel[] = [];
    for (const concurrency of p.sweep.levels) {
      const empty = () => ({ cases: 0, failed: 0, wallMs: 0, latencies: [] as number[], cpuMs: 0, machineBusyMs: 0 });
      const level: SweepLevel = { concurrency, side: { takedown: empty(), floor: empty() } };
      for (let round = 0; round < p.sweep.rounds; round++) {
        for (const kind of ['takedown', 'floor'] as const) {
          const m0 = meter.sample();
          const label = `${concurrency} in flight, round ${round + 1}/${p.sweep.rounds} ${kind}`;
          const one = kind === 'takedown' ? () => runTakedownCase(rig) : () => runFloorCase(rig);
          const r = await runBlock<{ latency: number; ok: boolean }>(rig, label, p.sweep.cases, concurrency, one);
          const d = CpuMeter.diff(m0, meter.sample());
          const into = level.side[kind];
          into.cases += r.samples.length;
          into.failed += r.failed;
          into.wallMs += r.wallMs;
          into.latencies.push(...r.samples.map((x) => x.latency));
          into.cpuMs += cpuOfAll(d);
          into.machineBusyMs += d.machineBusyMs;
        }
      }
      sweep.push(level);
    }
    progress.done();

    progress.phase('overhead: CPU profile of the worker + API process during a takedown block (not measured)');
    const stopProfile = await rig.sut.profile('takedown');
    await runBlock(rig, 'profiled takedown block', p.profileCases, p.concurrency, () => runTakedownCase(rig));
    const cpuProfile = summarizeCpuProfile(await stopProfile());
    progress.done();

    progress.phase('overhead: reading histories');
    const perBlock = Math.max(1, Math.ceil(p.historySample / p.blocks));
    // Evenly spaced within each block (samples are in completion order), so early and late cases are both represented.
    const spread = <T>(xs: T[]) => Array.from({ length: Math.min(perBlock, xs.length) }, (_, i) => xs[Math.floor((i * xs.length) / Math.min(perBlock, xs.length))]);
    const tdPicked = takedownSamples.flatMap(spread);
    const { rows: taskRows } = await rig.db.pool.query<{ id: string; type: string; created_at: Date }>(
      'SELECT id, type, created_at FROM tasks WHERE case_id = ANY($1::text[])',
      [tdPicked.map((s) => s.caseId)],
    );
    const taskInfo = new Map(taskRows.map((r) => [r.id, { type: r.type, createdAt: r.created_at.getTime() }]));
    const tdHist = await mapLimit(tdPicked, 4, async (s) => breakdown(await fetchParsedHistory(rig.client, caseWorkflowId(s.caseId)), taskInfo));
    const flHistRaw = await mapLimit(floorSamples.flatMap(spread), 4, (s) => fetchParsedHistory(rig.client, s.workflowId));
    const flHist = flHistRaw.map((h) => breakdown(h));
    const floorCounts = countsOf(flHistRaw[0], await Promise.all(flHistRaw[0].children.map((c) => fetchParsedHistory(rig.client, c))));
    progress.done(`${tdHist.length} + ${flHist.length} histories`);

    progress.phase('overhead: completion through the API vs a bare update');
    const serialUpdates = await measureUpdates(rig, { rounds: 1, perRound: p.serialUpdates, concurrency: 1, parkConcurrency: p.concurrency, interleave: true });
    const updates = await measureUpdates(rig, { rounds: p.rounds, perRound: p.updatesPerRound, concurrency: p.concurrency, parkConcurrency: p.concurrency });
    progress.done();

    const mem = await rig.sut.memory();
    return report(ctx, p, {
      typical,
      shape: rig.shape,
      floorCounts,
      blocks,
      takedownSamples,
      floorSamples,
      tdHist,
      flHist,
      updates,
      polls,
      takedownWall,
      sim: rig.sim.stats(),
      sweep,
      poolMax: rig.sut.started.poolMax,
      workflowThreads: rig.sut.started.workflowThreads.length,
      rss: mem.rss,
      cpu,
      acts,
      loops,
      serialUpdates,
      statements,
      statementTotals,
      cpuProfile,
      temporalOps: metricsUrl ? temporalOps : null,
      busyInBlocks,
    });
  } finally {
    await teardown(rig);
  }
}

interface Collected {
  /** CPU over each block alone (without its settle), for how busy the machine was. */
  busyInBlocks: Record<'takedown' | 'floor', { wallMs: number; machineBusyMs: number }[]>;
  /** The dev server's counters over each side's blocks; null when it serves no metrics. */
  temporalOps: Record<'takedown' | 'floor', Counters> | null;
  typical: { h: ParsedHistory; counts: ShapeCounts; spread: string };
  shape: FloorShape;
  floorCounts: ShapeCounts;
  blocks: BlockResult[];
  takedownSamples: TakedownSample[][];
  floorSamples: FloorSample[][];
  tdHist: Breakdown[];
  flHist: Breakdown[];
  updates: Record<UpdateVariant, number[]>;
  polls: number;
  takedownWall: number;
  sim: ReturnType<PartnerSimulator['stats']>;
  sweep: SweepLevel[];
  poolMax: number;
  rss: number;
  cpu: Record<'takedown' | 'floor', (CpuSample & { other: number; cores: number })[]>;
  acts: Record<'takedown' | 'floor', ActivityStats>;
  loops: Record<'takedown' | 'floor', LoopDelay[]>;
  serialUpdates: Record<UpdateVariant, number[]>;
  statements: StatementStat[];
  statementTotals: { calls: number; totalMs: number };
  cpuProfile: CpuSummary;
  /** How many workflow threads the SUT identified (0: their CPU is in "other threads"). */
  workflowThreads: number;
}

/** CPU of every benchmark process together (the driver, the SUT, Temporal, PostgreSQL), in ms. */
const cpuOfAll = (x: { byName: Record<string, number> }): number => Object.values(x.byName).reduce((a, b) => a + b, 0);

/** What each side asked of the Temporal dev server, per case, beside the server's CPU per case. */
function temporalOpsSection(ops: Record<'takedown' | 'floor', Counters>, tdCases: number, flCases: number, tdMs: number, flMs: number): string {
  const rows = perCaseRows(ops.takedown, tdCases, ops.floor, flCases);
  const total = (kind: string) => rows.find((r) => r.kind === kind && r.operation === 'all') ?? { takedown: 0, floor: 0 };
  const [front, store] = [total(KIND.frontend), total(KIND.persistence)];
  const writes = rows.find((r) => r.kind === KIND.persistence && r.operation === 'UpdateWorkflowExecution') ?? { takedown: 0, floor: 0 };
  const ratio = (a: number, b: number) => (b > 0 ? `${num(a / b, 2)}×` : '–');
  // The largest differences of each kind, then its total.
  const shown = Object.values(KIND).flatMap((kind) => {
    const of = rows.filter((r) => r.kind === kind);
    return [...of.filter((r) => r.operation !== 'all').slice(0, 8), ...of.filter((r) => r.operation === 'all')];
  });
  return `
What each side asked of the Temporal dev server, per completed case: requests its frontend answered (from the worker,
the API and the driver) and its operations on its SQLite store (persistence: histories and workflow state; visibility:
the search store), from the server's own Prometheus counters, read where each block's window closes. The largest
differences of each kind, then its total over every operation:

${table(['kind', 'operation', 'takedown per case', 'floor per case'], shown.map((r) => [r.kind, r.operation === 'all' ? '**all**' : `\`${r.operation}\``, num(r.takedown, 1), num(r.floor, 1)]))}

The server's CPU per case was ${ms(tdMs)} against ${ms(flMs)} (${ratio(tdMs, flMs)}), for ${num(front.takedown, 1)} against ${num(front.floor, 1)} frontend
requests (${ratio(front.takedown, front.floor)}), ${num(store.takedown, 1)} against ${num(store.floor, 1)} store operations (${ratio(store.takedown, store.floor)}),
of which ${num(writes.takedown, 1)} against ${num(writes.floor, 1)} writes of a workflow's state and new events (\`UpdateWorkflowExecution\`, ${ratio(writes.takedown, writes.floor)}).
`;
}

/** CPU milliseconds per case by process, summed over a side's blocks. */
function cpuPerCase(
  diffs: (CpuSample & { other: number; cores: number })[],
  cases: number,
): { byName: Record<string, number>; threads: Record<string, number>; other: number; wallMs: number; cores: number } {
  const byName: Record<string, number> = {};
  const threads: Record<string, number> = {};
  for (const d of diffs) {
    for (const [k, v] of Object.entries(d.byName)) byName[k] = (byName[k] ?? 0) + v / cases;
    for (const [k, v] of Object.entries(d.sutThreads)) threads[k] = (threads[k] ?? 0) + v / cases;
  }
  return { byName, threads, other: diffs.reduce((n, d) => n + d.other, 0) / cases, wallMs: diffs.reduce((n, d) => n + d.wallMs, 0), cores: diffs[0]?.cores ?? 1 };
}

const verdict = (ok: boolean) => (ok ? '✅ met' : '❌ missed');

function report(ctx: BenchContext, p: (typeof PROFILES)['full'], c: Collected): BenchResult {
  const td = c.takedownSamples.flat();
  const fl = c.floorSamples.flat();
  const tdLat = summarize(td.map((s) => s.latency));
  const flLat = summarize(fl.map((s) => s.latency));
  const tdBlocks = c.blocks.filter((b) => b.kind === 'takedown');
  const flBlocks = c.blocks.filter((b) => b.kind === 'floor');
  const ratios = tdBlocks.map((b, i) => b.throughput / flBlocks[i].throughput);
  const p99Ratios = tdBlocks.map((b, i) => b.latency.p99 / flBlocks[i].latency.p99);
  const tdTput = median(tdBlocks.map((b) => b.throughput));
  const flTput = median(flBlocks.map((b) => b.throughput));
  const tputRatio = median(ratios);
  const p99Ratio = tdLat.p99 / flLat.p99;
  const u = Object.fromEntries(Object.entries(c.updates).map(([k, v]) => [k, summarize(v)])) as Record<UpdateVariant, Summary>;
  const us = Object.fromEntries(Object.entries(c.serialUpdates).map(([k, v]) => [k, summarize(v)])) as Record<UpdateVariant, Summary>;
  const apiVsBare = u.api.p50 / u.bare.p50;
  const apiVsBareSerial = us.api.p50 / us.bare.p50;

  const latencySvg = writeSvg(
    'overhead-case-latency.svg',
    cdfSvg({
      title: `Case latency, ${p.concurrency} cases in flight (${ctx.profile} profile)`,
      xLabel: 'case latency: creation to workflow closed (ms)',
      series: [
        { label: 'takedown (HTTP API, PostgreSQL, notices)', values: td.map((s) => s.latency) },
        { label: 'floor (bare workflow, same shape)', values: fl.map((s) => s.latency) },
      ],
    }),
  );
  const updatesSvg = writeSvg(
    'overhead-updates.svg',
    cdfSvg({
      title: `Completing a task vs a bare update (${p.concurrency} in flight)`,
      xLabel: 'latency (ms)',
      logX: true,
      series: (['api', 'direct', 'floor', 'bare'] as UpdateVariant[]).map((v) => ({ label: VARIANT_LABEL[v], values: c.updates[v] })),
    }),
  );

  const shapeRows: (string | number)[][] = [
    ['local activities (MarkerRecorded core_local_activity)', c.typical.counts.localActivities, c.floorCounts.localActivities],
    ['activities (ActivityTaskScheduled)', c.typical.counts.activities, c.floorCounts.activities],
    ['updates (WorkflowExecutionUpdateAccepted)', c.typical.counts.updates, c.floorCounts.updates],
    ['timers (TimerStarted)', c.typical.counts.timers, c.floorCounts.timers],
    ['child workflows (their activities)', `${c.typical.counts.children} (${c.typical.counts.childActivities})`, `${c.floorCounts.children} (${c.floorCounts.childActivities})`],
    ['workflow tasks', c.typical.counts.workflowTasks, c.floorCounts.workflowTasks],
    ['history events', c.typical.counts.events, c.floorCounts.events],
    ['history size (JSON)', `${num(c.typical.counts.bytes / 1024, 0)} KiB`, `${num(c.floorCounts.bytes / 1024, 0)} KiB`],
  ];

  const blockRows = tdBlocks.map((b, i) => {
    const f = flBlocks[i];
    return [
      String(i + 1),
      `${b.cases}${b.failed ? ` (+${b.failed} failed)` : ''}`,
      num(b.throughput, 2),
      ms(b.latency.p50),
      ms(b.latency.p99),
      num(f.throughput, 2),
      ms(f.latency.p50),
      ms(f.latency.p99),
      num(ratios[i], 2),
    ];
  });

  // Where the time goes, mean per case, from the histories.
  const cats = [...new Set([...c.tdHist, ...c.flHist].flatMap((b) => Object.keys(b.byCategory)))].sort();
  const tdMean = (f: (b: Breakdown) => number) => meanOf(c.tdHist, f);
  const flMean = (f: (b: Breakdown) => number) => meanOf(c.flHist, f);
  const timeRows: (string | number)[][] = [
    ['wall time in Temporal (started → closed)', ms(tdMean((b) => b.wall)), ms(flMean((b) => b.wall))],
    ['something running (a workflow task or an activity)', ms(tdMean((b) => b.busy)), ms(flMean((b) => b.busy))],
    ['… workflow tasks in flight', ms(tdMean((b) => b.workflowTasks)), ms(flMean((b) => b.workflowTasks))],
    ['workflow tasks per case', num(tdMean((b) => b.wftCount), 1), num(flMean((b) => b.wftCount), 1)],
    ['… their time waiting for the worker (schedule-to-start), summed', ms(tdMean((b) => b.wftQueue)), ms(flMean((b) => b.wftQueue))],
    ['… their time being processed (start-to-complete), summed', ms(tdMean((b) => b.wftRun)), ms(flMean((b) => b.wftRun))],
    ...cats.map((k) => [`… ${k} in flight`, ms(tdMean((b) => b.byCategory[k] ?? 0)), ms(flMean((b) => b.byCategory[k] ?? 0))]),
    ['nothing running: waiting for people and partners', ms(tdMean((b) => b.idle)), ms(flMean((b) => b.idle))],
    ['mean activity schedule-to-start (worker queueing)', ms(tdMean((b) => b.scheduleToStart)), ms(flMean((b) => b.scheduleToStart))],
  ];
  // Execution inside the worker (the timing interceptor), per case over all blocks of a side.
  const actRows = (stats: ActivityStats, cases: number) =>
    Object.entries(stats)
      .map(([t, v]) => ({ t, count: v.count / cases, totalRun: v.totalMs / cases, each: v.totalMs / v.count, max: v.maxMs }))
      .sort((a, b) => b.totalRun - a.totalRun);
  // Blocks overlap at their edges (the last cases' archive children finish in the next block), so split by activity, not by block.
  const allActs: ActivityStats = {};
  for (const side of [c.acts.takedown, c.acts.floor]) {
    for (const [k, v] of Object.entries(side)) {
      const t = (allActs[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
      t.count += v.count;
      t.totalMs += v.totalMs;
      t.maxMs = Math.max(t.maxMs, v.maxMs);
    }
  }
  const pick = (floor: boolean) => Object.fromEntries(Object.entries(allActs).filter(([k]) => k.startsWith('noop') === floor));
  const tdActs = actRows(pick(false), td.length);
  const flActs = actRows(pick(true), fl.length);
  const localExec = tdActs.filter((a) => a.t.endsWith('(local)')).reduce((n, a) => n + a.totalRun, 0);
  const execTotal = (rows: typeof tdActs) => rows.reduce((n, r) => n + r.totalRun, 0);
  const outsideTypes = [...new Set(c.tdHist.flatMap((b) => Object.keys(b.outside)))];
  const outsideRows = outsideTypes.map((t) => {
    const s = summarize(c.tdHist.flatMap((b) => b.outside[t] ?? []));
    return [t, s.n, ms(s.p50), ms(s.p99)];
  });
  const prt = summarize(c.tdHist.flatMap((b) => b.partnerRoundTrip));
  const disc = summarize(td.flatMap((s) => s.discovery));
  const create = summarize(td.map((s) => s.create));
  const completeInBlocks = summarize(td.flatMap((s) => s.complete));
  const floorIntake = summarize(fl.map((s) => s.intake));
  const pollRate = c.polls / (c.takedownWall / 1000);
  const pgShare = localExec / tdMean((b) => b.wall);

  const tdCpu = cpuPerCase(c.cpu.takedown, td.length);
  const flCpu = cpuPerCase(c.cpu.floor, fl.length);
  // The load sweep's levels, then the main blocks' level, as throughput, latency ratios and how busy the machine was.
  const busy = (d: { wallMs: number; machineBusyMs: number }[]) => d.reduce((a, x) => a + x.machineBusyMs, 0) / d.reduce((a, x) => a + x.wallMs, 0);
  const loadRows: (string | number)[][] = [
    ...c.sweep.map((l) => {
      const [t, f] = [l.side.takedown, l.side.floor];
      const [tl, fl] = [summarize(t.latencies), summarize(f.latencies)];
      const [tt, ft] = [t.cases / (t.wallMs / 1000), f.cases / (f.wallMs / 1000)];
      const [tc, fc] = [t.cpuMs / t.cases, f.cpuMs / f.cases];
      return [l.concurrency, num(tt, 2), num(ft, 2), num(tt / ft, 2), num(tl.p50 / fl.p50, 2), num(tl.p99 / fl.p99, 2), `${num(busy([t]), 2)} / ${num(busy([f]), 2)}`, `${ms(tc)} / ${ms(fc)} (${num(fc / tc, 2)})`];
    }),
    [
      `${p.concurrency} (the blocks above)`,
      num(tdTput, 2),
      num(flTput, 2),
      num(tputRatio, 2),
      num(tdLat.p50 / flLat.p50, 2),
      num(p99Ratio, 2),
      `${num(busy(c.busyInBlocks.takedown), 2)} / ${num(busy(c.busyInBlocks.floor), 2)}`,
      `${ms(cpuOfAll(tdCpu))} / ${ms(cpuOfAll(flCpu))} (${num(cpuOfAll(flCpu) / cpuOfAll(tdCpu), 2)})`,
    ],
  ];

  const CPU_LABEL: Record<string, string> = {
    driver: 'driver (HTTP clients, inbox pollers, partner simulator / Temporal client)',
    sut: SPLIT ? 'worker process (takedown and floor workers)' : 'worker + API process',
    api: 'API process',
    temporal: 'Temporal dev server',
    postgres: 'PostgreSQL (all backends)',
  };
  const THREAD_LABEL: Record<string, string> = {
    main: SPLIT ? '… its main thread (activities, payload conversion)' : '… its main thread (API, activities, payload conversion)',
    workflow:
      c.workflowThreads > 0
        ? `… its ${c.workflowThreads} workflow threads (Node worker threads running workflow code in the V8 sandbox)`
        : '… its workflow threads (not identified in this run: their CPU is in the other threads)',
    core: '… the SDK core (Rust: gRPC, workflow and local activity state machines)',
    other: '… other threads (V8 GC helpers, libuv pool)',
  };
  // A ratio over next to nothing (the floor's PostgreSQL) says nothing: shown as a dash.
  const row = (label: string, a: number, b: number) => [label, ms(a), ms(b), b >= 0.05 ? num(a / b, 1) : '—'];
  const cpuRows = [
    row(CPU_LABEL.sut, tdCpu.byName.sut ?? 0, flCpu.byName.sut ?? 0),
    ...['main', 'workflow', 'core', 'other'].map((k) => row(THREAD_LABEL[k], tdCpu.threads[k] ?? 0, flCpu.threads[k] ?? 0)),
    ...(SPLIT ? ['api'] : []).map((k) => row(CPU_LABEL[k], tdCpu.byName[k] ?? 0, flCpu.byName[k] ?? 0)),
    ...['temporal', 'postgres', 'driver'].map((k) => row(CPU_LABEL[k], tdCpu.byName[k] ?? 0, flCpu.byName[k] ?? 0)),
    ['all of the above', ms(cpuOfAll(tdCpu)), ms(cpuOfAll(flCpu)), num(cpuOfAll(tdCpu) / cpuOfAll(flCpu), 2)],
    ['other processes on the machine (not the benchmark)', ms(tdCpu.other), ms(flCpu.other), ''],
  ];
  const ceiling = (x: typeof tdCpu) => (x.cores * 1000) / cpuOfAll(x);
  const updateRows = (['api', 'direct', 'floor', 'bare'] as UpdateVariant[]).map((v) => [
    VARIANT_LABEL[v],
    `${ms(us[v].p50)} / ${ms(us[v].p99)}`,
    `${ms(u[v].p50)} / ${ms(u[v].p90)} / ${ms(u[v].p99)}`,
  ]);
  const temporalSection = c.temporalOps ? temporalOpsSection(c.temporalOps, td.length, fl.length, tdCpu.byName.temporal ?? 0, flCpu.byName.temporal ?? 0) : '';
  const stmtRows = c.statements.map((st) => [`\`${shortSql(st.query)}\``, num(st.calls / td.length, 1), ms(st.meanMs), ms(st.totalMs / td.length)]);
  const bytesRows = (h: ParsedHistory) =>
    Object.entries(h.bytesByKind)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => `${k} ${num(v / 1024, 1)} KiB`)
      .join(', ');
  const prof = c.cpuProfile;
  const stmtTotal = c.statements.reduce((n, st) => n + st.totalMs, 0);
  const lockStmt = c.statements.find((st) => /pg_advisory_xact_lock/.test(st.query));
  const caseUpsert = c.statements.find((st) => /^INSERT INTO cases/i.test(st.query.trim()));
  const lockNote = lockStmt
    ? `\n\n\`pg_advisory_xact_lock\` does no work: its ${ms(lockStmt.meanMs)} mean is time spent waiting for another transaction of the same case
to commit (audit appends of one case are serialised on that lock), ${num((lockStmt.totalMs / Math.max(1, stmtTotal)) * 100, 0)} % of the statement time above.${
        caseUpsert ? ` The case upsert's ${ms(caseUpsert.meanMs)} mean is mostly waiting on the case row's lock the same way (in an idle process a whole \`recordCase\` takes about 1.5 ms, see the audit benchmark).` : ''
      } Concurrent writers on one case: its parallel partner branches (each opening a task, preparing and sending a notice) and the completion handlers.`
    : '';
  const shapeText = describeShape(c.shape);
  const firstHandler = c.shape.handlers[0]
    ? `its handler runs ${c.shape.handlers[0].length} no-op activit${c.shape.handlers[0].length === 1 ? 'y' : 'ies'} where the case's records the task`
    : "its handler runs none: the case's waiting flow writes the completion together with the next task, as the floor's next activity stands for";

  const section = `## 1. Overhead against the floor

\`npm run bench -- overhead\` · ${ctx.profile} profile: ${p.blocks} blocks × ${p.casesPerBlock} cases per side, alternating takedown → floor, ${p.concurrency} cases in flight (closed loop), after ${p.warmup} warm-up cases each.

**Takedown**: each case is created with \`POST /v1/cases\`; the driver plays the analyst and the officer through the API
(polling their inboxes every ${p.pollMs} ms with one poller per role, then \`POST /v1/tasks/:id/complete\`); the partner simulator
(\`scripts/lib/partner-simulator.ts\`, \`delayMs: 0\`) verifies each signed notice and completes its task through the API; the
case ends when its workflow closes. **Floor** (\`bench/floor-workflow.ts\`, bundled separately, same worker process and
dev server, its own task queue): update-with-start, then the same number of updates driven straight from a Temporal client,
no-op activities (local where the case's are local), timers that never fire, a child workflow. Its shape is counted at run time from the history of a real
case (the most common counts among the last ${Math.min(SHAPE_SAMPLE, p.warmup)} warm-up cases: ${c.typical.spread}, as activities/updates/timers/children):

${table(['counted in the history', 'takedown case', 'floor run'], shapeRows)}

Floor shape derived from it: ${shapeText}.

What the case's history is made of (JSON bytes by event type): ${bytesRows(c.typical.h)}.

### Results

${table(
  ['', 'takedown', 'floor', 'takedown / floor', 'target'],
  [
    ['throughput (median of blocks)', `${num(tdTput, 2)} cases/s`, `${num(flTput, 2)} cases/s`, `${num(tputRatio, 2)} (blocks: ${ratios.map((r) => num(r, 2)).join(', ')})`, `≥ 0.67 (goal 0.8): ${verdict(tputRatio >= 0.67)}${tputRatio >= 0.8 ? ', goal met' : ''}`],
    [
      'CPU per case, all benchmark processes',
      ms(cpuOfAll(tdCpu)),
      ms(cpuOfAll(flCpu)),
      `${num(cpuOfAll(flCpu) / cpuOfAll(tdCpu), 2)} (floor ÷ takedown: the throughput ratio once CPU-bound)`,
      `≥ 0.67: ${verdict(cpuOfAll(flCpu) / cpuOfAll(tdCpu) >= 0.67)}`,
    ],
    ['case latency p50', ms(tdLat.p50), ms(flLat.p50), num(tdLat.p50 / flLat.p50, 2), ''],
    ['case latency p99', ms(tdLat.p99), ms(flLat.p99), `${num(p99Ratio, 2)} (blocks: ${p99Ratios.map((r) => num(r, 2)).join(', ')})`, `≤ 1.5: ${verdict(p99Ratio <= 1.5)}`],
    ['task completion vs bare update, p50, one at a time', ms(us.api.p50), ms(us.bare.p50), num(apiVsBareSerial, 2), `≤ 2: ${verdict(apiVsBareSerial <= 2)}`],
    [`task completion vs bare update, p50, ${p.concurrency} in flight`, ms(u.api.p50), ms(u.bare.p50), num(apiVsBare, 2), `≤ 2: ${verdict(apiVsBare <= 2)}`],
  ],
)}

Cases counted: ${td.length} takedown, ${fl.length} floor (failed: ${c.blocks.reduce((n, b) => n + b.failed, 0)}). Spread of the
throughput ratio across blocks: ${num(Math.min(...ratios), 2)}–${num(Math.max(...ratios), 2)}.

${table(['block', 'takedown cases', 'cases/s', 'p50', 'p99', 'floor cases/s', 'p50', 'p99', 'ratio'], blockRows)}

![case latency CDF](${latencySvg})

### The ratio at lighter loads

The same comparison with fewer cases in flight (${p.sweep.rounds} round(s) of ${p.sweep.cases} cases per side and level, takedown and floor
taking turns), after the blocks above. Until the ${c.cpu.takedown[0]?.cores ?? 2} cores are busy, throughput is cases in flight ÷ case
latency, so the ratio says how much longer a case takes, not how much more CPU it needs; once they are, CPU per case decides it.
CPU per case counts every benchmark process, as below; with fewer cases in flight, the processes' idle work is shared by fewer cases.

${table(['cases in flight', 'takedown cases/s', 'floor cases/s', 'throughput ratio', 'p50 latency ratio', 'p99 latency ratio', 'cores busy: takedown / floor', 'CPU per case: takedown / floor (ratio)'], loadRows)}

### Where the extra time goes

CPU per completed case, by process (from \`/proc\`, over all blocks of each side; the machine has ${tdCpu.cores} cores). Each
block's window closes ${num(SETTLE_MS / 1000, 0)} s after its last case, so what still runs then (the archive of a closed case, the floor's child) counts for its own side:

${table(['process', 'takedown ms/case', 'floor ms/case', 'ratio'], cpuRows)}

The worker + API process's main thread (one event loop for the API, every activity and the SDK's payload conversion) was
busy ${num(mean(c.loops.takedown.map((l) => l.utilization)) * 100, 0)} % of the takedown blocks (floor: ${num(mean(c.loops.floor.map((l) => l.utilization)) * 100, 0)} %); its event-loop
delay was p50 ${ms(mean(c.loops.takedown.map((l) => l.p50)))} / p99 ${ms(mean(c.loops.takedown.map((l) => l.p99)))} (floor: ${ms(mean(c.loops.floor.map((l) => l.p50)))} / ${ms(mean(c.loops.floor.map((l) => l.p99)))}), mean over blocks:
every await in an activity (each SQL statement, each HTTP exchange) waits that long for its turn.

With every core busy on this work alone, the CPU above would allow ${num(ceiling(tdCpu), 1)} takedown cases/s and
${num(ceiling(flCpu), 1)} floor cases/s; the blocks reached ${num(tdTput, 2)} and ${num(flTput, 2)}.

${targetGap(cpuOfAll(tdCpu), cpuOfAll(flCpu))}
${temporalSection}

Mean per case over ${c.tdHist.length} takedown and ${c.flHist.length} floor histories (sampled evenly from the blocks). "In flight"
is the time during which at least one of those was scheduled or running, so rows overlap and do not add up.

${table(['per case', 'takedown', 'floor'], timeRows)}

Activity execution inside the worker, per case (timed by an activity interceptor in the worker process, over all blocks;
local activities run inside the case's workflow tasks, so their time is part of "workflow tasks being processed" above):

${table(
  ['activity', 'per case', 'mean each', 'max', 'per case total'],
  [...tdActs.map((a) => [a.t, num(a.count, 1), ms(a.each), ms(a.max), ms(a.totalRun)]), ['**all takedown activities**', num(tdActs.reduce((n, a) => n + a.count, 0), 1), '', '', `**${ms(execTotal(tdActs))}**`], ...flActs.map((a) => [`floor: ${a.t}`, num(a.count, 1), ms(a.each), ms(a.max), ms(a.totalRun)])],
)}

Outside the workflow: from a task being opened (its \`createdAt\`, workflow time, before its projection is written) to its completion being accepted by the workflow:

${table(['task type', 'n', 'p50', 'p99'], outsideRows)}

- People: the inbox poll found a task ${ms(disc.p50)} (p50) / ${ms(disc.p99)} (p99) after the workflow opened it (this includes
  the \`recordTask\` and \`recordCase\` writes, then up to one ${p.pollMs} ms poll interval); polling cost ${num(pollRate, 0)} requests/s
  over the takedown blocks.
- Partners: from \`sendNotice\` done to the completion accepted ${ms(prt.p50)} (p50) / ${ms(prt.p99)} (p99): the simulator
  verifies the signature, answers 200, then calls the API.
- \`POST /v1/cases\` (update-with-start + intake writes) took ${ms(create.p50)} p50 / ${ms(create.p99)} p99; the floor's
  update-with-start ${ms(floorIntake.p50)} / ${ms(floorIntake.p99)}. Task completions in the blocks: ${ms(completeInBlocks.p50)} p50 /
  ${ms(completeInBlocks.p99)} p99.
- The PostgreSQL projection and audit writes (local activities) executed for ${ms(localExec)} per case, ${num(pgShare * 100, 0)} % of a
  case's wall time in Temporal (they run inside workflow tasks, one after another except across the partner branches).

Statements by total execution time inside PostgreSQL (pg_stat_statements over the takedown blocks, per completed case). In
all, a case made ${int(c.statementTotals.calls / td.length)} SQL statements (BEGIN and COMMIT included), ${ms(c.statementTotals.totalMs / td.length)} of execution
time inside PostgreSQL; each statement is also a round trip on the worker's busy event loop.

${table(['statement', 'calls per case', 'mean', 'per case'], stmtRows)}${lockNote}

CPU profile of the worker + API process's main thread during a further takedown block of ${p.profileCases} cases (V8 sampling profiler;
busy ${num(prof.busy * 100, 0)} % of ${ms(prof.totalMs)}), self time by package and the top functions:

${table(['package or folder', 'share of busy time'], prof.byGroup.slice(0, 10).map((g) => [g.group, `${num(g.share * 100, 1)} %`]))}

${table(['function', 'share of busy time'], prof.byFunction.slice(0, 12).map((f) => [`\`${f.fn}\``, `${num(f.share * 100, 1)} %`]))}

### A task completion through the API against a bare update

Each on a workflow already waiting for it (cases parked at \`verify_evidence\`, floor runs parked at their first wait): ${p.serialUpdates}
per variant one at a time, the variants taking turns update by update; then ${p.rounds} rounds × ${p.updatesPerRound} per variant with ${p.concurrency} in flight, variants alternating by round.

${table(['variant', 'one at a time: p50 / p99', `${p.concurrency} in flight: p50 / p90 / p99`], updateRows)}

- API over bare update: ${num(apiVsBareSerial, 2)}× at p50 one at a time, ${num(apiVsBare, 2)}× with ${p.concurrency} in flight (target ≤ 2×).
- API over the same update sent directly: +${ms(us.api.p50 - us.direct.p50)} at p50 one at a time, +${ms(u.api.p50 - u.direct.p50)} loaded
  (HTTP, the token lookup, reading the task and the case from the projection).
- Direct case update over the floor update of the same shape (${firstHandler}): +${ms(us.direct.p50 - us.floor.p50)} one at a time,
  +${ms(u.direct.p50 - u.floor.p50)} loaded (the \`recordTask\` write with its audit entry, validation, larger payloads).
- The handler's activities (floor update vs bare): +${ms(us.floor.p50 - us.bare.p50)} one at a time, +${ms(u.floor.p50 - u.bare.p50)} loaded.

![update latency CDF](${updatesSvg})

Partner simulator: ${c.sim.verified} notices verified, ${c.sim.completed} tasks completed, ${c.sim.completionErrors} completion errors,
${c.sim.badSignatures} bad signatures. SUT: one process (worker + API), PostgreSQL pool of ${c.poolMax}, RSS at the end ${num(c.rss / 1024 ** 2, 0)} MiB.
`;

  return {
    section,
    raw: {
      settings: p,
      shape: c.shape,
      counts: { takedown: c.typical.counts, floor: c.floorCounts, spread: c.typical.spread },
      blocks: c.blocks,
      takedown: c.takedownSamples,
      floor: c.floorSamples,
      updates: c.updates,
      serialUpdates: c.serialUpdates,
      statements: c.statements,
      cpuProfile: c.cpuProfile,
      breakdown: { takedown: c.tdHist, floor: c.flHist },
      polls: c.polls,
      simulator: c.sim,
      sweep: c.sweep.map((l) => ({ concurrency: l.concurrency, takedown: l.side.takedown, floor: l.side.floor })),
      temporalOps: c.temporalOps && { takedown: Object.fromEntries(c.temporalOps.takedown), floor: Object.fromEntries(c.temporalOps.floor) },
    },
    problems: [
      ...c.blocks.filter((b) => b.failed > 0).map((b) => `${b.failed} ${b.kind} case(s) failed in block ${b.index + 1}`),
      ...c.sweep.flatMap((l) => (['takedown', 'floor'] as const).filter((k) => l.side[k].failed > 0).map((k) => `${l.side[k].failed} ${k} case(s) failed at ${l.concurrency} in flight`)),
      ...(c.sim.completionErrors > 0 ? [`the partner simulator's task completions failed ${c.sim.completionErrors} time(s)`] : []),
      ...(c.sim.badSignatures > 0 ? [`the partner simulator refused ${c.sim.badSignatures} notice signature(s)`] : []),
    ],
    headline: [
      `throughput ${num(tdTput, 2)} vs floor ${num(flTput, 2)} cases/s (ratio ${num(tputRatio, 2)}, blocks ${num(Math.min(...ratios), 2)}–${num(Math.max(...ratios), 2)}); p50 ${ms(tdLat.p50)} vs ${ms(flLat.p50)}; p99 ${ms(tdLat.p99)} vs ${ms(flLat.p99)} (${num(p99Ratio, 2)}×)`,
      `throughput ratio by cases in flight: ${loadRows.map((r) => `${String(r[0]).split(' ')[0]}: ${r[3]}`).join(', ')}`,
      `completion via API p50 ${ms(us.api.p50)} vs bare update ${ms(us.bare.p50)} one at a time (${num(apiVsBareSerial, 2)}×); ${p.concurrency} in flight ${ms(u.api.p50)} vs ${ms(u.bare.p50)} (${num(apiVsBare, 2)}×)`,
    ],
  };
}

export const overheadBench: Bench = { name: 'overhead', title: 'whole cases through the API against a bare workflow of the same shape', run };
