// Fuzzing every endpoint with malformed bodies, headers and paths: never a 5xx, never a hang, and the process stays up.
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../domain/types';
import { startApi, type ApiHarness, type RequestOptions } from '../support/api-harness';
import { caseBody, waitForInboxTask } from '../support/api-fixtures';
import { startWorkflowStack, type WorkflowStack } from '../support/stack';
import { presentEnv } from '../../scripts/config';
import { seededRandom } from '../../scripts/lib/partner-simulator';

let stack: WorkflowStack;
let api: ApiHarness;
let tokens: string[] = [];
let caseId: string;
let taskId: string;

// A seeded PRNG (mulberry32): a failure names its seed and replays exactly.
const SEED = Number(process.env.FUZZ_SEED ?? 0x7a3d1);
const rand = seededRandom(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const WEIRD_STRINGS = [
  '',
  ' ',
  'a'.repeat(5000),
  'x'.repeat(70_000),
  '\u0000',
  'nul\u0000inside',
  '\ud800',
  'lone\udc00low',
  '😀'.repeat(100),
  '<script>alert(1)</script>',
  "'; DROP TABLE cases; --",
  '../../etc/passwd',
  '%00',
  '\u202e\u200b',
  'https://',
  'http://[::1]:99999/',
  'javascript:alert(1)',
  '1e400',
  'null',
  'true',
  '2026-13-45T99:99:99Z',
  'case_aaaaaaaaaaaaaaaaaaaaaaaaaa',
  'tsk_00000000000000000000000000000000',
  '__proto__',
  'constructor',
];
const WEIRD_NUMBERS = [0, -0, -1, 1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.MIN_VALUE, 999999999999];

function randomJson(depth = 0): unknown {
  const r = int(depth > 4 ? 6 : 10);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return pick(WEIRD_NUMBERS);
    case 3:
    case 4:
      return pick(WEIRD_STRINGS);
    case 5:
      return String.fromCharCode(...Array.from({ length: int(40) }, () => int(0xffff)));
    case 6:
    case 7:
      return Array.from({ length: int(5) }, () => randomJson(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(6); i > 0; i--) o[pick([...WEIRD_STRINGS.slice(0, 12), 'reference', 'merchant', 'outcome', 'data', 'roles', 'org', 'kind', 'urls', 'evidence', 'reason'])] = randomJson(depth + 1);
      return o;
    }
  }
}

/** A valid body with one part replaced by junk: reaches deep validation paths. */
function mutate(valid: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(valid));
  const paths: Array<[Record<string, unknown>, string]> = [];
  const walk = (v: unknown) => {
    if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        paths.push([v as Record<string, unknown>, k]);
        walk((v as Record<string, unknown>)[k]);
      }
    }
  };
  walk(copy);
  for (let i = 1 + int(3); i > 0 && paths.length; i--) {
    const [obj, key] = pick(paths);
    const r = int(4);
    if (r === 0) delete obj[key];
    else if (r === 1) obj[key] = randomJson(3);
    else if (r === 2) obj[pick(['extra', '__proto__', 'constructor', key + '_'])] = randomJson(4);
    else obj[key] = pick(WEIRD_STRINGS);
  }
  return copy;
}

const deepNest = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);

function rawBodies(): Array<Buffer | string> {
  return [
    Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x80]),
    Buffer.concat([Buffer.from('{"reference":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}')]),
    Buffer.from('\ufeff{"outcome":"verified"}', 'utf8'),
    '{"a":1,}',
    '{"a":',
    'nul\u0000',
    '[]',
    '"just a string"',
    '12345',
    'null',
    deepNest(50_000, '[', ']'),
    deepNest(20_000, '{"a":', '}').replace(/}$/, '1}'),
    `{"data":${deepNest(40, '{"x":', '}').replace('}', '1}')}}`,
    `{"outcome":"terminated","data":${'{"d":'.repeat(30)}1${'}'.repeat(30)}}`,
    '{"__proto__":{"isAdmin":true},"outcome":"verified"}',
    '{"constructor":{"prototype":{"x":1}}}',
    `{"reference":"${'x'.repeat(900_000)}"}`,
    '{"outcome":"frozen","data":{"amount":1e400,"currency":"EUR"}}',
    '[-1e999]',
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xe2, 0x82]), Buffer.from('","org":"ceop","roles":["analyst"]}')]),
  ];
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=koi8-r',
  'application/problem+json',
  'application/merge-patch+json',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  ';;;',
  'application/json; charset="',
  'APPLICATION/JSON',
];

interface Target {
  method: string;
  path: () => string;
  valid?: () => unknown;
}

const ids = () => pick([caseId, taskId, 'case_', 'case_zzzzzzzzzzzzzzzzzzzzzzzzzz', '..', '%2e%2e', '%00', '%ff%fe', '%', '%zz', 'a'.repeat(3000), '😀', '%F0%9F%98%80', 'tsk_1;DROP', "'", '%27%20OR%201=1']);
const query = () =>
  pick([
    '',
    '?limit=-1',
    '?limit=1e9',
    '?limit=abc',
    '?limit=1&limit=2',
    '?cursor=%00',
    '?cursor=eyJh',
    `?cursor=${Buffer.from('["2026-01-01T00:00:00Z","\\u0000"]').toString('base64url')}`,
    `?cursor=${Buffer.from('{"__proto__":1}').toString('base64url')}`,
    `?cursor=${'A'.repeat(500)}`,
    '?status=open&status=completed',
    '?status[]=open',
    '?status[$ne]=x',
    '?reference=%00',
    '?reference=%ud800',
    '?merchantId=' + 'x'.repeat(300),
    '?caseId=%27%3B',
    '?type=verify_evidence&type=x',
    '?from=2026-01-01T00:00:00Z&to=not-a-date',
    '?from=9999-99-99',
    '?__proto__[x]=1',
    '?a=%E0%A4%A',
    '?limit=0x10',
    '?limit=%20%205',
    '?limit=2e0',
    `?cursor=${Buffer.from('["2026-02-31T00:00:00.000Z","case_x"]').toString('base64url')}`,
    '?from=2026-02-31T00:00:00Z',
    '?to=0000-01-01T00:00:00Z',
  ]);

const targets: Target[] = [
  { method: 'POST', path: () => '/v1/principals', valid: () => ({ name: 'n', org: 'ceop', roles: ['analyst'] }) },
  { method: 'GET', path: () => `/v1/principals${query()}` },
  { method: 'GET', path: () => `/v1/principals/${ids()}` },
  { method: 'DELETE', path: () => `/v1/principals/${ids()}` },
  { method: 'GET', path: () => `/v1/partners${query()}` },
  { method: 'PUT', path: () => `/v1/partners/${pick(['visa', 'VISA', '-x', ids()])}`, valid: () => ({ kind: 'card_scheme', webhookUrl: 'https://v.example.test/h', secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` }) },
  { method: 'POST', path: () => '/v1/cases', valid: () => caseBody() },
  { method: 'GET', path: () => `/v1/cases${query()}` },
  { method: 'GET', path: () => `/v1/cases/${ids()}` },
  { method: 'POST', path: () => `/v1/cases/${ids()}/withdraw`, valid: () => ({ reason: 'fuzz' }) },
  { method: 'POST', path: () => `/v1/cases/${ids()}/evidence`, valid: () => ({ urls: ['https://fuzz.example.test/a'] }) },
  { method: 'GET', path: () => `/v1/tasks${query()}` },
  { method: 'GET', path: () => `/v1/tasks/${ids()}` },
  { method: 'POST', path: () => `/v1/tasks/${ids()}/complete`, valid: () => ({ outcome: pick(['verified', 'rejected', 'terminated']), data: { terminatedAt: '2026-01-01T00:00:00Z' }, comment: 'c' }) },
  { method: 'GET', path: () => `/v1/cases/${ids()}/audit` },
  { method: 'GET', path: () => `/v1/cases/${ids()}/audit/verify` },
  { method: 'GET', path: () => `/v1/cases/${ids()}/history` },
  { method: 'GET', path: () => `/v1/audit/export${query()}` },
  { method: 'GET', path: () => `/v1/audit/heads${query()}` },
  { method: 'POST', path: () => '/v1/audit/heads/check', valid: () => ({ heads: [{ caseId: ids(), seq: 1, hash: 'a'.repeat(64) }] }) },
  { method: 'GET', path: () => `/metrics${query()}` },
  { method: 'GET', path: () => `/healthz${query()}` },
  { method: 'GET', path: () => `/openapi.json${query()}` },
  { method: pick(['PATCH', 'OPTIONS', 'PUT', 'DELETE']), path: () => pick(['/v1/cases', '/v1/tasks', `/v1/cases/${ids()}`, '/healthz', '/v1/unknown', '/', '//v1//cases', '/v1/cases/', '/v1/cases?']) },
];

function randomRequest(): { method: string; path: string; opts: RequestOptions } {
  const t = pick(targets);
  const method = rand() < 0.08 ? pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) : t.method;
  const headers: Record<string, string> = {};
  const opts: RequestOptions = { headers, token: rand() < 0.9 ? pick(tokens) : pick([null, 'tdk_short', `tdk_${'A'.repeat(43)}`, 'x'.repeat(5000), `${pick(tokens)} extra`]) };
  const r = rand();
  if (r < 0.3 && t.valid) opts.body = mutate(t.valid());
  else if (r < 0.5) opts.body = randomJson();
  else if (r < 0.62) {
    opts.raw = pick(rawBodies());
    headers['Content-Type'] = 'application/json';
  } else if (r < 0.72) {
    opts.raw = JSON.stringify(t.valid ? t.valid() : randomJson());
    headers['Content-Type'] = pick(CONTENT_TYPES);
  } else if (r < 0.76) {
    opts.raw = rand() < 0.5 ? gzipSync(JSON.stringify(t.valid ? t.valid() : {})) : Buffer.from('not gzip at all');
    headers['Content-Type'] = 'application/json';
    headers['Content-Encoding'] = pick(['gzip', 'deflate', 'br', 'identity', 'bogus']);
  }
  if (rand() < 0.2) headers['Idempotency-Key'] = pick(['k1', '"quoted"', '""', ' ', 'x'.repeat(400), '\t', 'ok-key-' + int(5)]);
  if (rand() < 0.1) headers['X-Request-Id'] = pick(['', 'x'.repeat(500), '../../', 'ok-id']);
  if (rand() < 0.05) headers.Accept = pick(['text/html', '*/*', 'application/xml']);
  return { method, path: t.path(), opts };
}

beforeAll(async () => {
  stack = await startWorkflowStack('api-fuzz');
  api = await startApi('api-fuzz', { db: stack.db, client: stack.client, taskQueue: stack.taskQueue });
  const roles: Array<[string, Role[]]> = [
    ['ceop', ['case_lead']],
    ['ceop', ['analyst']],
    ['ceop', ['le_officer', 'le_supervisor']],
    ['oversight', ['auditor']],
    ['visa', ['partner']],
  ];
  tokens = [api.adminToken, ...(await Promise.all(roles.map(([org, r]) => api.principal(org, r)))).map((p) => p.token)];
  const c = await api.request('POST', '/v1/cases', { token: tokens[1], body: caseBody() });
  expect(c.status, c.text).toBe(201);
  caseId = c.body.id;
  taskId = (await waitForInboxTask(api, tokens[2], caseId, 'verify_evidence')).id;
});
afterAll(async () => {
  await api?.stop();
  await stack?.stop();
});

/** Writes raw bytes on a socket (what no HTTP client would send) and reads the status line, if any. */
function rawSocket(port: number, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : null);
    };
    sock.setTimeout(5_000, done);
    sock.on('data', (c) => {
      data += c.toString('latin1');
      if (data.includes('\r\n\r\n')) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(bytes);
  });
}

describe('fuzz', () => {
  it(`answers thousands of malformed requests without a 5xx (seed ${SEED})`, async () => {
    const N = Number(presentEnv().FUZZ_N ?? 3000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next += 1;
        const { method, path, opts } = randomRequest();
        let status: number;
        try {
          const res = await api.request(method, path, { ...opts, timeoutMs: 20_000 });
          status = res.status;
          if (status >= 500) failures.push(`${method} ${path} ${JSON.stringify(opts).slice(0, 300)} -> ${status} ${res.text.slice(0, 300)}`);
          if (status >= 400 && method !== 'HEAD' && !/problem\+json/.test(String(res.headers['content-type']))) {
            failures.push(`${method} ${path} -> ${status} without problem+json (${res.headers['content-type']})`);
          }
          if (/\bat .+\.(ts|js):\d+/.test(res.text)) failures.push(`${method} ${path} leaked a stack`);
          if (status === 401 && res.headers['www-authenticate'] !== 'Bearer') failures.push(`${method} ${path} -> 401 without WWW-Authenticate: Bearer`);
          if (status === 400 && method !== 'HEAD' && res.body?.title !== 'Bad request') failures.push(`${method} ${path} -> 400 titled ${JSON.stringify(res.body?.title)}`);
        } catch (err) {
          // Node's client refuses some requests before sending (e.g. invalid header characters); the server never saw them.
          if (/Invalid character|unescaped characters|Invalid value/.test(String((err as Error).message))) continue;
          failures.push(`${method} ${path} ${JSON.stringify(opts).slice(0, 300)} -> transport error ${(err as Error).message}`);
          status = -1;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    if (process.env.FUZZ_STATS) console.log(JSON.stringify([...statuses].sort((a, b) => a[0] - b[0])));
    expect(failures.slice(0, 20)).toEqual([]);
    // The fuzz reached more than the front door.
    for (const s of [200, 400, 401, 403, 404, 422]) expect(statuses.get(s) ?? 0, `status ${s} seen`).toBeGreaterThan(0);
  }, 300_000);

  it('survives broken HTTP on the wire', async () => {
    const broken = [
      Buffer.from('GET /v1/cases/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'),
      Buffer.from(`GET /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(20_000)}\r\n\r\n`),
      Buffer.from('POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n{}'),
      Buffer.from('POST /v1/cases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n'),
      Buffer.from('POST /v1/principals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'),
      Buffer.from('BREW /coffee HTCPCP/1.0\r\n\r\n'),
      Buffer.from('\x00\x01\x02\x03\r\n\r\n', 'latin1'),
    ];
    // Each is answered with a 4xx (Node's parser answers the malformed ones; a body that never ends is refused for its
    // missing token before it is read), never a 5xx, a hang or a closed connection.
    for (const b of broken) {
      const status = await rawSocket(api.port, b);
      expect(status, b.toString('latin1').slice(0, 60)).toBeGreaterThanOrEqual(400);
      expect(status, b.toString('latin1').slice(0, 60)).toBeLessThan(500);
    }
  });

  it('is still up and serving correctly afterwards', async () => {
    const health = await api.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    const created = await api.request('POST', '/v1/cases', { token: tokens[1], body: caseBody() });
    expect(created.status).toBe(201);
    expect((await api.request('GET', `/v1/cases/${created.body.id}`, { token: tokens[1] })).status).toBe(200);
  });
});
