// The system under test as a child process: the takedown worker, the floor worker and the HTTP API, as `npm start` runs them.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import { monitorEventLoopDelay, performance as perf, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { pino } from 'pino';
import { Router } from 'express';
import { apiApp, bareApp, createApp, type ApiDeps } from '../../api/app';
import { PrincipalCache } from '../../api/principal-cache';
import { connectDb, type DbHandle } from '../../db/client';
import { serveHttp, type HttpServing } from '../../scripts/lib/http-server';
import { connectTemporal } from '../../scripts/lib/runtime';
import { createTakedownWorker } from '../../scripts/lib/worker';
import { threadsOf } from './cpu';
import { createFloorActivities } from './floor-activities';
import type { ActivityStats, LoopDelay, ReadFloorUrls, SutConfig, SutEvent, SutMemory, SutRequest, SutResponse, SutStarted } from './sut-protocol';

let logFile = '';
const writeLog = (line: string) => {
  if (logFile) appendFileSync(logFile, `${line}\n`);
};

interface Running {
  db: DbHandle;
  connection: Connection;
  workers: { worker: Worker; run: Promise<void>; close: () => Promise<void> }[];
  takedown?: Worker;
  maxCachedWorkflows: number | null;
  server?: HttpServing;
  principals?: PrincipalCache;
  apiDeps?: ApiDeps;
  floors: HttpServing[];
}

let running: Running | undefined;

let stats: ActivityStats = {};

/**
 * The histogram holds the intervals between a timer's runs, set to fire every LOOP_RESOLUTION_MS: its values include that
 * interval. loopDelay() reports how late the timer was (interval minus resolution), the time a callback waited its turn.
 */
const LOOP_RESOLUTION_MS = 10;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loop.enable();
let eluMark: EventLoopUtilization = perf.eventLoopUtilization();

function loopDelay(reset: boolean): LoopDelay {
  const ms = (ns: number) => (loop.count === 0 ? 0 : Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS));
  const elu = perf.eventLoopUtilization(eluMark);
  const out = { mean: ms(loop.mean), p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max), utilization: elu.utilization };
  if (reset) {
    loop.reset();
    eluMark = perf.eventLoopUtilization();
  }
  return out;
}
/** Times every activity execution inside the worker (local ones too), by type. */
const timing: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const t0 = performance.now();
      try {
        return await next(input);
      } finally {
        const key = `${ctx.info.activityType}${ctx.info.isLocal ? ' (local)' : ''}`;
        const ms = performance.now() - t0;
        const s = (stats[key] ??= { count: 0, totalMs: 0, maxMs: 0 });
        s.count += 1;
        s.totalMs += ms;
        s.maxMs = Math.max(s.maxMs, ms);
      }
    },
  },
});

async function start(config: SutConfig): Promise<SutStarted> {
  logFile = config.logFile;
  Runtime.install({
    logger: new DefaultLogger('WARN', (e) => writeLog(`[temporal ${e.level}] ${e.message} ${e.meta ? JSON.stringify(e.meta) : ''}`)),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
    shutdownSignals: [],
  });
  // The same pool settings as the entry points (connectDb's defaults): API and worker share it, as in `npm start`.
  const db = connectDb(config.databaseUrl, { applicationName: 'bench-sut' });
  const connection = await connectTemporal(config.temporalAddress);
  const client = new Client({ connection, namespace: config.namespace });
  const r: Running = { db, connection, workers: [], maxCachedWorkflows: null, floors: [] };
  // The workflow threads are Node worker threads named like every other "node" thread: they are the ones that appear
  // while the Temporal workers are created. libuv's pool threads start on first use, so they are started before.
  await fsp.access('.');
  const threadsBefore = new Set(threadsOf('self').map((t) => t.tid));
  if (config.takedown) {
    // The timing interceptor measures each activity (the benchmark checks that timings arrive, so a change there shows
    // up as missing numbers, not wrong ones).
    const { worker, connection: wc } = await createTakedownWorker({
      interceptors: { activity: [timing] },
      address: config.temporalAddress,
      namespace: config.namespace,
      taskQueue: config.takedown.taskQueue,
      workflowBundlePath: config.takedown.bundlePath,
      deps: {
        pool: db.pool,
        temporal: client,
        notices: { timeoutMs: 10_000, allowPrivate: true },
        urlChecks: { timeoutMs: 10_000, allowPrivate: true },
      },
    });
    r.takedown = worker;
    r.maxCachedWorkflows = worker.options.maxCachedWorkflows;
    r.workers.push({ worker, run: worker.run(), close: () => wc.close() });
  }
  if (config.floor) {
    const nc = await NativeConnection.connect({ address: config.temporalAddress });
    const worker = await Worker.create({
      connection: nc,
      namespace: config.namespace,
      taskQueue: config.floor.taskQueue,
      workflowBundle: { codePath: config.floor.bundlePath },
      activities: createFloorActivities((n) => process.send?.({ event: 'ready', ...n } satisfies SutEvent)),
      interceptors: { activity: [timing] },
      shutdownGraceTime: '5s',
    });
    r.workers.push({ worker, run: worker.run(), close: () => nc.close() });
  }
  const workflowThreads = threadsOf('self')
    .filter((t) => !threadsBefore.has(t.tid) && t.comm === 'node')
    .map((t) => t.tid);
  for (const w of r.workers) w.run.catch((err) => writeLog(`worker stopped: ${String(err?.stack ?? err)}`));
  let apiUrl: string | null = null;
  if (config.api) {
    const logger = pino({ level: 'warn' }, pino.destination({ dest: config.logFile, sync: false }));
    // As in `npm start` (scripts/lib/system.ts): principals remembered while PostgreSQL notifies changes.
    r.principals = await PrincipalCache.forPool(db.pool, { logger });
    r.apiDeps = {
      principals: r.principals,
      pool: db.pool,
      db: db.db,
      temporal: client,
      taskQueue: config.api.taskQueue ?? config.takedown?.taskQueue ?? 'takedown',
      namespace: config.namespace,
      adminToken: config.api.adminToken,
      logger,
    };
    const app = createApp(r.apiDeps);
    // The product's own server (timeouts, keep-alive), as `npm start` serves the API.
    r.server = await serveHttp(app, '127.0.0.1', 0);
    apiUrl = r.server.url;
  }
  running = r;
  return { apiUrl, pid: process.pid, poolMax: db.pool.options.max ?? 10, workflowThreads };
}

/** Starts the read floor's three servers (ReadFloorUrls) in this process, beside the API, on the bytes given by name. */
async function readFloor(bodies: Record<string, string>): Promise<ReadFloorUrls> {
  const r = running;
  if (!r?.apiDeps) throw new Error('the read floor needs the API (start it with config.api)');
  const bytes = new Map(Object.entries(bodies).map(([name, text]) => [name, Buffer.from(text, 'utf8')]));
  const route = Router().get('/floor/:name', (req, res) => {
    const body = bytes.get(String(req.params.name));
    if (!body) res.status(404).end();
    else res.type('json').send(body);
  });
  const bare = bareApp();
  bare.use('/v1', route);
  const node = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = bytes.get(decodeURIComponent(req.url?.replace(/^\/v1\/floor\//, '') ?? ''));
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }).end(body);
  };
  const servers = await Promise.all([serveHttp(node, '127.0.0.1', 0), serveHttp(bare, '127.0.0.1', 0), serveHttp(apiApp(r.apiDeps, [route]), '127.0.0.1', 0)]);
  r.floors.push(...servers);
  return { node: servers[0].url, express: servers[1].url, api: servers[2].url };
}

function memory(): SutMemory {
  // A full collection first, so heapUsed is what is live, not what awaits collection.
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    heapLimit: v8.getHeapStatistics().heap_size_limit,
    cachedWorkflows: running?.takedown ? running.takedown.getStatus().numCachedWorkflows : null,
    maxCachedWorkflows: running?.maxCachedWorkflows ?? null,
  };
}

let profiler: Session | undefined;

/** CPU profiling of this process over a window the driver chooses (the V8 sampling profiler, via the inspector). */
async function profileStart(): Promise<void> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.post('Profiler.start');
}

async function profileStop(file: string): Promise<string> {
  if (!profiler) throw new Error('no profile running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

async function stop(): Promise<void> {
  const r = running;
  running = undefined;
  if (!r) return;
  // The load is over: nothing in flight is worth waiting for.
  await r.server?.stop(0);
  for (const f of r.floors) await f.stop(0);
  await r.principals?.close();
  for (const w of r.workers) if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
  for (const w of r.workers) {
    await w.run.catch(() => {});
    await w.close().catch(() => {});
  }
  await r.connection.close().catch(() => {});
  await r.db.close().catch(() => {});
}

function reply(msg: SutResponse): void {
  process.send?.(msg);
}

process.on('message', (raw) => {
  const req = raw as SutRequest;
  const run = async (): Promise<unknown> => {
    if (req.kind === 'start') return start(req.config);
    if (req.kind === 'memory') return memory();
    if (req.kind === 'profileStart') return profileStart();
    if (req.kind === 'profileStop') return profileStop(req.file);
    if (req.kind === 'loopDelay') return loopDelay(req.reset);
    if (req.kind === 'readFloor') return readFloor(req.bodies);
    if (req.kind === 'activityStats') {
      const out = stats;
      if (req.reset) stats = {};
      return out;
    }
    await stop();
    setTimeout(() => process.exit(0), 50);
    return null;
  };
  run().then(
    (result) => reply({ id: req.id, ok: true, result }),
    (err: unknown) => {
      writeLog(`request ${req.kind} failed: ${String((err as Error)?.stack ?? err)}`);
      reply({ id: req.id, ok: false, error: String((err as Error)?.message ?? err) });
    },
  );
});
process.on('unhandledRejection', (err) => writeLog(`unhandled rejection: ${String((err as Error)?.stack ?? err)}`));
// The driver owns this process: when it goes away, so does the system under test.
process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
