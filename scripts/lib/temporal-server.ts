// The embedded Temporal CLI dev server: SQLite under the data dir, search attributes registered at start, a real health check.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { makeFilesOwnerOnly, makePrivateDir } from './data-dir';
import { outputTail } from './output-tail';
import type { LeftoverSpec } from './leftovers';
import { freePort } from './ports';
import type { TemporalAuth } from './runtime';

export interface DevServer {
  address: string;
  uiUrl: string;
  /** The server's Prometheus endpoint, when started with `metricsPort`. */
  metricsUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cliPath: string;
  dataDir: string;
  port?: number;
  uiPort?: number;
  /** Serve the server's own Prometheus metrics on this port (0: a free one); off when absent. */
  metricsPort?: number;
  namespace?: string;
  log?: (m: string) => void;
  startTimeoutMs?: number;
}

/** Waits until a client call succeeds (not merely an open port); throws after the deadline. */
export async function waitForTemporal(address: string, namespace: string, timeoutMs: number, child?: ChildProcess, auth: TemporalAuth = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`temporal server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, ...auth, connectTimeout: 1_000 });
      try {
        await conn.workflowService.describeNamespace({ namespace }, );
        // Another server may hold the port (chosen free, bound by another start first): ours then fails to bind and
        // exits, but the other one answers meanwhile, and its workflows are not ours.
        if (!child || listenerIsOurs(child, Number(address.slice(address.lastIndexOf(':') + 1))) !== false) return;
        last = new Error(`another process listens on ${address}`);
      } finally {
        await conn.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${String((last as Error)?.message ?? last)}`);
}

/**
 * Whether the process listening on TCP `port` is `child` or one of its descendants (a wrapper script's server), from
 * /proc: false when it is another one, undefined where /proc does not tell (not Linux, or no such listener found).
 */
function listenerIsOurs(child: ChildProcess, port: number): boolean | undefined {
  if (!child.pid) return undefined;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address (hex ip:port), state 0A = LISTEN, inode in column 10.
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  const family = [child.pid];
  for (let i = 0; i < family.length && i < 64; i++) {
    try {
      for (const task of readdirSync(`/proc/${family[i]}/task`)) {
        family.push(...readFileSync(`/proc/${family[i]}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number));
      }
    } catch {
      // gone, or no children file: its own sockets still count
    }
  }
  for (const pid of family) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}

/** The dev server's database, in its data dir. */
const SQLITE_FILE = 'temporal.sqlite';
/** The running dev server's pid, in its data dir: found by the next start when this one was killed outright. */
const PID_FILE = 'server.pid';

/** A dev server left running on `dataDir` by a start that was killed outright: what stopLeftoverServers needs. */
export function leftoverTemporal(dataDir: string): LeftoverSpec {
  // The pid file's second line names the CLI the server was started from (TEMPORAL_CLI_PATH may name any file).
  return { server: 'temporal', pidFile: path.join(dataDir, PID_FILE), program: { pidFileLine: 1 }, flag: '--db-filename', value: path.join(dataDir, SQLITE_FILE), signal: 'SIGTERM', graceMs: 10_000, force: 'SIGKILL' };
}

/** Starts that end with the server exiting (a port taken between choosing and binding it, say) are tried this often. */
const START_ATTEMPTS = 3;

/**
 * Starts the dev server and waits until it answers. A server that exits while starting is started again, on ports
 * chosen again when they were not fixed; the last failure carries the tail of the server's output.
 */
export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  // Owner only when made here: the SQLite file holds every workflow's state. An existing dir is the caller's (startServices
  // tightens <data dir>/temporal and logs it; the tests share one dir with the embedded PostgreSQL, which as root needs it
  // traversable).
  makePrivateDir(opts.dataDir);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!(err instanceof ServerExited) || attempt >= START_ATTEMPTS) throw err;
      opts.log?.(`${err.message}; starting it again (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

class ServerExited extends Error {}

async function startOnce(opts: DevServerOptions): Promise<DevServer> {
  const namespace = opts.namespace ?? 'default';
  const port = await freePort(opts.port ?? 7233);
  const uiPort = await freePort(opts.uiPort ?? 8233);
  const metricsPort = opts.metricsPort === undefined ? undefined : await freePort(opts.metricsPort);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    path.join(opts.dataDir, SQLITE_FILE),
    '--namespace',
    namespace,
    // WAL and no fsync make SQLite fast enough for real load; the trade: a machine crash (not a process crash) can lose the last writes.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=off',
    '--log-level',
    'warn',
    // Update-with-start and frequent updates: keep the defaults generous for tests and benchmarks.
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
    '--dynamic-config-value',
    'frontend.namespaceRPS=100000',
    '--dynamic-config-value',
    'history.maxInFlightUpdates=100',
  ];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  if (metricsPort !== undefined) args.push('--metrics-port', String(metricsPort));
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = outputTail(20, opts.log);
  const onOutput = (c: Buffer) => tail.add(c.toString());
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const address = `127.0.0.1:${port}`;
  // A process that exits without stopping the server (a fatal error, a forced exit) does not leave it running alone.
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', onExit);
  const pidFile = path.join(opts.dataDir, PID_FILE);
  if (child.pid) writeFileSync(pidFile, `${child.pid}\n${opts.cliPath}\n`, { mode: 0o600 });
  child.once('exit', () => {
    process.off('exit', onExit);
    rmSync(pidFile, { force: true });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  try {
    await waitForTemporal(address, namespace, opts.startTimeoutMs ?? 60_000, child);
  } catch (err) {
    // Only a server that ended by itself is started again; one that did not answer in time is stopped and reported.
    const code = child.exitCode;
    await stop();
    if (code === null || code === 0) throw err;
    throw new ServerExited(`temporal server on ${address} exited with code ${code} while starting${tail.said()}`);
  }
  // The CLI makes its SQLite files 0644 (SQLite gives -wal and -shm the main file's mode): owner only, as the dir is.
  const sqlite = path.join(opts.dataDir, SQLITE_FILE);
  makeFilesOwnerOnly([sqlite, `${sqlite}-wal`, `${sqlite}-shm`]);
  const metricsUrl = metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`;
  return { address, uiUrl: `http://127.0.0.1:${uiPort}`, metricsUrl, process: child, stop };
}
