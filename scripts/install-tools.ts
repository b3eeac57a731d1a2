// Installs what the test suite needs beyond npm: the Temporal CLI (into .tools, or TAKEDOWN_TOOLS_DIR) and, for browser tests, Debian's chromium.
// Runs before `npm test` (pretest), so the README's test command works on a fresh machine; each step is skipped when present.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, presentEnv, toolsDirFor } from './config';
import { locateTemporalCli } from './lib/temporal-cli';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The folder `npm start` looks in (TAKEDOWN_TOOLS_DIR), and test/setup/global.ts too, whatever the working directory.
const toolsDir = toolsDirFor(root);
const CHROMIUM = presentEnv().CHROMIUM_PATH ?? '/usr/bin/chromium';

async function temporalCli(): Promise<void> {
  const { path: cli, routes } = await locateTemporalCli({ envPath: loadConfig().temporalCliPath, toolsDir, log: (m) => console.log(m) });
  const used = routes.find((r) => r.ok)?.route ?? 'unknown route';
  console.log(`Temporal CLI: ${cli} (via ${used})`);
}

function chromium(): void {
  if (existsSync(CHROMIUM)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`browser tests need Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  console.log('installing Debian chromium for the browser tests');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env, timeout: 600_000 });
}

let failed = false;
try {
  await temporalCli();
  if (existsSync(path.join(root, 'ui')) && process.env.SKIP_BROWSER_TESTS !== '1') chromium();
} catch (err) {
  console.error((err as Error).message);
  failed = true;
}
// Done: exit rather than wait for the event loop to empty, which anything left running (a download) would hold up,
// and `npm test` with it.
process.exit(failed ? 1 : 0);
