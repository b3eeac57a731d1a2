// vitest global setup: one real PostgreSQL and one real Temporal dev server for every test file, and one workflow bundle.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPg } from '../../scripts/lib/postgres';
import { locateTemporalCli } from '../../scripts/lib/temporal-cli';
import { presentEnv, toolsDirFor } from '../../scripts/config';
import { startTemporalDevServer, waitForTemporal, type DevServer } from '../../scripts/lib/temporal-server';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgUrlTemplate: string;
    pgAppUrlTemplate: string;
    temporalAddress: string;
    temporalCliPath: string;
    temporalDataDir: string;
    workflowBundlePath: string;
  }
}

let pg: EmbeddedPg | undefined;
let temporal: DevServer | undefined;

export default async function setup(project: TestProject) {
  const dataDir = path.join(root, '.test-data', String(process.pid));
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  // A blank variable counts as unset, as for the product's own settings (scripts/config.ts presentEnv).
  const env = presentEnv();
  const temporalAddress = env.TEMPORAL_ADDRESS;
  const log = env.TEST_SERVER_LOGS ? (m: string) => console.log(m) : undefined;

  const cli = await locateTemporalCli({ envPath: env.TEMPORAL_CLI_PATH, toolsDir: toolsDirFor(root), log: (m) => console.log(m) });
  const bundleP = bundleWorkflowCode({ workflowsPath: path.join(root, 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') }).then(({ code }) => {
    const p = path.join(dataDir, 'workflow-bundle.js');
    writeFileSync(p, code);
    return p;
  });
  const [pgServer, devServer, bundlePath] = await Promise.all([
    startEmbeddedPostgres({ dataDir, port: 0, database: 'takedown_test', log }),
    temporalAddress
      ? waitForTemporal(temporalAddress, 'default', 30_000).then(() => undefined)
      : startTemporalDevServer({ cliPath: cli.path, dataDir, port: 0, uiPort: 0, log }),
    bundleP,
  ]);
  pg = pgServer;
  temporal = devServer;
  project.provide('pgAdminUrl', pg.urlFor('postgres'));
  project.provide('pgUrlTemplate', pg.urlFor('__DB__'));
  project.provide('pgAppUrlTemplate', pg.appUrlFor('__DB__'));
  project.provide('temporalAddress', temporalAddress ?? devServer!.address);
  project.provide('temporalCliPath', cli.path);
  project.provide('temporalDataDir', dataDir);
  project.provide('workflowBundlePath', bundlePath);

  return async () => {
    await Promise.allSettled([temporal?.stop(), pg?.stop()]);
    if (!presentEnv().KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
  };
}
