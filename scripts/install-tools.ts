// Puts the Temporal CLI the test servers need into the project tools folder (CI and fresh clones) and says which route found it.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config';
import { locateTemporalCli } from './lib/temporal-cli';

// The same folder test/setup/global.ts looks in, whatever the working directory.
const toolsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '.tools');

try {
  const { path: cli, routes } = await locateTemporalCli({ envPath: loadConfig().temporalCliPath, toolsDir, log: (m) => console.log(m) });
  for (const r of routes) console.log(`  ${r.ok ? 'ok  ' : 'skip'} ${r.route}: ${r.detail}`);
  console.log(`Temporal CLI: ${cli} (via ${routes.find((r) => r.ok)?.route ?? 'unknown route'})`);
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
