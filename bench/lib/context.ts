// What every benchmark gets (servers, profile, progress) and gives back (its BENCHMARKS.md section and raw samples).
import { randomBytes } from 'node:crypto';
import { DEFAULT_SLAS } from '../../domain/rules/plan';
import { STEP_NAMES, type CaseView, type Role, type Task } from '../../domain/types';
import type { BenchEnv } from './env';
import type { HttpJson } from './http';
import type { Progress } from './progress';
import type { RunInfo } from './report';
import { sampleCase } from '../../test/support/fixtures';

/** `full` measures, `quick` measures roughly with small N, `smoke` only checks that everything runs (CI). */
export const PROFILES = ['smoke', 'quick', 'full'] as const;
export type Profile = (typeof PROFILES)[number];

export interface BenchContext {
  env: BenchEnv;
  profile: Profile;
  progress: Progress;
  run: RunInfo;
}

export interface BenchResult {
  /** Markdown for BENCHMARKS.md, starting with a `##` heading. */
  section: string;
  /** Raw samples and settings, written to bench/out/<name>.json. */
  raw: unknown;
  /** One-line summaries printed at the end of the run. */
  headline: string[];
  /**
   * What went wrong without stopping the run (failed cases, unexpected statuses): printed in every profile, and a
   * smoke run fails on any.
   */
  problems: string[];
}

export interface Bench {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export interface BenchPrincipal {
  id: string;
  token: string;
  org: string;
  roles: Role[];
}

export async function createPrincipal(http: HttpJson, adminToken: string, org: string, roles: Role[], name = `${org} ${roles.join('+')} (bench)`): Promise<BenchPrincipal> {
  const r = await http.ok<{ id: string; token: string }>('POST', '/v1/principals', { token: adminToken, body: { name, org, roles } });
  return { id: r.body.id, token: r.body.token, org, roles };
}

export const PARTNER_ORGS = {
  visa: { kind: 'card_scheme' },
  paypal: { kind: 'payment_provider' },
  'acq-northbank': { kind: 'acquirer' },
  'host-example': { kind: 'hosting_provider' },
} as const;

/**
 * A case body with merchant ids, accounts and hosts of its own (no deconfliction review): two payment channels and one
 * host, so five partner requests (two terminations, two freezes, one hosting notice), as in the API tests.
 */
export function caseBody(unique = randomBytes(6).toString('hex')) {
  const input = sampleCase({}, unique);
  return {
    ...input,
    reference: `EFC-BENCH-${unique}`,
    evidence: [{ ...input.evidence[0], sha256: randomBytes(32).toString('hex') }],
    plan: { freezeAssets: true },
  };
}

export const rid = (n = 4) => randomBytes(n).toString('hex');

/** A case view as the workflow writes it after intake (for writing projections directly, outside a workflow). */
export function caseView(id: string, unique = randomBytes(6).toString('hex')): CaseView {
  const body = caseBody(unique);
  const now = new Date().toISOString();
  return {
    id,
    reference: body.reference,
    org: 'ceop',
    jurisdiction: body.jurisdiction,
    priority: 'high',
    status: 'verifying',
    createdAt: now,
    createdBy: 'prn_bench_lead',
    updatedAt: now,
    closedAt: null,
    merchant: body.merchant as CaseView['merchant'],
    evidence: body.evidence as CaseView['evidence'],
    plan: { freezeAssets: true, slas: DEFAULT_SLAS },
    steps: STEP_NAMES.map((name) => ({ name, status: 'pending', startedAt: null, finishedAt: null, taskIds: [] })),
    deconflictedWith: [],
    verifiedBy: null,
    signedOffBy: null,
    actionDate: null,
    withdrawal: null,
  };
}

export function openTask(caseId: string, id: string): Task {
  const now = new Date();
  return {
    id,
    caseId,
    type: 'verify_evidence',
    status: 'open',
    assignee: { org: 'ceop', role: 'analyst' },
    roles: ['analyst'],
    createdAt: now.toISOString(),
    dueAt: new Date(now.getTime() + 48 * 3600_000).toISOString(),
    escalated: false,
    completedAt: null,
    completedBy: null,
    outcome: null,
    data: null,
    comment: null,
    context: { autoChecks: { evidenceItems: 1, passed: true } },
  };
}
