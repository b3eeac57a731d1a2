// Test harness for the HTTP API: the app on port 0 against a fresh database and the shared Temporal, optionally with a worker.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { pino, type Logger } from 'pino';
import { inject } from 'vitest';
import { createApp } from '../../api/app';
import { namesPrivateHost } from '../../activities/url-checks';
import { PrincipalCache } from '../../api/principal-cache';
import type { Role } from '../../domain/types';
import { expressServerOptions } from '../../scripts/lib/http-server';
import { openApiMismatch } from './openapi-check';
import { freshDatabase, type TestDb } from './db';

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // Parsed body when it is JSON; undefined otherwise.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as is (overrides `body`). */
  raw?: Buffer | string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ApiHarness {
  url: string;
  port: number;
  adminToken: string;
  db: TestDb;
  client: Client;
  taskQueue: string;
  server: http.Server;
  /** The API's principal cache (api/principal-cache.ts). */
  principals: PrincipalCache;
  request(method: string, path: string, opts?: RequestOptions): Promise<ApiResponse>;
  principal(org: string, roles: Role[], name?: string): Promise<{ id: string; token: string; org: string; roles: Role[] }>;
  stop(): Promise<void>;
}

export function rawRequest(port: number, method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let payload: Buffer | undefined;
    if (opts.raw !== undefined) payload = Buffer.isBuffer(opts.raw) ? opts.raw : Buffer.from(opts.raw, 'utf8');
    else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body), 'utf8');
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
    if (payload && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
      headers['Content-Length'] = String(payload.length);
    }
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (/json/.test(String(res.headers['content-type'] ?? ''))) {
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * Starts the API. With `taskQueue` (from test/support/stack.ts) the app starts workflows there; without it, a queue no worker
 * polls, which suffices for everything that does not need a workflow.
 */
export async function startApi(
  label: string,
  opts: {
    db?: TestDb;
    client?: Client;
    taskQueue?: string;
    rateLimitPerMinute?: number;
    authFailuresPerMinute?: number;
    metricsPublic?: boolean;
    refusePrivateWebhooks?: boolean;
    httpsWebhooksOnly?: boolean;
    trustProxy?: false | number | string[];
    /** The inbox cache's size (api/inbox-cache.ts); unset: the default, as in production; 0: none. */
    inboxCacheMb?: number;
    /** Where the API logs (silent unless API_TEST_LOGS is set). */
    logger?: Logger;
    /** An admin token being replaced, taken beside the harness's own (TAKEDOWN_ADMIN_TOKEN_PREVIOUS). */
    previousAdminToken?: string;
  } = {},
): Promise<ApiHarness> {
  const db = opts.db ?? (await freshDatabase(label));
  const ownConnection = opts.client ? undefined : await Connection.connect({ address: inject('temporalAddress') });
  const client = opts.client ?? new Client({ connection: ownConnection!, namespace: 'default' });
  const taskQueue = opts.taskQueue ?? `tq-api-${label}-${randomBytes(4).toString('hex')}`;
  const adminToken = `test-admin-${randomBytes(16).toString('hex')}`;
  // As in production (scripts/lib/system.ts): principals remembered while PostgreSQL notifies changes.
  const principals = await PrincipalCache.forPool(db.pool);
  const app = createApp({
    pool: db.pool,
    db: db.db,
    temporal: client,
    taskQueue,
    namespace: 'default',
    adminToken,
    logger: opts.logger ?? pino({ level: process.env.API_TEST_LOGS ? 'debug' : 'silent' }),
    temporalUiUrl: 'http://temporal-ui.test',
    ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
    ...(opts.authFailuresPerMinute !== undefined ? { authFailuresPerMinute: opts.authFailuresPerMinute } : {}),
    ...(opts.metricsPublic ? { metricsPublic: true } : {}),
    ...(opts.refusePrivateWebhooks ? { refusesWebhook: namesPrivateHost } : {}),
    ...(opts.httpsWebhooksOnly ? { httpsWebhooksOnly: true } : {}),
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
    ...(opts.inboxCacheMb !== undefined ? { inboxCacheMb: opts.inboxCacheMb } : {}),
    ...(opts.previousAdminToken ? { previousAdminToken: opts.previousAdminToken } : {}),
    principals,
  });
  // As serveHttp makes the product's server: requests and responses born with Express's prototypes.
  const server = http.createServer(expressServerOptions(app), app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // Every answer is checked against the served OpenAPI document (test/support/openapi-check.ts).
  const request = async (method: string, path: string, o: RequestOptions = {}) => {
    const res = await rawRequest(port, method, path, o);
    const mismatch = openApiMismatch(method, path, res.status, res.headers['content-type'] as string | undefined, res.body);
    if (mismatch) {
      if (process.env.OPENAPI_MISMATCH_LOG) appendFileSync(process.env.OPENAPI_MISMATCH_LOG, `${mismatch}\n`);
      else throw new Error(`OpenAPI document mismatch: ${mismatch}`);
    }
    return res;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    adminToken,
    db,
    client,
    taskQueue,
    server,
    principals,
    request,
    async principal(org, roles, name = `${org} ${roles.join('+')}`) {
      const res = await request('POST', '/v1/principals', { token: adminToken, body: { name, org, roles } });
      if (res.status !== 201) throw new Error(`creating principal failed: ${res.status} ${res.text}`);
      return { id: res.body.id, token: res.body.token, org, roles };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await principals.close();
      if (ownConnection) await ownConnection.close();
      if (!opts.db) await db.close();
    },
  };
}
