// Benchmark 2: the inbox and the API at scale: 100,000 tasks and 10,000 open cases seeded in PostgreSQL, 50 concurrent clients.
import { CASE_ROWS_SQL } from '../api/case-reads';
import { inboxVersionStatement } from '../db/queries/tasks';
import type { CaseView } from '../domain/types';
import { caseBody, createPrincipal, rid, type Bench, type BenchContext, type BenchPrincipal, type BenchResult } from './lib/context';
import type { BenchDb, Sut } from './lib/env';
import type { LoopDelay } from './lib/sut-protocol';
import { HttpJson } from './lib/http';
import { writeSvg } from './lib/report';
import { SEED_PARTNERS, seedProjections, type SeedResult } from './lib/seed';
import { int, mapLimit, mean, median, ms, num, sleep, summarize, table, until, type Summary } from './lib/stats';
import { cdfSvg } from './lib/svg';
import { summarizeCpuProfile, type CpuSummary } from './lib/cpu-profile';
import { CpuMeter } from './lib/cpu';
import { resetStatements, shortSql, topStatements, type StatementStat } from './lib/statements';

/** How many case ids the EXPLAIN of the batched case read asks for at once. */
const CASE_BATCH_SHOWN = 10;

const PROFILES = {
  smoke: { cases: 1_000, tasks: 10_000, realCases: 10, clients: 10, requests: 200, warmup: 50, serial: 20 },
  quick: { cases: 10_000, tasks: 100_000, realCases: 100, clients: 50, requests: 1_500, warmup: 300, serial: 150 },
  full: { cases: 10_000, tasks: 100_000, realCases: 400, clients: 50, requests: 6_000, warmup: 600, serial: 400 },
};

/**
 * The row the inbox cache cannot serve: the same inbox read while a background writer changes one of visa's open tasks
 * this often (each change bumps visa's inbox version, migration 0014, so every cached visa page goes out of date).
 */
const WRITER_INTERVAL_MS = 10;

/** Inbox answers by what the API's inbox cache did (takedown_inbox_reads_total, summed over status), from /metrics. */
interface CacheCounts {
  hit: number;
  shared: number;
  miss: number;
  off: number;
}

async function cacheCounts(http: HttpJson, adminToken: string): Promise<CacheCounts> {
  const text = String((await http.ok<string>('GET', '/metrics', { token: adminToken })).body);
  const out: CacheCounts = { hit: 0, shared: 0, miss: 0, off: 0 };
  for (const m of text.matchAll(/^takedown_inbox_reads_total\{([^}]*)\} (\d+)/gm)) {
    const cache = /cache="(\w+)"/.exec(m[1])?.[1] as keyof CacheCounts | undefined;
    if (cache && cache in out) out[cache] += Number(m[2]);
  }
  return out;
}

const countsDiff = (a: CacheCounts, b: CacheCounts): CacheCounts => ({ hit: b.hit - a.hit, shared: b.shared - a.shared, miss: b.miss - a.miss, off: b.off - a.off });

/** `hits ÷ answers` and the counts, as the report prints them. */
function hitRatio(c: CacheCounts | undefined): string {
  if (!c) return '';
  const all = c.hit + c.shared + c.miss + c.off;
  return all === 0 ? 'no inbox answers' : `${num((c.hit / all) * 100, 1)} % (${int(c.hit)} hits, ${int(c.shared)} shared, ${int(c.miss)} misses${c.off ? `, ${int(c.off)} uncached` : ''})`;
}

/** Rounds of every read in turn (its warm-up count each, a quarter for the board) before the first is measured. */
const WARMUP_ROUNDS = 3;

/** Shares of the saturated throughput at which each read is paced after the half-rate run, for its capacity under the target. */
const LADDER = [0.65, 0.8, 0.9];

interface LoadResult {
  name: string;
  concurrency: number;
  latencies: number[];
  statuses: Record<string, number>;
  wallMs: number;
  summary: Summary;
  rps: number;
  paced?: boolean;
  cpu?: CpuDiff;
  statements?: StatementStat[];
  /** The inbox cache's answers during the run (inbox reads only). */
  cache?: CacheCounts;
  /** The API process's event loop over the run. */
  loop?: LoopDelay;
}

type CpuDiff = ReturnType<typeof CpuMeter.diff>;

/** Rounds in which each read and its floors take turns (bench/lib/sut.ts readFloor serves the floors). */
const FLOOR_ROUNDS = 2;

type FloorServer = 'api' | 'express' | 'node';

/** One read beside its floors: `read` is the API's route as served, the others the floor servers sending its bytes. */
interface FloorRun {
  read: string;
  variants: { server: 'read' | FloorServer; runs: LoadResult[] }[];
}

/** Requests per second over a variant's rounds. */
const floorRate = (runs: LoadResult[]) => runs.reduce((a, r) => a + r.latencies.length, 0) / (runs.reduce((a, r) => a + r.wallMs, 0) / 1000);

interface Req {
  method: string;
  path: string;
  token: string;
  body?: unknown;
}

/**
 * `concurrency` clients. Closed loop (default): each sends its next request as soon as the previous one is answered, so
 * the loop runs at the server's saturation throughput. Paced (`intervalMs`): each client sends on a fixed schedule, and
 * latency counts from the scheduled time (a late answer delays nothing, so queueing is not hidden).
 */
async function load(ctx: BenchContext, http: HttpJson, name: string, n: number, concurrency: number, next: (i: number) => Req, opts: { expect?: number; intervalMs?: number } = {}): Promise<LoadResult> {
  const expect = opts.expect ?? 200;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const t0 = performance.now();
  let issued = 0;
  let done = 0;
  const one = async (i: number, scheduled: number) => {
    const r = next(i);
    const res = await http.request(r.method, r.path, { token: r.token, body: r.body, bytesOnly: true }).catch((err: Error) => ({ status: 0, ms: NaN, body: err.message }));
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === expect) latencies.push(opts.intervalMs ? performance.now() - scheduled : res.ms);
    done += 1;
    if (done % 100 === 0) ctx.progress.update(`${name}: ${done}/${n}, ${int(done / ((performance.now() - t0) / 1000))} req/s`);
  };
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let k = 0; ; k++) {
        const i = issued++;
        if (i >= n) return;
        let scheduled = performance.now();
        if (opts.intervalMs) {
          scheduled = t0 + (c / concurrency) * opts.intervalMs + k * opts.intervalMs;
          const wait = scheduled - performance.now();
          if (wait > 0) await sleep(wait);
        }
        await one(i, scheduled);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  return { name, concurrency, latencies, statuses, wallMs, summary: summarize(latencies), rps: n / (wallMs / 1000), paced: opts.intervalMs !== undefined };
}

async function waitForOpen(db: BenchDb, type: string, caseIds: string[]): Promise<{ id: string; caseId: string }[]> {
  return until(`${caseIds.length} open ${type} tasks`, 300_000, async () => {
    const { rows } = await db.pool.query<{ id: string; case_id: string }>(
      `SELECT id, case_id FROM tasks WHERE type = $1 AND status = 'open' AND case_id = ANY($2::text[])`,
      [type, caseIds],
    );
    return rows.length === caseIds.length ? rows.map((r) => ({ id: r.id, caseId: r.case_id })) : undefined;
  });
}

async function indexStats(db: BenchDb): Promise<{ inboxScans: number; tasksSeqScans: number }> {
  const { rows } = await db.pool.query<{ idx: string; seq: string }>(
    `SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'tasks_inbox_idx') AS idx,
            (SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'tasks') AS seq`,
  );
  return { inboxScans: Number(rows[0].idx), tasksSeqScans: Number(rows[0].seq) };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const p = PROFILES[ctx.profile];
  const { progress } = ctx;
  progress.phase('inbox: starting the worker and the API');
  const db = await ctx.env.freshDatabase('inbox');
  const adminToken = `bench-admin-${rid(12)}`;
  const queue = `bench-inbox-${rid()}`;
  let sut: Sut | undefined;
  let http: HttpJson | undefined;
  try {
    sut = await ctx.env.startSut('inbox', {
      databaseUrl: db.url,
      temporalAddress: ctx.env.temporal.address,
      namespace: 'default',
      takedown: { taskQueue: queue, bundlePath: ctx.env.bundles.takedown },
      api: { adminToken },
    });
    http = new HttpJson(sut.started.apiUrl!, p.clients + 8);
    const h = http;
    const api = sut;
    const [lead, analyst, officer, visa] = await Promise.all([
      createPrincipal(h, adminToken, 'ceop', ['case_lead']),
      createPrincipal(h, adminToken, 'ceop', ['analyst']),
      createPrincipal(h, adminToken, 'ceop', ['le_officer']),
      createPrincipal(h, adminToken, 'visa', ['partner']),
    ]);
    progress.done();

    // A real case's view is the template of the seeded ones, so reads return realistically sized documents.
    progress.phase('inbox: seeding');
    const first = (await h.ok<CaseView>('POST', '/v1/cases', { token: lead.token, body: caseBody() })).body;
    await waitForOpen(db, 'verify_evidence', [first.id]);
    const template = (await db.pool.query<{ view: CaseView }>('SELECT view FROM cases WHERE id = $1', [first.id])).rows[0].view;
    progress.update(`${int(p.cases)} open cases and ${int(p.tasks)} tasks (INSERT … SELECT generate_series)`);
    const seed: SeedResult = await seedProjections(db.pool, template, { cases: p.cases, tasks: p.tasks, internalShare: 0.2, openShare: 0.3, cancelledShare: 0.03 });
    const sizes = (
      await db.pool.query<{ cases: string; tasks: string; inbox: string }>(
        `SELECT pg_total_relation_size('cases') AS cases, pg_total_relation_size('tasks') AS tasks, pg_relation_size('tasks_inbox_idx') AS inbox`,
      )
    ).rows[0];
    progress.done(`cases ${ms(seed.casesMs)}, tasks ${ms(seed.tasksMs)}, VACUUM ANALYZE ${ms(seed.vacuumMs)}`);

    progress.phase(`inbox: starting ${p.realCases} real cases through the API`);
    const realIds = [first.id];
    await mapLimit(Array.from({ length: p.realCases - 1 }, (_, i) => i), 16, async () => {
      realIds.push((await h.ok<CaseView>('POST', '/v1/cases', { token: lead.token, body: caseBody() })).body.id);
      if (realIds.length % 20 === 0) progress.update(`${realIds.length}/${p.realCases} created`);
    });
    const verifyTasks = await waitForOpen(db, 'verify_evidence', realIds);
    progress.done(`${verifyTasks.length} verify_evidence tasks open`);

    const seededCeop = (await db.pool.query<{ id: string }>(`SELECT id FROM cases WHERE org = 'ceop' AND id LIKE 'case_seed%' ORDER BY id`)).rows.map((r) => r.id);
    const visaHeld = (
      await db.pool.query<{ case_id: string }>(`SELECT DISTINCT case_id FROM tasks WHERE assignee_org = 'visa' AND status = 'open' AND id LIKE 'tsk_seed%' ORDER BY case_id LIMIT 2000`)
    ).rows.map((r) => r.case_id);
    let rnd = 12345;
    const pick = <T>(xs: T[]) => {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      return xs[rnd % xs.length];
    };

    type Answer = Record<string, unknown>;
    const fullPage = (a: Answer) => Array.isArray(a.items) && a.items.length === 50 && typeof a.nextCursor === 'string';
    const reads: { name: string; req: (i: number) => Req; check: (a: Answer) => boolean }[] = [
      {
        name: 'GET /v1/tasks?status=open (inbox of visa)',
        req: () => ({ method: 'GET', path: '/v1/tasks?status=open', token: visa.token }),
        check: (a) => fullPage(a) && (a.items as Answer[]).every((t) => t.status === 'open' && (t.assignee as Answer).org === 'visa'),
      },
      {
        name: 'GET /v1/cases/:id (case lead, full view)',
        req: () => ({ method: 'GET', path: `/v1/cases/${pick(seededCeop)}`, token: lead.token }),
        check: (a) => typeof a.id === 'string' && Array.isArray(a.steps) && typeof a.merchant === 'object',
      },
      {
        name: 'GET /v1/cases/:id (partner holding a task)',
        req: () => ({ method: 'GET', path: `/v1/cases/${pick(visaHeld)}`, token: visa.token }),
        check: (a) => typeof a.id === 'string' && Array.isArray(a.tasks) && (a.tasks as unknown[]).length > 0,
      },
      {
        name: "GET /v1/cases (case lead's board: newest 50, counts per status)",
        req: () => ({ method: 'GET', path: '/v1/cases', token: lead.token }),
        check: (a) => fullPage(a) && typeof a.counts === 'object',
      },
    ];
    const before = await indexStats(db);
    const meter = new CpuMeter({ sut: sut.started.pid, temporal: ctx.env.temporal.process.pid, postgres: ctx.env.postgresPid });
    const measured = async (name: string, n: number, concurrency: number, req: (i: number) => Req, opts: { intervalMs?: number; client?: HttpJson } = {}) => {
      // /metrics reads gauges from PostgreSQL: scraped outside the window of the statement statistics and the CPU meter.
      const counts = await cacheCounts(h, adminToken);
      await resetStatements(db.pool);
      await api.loopDelay(true);
      const a = meter.sample();
      const r = await load(ctx, opts.client ?? h, name, n, concurrency, req, opts);
      const cpu = CpuMeter.diff(a, meter.sample());
      const loop = await api.loopDelay(true);
      const statements = await topStatements(db.pool, 4);
      const cache = countsDiff(counts, await cacheCounts(h, adminToken));
      return { ...r, cpu, statements, loop, ...(name.startsWith('GET /v1/tasks') ? { cache } : {}) };
    };
    const results: { serial: LoadResult; loaded: LoadResult; paced: LoadResult; ladder: LoadResult[] }[] = [];
    let inboxRequests = 0;
    const inboxCountsBefore = await cacheCounts(h, adminToken);
    // Every read in turn, before any is measured: the API process and the driver run the whole HTTP path hot, as a
    // server that has been up a while does. With only its own warm-up before it, the first read measured (the inbox)
    // was measured on processes still warming (API CPU per request 0.79 ms in its run, 0.51 ms later in the same run).
    for (let round = 0; round < WARMUP_ROUNDS; round++) {
      for (const r of reads) {
        progress.phase(`inbox: warming up, round ${round + 1} of ${WARMUP_ROUNDS}: ${r.name}`);
        await load(ctx, h, `${r.name} warm-up`, r.name.startsWith('GET /v1/cases (') ? Math.round(p.warmup / 4) : p.warmup, p.clients, r.req);
        if (r.name.startsWith('GET /v1/tasks')) inboxRequests += p.warmup;
        progress.done();
      }
    }
    for (const r of reads) {
      progress.phase(`inbox: ${r.name}`);
      // The load loops read answers as bytes only (the clients' parsing is not the API's cost); one answer is checked in full.
      const sample = r.req(0);
      const answer = (await h.ok<Record<string, unknown>>(sample.method, sample.path, { token: sample.token })).body;
      if (!r.check(answer)) throw new Error(`${r.name}: unexpected answer ${JSON.stringify(answer).slice(0, 300)}`);
      await load(ctx, h, `${r.name} warm-up`, p.warmup, p.clients, r.req);
      const serial = { ...(await measured(`${r.name} one client`, p.serial, 1, r.req)), name: r.name };
      const loaded = { ...(await measured(`${r.name} ${p.clients} clients`, p.requests, p.clients, r.req)), name: r.name };
      // Half the saturation throughput, spread evenly over the same 50 clients: latency when the API is not the bottleneck.
      const intervalMs = (p.clients / (loaded.rps / 2)) * 1000;
      const paced = { ...(await measured(`${r.name} ${p.clients} clients paced`, Math.round(p.requests / 2), p.clients, r.req, { intervalMs })), name: r.name };
      // Then closer to saturation: the highest of these rates whose p99 stays under 50 ms is the API's capacity for the target.
      const ladder: LoadResult[] = [];
      for (const share of LADDER) {
        const at = (p.clients / (loaded.rps * share)) * 1000;
        ladder.push({ ...(await load(ctx, h, `${r.name} paced at ${share * 100} %`, Math.round(p.requests / 2), p.clients, r.req, { intervalMs: at })), name: r.name });
      }
      if (r.name.startsWith('GET /v1/tasks')) inboxRequests += p.warmup + p.serial + p.requests + (1 + LADDER.length) * Math.round(p.requests / 2);
      results.push({ serial, loaded, paced, ladder });
      progress.done(`p50 ${ms(loaded.summary.p50)}, p99 ${ms(loaded.summary.p99)}, ${int(loaded.rps)} req/s; at ${int(paced.rps)} req/s paced: p99 ${ms(paced.summary.p99)}; one client p50 ${ms(serial.summary.p50)}${loaded.cache ? `; cache hits ${hitRatio(loaded.cache)}` : ''}`);
    }
    const inboxCache = countsDiff(inboxCountsBefore, await cacheCounts(h, adminToken));

    // The inbox where its cache cannot help: a writer changes one of visa's open tasks every WRITER_INTERVAL_MS, so
    // visa's cached pages keep going out of date. Same 50 clients, closed loop, as the saturated row.
    const inboxRead = reads[0];
    progress.phase(`inbox: ${inboxRead.name} while a task of visa changes every ${WRITER_INTERVAL_MS} ms`);
    const churnTask = (await db.pool.query<{ id: string }>(`SELECT id FROM tasks WHERE assignee_org = 'visa' AND status = 'open' ORDER BY created_at DESC, id LIMIT 1`)).rows[0].id;
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        const t0 = performance.now();
        await db.pool.query('UPDATE tasks SET escalated = NOT escalated WHERE id = $1', [churnTask]);
        writes += 1;
        await sleep(Math.max(0, WRITER_INTERVAL_MS - (performance.now() - t0)));
      }
    })();
    let underWrites: LoadResult;
    try {
      underWrites = { ...(await measured(`${inboxRead.name} with writes`, p.requests, p.clients, inboxRead.req)), name: `${inboxRead.name}, a visa task changed every ${WRITER_INTERVAL_MS} ms` };
    } finally {
      writing = false;
      await writer;
    }
    inboxRequests += p.requests;
    const writesPerSecond = writes / (underWrites.wallMs / 1000);
    progress.done(`p50 ${ms(underWrites.summary.p50)}, p99 ${ms(underWrites.summary.p99)}, ${int(underWrites.rps)} req/s, ${int(writesPerSecond)} writes/s; cache hits ${hitRatio(underWrites.cache)}`);

    // The reads against their floor: servers in the API's own process that send each read's answer as fixed bytes and do
    // nothing else, the read and its floors taking turns, so that drift hits them alike.
    progress.phase('inbox: the reads against their floor');
    const bytesOf = async (r: Req) => String((await h.ok<string>(r.method, r.path, { token: r.token, raw: true })).body);
    const floorUrls = await api.readFloor({
      inbox: await bytesOf(reads[0].req(0)),
      case: await bytesOf(reads[1].req(0)),
      partner: await bytesOf(reads[2].req(0)),
    });
    const floorClients = Object.fromEntries(Object.entries(floorUrls).map(([k, url]) => [k, new HttpJson(url, p.clients + 8)])) as Record<FloorServer, HttpJson>;
    const floors: FloorRun[] = [];
    try {
      const plans: { read: (typeof reads)[number]; bytes: string; token: string; servers: FloorServer[] }[] = [
        { read: reads[0], bytes: 'inbox', token: visa.token, servers: ['api', 'express', 'node'] },
        { read: reads[1], bytes: 'case', token: lead.token, servers: ['api'] },
        { read: reads[2], bytes: 'partner', token: visa.token, servers: ['api'] },
      ];
      for (const plan of plans) {
        const floorReq = (): Req => ({ method: 'GET', path: `/v1/floor/${plan.bytes}`, token: plan.token });
        for (const server of plan.servers) await load(ctx, floorClients[server], `floor (${server}) warm-up`, p.warmup, p.clients, floorReq);
        const variants: FloorRun['variants'] = [{ server: 'read', runs: [] }, ...plan.servers.map((server) => ({ server, runs: [] as LoadResult[] }))];
        for (let round = 0; round < FLOOR_ROUNDS; round++) {
          for (const v of variants) {
            const n = Math.round(p.requests / FLOOR_ROUNDS);
            const client = v.server === 'read' ? h : floorClients[v.server];
            if (v.server === 'read' && plan.read === reads[0]) inboxRequests += n;
            v.runs.push(await measured(`${plan.read.name} ${v.server === 'read' ? 'as served' : `floor (${v.server})`}, round ${round + 1}`, n, p.clients, v.server === 'read' ? plan.read.req : floorReq, { client }));
          }
        }
        floors.push({ read: plan.read.name, variants });
      }
    } finally {
      for (const c of Object.values(floorClients)) c.close();
    }
    progress.done(
      floors
        .map((f) => `${f.read}: ${f.variants.map((v) => `${v.server} ${int(floorRate(v.runs))} req/s, p99 ${ms(summarize(v.runs.flatMap((r) => r.latencies)).p99)}`).join('; ')}`)
        .join(' | '),
    );

    // A separate pass under the CPU profiler (it slows the process a little, so it is not the measured one).
    const profiles: { name: string; cpu: CpuSummary; rps: number }[] = [];
    for (const r of reads.slice(0, 2)) {
      progress.phase(`inbox: CPU profile of the API process during ${r.name}`);
      const stopProfile = await sut.profile(r.name.startsWith('GET /v1/tasks') ? 'inbox' : 'case');
      const pr = await load(ctx, h, `${r.name} profiled`, Math.round(p.requests / 2), p.clients, r.req);
      if (r.name.startsWith('GET /v1/tasks')) inboxRequests += Math.round(p.requests / 2);
      profiles.push({ name: r.name, cpu: summarizeCpuProfile(await stopProfile()), rps: pr.rps });
      progress.done();
    }

    progress.phase(`inbox: POST /v1/tasks/:id/complete on ${verifyTasks.length} open verify_evidence tasks, ${p.clients} clients`);
    const completeVerify = await measured('complete verify_evidence', verifyTasks.length, p.clients, (i) => ({
      method: 'POST',
      path: `/v1/tasks/${verifyTasks[i].id}/complete`,
      token: analyst.token,
      body: { outcome: 'verified' },
    }));
    progress.update('waiting for the le_signoff tasks');
    const signoffTasks = await waitForOpen(db, 'le_signoff', realIds);
    await sleep(1_000);
    const completeSignoff = await measured('complete le_signoff', signoffTasks.length, p.clients, (i) => ({
      method: 'POST',
      path: `/v1/tasks/${signoffTasks[i].id}/complete`,
      token: officer.token,
      body: { outcome: 'approved' },
    }));
    progress.done(`verify p50 ${ms(completeVerify.summary.p50)} p99 ${ms(completeVerify.summary.p99)}; sign-off p50 ${ms(completeSignoff.summary.p50)} p99 ${ms(completeSignoff.summary.p99)}`);

    progress.phase('inbox: EXPLAIN (ANALYZE) of the inbox query, index statistics');
    // The inbox statement exactly as the API sends it on a cache miss (db/queries/tasks.ts) for a partner asking for open
    // tasks (limit 50 + 1), with visa's inbox version.
    const [inboxSql, inboxValues] = inboxVersionStatement({ org: visa.org, roles: visa.roles, status: 'open', limit: 50 });
    const explain = (await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${inboxSql}`, inboxValues)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const explainCase = (
      await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${CASE_ROWS_SQL}`, [seededCeop.slice(0, CASE_BATCH_SHOWN)])
    ).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    // Statistics reach the shared counters when a backend has been idle a while (PostgreSQL flushes them at most every 10 s then).
    await sleep(11_000);
    const after = await indexStats(db);
    progress.done();

    return report(ctx, p, {
      seed,
      sizes: { cases: Number(sizes.cases), tasks: Number(sizes.tasks), inbox: Number(sizes.inbox) },
      results,
      completeVerify,
      completeSignoff,
      explain,
      explainCase,
      sql: inboxSql,
      inboxRequests,
      scans: { inbox: after.inboxScans - before.inboxScans, seq: after.tasksSeqScans - before.tasksSeqScans },
      poolMax: sut.started.poolMax,
      visa,
      viewBytes: Buffer.byteLength(JSON.stringify(template)),
      profiles,
      inboxCache,
      underWrites,
      writesPerSecond,
      floors,
    });
  } finally {
    http?.close();
    await sut?.stop();
    await db.close().catch(() => {});
  }
}

interface Collected {
  seed: SeedResult;
  sizes: { cases: number; tasks: number; inbox: number };
  results: { serial: LoadResult; loaded: LoadResult; paced: LoadResult; ladder: LoadResult[] }[];
  completeVerify: LoadResult;
  completeSignoff: LoadResult;
  explain: string;
  explainCase: string;
  sql: string;
  inboxRequests: number;
  scans: { inbox: number; seq: number };
  poolMax: number;
  visa: BenchPrincipal;
  viewBytes: number;
  profiles: { name: string; cpu: CpuSummary; rps: number }[];
  /** The inbox cache's answers over every inbox run above the writer's (warm-ups, one client, paced, ladder). */
  inboxCache: CacheCounts;
  underWrites: LoadResult;
  writesPerSecond: number;
  floors: FloorRun[];
}

/** Means of consecutive, non-overlapping runs of `size` values (a shorter last run is left out unless it is the only one). */
function windowMeans(values: readonly number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + size <= values.length; i += size) out.push(mean(values.slice(i, i + size)));
  if (out.length > 0) return out;
  return [values.length > 0 ? mean(values) : 0];
}

const FLOOR_LABELS: Record<FloorRun['variants'][number]['server'], string> = {
  read: 'the read as served',
  api: "its bytes sent by a route that does nothing else, in the API's own app (logging, metrics, security headers, no-store, authentication)",
  express: 'its bytes sent by Express with no middleware',
  node: "its bytes sent by Node's http module alone",
};

/** A read and its floors over their rounds: rate, latency, the API process's CPU per request, its loop busy. */
function floorSummary(v: FloorRun['variants'][number]) {
  const n = v.runs.reduce((a, r) => a + r.latencies.length, 0) || 1;
  return {
    rps: floorRate(v.runs),
    latency: summarize(v.runs.flatMap((r) => r.latencies)),
    cpu: v.runs.reduce((a, r) => a + (r.cpu?.byName.sut ?? 0), 0) / n,
    busy: mean(v.runs.map((r) => r.loop?.utilization ?? 0)),
  };
}

function floorSection(floors: FloorRun[], clients: number): string {
  if (floors.length === 0) return '';
  const rows = floors.flatMap((f) => {
    const read = floorSummary(f.variants[0]);
    return f.variants.map((v, i) => {
      const x = floorSummary(v);
      return [
        i === 0 ? f.read : '',
        FLOOR_LABELS[v.server],
        int(x.rps),
        ms(x.latency.p50),
        ms(x.latency.p99),
        ms(x.cpu),
        i === 0 ? '' : num(x.cpu / read.cpu, 2),
        `${num(x.busy * 100, 0)} %`,
      ];
    });
  });
  const inbox = floors.find((f) => f.read.startsWith('GET /v1/tasks'));
  const stack = inbox?.variants.find((v) => v.server === 'api');
  const read = inbox && floorSummary(inbox.variants[0]);
  const floor = stack && floorSummary(stack);
  return `
**The reads against their floor.** What does this stack cost a read that does no work at all? In the API's own
process, beside the API, \`bench/lib/sut.ts\` serves each read's answer as fixed bytes (the exact answer it gave) from
three servers: a route that only sends them inside the API's own app (\`apiApp\` in \`api/app.ts\`, so the request
passes everything an API request passes but its route), Express with no middleware, and Node's http module alone. Each
read and its floors take turns, ${FLOOR_ROUNDS} rounds, ${clients} clients in a closed loop as above:

${table(['read', 'served by', 'req/s', 'p50', 'p99', 'API process CPU per request', '÷ the read', 'loop busy'], rows)}
${
  read && floor
    ? `
For the inbox, the stack alone (logging, metrics, security headers, authentication, Express's routing, writing the
answer) costs ${ms(floor.cpu)} of the ${ms(read.cpu)} per request (${num((floor.cpu / read.cpu) * 100, 0)} %), and with nothing else to do it answers
${clients} clients at ${int(floor.rps)} req/s with a p99 of ${ms(floor.latency.p99)} (target < 50 ms ${floor.latency.p99 < 50 ? 'met' : 'missed'} by the floor itself).
`
    : ''
}`;
}

function report(ctx: BenchContext, p: (typeof PROFILES)['full'], c: Collected): BenchResult {
  const loaded = c.results.map((r) => r.loaded);
  const verdict = (v: number) => (v < 50 ? '✅ < 50 ms' : '❌ ≥ 50 ms');
  const statuses = (r: LoadResult) =>
    Object.entries(r.statuses)
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
  const rows = [
    ...c.results.map(({ serial, loaded: r, paced }) => [
      r.name,
      r.summary.n,
      ms(r.summary.p50),
      ms(r.summary.p99),
      int(r.rps),
      `${ms(paced.summary.p50)} / ${ms(paced.summary.p99)} at ${int(paced.rps)} req/s`,
      `${ms(serial.summary.p50)} / ${ms(serial.summary.p99)}`,
      // The issue sets the target for the inbox and the case read; the board's list is measured beside them.
      r.name.startsWith('GET /v1/cases (') ? '(no target)' : `${verdict(r.summary.p99)}${paced.summary.p99 < 50 ? ' (paced ✅)' : ''}`,
      statuses(r),
    ]),
    ...[c.completeVerify, c.completeSignoff].map((r) => [`POST /v1/tasks/:id/complete (${r.name.replace('complete ', '')})`, r.summary.n, ms(r.summary.p50), ms(r.summary.p99), int(r.rps), '', '', '', statuses(r)]),
  ];
  const CPU_NAMES = ['sut', 'postgres', 'temporal', 'driver'];
  const cpuRows = [...c.results.map((x) => x.loaded), c.underWrites, c.completeVerify, c.completeSignoff].map((r) => {
    const n = r.latencies.length || 1;
    const per = (k: string) => ms((r.cpu?.byName[k] ?? 0) / n);
    return [r.name, ...CPU_NAMES.map(per), ms((r.cpu?.other ?? 0) / n), `${num((r.cpu?.machineBusyMs ?? 0) / (r.cpu?.wallMs ?? 1), 2)} of ${r.cpu?.cores ?? 0}`];
  });
  const svg = writeSvg(
    'inbox-api-latency.svg',
    cdfSvg({
      title: `API latency at ${p.clients} concurrent clients (${int(p.tasks)} tasks, ${int(p.cases)} open cases)`,
      xLabel: 'latency (ms)',
      logX: true,
      series: [
        ...loaded.map((r) => ({ label: `${r.name} (saturated)`, values: r.latencies })),
        { label: `${c.results[0].paced.name} (paced, ${int(c.results[0].paced.rps)} req/s)`, values: c.results[0].paced.latencies }, { label: 'POST /v1/tasks/:id/complete (both steps)', values: [...c.completeVerify.latencies, ...c.completeSignoff.latencies] }],
    }),
  );
  const visaRow = c.seed.byOrg.find((o) => o.org === 'visa');
  const usesIndex = /tasks_inbox_idx/.test(c.explain);
  const inbox = loaded[0];
  const inboxPaced = c.results[0].paced;
  const orgRows = c.seed.byOrg.slice(0, 6).map((o) => [o.org, int(o.total), int(o.open)]);
  const section = `## 2. Inbox and API at scale

\`npm run bench -- inbox\` · ${ctx.profile} profile. Seeded directly in PostgreSQL (\`bench/lib/seed.ts\`, two \`INSERT … SELECT\` over
\`generate_series\`, deterministic \`setseed\`): ${int(p.cases)} open cases (each with a real case's view as jsonb, ${num(c.viewBytes / 1024, 1)} KiB of JSON) in 5 case orgs
and ${int(p.tasks)} tasks on them, 20 % for the case orgs' people and 80 % for ${SEED_PARTNERS.length} partner orgs drawn with Zipf weights,
30 % open, 67 % completed, 3 % cancelled (seeding took ${ms(c.seed.casesMs)} + ${ms(c.seed.tasksMs)}, then \`VACUUM ANALYZE\` in ${ms(c.seed.vacuumMs)}, as autovacuum would soon after such a load). Table sizes: tasks
${num(c.sizes.tasks / 1024 ** 2, 1)} MiB (tasks_inbox_idx ${num(c.sizes.inbox / 1024 ** 2, 1)} MiB), cases ${num(c.sizes.cases / 1024 ** 2, 1)} MiB. Biggest partner inboxes:

${table(['partner org', 'tasks', 'open'], orgRows)}

Plus ${p.realCases} real cases started through the API and waiting at \`verify_evidence\`, whose tasks are then completed.
First every read runs in turn, ${WARMUP_ROUNDS} rounds of ${p.warmup} requests each (${Math.round(p.warmup / 4)} for the board), so that no read is measured on processes
still warming up. Then each read runs three ways after ${p.warmup} more warm-up requests: **saturated**, ${p.clients} clients in a closed loop (each sends its
next request when answered: the API's maximum throughput, where latency is queueing, ≈ clients ÷ throughput); **paced**, the
same ${p.clients} clients sending on a fixed schedule at half that throughput, latency counted from the scheduled time; and
**one client**, one request at a time (service time). API and worker share one process as in \`npm start\`, with a pool of
${c.poolMax} PostgreSQL connections.

${table(['request', 'n', 'p50', 'p99', 'req/s (saturated)', 'paced at half: p50 / p99', 'one client: p50 / p99', 'target p99 < 50 ms (reads)', 'statuses'], rows)}

**Which rows the inbox cache serves** (\`api/inbox-cache.ts\`, \`TAKEDOWN_INBOX_CACHE_MB\` at its default): only the inbox
(\`GET /v1/tasks\`). Nothing writes visa's tasks during the inbox runs above, so after the first answer each request
reads visa's inbox version (one indexed row) and is sent the kept bytes: over all of them ${hitRatio(c.inboxCache)};
in the saturated run ${hitRatio(c.results[0].loaded.cache)}. The case reads, the board and the completions are not cached.
The row below is the same inbox read, 50 clients in a closed loop, while a writer changes one of visa's open tasks every
${WRITER_INTERVAL_MS} ms (${int(c.writesPerSecond)} writes/s measured), each change putting every cached visa page out of date;
a request then reads the version, finds it changed and reads the page with the version (or shares such a read in flight):

${table(
  ['request', 'n', 'p50', 'p99', 'req/s', 'cache hits', 'target p99 < 50 ms', 'statuses'],
  [c.results[0].loaded, c.underWrites].map((r) => [r.name, r.summary.n, ms(r.summary.p50), ms(r.summary.p99), int(r.rps), hitRatio(r.cache), verdict(r.summary.p99), statuses(r)]),
)}

The same ${p.clients} clients paced at rising shares of the saturated throughput (latency from the scheduled send): the
highest rate whose p99 stays under 50 ms is what this machine serves within the target.

${table(
  ['request', ...[0.5, ...LADDER].map((f) => `paced at ${f * 100} %: req/s, p99`), 'highest rate with p99 < 50 ms'],
  c.results.map(({ loaded: r, paced, ladder }) => {
    const runs = [paced, ...ladder];
    const best = runs.filter((x) => x.summary.p99 < 50).sort((a, b) => b.rps - a.rps)[0];
    return [r.name, ...runs.map((x) => `${int(x.rps)}, ${ms(x.summary.p99)}`), best ? `${int(best.rps)} req/s (${num((best.rps / r.rps) * 100, 0)} % of saturated)` : 'none of these'];
  }),
)}

Saturated, latency is queueing, and its tail comes from stretches when every request in flight waits longer. In the
order the answers came, the mean of each run of ${p.clients} consecutive answers (about one round of every client):

${table(
  ['request', 'median of those means', 'lowest', 'highest', 'highest ÷ median', 'p99 of all answers'],
  loaded.map((r) => {
    const means = windowMeans(r.latencies, p.clients);
    const mid = median(means);
    return [r.name, ms(mid), ms(Math.min(...means)), ms(Math.max(...means)), num(Math.max(...means) / mid, 2), ms(r.summary.p99)];
  }),
)}

Where those requests wait: the worker + API process has one event loop, and every request in flight needs its turns.
Its share of wall time busy (\`performance.eventLoopUtilization\`) and how late a 10 ms timer fired on it
(\`monitorEventLoopDelay\`: the length of the loop's turns, each running the callbacks of every socket that became
ready meanwhile), saturated and paced at half the rate:

${table(
  ['request', 'saturated: loop busy', 'timer late p50 / p99 / max', 'paced at half: loop busy', 'timer late p50 / p99 / max'],
  c.results.map(({ loaded: r, paced }) => [r.name, ...[r, paced].flatMap((x) => (x.loop ? [`${num(x.loop.utilization * 100, 0)} %`, `${ms(x.loop.p50)} / ${ms(x.loop.p99)} / ${ms(x.loop.max)}`] : ['', '']))]),
)}

${floorSection(c.floors, p.clients)}
Inside PostgreSQL (pg_stat_statements over the ${p.clients}-client runs), the statements each request makes, by total time:

${table(
  ['request', 'statement', 'calls per request', 'mean execution'],
  [...c.results.map((x) => x.loaded), c.completeVerify].flatMap((r) =>
    (r.statements ?? [])
      // Batched statements (the case reads) count less than one call per request; a handful of calls is not the request's.
      .filter((st) => st.calls >= r.latencies.length * 0.02)
      .map((st, i) => [i === 0 ? r.name : '', '`' + shortSql(st.query, 90) + '`', num(st.calls / Math.max(1, r.latencies.length), 2), ms(st.meanMs)]),
  ),
)}

CPU per request by process over the ${p.clients}-client runs (\`/proc\`), and how busy the machine's cores were:

${table(['request', 'worker + API process', 'PostgreSQL', 'Temporal', 'driver', 'other processes', 'cores busy'], cpuRows)}

![API latency CDF](${svg})

The inbox statement on a cache miss (for \`visa\`, ${int(visaRow?.open ?? 0)} open of ${int(visaRow?.total ?? 0)} tasks), as \`db/queries/tasks.ts\` builds it: the
page and visa's inbox version from one snapshot (a hit sends only \`SELECT version FROM inbox_versions WHERE org = $1\`):

\`\`\`sql
${c.sql}
\`\`\`

\`EXPLAIN (ANALYZE, BUFFERS)\`: ${usesIndex ? 'an index scan on **tasks_inbox_idx**' : '**no tasks_inbox_idx in the plan**'}:

\`\`\`
${c.explain}
\`\`\`

${c.profiles
  .map(
    (pr) => `CPU of the API process (API and worker share it) during ${pr.name}, ${p.clients} clients, sampled by V8 (busy ${num(pr.cpu.busy * 100, 0)} % of ${ms(pr.cpu.totalMs)}, ${int(pr.rps)} req/s under the profiler), self time:

${table(['package or folder', 'share of busy time'], pr.cpu.byGroup.slice(0, 10).map((g) => [g.group, `${num(g.share * 100, 1)} %`]))}

${table(['function', 'share of busy time'], pr.cpu.byFunction.slice(0, 10).map((f) => [`\`${f.fn}\``, `${num(f.share * 100, 1)} %`]))}
`,
  )
  .join('\n')}
During the runs PostgreSQL counted ${int(c.scans.inbox)} scans of tasks_inbox_idx for ${int(c.inboxRequests)} inbox requests (the inbox cache answered
the others), and ${int(c.scans.seq)}
sequential scans of \`tasks\`. \`GET /v1/cases/:id\` reads its row by primary key, in one statement with the other case reads
that arrive together (\`api/case-reads.ts\`; the "calls per request" above is the statements per read), here ${CASE_BATCH_SHOWN} of them:

\`\`\`
${c.explainCase}
\`\`\`
`;
  return {
    section,
    raw: { settings: p, seed: c.seed, sizes: c.sizes, results: c.results, complete: [c.completeVerify, c.completeSignoff], explain: c.explain, scans: c.scans, inboxCache: c.inboxCache, underWrites: c.underWrites, writesPerSecond: c.writesPerSecond, floors: c.floors },
    // Every request of every run is answered 200 when all is well.
    problems: [...c.results.flatMap((r) => [r.serial, r.loaded, r.paced, ...r.ladder]), c.underWrites, c.completeVerify, c.completeSignoff, ...c.floors.flatMap((f) => f.variants.flatMap((v) => v.runs))].flatMap((r) => {
      const other = Object.entries(r.statuses).filter(([status]) => status !== '200');
      return other.length > 0 ? [`${r.name}${r.paced ? ' (paced)' : ''}: answered ${other.map(([st, n]) => `${st === '0' ? 'no answer' : st}×${n}`).join(', ')}`] : [];
    }),
    headline: [
      `inbox p50 ${ms(inbox.summary.p50)} p99 ${ms(inbox.summary.p99)} at ${p.clients} clients (${int(inbox.rps)} req/s, cache hits ${hitRatio(inbox.cache)}; paced at ${int(inboxPaced.rps)} req/s p99 ${ms(inboxPaced.summary.p99)}; with a visa task changed every ${WRITER_INTERVAL_MS} ms p99 ${ms(c.underWrites.summary.p99)} at ${int(c.underWrites.rps)} req/s, cache hits ${hitRatio(c.underWrites.cache)}); case read p99 ${ms(loaded[1].summary.p99)}; complete p50 ${ms(c.completeVerify.summary.p50)} p99 ${ms(c.completeVerify.summary.p99)}; inbox plan ${usesIndex ? 'uses' : 'does NOT use'} tasks_inbox_idx`,
    ],
  };
}

export const inboxBench: Bench = { name: 'inbox', title: 'inbox and API reads and completions at 100,000 tasks / 10,000 open cases', run };
