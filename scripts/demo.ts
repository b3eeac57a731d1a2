// `npm run demo`: five cases that take different paths, played end to end through the HTTP API with the partner simulator.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CaseStatus, PartnerKind, Role, Step, StepName } from '../domain/types';
import { OPEN_CASE_STATUSES, STEP_NAMES } from '../domain/types';
import { loadConfig } from './config';
import { TakedownClient, type CaseRead, type NewCase } from './lib/api-client';
import { startPartnerSimulator, type PartnerBehaviour, type PartnerSimulator, type SimulatorStats } from './lib/partner-simulator';
import { adminTokenFile, clientAdminToken, clientApiUrl, createLogger } from './lib/runtime';
import { startSystem, type RunningSystem } from './lib/system';

// ── The partners: each org behaves one way, so each case's path follows from where its merchant banks and hosts. ──

export const DEMO_ORGS: Record<string, { kind: PartnerKind; behaviour: PartnerBehaviour }> = {
  visa: { kind: 'card_scheme', behaviour: { delayMs: 2_500 } },
  mastercard: { kind: 'card_scheme', behaviour: { delayMs: 3_500 } },
  paypal: { kind: 'payment_provider', behaviour: { delayMs: 3_000 } },
  'acq-northbank': { kind: 'acquirer', behaviour: { delayMs: 4_000 } },
  'acq-southbank': {
    kind: 'acquirer',
    behaviour: { delayMs: 3_000, outcome: 'decline', declineComment: 'No account is held under this merchant id: nothing to freeze.' },
  },
  'host-example': { kind: 'hosting_provider', behaviour: { delayMs: 5_000 } },
  // Its endpoint answers 410 Gone: final, so the case lead gets a resolve_exception task.
  'host-gone': { kind: 'hosting_provider', behaviour: { webhookStatus: 410 } },
  // Takes a minute to act: the case is withdrawn long before.
  'host-slow': { kind: 'hosting_provider', behaviour: { delayMs: 60_000 } },
};

// ── The cases ──

interface Scenario {
  key: string;
  title: string;
  expected: CaseStatus;
  /** What the story shows, for the terminal. */
  story: string;
  scheme: string;
  acquirer: string;
  wallet?: string;
  host: string;
  signoff: 'approved' | 'rejected';
  /** The case lead's answer to a resolve_exception (any other exception aborts the case: the demo did not expect it). */
  exceptionChoice?: 'skip';
  /** Withdraw once every partner org of the case has received its request. */
  withdrawOnceNotified?: boolean;
}

export const SCENARIOS: Scenario[] = [
  {
    key: 'clean',
    title: 'Clean takedown',
    expected: 'completed',
    story: 'every partner terminates, freezes or removes',
    scheme: 'visa',
    acquirer: 'acq-northbank',
    wallet: 'paypal',
    host: 'host-example',
    signoff: 'approved',
  },
  {
    key: 'rejected',
    title: 'Sign-off rejected',
    expected: 'closed_rejected',
    story: 'the officer rejects; no partner is contacted',
    scheme: 'visa',
    acquirer: 'acq-northbank',
    host: 'host-example',
    signoff: 'rejected',
  },
  {
    key: 'declined-freeze',
    title: 'Freeze declined',
    expected: 'completed_with_exceptions',
    story: 'acq-southbank declines the freeze with a comment',
    scheme: 'mastercard',
    acquirer: 'acq-southbank',
    host: 'host-example',
    signoff: 'approved',
  },
  {
    key: 'unreachable-host',
    title: 'Unreachable host',
    expected: 'completed_with_exceptions',
    story: 'host-gone answers 410; the case lead skips it',
    scheme: 'visa',
    acquirer: 'acq-northbank',
    host: 'host-gone',
    signoff: 'approved',
    exceptionChoice: 'skip',
  },
  {
    key: 'withdrawn',
    title: 'Withdrawn mid-disruption',
    expected: 'withdrawn',
    story: 'the supervisor withdraws; partners get withdrawal notices',
    scheme: 'mastercard',
    acquirer: 'acq-northbank',
    host: 'host-slow',
    signoff: 'approved',
    withdrawOnceNotified: true,
  },
];

/** Seconds stand in for the days a real case allows, so nothing in the demo waits long. */
const DEMO_SLAS = { verification: '30s', signoff: '30s', termination: '20s', freeze: '20s', removal: '20s' };

function caseBody(s: Scenario, reference: string, unique: string): NewCase {
  // Unique merchant ids, accounts and hosts per run: no deconfliction review against earlier demo cases.
  const site = `https://shop-${unique}.example.test`;
  return {
    reference,
    jurisdiction: 'GB',
    priority: 'high',
    merchant: {
      name: `Demo Shop ${unique}`,
      legalName: `Demo Shop ${unique} Ltd`,
      descriptor: 'DEMOSHOP*ONLINE',
      country: 'GB',
      urls: [`${site}/`, `${site}/checkout`],
      paymentChannels: [
        { kind: 'card', scheme: s.scheme, acquirer: s.acquirer, merchantId: `M${unique}`, mcc: '5999' },
        ...(s.wallet ? [{ kind: 'wallet' as const, provider: s.wallet, accountId: `W-${unique}` }] : []),
      ],
      hosting: [{ provider: s.host, ip: '203.0.113.7', urls: [`${site}/`, `${site}/checkout`] }],
    },
    evidence: [
      {
        kind: 'test_transaction',
        sha256: randomBytes(32).toString('hex'),
        description: 'Test purchase by an undercover officer',
        collectedAt: new Date(Date.now() - 86_400_000).toISOString(),
        collectedBy: 'DC Example',
      },
      { kind: 'page_capture_hash', sha256: randomBytes(32).toString('hex'), description: 'Capture of the checkout page' },
    ],
    plan: { freezeAssets: true, slas: DEMO_SLAS },
  };
}

// ── Running the cases ──

export interface DemoOptions {
  apiUrl: string;
  adminToken: string;
  /** Shown in the summary; derived from a case's `temporalUrl` when not given. */
  temporalUiUrl?: string;
  /** No progress and no summary on the terminal (tests). */
  quiet?: boolean;
  /** Overall limit for the cases to end (default 100 s). */
  timeoutMs?: number;
  /** Where the partner simulator listens (default 127.0.0.1, a free port). */
  simulatorHost?: string;
  out?: NodeJS.WriteStream;
}

export interface DemoCaseResult {
  key: string;
  title: string;
  caseId: string;
  reference: string;
  expected: CaseStatus;
  status: CaseStatus | 'timeout';
  ok: boolean;
  steps: { name: StepName; status: Step['status']; seconds: number | null }[];
  noticesSent: number;
  auditIntact: boolean;
  auditEntries: number;
}

export interface DemoResult {
  ok: boolean;
  cases: DemoCaseResult[];
  simulator: SimulatorStats;
  actedTwice: number;
  elapsedMs: number;
  temporalUiUrl?: string;
}

interface Live {
  scenario: Scenario;
  id: string;
  reference: string;
  view: CaseRead;
  done: boolean;
  acted: Set<string>;
  withdrawn: boolean;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isOpen = (s: CaseStatus) => OPEN_CASE_STATUSES.includes(s);

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const out = opts.out ?? process.stdout;
  const tty = !opts.quiet && out.isTTY === true;
  const events: string[] = [];
  const event = (line: string) => {
    const stamped = `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${line}`;
    events.push(stamped);
    if (!opts.quiet && !tty) out.write(`${stamped}\n`);
  };

  const admin = new TakedownClient({ baseUrl: opts.apiUrl, token: opts.adminToken });
  const person = async (name: string, roles: Role[]) =>
    admin.withToken((await admin.createPrincipal({ name: `${name} (demo)`, org: 'ceop', roles })).token);
  const [lead, analyst, officer, supervisor, auditor] = await Promise.all([
    person('Case lead', ['case_lead']),
    person('Analyst', ['analyst']),
    person('Officer', ['le_officer']),
    person('Supervisor', ['le_supervisor']),
    person('Auditor', ['auditor']),
  ]);
  event('principals created for ceop: case lead, analyst, officer, supervisor, auditor');

  const sim: PartnerSimulator = await startPartnerSimulator({
    apiUrl: opts.apiUrl,
    adminToken: opts.adminToken,
    orgs: DEMO_ORGS,
    host: opts.simulatorHost,
    log: (line) => {
      if (!line.startsWith('registered')) event(`partner ${line.trim().replace(/\s+/g, ' ')}`);
    },
  });
  event(`partner simulator at ${sim.url} (${Object.keys(DEMO_ORGS).length} orgs)`);

  const run = randomBytes(3).toString('hex');
  const live: Live[] = [];
  try {
    for (const [i, s] of SCENARIOS.entries()) {
      const unique = `${run}${i + 1}`;
      const reference = `DEMO-${run.toUpperCase()}-${i + 1}`;
      const view = await lead.createCase(caseBody(s, reference, unique), `demo-${reference}`);
      live.push({ scenario: s, id: view.id, reference, view, done: false, acted: new Set(), withdrawn: false });
      event(`${reference} opened: ${s.title} (${s.story})`);
    }

    const stopRender = tty ? startRenderer(out, live, events, started) : () => {};
    const deadline = started + (opts.timeoutMs ?? 100_000);
    try {
      await Promise.all(live.map((c) => drive(c, { lead, analyst, officer, supervisor }, sim, event, deadline)));
    } finally {
      stopRender();
    }
  } finally {
    await sim.stop();
  }

  const cases: DemoCaseResult[] = [];
  for (const c of live) {
    const [audit, verify] = await Promise.all([auditor.caseAudit(c.id), auditor.verifyAudit(c.id)]);
    const status = c.done ? c.view.status : 'timeout';
    cases.push({
      key: c.scenario.key,
      title: c.scenario.title,
      caseId: c.id,
      reference: c.reference,
      expected: c.scenario.expected,
      status,
      ok: status === c.scenario.expected && verify.intact,
      steps: c.view.steps.map((st) => ({
        name: st.name,
        status: st.status,
        seconds: st.startedAt && st.finishedAt ? (Date.parse(st.finishedAt) - Date.parse(st.startedAt)) / 1000 : null,
      })),
      noticesSent: audit.entries.filter((e) => e.action === 'notice.sent').length,
      auditIntact: verify.intact,
      auditEntries: verify.entries,
    });
  }
  const simulator = sim.stats();
  const actedTwice = [...sim.actedOn().values()].filter((n) => n > 1).length;
  const temporalUiUrl = opts.temporalUiUrl ?? live.map((c) => c.view.temporalUrl?.split('/namespaces/')[0]).find(Boolean);
  const result: DemoResult = {
    ok: cases.every((c) => c.ok) && simulator.badSignatures === 0 && actedTwice === 0,
    cases,
    simulator,
    actedTwice,
    elapsedMs: Date.now() - started,
    temporalUiUrl,
  };
  if (!opts.quiet) out.write(`\n${formatSummary(result, tty)}\n`);
  return result;
}

const partnerOrgs = (s: Scenario) => [...new Set([s.scheme, s.acquirer, s.host, ...(s.wallet ? [s.wallet] : [])])];

interface People {
  lead: TakedownClient;
  analyst: TakedownClient;
  officer: TakedownClient;
  supervisor: TakedownClient;
}

/** Plays the case's own people: watch the case, act on what lands in each inbox, until the case ends. */
async function drive(c: Live, p: People, sim: PartnerSimulator, event: (l: string) => void, deadline: number): Promise<void> {
  const s = c.scenario;
  const label = c.reference;
  let lastStatus = c.view.status;
  let lastSteps = '';
  // A person takes a moment to read: it makes each state visible in the progress table.
  const think = () => sleep(900);
  const openTask = async (who: TakedownClient, type: 'verify_evidence' | 'le_signoff' | 'resolve_exception') =>
    (await who.listTasks({ status: 'open', caseId: c.id, type })).items.find((t) => !c.acted.has(t.id));

  while (Date.now() < deadline) {
    try {
      c.view = await p.lead.getCase(c.id);
      if (c.view.status !== lastStatus) {
        event(`${label} ${lastStatus} → ${c.view.status}`);
        lastStatus = c.view.status;
      }
      const steps = c.view.steps.map((st) => `${st.name}:${st.status}`).join(' ');
      if (steps !== lastSteps) {
        for (const st of c.view.steps) {
          if (!lastSteps.includes(`${st.name}:${st.status}`) && st.status !== 'pending') event(`${label} step ${st.name} ${st.status}`);
        }
        lastSteps = steps;
      }
      if (!isOpen(c.view.status)) {
        c.done = true;
        return;
      }

      if (c.view.status === 'verifying') {
        const t = await openTask(p.analyst, 'verify_evidence');
        if (t) {
          await think();
          c.acted.add(t.id);
          await p.analyst.completeTask(t.id, { outcome: 'verified' }, `demo-${t.id}`);
          event(`${label} analyst verified the evidence`);
        }
      } else if (c.view.status === 'awaiting_signoff') {
        const t = await openTask(p.officer, 'le_signoff');
        if (t) {
          await think();
          c.acted.add(t.id);
          if (s.signoff === 'approved') {
            await p.officer.completeTask(t.id, { outcome: 'approved' }, `demo-${t.id}`);
            event(`${label} officer approved the disruption`);
          } else {
            const comment = 'Evidence does not meet the threshold for disruption: return to the analyst.';
            await p.officer.completeTask(t.id, { outcome: 'rejected', comment }, `demo-${t.id}`);
            event(`${label} officer rejected the sign-off`);
          }
        }
      } else if (c.view.status === 'disrupting') {
        const t = await openTask(p.lead, 'resolve_exception');
        if (t) {
          await think();
          c.acted.add(t.id);
          const reason = String(t.context?.reason ?? 'exception');
          if (s.exceptionChoice === 'skip') {
            await p.lead.completeTask(t.id, { outcome: 'skip', comment: `skipped: ${reason}` }, `demo-${t.id}`);
            event(`${label} case lead skipped the exception (${reason}, ${String(t.context?.org ?? '')})`);
          } else {
            await p.lead.completeTask(t.id, { outcome: 'abort', comment: `the demo did not expect ${reason}` }, `demo-${t.id}`);
            event(`${label} case lead aborted on an unexpected exception (${reason})`);
          }
        }
        if (s.withdrawOnceNotified && !c.withdrawn && partnerOrgs(s).every((org) => sim.notices().some((n) => n.caseId === c.id && n.org === org))) {
          await think();
          c.withdrawn = true;
          await p.supervisor.withdrawCase(c.id, 'Merchant arrested on the action day: disruption no longer needed.', `demo-withdraw-${c.id}`);
          event(`${label} supervisor withdrew the case`);
        }
      }
    } catch (err) {
      // A 409 here is a race with the workflow (the task closed under us): the next poll sees the new state.
      c.error = (err as Error).message;
      event(`${label} ${c.error}`);
    }
    await sleep(250);
  }
}

// ── Terminal output ──

const ansi = (on: boolean) => ({
  bold: (s: string) => (on ? `\x1b[1m${s}\x1b[22m` : s),
  dim: (s: string) => (on ? `\x1b[2m${s}\x1b[22m` : s),
  green: (s: string) => (on ? `\x1b[32m${s}\x1b[39m` : s),
  red: (s: string) => (on ? `\x1b[31m${s}\x1b[39m` : s),
  yellow: (s: string) => (on ? `\x1b[33m${s}\x1b[39m` : s),
  cyan: (s: string) => (on ? `\x1b[36m${s}\x1b[39m` : s),
});

const STEP_MARK: Record<Step['status'], string> = {
  pending: '·',
  in_progress: '…',
  done: '✔',
  declined: '✖',
  skipped: '↷',
  cancelled: '⊘',
  failed: '✖',
};

/** Pads by visible width (ANSI codes take no room). */
function pad(s: string, width: number): string {
  // eslint-disable-next-line no-control-regex
  const visible = s.replace(/\x1b\[[0-9;]*m/g, '').length;
  return s + ' '.repeat(Math.max(0, width - visible));
}

function colourStatus(status: string, c: ReturnType<typeof ansi>): string {
  if (status === 'completed') return c.green(status);
  if (status === 'timeout' || status === 'failed') return c.red(status);
  if (OPEN_CASE_STATUSES.includes(status as CaseStatus)) return c.cyan(status);
  return c.yellow(status);
}

function stepCell(st: Step | undefined, c: ReturnType<typeof ansi>, now = Date.now()): string {
  if (!st) return '';
  const mark = STEP_MARK[st.status];
  const secs = st.startedAt ? ((st.finishedAt ? Date.parse(st.finishedAt) : now) - Date.parse(st.startedAt)) / 1000 : null;
  const text = `${mark} ${st.status === 'in_progress' ? '' : st.status}${secs !== null && st.status !== 'cancelled' ? ` ${secs.toFixed(1)}s` : ''}`.replace('  ', ' ');
  if (st.status === 'done') return c.green(text);
  if (st.status === 'in_progress') return c.cyan(text);
  if (st.status === 'pending' || st.status === 'cancelled') return c.dim(text);
  return c.yellow(text);
}

const COLS = { title: 26, ref: 16, status: 30, step: 17 };

function table(rows: { title: string; reference: string; status: string; steps: (Step | undefined)[] }[], c: ReturnType<typeof ansi>): string[] {
  const head = pad('case', COLS.title) + pad('reference', COLS.ref) + pad('status', COLS.status) + STEP_NAMES.map((n) => pad(n, COLS.step)).join('');
  return [
    c.bold(head),
    ...rows.map((r) => pad(r.title, COLS.title) + pad(r.reference, COLS.ref) + pad(colourStatus(r.status, c), COLS.status) + r.steps.map((st) => pad(stepCell(st, c), COLS.step)).join('')),
  ];
}

/** Redraws a small table of the cases and the latest events in place (plain ANSI: cursor up, clear to end). */
function startRenderer(out: NodeJS.WriteStream, live: Live[], events: string[], started: number): () => void {
  const c = ansi(true);
  let drawn = 0;
  const draw = () => {
    const rows = live.map((l) => ({ title: l.scenario.title, reference: l.reference, status: l.view.status, steps: STEP_NAMES.map((n) => l.view.steps.find((s) => s.name === n)) }));
    const width = out.columns ?? 160;
    const lines = [
      c.bold(`Takedown demo · ${live.length} cases · ${((Date.now() - started) / 1000).toFixed(1)}s`),
      '',
      ...table(rows, c),
      '',
      ...events.slice(-8).map((e) => c.dim(e.slice(0, width - 1))),
    ];
    out.write(`${drawn ? `\x1b[${drawn}F\x1b[J` : ''}${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  draw();
  const timer = setInterval(draw, 200);
  return () => {
    clearInterval(timer);
    draw();
  };
}

export function formatSummary(r: DemoResult, colour = false): string {
  const c = ansi(colour);
  const head =
    pad('case', COLS.title) +
    pad('reference', COLS.ref) +
    pad('final status', COLS.status) +
    STEP_NAMES.map((n) => pad(n, 17)).join('') +
    pad('notices', 9) +
    'audit chain';
  const lines = [c.bold('Summary'), '', c.bold(head)];
  for (const k of r.cases) {
    const verdict = k.ok ? c.green('✔') : c.red(`✖ expected ${k.expected}`);
    const steps = STEP_NAMES.map((n) => {
      const st = k.steps.find((s) => s.name === n);
      if (!st || st.status === 'pending') return pad(c.dim('—'), 17);
      const t = st.seconds !== null && st.status !== 'cancelled' ? ` ${st.seconds.toFixed(1)}s` : '';
      const cell = `${STEP_MARK[st.status]}${st.status === 'done' ? '' : ` ${st.status}`}${t}`;
      return pad(st.status === 'done' ? c.green(cell) : st.status === 'cancelled' ? c.dim(cell) : c.yellow(cell), 17);
    }).join('');
    const audit = k.auditIntact ? c.green(`intact (${k.auditEntries})`) : c.red('BROKEN');
    lines.push(pad(k.title, COLS.title) + pad(k.reference, COLS.ref) + pad(`${colourStatus(k.status, c)} ${verdict}`, COLS.status) + steps + pad(String(k.noticesSent), 9) + audit);
  }
  const s = r.simulator;
  lines.push(
    '',
    `Partners: ${s.verified} deliveries verified, ${s.badSignatures} bad signatures, ${s.duplicates} duplicates, ` +
      `${s.completed} tasks completed, ${s.withdrawnBeforeActing} dropped on withdrawal, ${r.actedTwice} acted on twice; ` +
      `answered ${Object.entries(s.answered)
        .map(([k, v]) => `${k}×${v}`)
        .join(' ')}`,
    `${r.ok ? c.green('All cases reached their expected end') : c.red('Some cases did not reach their expected end')} in ${(r.elapsedMs / 1000).toFixed(1)}s.`,
  );
  return lines.join('\n');
}

// ── The command ──

async function answers(url: string): Promise<'healthy' | 'unhealthy' | 'absent'> {
  try {
    const h = await new TakedownClient({ baseUrl: url, timeoutMs: 3_000 }).health();
    return h.ok ? 'healthy' : 'unhealthy';
  } catch {
    return 'absent';
  }
}

async function main(): Promise<number> {
  // The in-process system logs errors only: its info lines would scroll the progress table away.
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' });
  const url = clientApiUrl(config);
  let system: RunningSystem | undefined;
  let apiUrl = url;
  let adminToken: string;
  let temporalUiUrl: string | undefined;

  let state = await answers(url);
  for (let i = 0; state === 'unhealthy' && i < 20; i++) {
    await sleep(1_000);
    state = await answers(url);
  }
  if (state === 'unhealthy') throw new Error(`the API at ${url} answers but is not healthy (GET /healthz); fix it or stop it and run the demo again`);
  if (state === 'healthy') {
    const token = clientAdminToken(config);
    if (!token) throw new Error(`an API answers at ${url}, but there is no admin token: set TAKEDOWN_ADMIN_TOKEN or write it to ${adminTokenFile(config.dataDir)}`);
    adminToken = token;
    temporalUiUrl = config.temporalUiUrl;
    process.stdout.write(`Using the Takedown API at ${url}\n`);
  } else {
    process.stdout.write(`No API at ${url}: starting Takedown in this process (embedded PostgreSQL and Temporal in ${config.dataDir}) …\n`);
    const log = createLogger(config, 'takedown-demo');
    system = await startSystem(config, log);
    apiUrl = system.apiUrl;
    adminToken = system.admin.token;
    temporalUiUrl = system.temporalUiUrl;
    system.run.catch((err) => {
      process.stderr.write(`worker failed: ${(err as Error).message}\n`);
      process.exit(1);
    });
  }

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping …\n');
    void (system ? system.stop() : Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const result = await runDemo({ apiUrl, adminToken, temporalUiUrl });
    process.stdout.write(
      [
        '',
        `  Console (API)  ${apiUrl}`,
        `  Temporal UI    ${result.temporalUiUrl ?? '(not known: set TEMPORAL_UI_URL)'}`,
        system ? '  (the system started for the demo stops now; `npm start` serves the same data)' : '',
        '',
      ].join('\n'),
    );
    return result.ok ? 0 : 1;
  } finally {
    await system?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
