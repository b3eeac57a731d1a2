// The benchmarks' own servers: an embedded PostgreSQL and a Temporal dev server under .bench-data/, the workflow bundles, and the SUT child.
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import pg from 'pg';
import { connectDb, type DbHandle } from '../../db/client';
import { runMigrations } from '../../db/migrate';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../scripts/lib/postgres';
import { locateTemporalCli } from '../../scripts/lib/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../../scripts/lib/temporal-server';
import { RUNTIME_NODE_FLAGS } from '../../scripts/lib/node-flags';
import { findPostmaster } from './cpu';
import type { ActivityStats, LoopDelay, ReadFloorUrls, SutConfig, SutEvent, SutMemory, SutRequest, SutResponse, SutStarted } from './sut-protocol';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Raw samples and CPU profiles of the last run (not committed). */
export const OUT_DIR = path.join(ROOT, 'bench', 'out');

export interface BenchDb extends DbHandle {
  url: string;
  name: string;
}

export interface BenchEnv {
  dataDir: string;
  pg: EmbeddedPg;
  /** The postmaster's pid (its backends are its children), for CPU accounting. */
  postgresPid: number | undefined;
  temporal: DevServer;
  temporalDataDir: string;
  cliPath: string;
  cliVersion: string;
  bundles: { takedown: string; floor: string };
  /** A new migrated database on the bench PostgreSQL. */
  freshDatabase(label: string, poolMax?: number): Promise<BenchDb>;
  /** Another Temporal dev server with its own SQLite file (a clean file to measure). */
  startTemporal(label: string): Promise<DevServer & { dataDir: string; sqlitePath: string }>;
  /** The system under test in a child process. */
  startSut(label: string, config: Omit<SutConfig, 'logFile'>): Promise<Sut>;
  stop(): Promise<void>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface Sut {
  started: SutStarted;
  logFile: string;
  memory(): Promise<SutMemory>;
  /** Samples the child's CPU until the returned function is called; that writes a .cpuprofile and returns its path. */
  profile(name: string): Promise<() => Promise<string>>;
  /** Activity execution times inside the worker since the last reset. */
  activityStats(reset: boolean): Promise<ActivityStats>;
  /** The child's main-thread event-loop delay and utilization since the last reset. */
  loopDelay(reset: boolean): Promise<LoopDelay>;
  /** Starts the read floor's servers in the child, answering with these bytes by name (bench/inbox.ts). */
  readFloor(bodies: Record<string, string>): Promise<ReadFloorUrls>;
  /** Floor waits opening, as the floor's activities announce them. */
  onReady(listener: (e: SutEvent) => void): void;
  stop(): Promise<void>;
}

function cliVersion(cli: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(cli, ['--version'], { timeout: 15_000 }, (err, stdout) => resolve(err ? 'unknown' : stdout.trim()));
  });
}

async function bundle(workflowsPath: string, out: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  writeFileSync(out, code);
  return out;
}

/**
 * The embedded PostgreSQL with pg_stat_statements loaded (it must be preloaded at server start), so a benchmark can say
 * which statements its time went to. The first start writes the setting; the second start picks it up.
 */
async function startPostgresWithStatements(dataDir: string): Promise<EmbeddedPg> {
  let server = await startEmbeddedPostgres({ dataDir, port: 0, database: 'bench' });
  const admin = new pg.Client({ connectionString: server.urlFor('postgres') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ shared_preload_libraries: string }>('SHOW shared_preload_libraries');
    if (rows[0].shared_preload_libraries.includes('pg_stat_statements')) return server;
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.max = 2000`);
  } finally {
    await admin.end();
  }
  await server.stop();
  server = await startEmbeddedPostgres({ dataDir, port: 0, database: 'bench' });
  return server;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether any process still runs with `dir` in its command line (a PostgreSQL or Temporal server of an earlier run). */
function usedByAProcess(dir: string): boolean {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/** Data dirs of earlier runs that were killed: removed unless their driver or one of their servers still runs. */
function removeStaleRuns(base: string): void {
  if (!existsSync(base)) return;
  for (const name of readdirSync(base)) {
    const pid = Number(name);
    const dir = path.join(base, name);
    if (!Number.isInteger(pid) || alive(pid) || usedByAProcess(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startBenchEnv(opts: { log: (m: string) => void }): Promise<BenchEnv> {
  removeStaleRuns(path.join(ROOT, '.bench-data'));
  const dataDir = path.join(ROOT, '.bench-data', String(process.pid));
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  // The same order as `npm start` and the tests: TEMPORAL_CLI_PATH first, then PATH, the tools folder, the downloads.
  const cli = await locateTemporalCli({ envPath: process.env.TEMPORAL_CLI_PATH, toolsDir: path.join(ROOT, '.tools'), log: opts.log });
  const temporalDataDir = path.join(dataDir, 'temporal');
  const [pgServer, temporal, takedownBundle, floorBundle, version] = await Promise.all([
    startPostgresWithStatements(dataDir),
    startTemporalDevServer({ cliPath: cli.path, dataDir: temporalDataDir, port: 0, uiPort: 0, metricsPort: 0 }),
    bundle(path.join(ROOT, 'workflows', 'index.ts'), path.join(dataDir, 'takedown-bundle.js')),
    bundle(path.join(ROOT, 'bench', 'floor-workflow.ts'), path.join(dataDir, 'floor-bundle.js')),
    cliVersion(cli.path),
  ]);
  const extraServers: DevServer[] = [];
  const suts = new Set<Sut>();

  const freshDatabase = async (label: string, poolMax = 20): Promise<BenchDb> => {
    const name = `b_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgServer.urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = pgServer.urlFor(name);
    const handle = connectDb(url, { max: poolMax, applicationName: `bench-${label}` });
    await runMigrations(handle.db);
    await handle.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return { ...handle, url, name };
  };

  const startTemporal = async (label: string) => {
    const dir = path.join(dataDir, `temporal-${label}`);
    const server = await startTemporalDevServer({ cliPath: cli.path, dataDir: dir, port: 0, uiPort: 0 });
    extraServers.push(server);
    return { ...server, dataDir: dir, sqlitePath: path.join(dir, 'temporal.sqlite') };
  };

  const startSut = async (label: string, config: Omit<SutConfig, 'logFile'>): Promise<Sut> => {
    const logFile = path.join(dataDir, `sut-${label}.log`);
    // The child's own stdout/stderr (crashes before its logger exists) land in its log file too.
    const fd = openSync(logFile, 'a');
    const child: ChildProcess = fork(path.join(ROOT, 'bench', 'lib', 'sut.ts'), [], {
      // BENCH_SUT_NODE_FLAGS: extra Node flags for the system under test (e.g. --trace-gc, printed to its log file).
      // The product's own Node flags (as npm start passes them), then the benchmark's.
      execArgv: [...process.execArgv, ...RUNTIME_NODE_FLAGS, '--expose-gc', ...(process.env.BENCH_SUT_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)],
      stdio: ['ignore', fd, fd, 'ipc'],
      cwd: ROOT,
    });
    closeSync(fd);
    let seq = 0;
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    let exited: string | null = null;
    const readyListeners: ((e: SutEvent) => void)[] = [];
    child.on('message', (raw) => {
      if ((raw as SutEvent).event === 'ready') {
        for (const l of readyListeners) l(raw as SutEvent);
        return;
      }
      const msg = raw as SutResponse;
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`SUT ${label}: ${msg.error} (log: ${logFile})`));
    });
    child.on('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
      for (const p of pending.values()) p.reject(new Error(`SUT ${label} ${exited} (log: ${logFile})`));
      pending.clear();
    });
    const call = <T>(req: WithoutId<SutRequest>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (exited) return reject(new Error(`SUT ${label} ${exited} (log: ${logFile})`));
        const id = ++seq;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...req, id } as SutRequest);
      });
    const started = await call<SutStarted>({ kind: 'start', config: { ...config, logFile } });
    const sut: Sut = {
      started,
      logFile,
      memory: () => call<SutMemory>({ kind: 'memory' }),
      activityStats: (reset: boolean) => call<ActivityStats>({ kind: 'activityStats', reset }),
      loopDelay: (reset: boolean) => call<LoopDelay>({ kind: 'loopDelay', reset }),
      readFloor: (bodies: Record<string, string>) => call<ReadFloorUrls>({ kind: 'readFloor', bodies }),
      onReady: (listener) => readyListeners.push(listener),
      profile: async (name: string) => {
        await call({ kind: 'profileStart' });
        return () => call<string>({ kind: 'profileStop', file: path.join(OUT_DIR, `${label}-${name}.cpuprofile`) });
      },
      stop: async () => {
        suts.delete(sut);
        if (exited) return;
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        await call({ kind: 'stop' }).catch(() => {});
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await gone;
        clearTimeout(killer);
      },
    };
    suts.add(sut);
    return sut;
  };

  return {
    dataDir,
    pg: pgServer,
    postgresPid: findPostmaster(path.join(dataDir, 'postgres')),
    temporal,
    temporalDataDir,
    cliPath: cli.path,
    cliVersion: version,
    bundles: { takedown: takedownBundle, floor: floorBundle },
    freshDatabase,
    startTemporal,
    startSut,
    async stop() {
      for (const s of [...suts]) await s.stop().catch(() => {});
      await Promise.allSettled([...extraServers.map((s) => s.stop()), temporal.stop(), pgServer.stop()]);
    },
  };
}

/** Resident memory of another process (Linux /proc), in bytes; null when unknown. */
export async function processRss(pid: number | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
