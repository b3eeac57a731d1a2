// The partner simulator: a reference partner integration that verifies signed notices, answers them, and completes tasks via the API.
//
// What a partner's engineers should take from this file (docs/partner-integration.md says the same in prose):
//   1. Verify every notice with a Standard Webhooks library over the RAW body, before parsing or trusting anything.
//   2. Deduplicate on `webhook-id` (equal to `Idempotency-Key`): Takedown redelivers until it sees a 2xx, so the same
//      notice can arrive more than once. Answer a repeat with 2xx, and never act on it twice.
//   3. Answer fast with a 2xx, then do the work later; the answer means "received", not "done".
//   4. Report the result by completing the task named in `taskId` with `POST /v1/tasks/:id/complete`, with a stable
//      Idempotency-Key so a retried call completes it once. A 409 means the task is no longer open (the case was
//      withdrawn or closed): nothing more to do.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Notice, NoticeType, PartnerKind } from '../../domain/types';
import { ApiError, TakedownClient } from './api-client';

export interface PartnerBehaviour {
  /** Before completing the task through the API (default 0). */
  delayMs?: number;
  /** `positive`: terminated / frozen / removed; `decline`: declined with a comment (default positive). */
  outcome?: 'positive' | 'decline';
  /** Answer every notice with this status (e.g. 410: final, the case lead gets a resolve_exception task). */
  webhookStatus?: number;
  /** 0..1: answer 503 this share of the time (Takedown retries with backoff). */
  transient5xxRate?: number;
  /** 0..1: hang this share of the time, past Takedown's delivery timeout (it retries). */
  timeoutRate?: number;
  /** How long a hung delivery is held before the socket is dropped (default 15 s, beyond Takedown's 10 s). */
  hangMs?: number;
  /** Answer every notice this much later. */
  slowMs?: number;
  /** The comment sent with a decline. */
  declineComment?: string;
}

export interface SimulatorOptions {
  apiUrl: string;
  adminToken: string;
  orgs: Record<string, { kind: PartnerKind; behaviour?: PartnerBehaviour }>;
  /** Where the simulator listens; webhook URLs are built from it (default 127.0.0.1 and a free port). */
  host?: string;
  port?: number;
  /** Deterministic randomness (failure rates, amounts) for tests and benchmarks. */
  seed?: number;
  log?: (line: string) => void;
}

export interface SimulatorStats {
  /** HTTP requests that reached the webhook endpoint, good or bad. */
  received: number;
  /** Deliveries whose signature verified. */
  verified: number;
  badSignatures: number;
  /** Redeliveries of a notice already accepted: answered 200, not acted on. */
  duplicates: number;
  /** Accepted notices by type, each notice once. */
  byType: Record<string, number>;
  /** Tasks completed through the API. */
  completed: number;
  /** Completions that failed for another reason than "no longer open". */
  completionErrors: number;
  /** Completions answered 409: the task was no longer open (withdrawn, closed, completed by someone else). */
  noLongerOpen: number;
  /** Pending actions dropped because a withdrawal notice named their task. */
  withdrawnBeforeActing: number;
  /** HTTP statuses the simulator answered deliveries with; `hang` counts deliveries held past Takedown's timeout. */
  answered: Record<string, number>;
}

export interface PartnerSimulator {
  /** Base URL; each org's webhook is `${url}/hooks/<org>`. */
  url: string;
  stats(): SimulatorStats;
  /** noticeId → how many times the partner ACTED on it (acted = completed a task); must never exceed 1. */
  actedOn(): Map<string, number>;
  /** Every accepted notice, in arrival order (for tests and the demo's narration). */
  notices(): (Notice & { receivedAt: string })[];
  setBehaviour(org: string, b: PartnerBehaviour): void;
  /** Resolves when no completion is pending or in flight. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Tasks a notice asks the partner to act on, and the positive outcome with the data the contract requires. */
const ACTIONABLE: Partial<Record<NoticeType, { outcome: string; data: (rand: () => number) => Record<string, unknown> }>> = {
  termination_request: { outcome: 'terminated', data: () => ({ terminatedAt: new Date().toISOString() }) },
  freeze_request: { outcome: 'frozen', data: (rand) => ({ amount: Math.round(rand() * 5_000_000) / 100, currency: 'EUR' }) },
  hosting_notice: { outcome: 'removed', data: () => ({ removedAt: new Date().toISOString() }) },
};

const MAX_BODY = 1024 * 1024;

/** mulberry32: tiny, fast and good enough to make failure injection reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Node lower-cases header names; Standard Webhooks libraries want the three webhook-* headers as plain strings. */
function headerRecord(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** One random stream per org: an org's draws do not depend on how deliveries to other orgs interleave. */
function orgSeed(seed: number, org: string): number {
  let h = seed >>> 0;
  for (const ch of org) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

interface OrgState {
  org: string;
  rand: () => number;
  kind: PartnerKind;
  secret: string;
  webhook: Webhook;
  token: string;
  api: TakedownClient;
  behaviour: PartnerBehaviour;
}

export async function startPartnerSimulator(opts: SimulatorOptions): Promise<PartnerSimulator> {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? randomBytes(4).readUInt32LE(0);
  const host = opts.host ?? '127.0.0.1';
  const stopping = new AbortController();
  // Every request in flight listens to it (through AbortSignal.any) until it ends: many at once is normal, not a leak.
  setMaxListeners(0, stopping.signal);
  const admin = new TakedownClient({ baseUrl: opts.apiUrl, token: opts.adminToken, signal: stopping.signal });

  const orgs = new Map<string, OrgState>();
  const accepted = new Set<string>();
  const received: (Notice & { receivedAt: string })[] = [];
  const acted = new Map<string, number>();
  /** taskId → pending action; a task is acted on once however many notices name it (re-notices, retries). */
  const pending = new Map<string, { timer: NodeJS.Timeout; noticeId: string }>();
  const handledTasks = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const hanging = new Set<NodeJS.Timeout>();
  const stats: SimulatorStats = {
    received: 0,
    verified: 0,
    badSignatures: 0,
    duplicates: 0,
    byType: {},
    completed: 0,
    completionErrors: 0,
    noLongerOpen: 0,
    withdrawnBeforeActing: 0,
    answered: {},
  };

  const answer = (res: http.ServerResponse, status: number, body: Record<string, unknown>) => {
    stats.answered[status] = (stats.answered[status] ?? 0) + 1;
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function complete(o: OrgState, notice: Notice, b: PartnerBehaviour): Promise<void> {
    const taskId = notice.taskId as string;
    const action = ACTIONABLE[notice.type]!;
    const body =
      b.outcome === 'decline'
        ? { outcome: 'declined', comment: b.declineComment ?? `${o.org} declines: no matching relationship found (simulator)` }
        : { outcome: action.outcome, data: action.data(o.rand) };
    try {
      // The key is derived from the notice: a retry of this call after a lost answer is the same completion.
      await o.api.completeTask(taskId, body, `sim-${notice.id}`);
      acted.set(notice.id, (acted.get(notice.id) ?? 0) + 1);
      stats.completed += 1;
      log(`${o.org.padEnd(14)} completed   ${taskId} ${body.outcome}`);
    } catch (err) {
      if (stopping.signal.aborted) return;
      if (err instanceof ApiError && err.status === 409) {
        // Withdrawn, closed, or completed already: the request no longer stands, which is fine.
        stats.noLongerOpen += 1;
        log(`${o.org.padEnd(14)} not open    ${taskId} (409: ${err.problem?.detail ?? 'task no longer open'})`);
        return;
      }
      stats.completionErrors += 1;
      handledTasks.delete(taskId);
      log(`${o.org.padEnd(14)} FAILED      ${taskId}: ${(err as Error).message}`);
    }
  }

  /** What the partner does after accepting a notice: schedule its answer, drop withdrawn work, or just take note. */
  function act(o: OrgState, notice: Notice): void {
    const b = { ...o.behaviour };
    if (ACTIONABLE[notice.type]) {
      if (!notice.taskId) return;
      if (handledTasks.has(notice.taskId)) {
        log(`${o.org.padEnd(14)} (already handling ${notice.taskId}; not acting again)`);
        return;
      }
      handledTasks.add(notice.taskId);
      const taskId = notice.taskId;
      const timer = setTimeout(() => {
        pending.delete(taskId);
        const p = complete(o, notice, b).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }, b.delayMs ?? 0);
      pending.set(taskId, { timer, noticeId: notice.id });
      return;
    }
    if (notice.type === 'withdrawal_notice') {
      const withdraws = (notice.document?.withdraws ?? {}) as { taskIds?: unknown };
      const taskIds = Array.isArray(withdraws.taskIds) ? withdraws.taskIds.filter((t): t is string => typeof t === 'string') : [];
      for (const taskId of taskIds) {
        const p = pending.get(taskId);
        if (!p) continue;
        clearTimeout(p.timer);
        pending.delete(taskId);
        stats.withdrawnBeforeActing += 1;
        log(`${o.org.padEnd(14)} dropped     ${taskId} (withdrawn before acting)`);
      }
    }
    // reminder: nothing to do beyond what is already scheduled; a real partner would page someone.
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    stats.received += 1;
    const m = /^\/hooks\/([^/?#]+)\/?(?:\?.*)?$/.exec(req.url ?? '');
    const o = m ? orgs.get(decodeURIComponent(m[1])) : undefined;
    if (req.method !== 'POST' || !o) {
      req.resume();
      return answer(res, 404, { error: 'no such webhook' });
    }
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch {
      return answer(res, 413, { error: 'body too large' });
    }
    const headers = headerRecord(req);
    let notice: Notice;
    try {
      // Verify over the raw bytes: re-serialised JSON would not match the signature.
      notice = o.webhook.verify(raw, headers) as Notice;
    } catch (err) {
      stats.badSignatures += 1;
      log(`${o.org.padEnd(14)} REJECTED    bad signature (${(err as Error).message})`);
      return answer(res, 401, { error: 'invalid signature' });
    }
    stats.verified += 1;
    if (notice.org !== o.org) return answer(res, 422, { error: `notice is for ${notice.org}, not ${o.org}` });

    const b = o.behaviour;
    if (b.slowMs) await new Promise((r) => setTimeout(r, b.slowMs));
    const id = headers['webhook-id'] ?? headers['idempotency-key'] ?? notice.id;
    if (accepted.has(id)) {
      stats.duplicates += 1;
      log(`${o.org.padEnd(14)} duplicate   ${notice.type} ${id} (answered 200, not acted on)`);
      return answer(res, 200, { received: true, duplicate: true });
    }
    if (b.timeoutRate && o.rand() < b.timeoutRate) {
      log(`${o.org.padEnd(14)} hanging     ${notice.type} ${id}`);
      stats.answered.hang = (stats.answered.hang ?? 0) + 1;
      const t = setTimeout(() => {
        hanging.delete(t);
        res.destroy();
      }, b.hangMs ?? 15_000);
      hanging.add(t);
      return;
    }
    if (b.transient5xxRate && o.rand() < b.transient5xxRate) {
      log(`${o.org.padEnd(14)} 503         ${notice.type} ${id}`);
      return answer(res, 503, { error: 'temporarily unavailable (simulated)' });
    }
    const status = b.webhookStatus ?? 200;
    if (status < 200 || status >= 300) {
      log(`${o.org.padEnd(14)} ${String(status).padEnd(11)} ${notice.type} ${id}`);
      return answer(res, status, { error: `answered ${status} (simulated)` });
    }
    // Accepted: from here on this notice id is never acted on again.
    accepted.add(id);
    stats.byType[notice.type] = (stats.byType[notice.type] ?? 0) + 1;
    received.push({ ...notice, receivedAt: new Date().toISOString() });
    log(`${o.org.padEnd(14)} ${notice.type.padEnd(20)} case ${notice.caseId}${notice.taskId ? ` task ${notice.taskId}` : ''}`);
    answer(res, status, { received: true });
    act(o, notice);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log(`simulator error: ${(err as Error).message}`);
      if (!res.headersSent) answer(res, 500, { error: 'simulator error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  try {
    for (const [org, def] of Object.entries(opts.orgs)) {
      // The principal first: once the webhook is registered notices may arrive, and acting on them needs the token.
      const principal = await admin.createPrincipal({ name: `${org} partner system (simulator)`, org, roles: ['partner'] });
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      orgs.set(org, {
        org,
        rand: seededRandom(orgSeed(seed, org)),
        kind: def.kind,
        secret,
        webhook: new Webhook(secret),
        token: principal.token,
        api: admin.withToken(principal.token),
        behaviour: { ...(def.behaviour ?? {}) },
      });
      await admin.putPartner(org, { kind: def.kind, webhookUrl: `${url}/hooks/${encodeURIComponent(org)}`, secret, name: `${org} (simulator)` });
      log(`registered ${org} (${def.kind}) → ${url}/hooks/${org}`);
    }
  } catch (err) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    throw err;
  }

  return {
    url,
    stats: () => structuredClone(stats),
    actedOn: () => new Map(acted),
    notices: () => received.slice(),
    setBehaviour(org, b) {
      const o = orgs.get(org);
      if (!o) throw new Error(`unknown org ${org}`);
      o.behaviour = { ...b };
    },
    async idle() {
      while (pending.size > 0 || inFlight.size > 0) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      stopping.abort(new Error('simulator stopped'));
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
      for (const t of hanging) clearTimeout(t);
      hanging.clear();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
