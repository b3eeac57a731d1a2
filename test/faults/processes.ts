// Processes the fault suite can kill: workers as child processes, and its own PostgreSQL and Temporal dev server it can restart.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../scripts/lib/postgres';
import { startTemporalDevServer, type DevServer } from '../../scripts/lib/temporal-server';
import { ROOT } from '../support/paths';

export { ROOT };

export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  startedAt: number;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `scripts/worker.ts` as its own process (so SIGKILL is a real crash), with the environment it reads. */
export function spawnWorker(name: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/worker.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', process.env.FAULT_WORKER_LOGS ? 'inherit' : 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    startedAt: Date.now(),
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** PostgreSQL and Temporal of the fault suite's own, on fixed ports so a restart comes back at the same address. */
export class Servers {
  pg!: EmbeddedPg;
  temporal!: DevServer;
  private pgPort = 0;
  private temporalPort = 0;
  private uiPort = 0;

  constructor(
    private readonly dataDir: string,
    private readonly cliPath: string,
  ) {}

  async start(): Promise<void> {
    this.pg = await startEmbeddedPostgres({ dataDir: this.dataDir, port: 0, database: 'takedown' });
    this.pgPort = this.pg.port;
    this.temporal = await startTemporalDevServer({ cliPath: this.cliPath, dataDir: this.dataDir, port: 0, uiPort: 0 });
    this.temporalPort = Number(this.temporal.address.split(':')[1]);
    this.uiPort = Number(new URL(this.temporal.uiUrl).port);
  }

  async restartTemporal(downMs: number, whileDown?: () => Promise<void>): Promise<void> {
    await this.temporal.stop();
    await whileDown?.();
    await new Promise((r) => setTimeout(r, downMs));
    this.temporal = await startTemporalDevServer({ cliPath: this.cliPath, dataDir: this.dataDir, port: this.temporalPort, uiPort: this.uiPort });
    if (this.temporal.address !== `127.0.0.1:${this.temporalPort}`) throw new Error('Temporal came back on another port');
  }

  async restartPostgres(downMs: number, whileDown?: () => Promise<void>): Promise<void> {
    await this.pg.stop();
    await whileDown?.();
    await new Promise((r) => setTimeout(r, downMs));
    this.pg = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.pgPort, database: 'takedown' });
    if (this.pg.port !== this.pgPort) throw new Error('PostgreSQL came back on another port');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.temporal?.stop(), this.pg?.stop()]);
  }
}
