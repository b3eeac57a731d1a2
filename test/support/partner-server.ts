// A local webhook receiver for tests: verifies Standard Webhooks signatures and answers with scripted statuses per org.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type pg from 'pg';

export interface ReceivedNotice {
  org: string;
  id: string;
  type: string;
  caseId: string;
  taskId: string | null;
  document: Record<string, unknown>;
  verified: boolean;
  status: number;
  idempotencyKey: string | undefined;
}

/** A status, answered with a small JSON body; or a status with the body to answer it with. */
export type Reply = number | { status: number; body: string | Buffer };

export interface PartnerServer {
  url(org: string): string;
  secret: string;
  received: ReceivedNotice[];
  /** Statuses (or statuses with a body of their own) to answer for an org, consumed one per request; afterwards 200. */
  script(org: string, replies: Reply[]): void;
  register(pool: pg.Pool, orgs: Record<string, string>): Promise<void>;
  waitFor(pred: (n: ReceivedNotice) => boolean, timeoutMs?: number): Promise<ReceivedNotice>;
  close(): Promise<void>;
}

export async function startPartnerServer(): Promise<PartnerServer> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const wh = new Webhook(secret);
  const received: ReceivedNotice[] = [];
  const scripts = new Map<string, Reply[]>();
  const server = http.createServer((req, res) => {
    // /moved/<name> stands for a merchant's page that now redirects to /hooks/<name> (a host's "suspended" page, say).
    const moved = /^\/moved\/([^/?]+)$/.exec(req.url ?? '');
    if (moved) return void res.writeHead(302, { location: `/hooks/${moved[1]}` }).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const org = decodeURIComponent((req.url ?? '/').split('/')[2] ?? '');
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      let payload: Record<string, unknown> = {};
      try {
        payload = wh.verify(body, req.headers as Record<string, string>) as Record<string, unknown>;
        verified = true;
      } catch {
        try {
          payload = JSON.parse(body);
        } catch {
          payload = {};
        }
      }
      const reply = scripts.get(org)?.shift() ?? 200;
      const status = typeof reply === 'number' ? reply : reply.status;
      received.push({
        org,
        id: String(payload.id ?? ''),
        type: String(payload.type ?? ''),
        caseId: String(payload.caseId ?? ''),
        taskId: (payload.taskId as string | null) ?? null,
        document: (payload.document as Record<string, unknown>) ?? {},
        verified,
        status,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      });
      if (typeof reply !== 'number') return void res.writeHead(status, { 'content-type': 'application/octet-stream' }).end(reply.body);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: status < 300 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (org) => `http://127.0.0.1:${port}/hooks/${org}`,
    secret,
    received,
    script: (org, replies) => scripts.set(org, [...replies]),
    register: async (pool, orgs) => {
      for (const [org, kind] of Object.entries(orgs)) {
        await pool.query(
          `INSERT INTO partners (org, kind, webhook_url, secret) VALUES ($1,$2,$3,$4)
           ON CONFLICT (org) DO UPDATE SET kind = EXCLUDED.kind, webhook_url = EXCLUDED.webhook_url, secret = EXCLUDED.secret`,
          [org, kind, `http://127.0.0.1:${port}/hooks/${org}`, secret],
        );
      }
    },
    waitFor: async (pred, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = received.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no matching notice; received: ${JSON.stringify(received.map((n) => [n.org, n.type, n.status]))}`);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const PARTNER_ORGS = { visa: 'card_scheme', paypal: 'payment_provider', 'acq-northbank': 'acquirer', 'host-example': 'hosting_provider' };

export interface SilentServer {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** Each request's headers, in the order they came. */
  requests: http.IncomingHttpHeaders[];
  /** Drops the requests still hanging and stops listening. */
  close(): Promise<void>;
}

/** A host that takes requests and never answers them: for timeouts, and for requests that only a cancellation ends. */
export async function startSilentServer(): Promise<SilentServer> {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req) => void requests.push(req.headers));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
