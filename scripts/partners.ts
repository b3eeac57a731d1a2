// `npm run partners`: the partner simulator as a command: registers partner orgs with a running API and answers their notices.
import { parseArgs } from 'node:util';
import { PARTNER_KINDS, type PartnerKind } from '../domain/types';
import { loadConfig } from './config';
import { TakedownClient } from './lib/api-client';
import { startPartnerSimulator, type PartnerBehaviour } from './lib/partner-simulator';
import { adminTokenFile, clientAdminToken, clientApiUrl } from './lib/runtime';

const HELP = `Usage: npm run partners -- [options]

Registers each org with the API (PUT /v1/partners/:org with a fresh whsec_ secret and a webhook on this
process), creates a partner principal per org, verifies every notice, and completes the tasks it names.

  --api-url URL            Takedown API (env TAKEDOWN_URL; default: the URL a system serving from TAKEDOWN_DATA_DIR
                           recorded in <data dir>/api-url, else http://127.0.0.1:<PORT or 3000>)
  --admin-token TOKEN      admin token (env TAKEDOWN_ADMIN_TOKEN; default: <TAKEDOWN_DATA_DIR>/admin-token)
  --orgs LIST              org:kind,... (default visa:card_scheme,mastercard:card_scheme,paypal:payment_provider,
                           acq-northbank:acquirer,host-example:hosting_provider); kinds: ${PARTNER_KINDS.join(', ')}
  --host HOST --port N     where webhooks are received (default 127.0.0.1:4100, another port if busy)
  --delay MS               wait before completing each task (default 1000)
  --decline                decline every request (with a comment) instead of acting on it
  --webhook-status N       answer every notice with this status (e.g. 410: final, the case lead gets an exception)
  --fail-rate R            answer 503 to this share (0..1) of deliveries (Takedown retries)
  --timeout-rate R         hang on this share (0..1) of deliveries, past Takedown's timeout
  --slow MS                answer every delivery this much later
  --seed N                 make the random failures reproducible
  --only ORG,...           apply the failure/decline options to these orgs only (default: all)

Stats are printed on SIGINT (Ctrl-C).`;

function parseRate(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`--${name} must be between 0 and 1`);
  return n;
}

function parseInteger(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'api-url': { type: 'string' },
      'admin-token': { type: 'string' },
      orgs: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      delay: { type: 'string' },
      decline: { type: 'boolean' },
      'webhook-status': { type: 'string' },
      'fail-rate': { type: 'string' },
      'timeout-rate': { type: 'string' },
      slow: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const config = loadConfig();
  const apiUrl = clientApiUrl(config, values['api-url']);
  const health = await new TakedownClient({ baseUrl: apiUrl, timeoutMs: 3_000 }).health().catch(() => null);
  if (!health) throw new Error(`no Takedown API answers at ${apiUrl}: start one (npm start), or pass the URL it printed with --api-url or TAKEDOWN_URL`);
  const adminToken = clientAdminToken(config, values['admin-token']);
  if (!adminToken) throw new Error(`no admin token: pass --admin-token, set TAKEDOWN_ADMIN_TOKEN, or start the API once so it writes ${adminTokenFile(config.dataDir)}`);

  const orgList = (values.orgs ?? 'visa:card_scheme,mastercard:card_scheme,paypal:payment_provider,acq-northbank:acquirer,host-example:hosting_provider')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [org, kind] = s.split(':');
      if (!kind || !(PARTNER_KINDS as readonly string[]).includes(kind)) throw new Error(`--orgs: "${s}" must be org:kind with kind one of ${PARTNER_KINDS.join(', ')}`);
      return [org, kind as PartnerKind] as const;
    });
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
  const failureModes: PartnerBehaviour = {
    outcome: values.decline ? 'decline' : 'positive',
    webhookStatus: parseInteger(values['webhook-status'], 'webhook-status'),
    transient5xxRate: parseRate(values['fail-rate'], 'fail-rate'),
    timeoutRate: parseRate(values['timeout-rate'], 'timeout-rate'),
    slowMs: parseInteger(values.slow, 'slow'),
  };
  const delayMs = parseInteger(values.delay, 'delay') ?? 1_000;
  const orgs = Object.fromEntries(
    orgList.map(([org, kind]) => [org, { kind, behaviour: { delayMs, ...(!only || only.has(org) ? failureModes : {}) } }]),
  );

  const stamp = () => new Date().toISOString().slice(11, 23);
  const sim = await startPartnerSimulator({
    apiUrl,
    adminToken,
    orgs,
    host: values.host ?? '127.0.0.1',
    port: parseInteger(values.port, 'port') ?? 4100,
    seed: parseInteger(values.seed, 'seed'),
    log: (line) => process.stdout.write(`${stamp()}  ${line}\n`),
  }).catch(async (err) => {
    // The preferred port is taken (another simulator?): any free port works, since registration carries the URL.
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || values.port) throw err;
    return startPartnerSimulator({ apiUrl, adminToken, orgs, host: values.host ?? '127.0.0.1', port: 0, seed: parseInteger(values.seed, 'seed'), log: (line) => process.stdout.write(`${stamp()}  ${line}\n`) });
  });
  process.stdout.write(`\nPartner simulator listening at ${sim.url} for ${orgList.length} orgs, acting on ${apiUrl}. Ctrl-C prints stats and stops.\n\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    const s = sim.stats();
    const acted = [...sim.actedOn().values()];
    process.stdout.write(
      `\n${JSON.stringify({ ...s, actedOn: acted.length, actedTwice: acted.filter((n) => n > 1).length }, null, 2)}\n`,
    );
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`partners: ${(err as Error).message}\n`);
  process.exit(1);
});
