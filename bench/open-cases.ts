// Benchmark 3: what an open case waiting on a person costs to hold: worker memory, Temporal's SQLite, PostgreSQL, per case.
import { statSync } from 'node:fs';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { caseWorkflowId } from '../domain/ids';
import { DEFAULT_SLAS } from '../domain/rules/plan';
import type { Actor, CaseInput } from '../domain/types';
import { intakeUpdate, type CaseWorkflowInput } from '../workflows/messages';
import { caseBody, rid, type Bench, type BenchContext, type BenchResult } from './lib/context';
import { processRss, type BenchDb, type Sut } from './lib/env';
import { fetchParsedHistory } from './lib/history';
import type { SutMemory } from './lib/sut-protocol';
import { bytes, int, mapLimit, num, sleep, table, until } from './lib/stats';

const PROFILES = {
  smoke: { checkpoints: [20, 50], concurrency: 8 },
  quick: { checkpoints: [200, 1_000], concurrency: 32 },
  full: { checkpoints: [1_000, 10_000], concurrency: 32 },
};

interface Checkpoint {
  openCases: number;
  worker: SutMemory;
  temporalRss: number | null;
  sqlite: { db: number; wal: number; shm: number };
  pg: { database: number; cases: number; tasks: number; audit: number; other: number };
  createSeconds: number;
}

const size = (p: string) => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

async function measure(sut: Sut, db: BenchDb, temporalPid: number | undefined, sqlitePath: string, openCases: number, createSeconds: number): Promise<Checkpoint> {
  const worker = await sut.memory();
  const { rows } = await db.pool.query<Record<string, string>>(
    `SELECT pg_database_size(current_database()) AS database,
            pg_total_relation_size('cases') AS cases, pg_total_relation_size('tasks') AS tasks, pg_total_relation_size('audit_entries') AS audit`,
  );
  const r = rows[0];
  const database = Number(r.database);
  return {
    openCases,
    worker,
    temporalRss: await processRss(temporalPid),
    sqlite: { db: size(sqlitePath), wal: size(`${sqlitePath}-wal`), shm: size(`${sqlitePath}-shm`) },
    pg: { database, cases: Number(r.cases), tasks: Number(r.tasks), audit: Number(r.audit), other: database - Number(r.cases) - Number(r.tasks) - Number(r.audit) },
    createSeconds,
  };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const p = PROFILES[ctx.profile];
  const { progress } = ctx;
  progress.phase('open-cases: a fresh Temporal dev server (its own SQLite file), a fresh database, a worker process');
  const temporal = await ctx.env.startTemporal('open-cases');
  const db = await ctx.env.freshDatabase('open_cases');
  const queue = `bench-open-${rid()}`;
  let sut: Sut | undefined;
  let connection: Connection | undefined;
  try {
    sut = await ctx.env.startSut('open-cases', {
      databaseUrl: db.url,
      temporalAddress: temporal.address,
      namespace: 'default',
      takedown: { taskQueue: queue, bundlePath: ctx.env.bundles.takedown },
    });
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    const lead: Actor = { id: 'prn_bench_lead', org: 'ceop', roles: ['case_lead'] };
    await sleep(3_000);
    const points: Checkpoint[] = [await measure(sut, db, temporal.process.pid, temporal.sqlitePath, 0, 0)];
    progress.done(`baseline: worker RSS ${bytes(points[0].worker.rss)}, SQLite ${bytes(points[0].sqlite.db + points[0].sqlite.wal)}`);

    let open = 0;
    let firstCase = '';
    for (const target of p.checkpoints) {
      progress.phase(`open-cases: opening cases up to ${int(target)}`);
      const t0 = performance.now();
      let startedHere = 0;
      await mapLimit(
        Array.from({ length: target - open }, (_, i) => i),
        p.concurrency,
        async () => {
          const body = caseBody();
          const caseId = `case_${rid(10)}`;
          firstCase ||= caseId;
          const input: CaseWorkflowInput = {
            caseId,
            org: lead.org,
            createdBy: lead,
            receivedAt: new Date().toISOString(),
            input: { ...body, plan: { freezeAssets: true, slas: DEFAULT_SLAS } } as CaseInput,
          };
          // As the API does it: update-with-start, answered once intake is recorded.
          await client.workflow.executeUpdateWithStart(intakeUpdate, {
            startWorkflowOperation: new WithStartWorkflowOperation('caseWorkflow', {
              workflowId: caseWorkflowId(caseId),
              taskQueue: queue,
              args: [input],
              workflowIdConflictPolicy: 'USE_EXISTING',
            }),
          });
          open += 1;
          startedHere += 1;
          if (open % 50 === 0) progress.update(`${int(open)}/${int(target)} started, ${num(startedHere / ((performance.now() - t0) / 1000), 0)} cases/s`);
        },
      );
      // Open means waiting on a person: every case has its verify_evidence task open.
      await until(`${target} cases waiting at verify_evidence`, 600_000, async () => {
        const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM tasks WHERE type = 'verify_evidence' AND status = 'open'`);
        progress.update(`${rows[0].n}/${int(target)} waiting at verify_evidence`);
        return Number(rows[0].n) >= target ? true : undefined;
      }, 500);
      const createSeconds = (performance.now() - t0) / 1000;
      await sleep(5_000);
      const point = await measure(sut, db, temporal.process.pid, temporal.sqlitePath, target, createSeconds);
      points.push(point);
      progress.done(`worker RSS ${bytes(point.worker.rss)} (${point.worker.cachedWorkflows} cached), SQLite ${bytes(point.sqlite.db + point.sqlite.wal)}, PostgreSQL ${bytes(point.pg.database)}`);
    }
    const history = await fetchParsedHistory(client, caseWorkflowId(firstCase));
    return report(ctx, p, points, history.events, history.bytes);
  } finally {
    await connection?.close().catch(() => {});
    await sut?.stop();
    await db.close().catch(() => {});
    await temporal.stop();
  }
}

function report(ctx: BenchContext, p: (typeof PROFILES)['full'], points: Checkpoint[], events: number, historyBytes: number): BenchResult {
  const sqliteTotal = (c: Checkpoint) => c.sqlite.db + c.sqlite.wal + c.sqlite.shm;
  const rows = points.map((c) => [
    int(c.openCases),
    bytes(c.worker.rss),
    bytes(c.worker.heapUsed),
    c.worker.cachedWorkflows === null ? '–' : `${int(c.worker.cachedWorkflows)} / ${int(c.worker.maxCachedWorkflows ?? NaN)}`,
    c.temporalRss === null ? '–' : bytes(c.temporalRss),
    `${bytes(c.sqlite.db)} + ${bytes(c.sqlite.wal)} WAL`,
    bytes(c.pg.database),
    c.createSeconds ? `${num((c.openCases - (points[points.indexOf(c) - 1]?.openCases ?? 0)) / c.createSeconds, 0)} cases/s` : '',
  ]);
  const per = (a: Checkpoint, b: Checkpoint) => {
    const n = b.openCases - a.openCases;
    return [
      `${int(a.openCases)} → ${int(b.openCases)}`,
      bytes((b.worker.rss - a.worker.rss) / n),
      bytes((b.worker.heapUsed - a.worker.heapUsed) / n),
      b.temporalRss !== null && a.temporalRss !== null ? bytes((b.temporalRss - a.temporalRss) / n) : '–',
      bytes((sqliteTotal(b) - sqliteTotal(a)) / n),
      bytes((b.pg.database - a.pg.database) / n),
      `${bytes((b.pg.cases - a.pg.cases) / n)} / ${bytes((b.pg.tasks - a.pg.tasks) / n)} / ${bytes((b.pg.audit - a.pg.audit) / n)}`,
    ];
  };
  const perRows = points.slice(1).map((b, i) => per(points[i], b));
  if (points.length > 2) perRows.push(per(points[0], points[points.length - 1]));
  const last = points[points.length - 1];
  const cacheFull = last.worker.cachedWorkflows !== null && last.worker.maxCachedWorkflows !== null && last.worker.cachedWorkflows >= last.worker.maxCachedWorkflows;
  const section = `## 3. Open cases held

\`npm run bench -- open-cases\` · ${ctx.profile} profile. A Temporal dev server of its own (fresh SQLite file, WAL, \`synchronous=off\`),
a fresh database, and the worker alone in a child process (default tuning, as \`npm run worker\`). Cases are started as the API
starts them (update-with-start, ${p.concurrency} at a time) and left waiting at \`verify_evidence\` (one open task with its
48 h deadline timer); each checkpoint waits until every case's task is open, lets things settle 5 s, then measures. Worker
RSS covers the whole process, including the workflow thread where cached workflows live; "heap used" is the main thread's
V8 heap after a full GC (activities, gRPC, pool), not the workflow thread's.

${table(['open cases', 'worker RSS', 'worker heap used', 'cached workflows / max', 'Temporal server RSS', 'SQLite file', 'PostgreSQL database', 'opening rate'], rows)}

Per open case (difference between checkpoints divided by the cases added):

${table(['open cases', 'worker RSS', 'worker heap', 'Temporal RSS', 'SQLite', 'PostgreSQL', 'PostgreSQL: cases / tasks / audit'], perRows)}

- One waiting case's history: ${int(events)} events, ${bytes(historyBytes)} of JSON (every \`recordCase\` carries the whole case view).
- ${
    cacheFull
      ? `The worker's sticky cache is full at ${int(last.worker.maxCachedWorkflows ?? 0)} workflows (the SDK's default: ~600 per GiB of the ${bytes(last.worker.heapLimit)} heap limit, less 200 MiB), so beyond that worker memory stops growing with open cases: an evicted case is replayed from its history when its next task arrives.`
      : `The worker's sticky cache (max ${int(last.worker.maxCachedWorkflows ?? 0)} workflows, the SDK's default from the heap limit) held every case here, so worker memory grows with open cases up to that limit and then levels off (evicted cases are replayed from history when their next task arrives).`
  }
`;
  return {
    section,
    raw: { settings: p, points, history: { events, bytes: historyBytes } },
    problems: [],
    headline: [
      `at ${int(last.openCases)} open cases: worker RSS ${bytes(last.worker.rss)} (${int(last.worker.cachedWorkflows ?? 0)} cached), SQLite ${bytes(sqliteTotal(last))}, PostgreSQL ${bytes(last.pg.database)}; per case ${perRows[perRows.length - 1].slice(1, 6).join(', ')}`,
    ],
  };
}

export const openCasesBench: Bench = { name: 'open-cases', title: 'memory and storage per open case waiting on a person', run };
