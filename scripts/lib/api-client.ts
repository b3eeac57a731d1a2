// A small typed HTTP client for the public contract (v1): bearer auth, problem+json errors, Idempotency-Key, retries on 5xx/network.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { CaseInputSchema } from '../../domain/schemas';
import type { AuditEntry, CaseStatus, CaseView, PartnerKind, Role, Task, TaskStatus, TaskType } from '../../domain/types';

/** The body of `POST /v1/cases` as a client writes it (defaults such as `plan` may be left out). */
export type NewCase = z.input<typeof CaseInputSchema>;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Record<string, string>;
}

/** A non-2xx answer (after retries), with the problem+json body when there is one. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly problem: Problem | undefined,
    readonly body: string,
  ) {
    super(`${method} ${path} → ${status}${problem ? ` ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}` : body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  token?: string;
  /** Further attempts after a 5xx, 429 or network error (default 4). */
  retries?: number;
  /** First backoff interval; doubles each retry, with jitter (default 250 ms). */
  retryBaseMs?: number;
  /** Per attempt (default 30 s). */
  timeoutMs?: number;
  /** Aborts every request of this client (used to stop the simulator promptly). */
  signal?: AbortSignal;
}

export interface RequestOptions {
  body?: unknown;
  /** Reused across retries. POSTs get a fresh one when none is given, so a retried POST is never applied twice. */
  idempotencyKey?: string;
  query?: Record<string, string | number | undefined>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Health {
  status: string;
  db: string;
  temporal: string;
}

export interface Principal {
  id: string;
  name: string;
  org: string;
  roles: Role[];
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
}

export interface Partner {
  org: string;
  kind: PartnerKind;
  name: string | null;
  webhookUrl: string | null;
  hasSecret: boolean;
  updatedAt: string;
}

export interface AuditVerification {
  intact: boolean;
  entries: number;
  head: string;
  firstBadSeq: number | null;
}

export type CaseRead = CaseView & { temporalUrl?: string };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    // The listener goes when the wait ends: a long-lived signal (a simulator's stop) must not collect one per retry.
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export class TakedownClient {
  readonly baseUrl: string;
  private readonly opts: ApiClientOptions;

  constructor(opts: ApiClientOptions) {
    this.opts = opts;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
  }

  /** The same client acting as another principal. */
  withToken(token: string): TakedownClient {
    return new TakedownClient({ ...this.opts, token });
  }

  async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const retries = this.opts.retries ?? 4;
    const base = this.opts.retryBaseMs ?? 250;
    const key = ro.idempotencyKey ?? (method === 'POST' ? randomUUID() : undefined);
    const qs = ro.query
      ? Object.entries(ro.query)
          .filter(([, v]) => v !== undefined && v !== '')
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&')
      : '';
    const url = `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (key) headers['idempotency-key'] = key;
    if (ro.body !== undefined) headers['content-type'] = 'application/json';
    const payload = ro.body !== undefined ? JSON.stringify(ro.body) : undefined;

    for (let attempt = 0; ; attempt++) {
      const backoff = () => base * 2 ** attempt * (0.75 + Math.random() / 2);
      const signals = [AbortSignal.timeout(this.opts.timeoutMs ?? 30_000)];
      if (this.opts.signal) signals.push(this.opts.signal);
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.any(signals) });
      } catch (err) {
        if (this.opts.signal?.aborted || attempt >= retries) throw err;
        await sleep(backoff(), this.opts.signal);
        continue;
      }
      const text = await res.text();
      if (res.ok) {
        const body = (text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text) as T;
        return { status: res.status, body, headers: res.headers };
      }
      if (isRetryableStatus(res.status) && attempt < retries) {
        const retryAfter = Number(res.headers.get('retry-after'));
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : backoff(), this.opts.signal);
        continue;
      }
      let problem: Problem | undefined;
      try {
        problem = /json/.test(res.headers.get('content-type') ?? '') ? (JSON.parse(text) as Problem) : undefined;
      } catch {
        problem = undefined;
      }
      throw new ApiError(method, path, res.status, problem, text);
    }
  }

  private async get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return (await this.request<T>('GET', path, { query })).body;
  }

  private async send<T>(method: 'POST' | 'PUT', path: string, body: unknown, idempotencyKey?: string): Promise<T> {
    return (await this.request<T>(method, path, { body, idempotencyKey })).body;
  }

  /** `GET /healthz`; a 503 is an answer here (the body says what is down), not an error. */
  async health(): Promise<{ ok: boolean; body: Health | undefined }> {
    const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5_000) });
    const body = (await res.json().catch(() => undefined)) as Health | undefined;
    return { ok: res.status === 200 && body?.status === 'ok', body };
  }

  // Principals and partners (admin)
  createPrincipal(body: { name: string; org: string; roles: Role[] }): Promise<Principal & { token: string }> {
    return this.send('POST', '/v1/principals', body);
  }
  async listPrincipals(): Promise<Principal[]> {
    return (await this.get<{ items: Principal[] }>('/v1/principals')).items;
  }
  async revokePrincipal(id: string): Promise<void> {
    await this.request('DELETE', `/v1/principals/${encodeURIComponent(id)}`);
  }
  putPartner(org: string, body: { kind: PartnerKind; webhookUrl?: string; secret?: string; name?: string }): Promise<Partner> {
    return this.send('PUT', `/v1/partners/${encodeURIComponent(org)}`, body);
  }
  async listPartners(): Promise<Partner[]> {
    return (await this.get<{ items: Partner[] }>('/v1/partners')).items;
  }

  // Cases
  createCase(body: NewCase, idempotencyKey?: string): Promise<CaseView> {
    return this.send('POST', '/v1/cases', body, idempotencyKey);
  }
  getCase(id: string): Promise<CaseRead> {
    return this.get(`/v1/cases/${encodeURIComponent(id)}`);
  }
  listCases(query: { status?: CaseStatus; reference?: string; merchantId?: string; limit?: number; cursor?: string } = {}): Promise<Page<CaseView>> {
    return this.get('/v1/cases', query);
  }
  withdrawCase(id: string, reason: string, idempotencyKey?: string): Promise<CaseView> {
    return this.send('POST', `/v1/cases/${encodeURIComponent(id)}/withdraw`, { reason }, idempotencyKey);
  }
  addEvidence(id: string, body: { evidence?: unknown[]; urls?: string[] }, idempotencyKey?: string): Promise<CaseView> {
    return this.send('POST', `/v1/cases/${encodeURIComponent(id)}/evidence`, body, idempotencyKey);
  }

  // Tasks
  listTasks(query: { status?: TaskStatus; caseId?: string; type?: TaskType; limit?: number; cursor?: string } = {}): Promise<Page<Task>> {
    return this.get('/v1/tasks', query);
  }
  getTask(id: string): Promise<Task> {
    return this.get(`/v1/tasks/${encodeURIComponent(id)}`);
  }
  /** Pass a stable `idempotencyKey` (e.g. derived from the notice id) so a retry after a lost answer completes once. */
  completeTask(id: string, body: { outcome: string; data?: Record<string, unknown>; comment?: string }, idempotencyKey?: string): Promise<Task> {
    return this.send('POST', `/v1/tasks/${encodeURIComponent(id)}/complete`, body, idempotencyKey);
  }

  // Audit
  caseAudit(id: string): Promise<{ caseId: string; entries: AuditEntry[] }> {
    return this.get(`/v1/cases/${encodeURIComponent(id)}/audit`);
  }
  verifyAudit(id: string): Promise<AuditVerification> {
    return this.get(`/v1/cases/${encodeURIComponent(id)}/audit/verify`);
  }
  caseHistory(id: string): Promise<{ caseId: string; workflowId: string; source: 'archive' | 'temporal'; runs: unknown[] }> {
    return this.get(`/v1/cases/${encodeURIComponent(id)}/history`);
  }
}

/** 409: the task is no longer open (completed, cancelled, or its case closed or withdrawn). */
export function isNoLongerOpen(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}
