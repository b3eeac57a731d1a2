// The API's edges without workflows: auth and revocation, principals, partners, problem+json errors, body limits, health, OpenAPI, metrics.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startApi, type ApiHarness } from '../support/api-harness';
import { caseBody } from '../support/api-fixtures';
import { appendAudit } from '../../db/queries/audit';
import { MAX_RETIRED_SECRETS } from '../../api/routes/partners';

let api: ApiHarness;

beforeAll(async () => {
  api = await startApi('basics');
});
afterAll(async () => {
  await api?.stop();
});

const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

describe('authentication', () => {
  it('answers 401 problem+json without a token, with a malformed one, or an unknown one', async () => {
    for (const token of [null, 'nope', `tdk_${'a'.repeat(40)}`]) {
      const res = await api.request('GET', '/v1/principals', { token });
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 401, type: expect.stringContaining('unauthorized'), title: expect.any(String), detail: expect.any(String) });
      expect(res.headers['www-authenticate'], String(token)).toBe('Bearer');
    }
    const basic = await api.request('GET', '/v1/principals', { headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
    expect(basic.status).toBe(401);
    expect(basic.headers['www-authenticate']).toBe('Bearer');
    // /metrics asks for a token the same way; answers other than 401 carry no challenge.
    expect((await api.request('GET', '/metrics')).headers['www-authenticate']).toBe('Bearer');
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).headers['www-authenticate']).toBeUndefined();
  });

  it('issues tdk_ tokens stored only as hashes, and revocation takes effect at once', async () => {
    const created = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name: 'Lead', org: 'ceop', roles: ['case_lead'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'Lead', org: 'ceop', roles: ['case_lead'] });
    expect(created.body.token).toMatch(/^tdk_[A-Za-z0-9_-]{32,}$/);
    const { rows } = await api.db.pool.query('SELECT token_hash FROM principals WHERE id = $1', [created.body.id]);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].token_hash).not.toContain(created.body.token);

    const ok = await api.request('GET', '/v1/tasks', { token: created.body.token });
    expect(ok.status).toBe(200);

    const listed = await api.request('GET', '/v1/principals', { token: api.adminToken });
    expect(listed.status).toBe(200);
    const mine = listed.body.items.find((p: { id: string }) => p.id === created.body.id);
    expect(mine).toMatchObject({ name: 'Lead', revokedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(JSON.stringify(listed.body)).not.toContain(rows[0].token_hash);

    const del = await api.request('DELETE', `/v1/principals/${created.body.id}`, { token: api.adminToken });
    expect(del.status).toBe(204);
    const after = await api.request('GET', '/v1/tasks', { token: created.body.token });
    expect(after.status).toBe(401);
    expect((await api.request('DELETE', `/v1/principals/${created.body.id}`, { token: api.adminToken })).status).toBe(204);
    expect((await api.request('DELETE', '/v1/principals/prn_unknown', { token: api.adminToken })).status).toBe(404);
    expect((await api.request('GET', '/v1/principals/prn_unknown', { token: api.adminToken })).status).toBe(404);
  });

  it('keeps principal and partner administration to the admin (an auditor only reads a principal by id, to name actors)', async () => {
    const lead = await api.principal('ceop', ['case_lead', 'auditor']);
    for (const [method, path, body, status] of [
      ['GET', '/v1/principals', undefined, 403],
      ['GET', `/v1/principals/${lead.id}`, undefined, 200],
      ['POST', '/v1/principals', { name: 'x', org: 'ceop', roles: ['admin'] }, 403],
      ['DELETE', `/v1/principals/${lead.id}`, undefined, 403],
      ['GET', '/v1/partners', undefined, 403],
      ['PUT', '/v1/partners/visa', { kind: 'card_scheme' }, 403],
    ] as const) {
      const res = await api.request(method, path, { token: lead.token, body });
      expect(res.status, `${method} ${path}`).toBe(status);
    }
    const lead2 = await api.principal('ceop', ['case_lead']);
    expect((await api.request('GET', '/v1/principals', { token: lead2.token })).status).toBe(403);
    expect((await api.request('GET', `/v1/principals/${lead.id}`, { token: lead2.token })).status).toBe(403);
  });

  it('validates principal bodies field by field', async () => {
    const res = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name: '', org: 'Not An Org', roles: ['wizard'], extra: 1 } });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors)).toEqual(expect.arrayContaining(['name', 'org', 'roles.0', 'extra']));
  });
});

describe('partners', () => {
  it('keeps a replaced secret signing beside the new one for the overlap, and says until when', async () => {
    const [first, second, third] = [secret(), secret(), secret()];
    const put = (s: string) => api.request('PUT', '/v1/partners/rotating', { token: api.adminToken, body: { kind: 'acquirer', webhookUrl: 'https://rotating.example.test/hook', secret: s } });
    const retired = async () =>
      ((await api.db.pool.query("SELECT retired_secrets FROM partners WHERE org = 'rotating'")).rows[0].retired_secrets as { secret: string; until: string }[]).map((r) => r.secret);
    expect((await put(first)).body.previousSecretUntil).toBeNull();
    const started = Date.now();
    const rotated = await put(second);
    expect(rotated.status).toBe(200);
    // A day by default (TAKEDOWN_SECRET_OVERLAP).
    const until = Date.parse(rotated.body.previousSecretUntil);
    expect(until - started).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(until - started).toBeLessThan(24 * 3600_000 + 60_000);
    expect(await retired()).toEqual([first]);
    // The same secret again changes nothing.
    expect((await put(second)).body.previousSecretUntil).toBe(rotated.body.previousSecretUntil);
    expect(await retired()).toEqual([first]);
    // Another change within the overlap: the first secret keeps signing beside the second, newest first.
    await put(third);
    expect(await retired()).toEqual([second, first]);
    // Back to the first secret: it is the current one, no longer among the replaced.
    await put(first);
    expect(await retired()).toEqual([third, second]);
    const listed = await api.request('GET', '/v1/partners', { token: api.adminToken });
    expect(listed.body.items.find((p: { org: string }) => p.org === 'rotating').previousSecretUntil).toEqual(expect.any(String));
    expect(listed.text).not.toContain('whsec_');
  });

  it(`keeps at most ${MAX_RETIRED_SECRETS} replaced secrets signing, the newest, however often the secret changes within the overlap`, async () => {
    const secrets = Array.from({ length: MAX_RETIRED_SECRETS + 3 }, () => secret());
    for (const s of secrets) {
      const res = await api.request('PUT', '/v1/partners/churning', { token: api.adminToken, body: { kind: 'acquirer', webhookUrl: 'https://churning.example.test/hook', secret: s } });
      expect(res.status).toBe(200);
    }
    const { rows } = await api.db.pool.query("SELECT secret, retired_secrets FROM partners WHERE org = 'churning'");
    expect(rows[0].secret).toBe(secrets.at(-1));
    expect((rows[0].retired_secrets as { secret: string }[]).map((r) => r.secret)).toEqual(secrets.slice(-1 - MAX_RETIRED_SECRETS, -1).reverse());
  });

  it('drops replaced secrets whose overlap has ended at the next change, and lists no end once none signs', async () => {
    const [first, second, third] = [secret(), secret(), secret()];
    const put = (s: string) => api.request('PUT', '/v1/partners/expiring', { token: api.adminToken, body: { kind: 'acquirer', webhookUrl: 'https://expiring.example.test/hook', secret: s } });
    await put(first);
    await put(second);
    // The overlap of the first secret has ended (as a day later).
    await api.db.pool.query(
      `UPDATE partners SET retired_secrets = jsonb_build_array(jsonb_build_object('secret', $1::text, 'until', to_char((now() - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) WHERE org = 'expiring'`,
      [first],
    );
    const listed = await api.request('GET', '/v1/partners', { token: api.adminToken });
    expect(listed.body.items.find((p: { org: string }) => p.org === 'expiring').previousSecretUntil).toBeNull();
    await put(third);
    const { rows } = await api.db.pool.query("SELECT retired_secrets FROM partners WHERE org = 'expiring'");
    expect((rows[0].retired_secrets as { secret: string }[]).map((r) => r.secret)).toEqual([second]);
  });

  it('stores a webhook with a whsec_ secret and never lists the secret', async () => {
    const s = secret();
    const put = await api.request('PUT', '/v1/partners/visa', { token: api.adminToken, body: { kind: 'card_scheme', webhookUrl: 'https://visa.example.test/hook', secret: s } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ org: 'visa', kind: 'card_scheme', webhookUrl: 'https://visa.example.test/hook', hasSecret: true });
    const again = await api.request('PUT', '/v1/partners/visa', { token: api.adminToken, body: { kind: 'card_scheme', webhookUrl: 'https://visa.example.test/v2', secret: s } });
    expect(again.status).toBe(200);
    const list = await api.request('GET', '/v1/partners', { token: api.adminToken });
    expect(list.status).toBe(200);
    expect(list.body.items.filter((p: { org: string }) => p.org === 'visa')).toHaveLength(1);
    expect(list.body.items.find((p: { org: string }) => p.org === 'visa').webhookUrl).toBe('https://visa.example.test/v2');
    expect(list.text).not.toContain(s);
    expect(list.text).not.toContain('whsec_');
  });

  it("shows case readers the partner directory: each org, its kind and name, whether notices reach it, and no URL or secret", async () => {
    const s = secret();
    expect((await api.request('PUT', '/v1/partners/dir-reached', { token: api.adminToken, body: { kind: 'acquirer', name: 'Reached Bank', webhookUrl: 'https://reached.example.test/hook', secret: s } })).status).toBe(200);
    expect((await api.request('PUT', '/v1/partners/dir-silent', { token: api.adminToken, body: { kind: 'hosting_provider' } })).status).toBe(200);
    const lead = await api.principal('ceop', ['case_lead']);
    const res = await api.request('GET', '/v1/partner-directory', { token: lead.token });
    expect(res.status).toBe(200);
    const mine = res.body.items.filter((p: { org: string }) => p.org.startsWith('dir-'));
    await api.principal('dir-console', ['partner']);
    const res2 = await api.request('GET', '/v1/partner-directory', { token: lead.token });
    expect(res2.body.items.filter((p: { org: string }) => p.org.startsWith('dir-'))).toEqual([
      { org: 'dir-console', kind: null, name: null, receivesNotices: false, signsIn: true },
      { org: 'dir-reached', kind: 'acquirer', name: 'Reached Bank', receivesNotices: true, signsIn: false },
      { org: 'dir-silent', kind: 'hosting_provider', name: null, receivesNotices: false, signsIn: false },
    ]);
    expect(mine.map((p: { org: string }) => p.org)).toEqual(['dir-reached', 'dir-silent']);
    expect(res.text).not.toContain('reached.example.test');
    expect(res.text).not.toContain('whsec_');
    const partner = await api.principal('visa', ['partner']);
    expect((await api.request('GET', '/v1/partner-directory', { token: partner.token })).status).toBe(403);
  });

  it('answers 422 for a secret of another form, and for a bad org in the path', async () => {
    for (const bad of ['whsec_short', 'secret', `whsec_${randomBytes(16).toString('base64')}`, `whsec_${randomBytes(80).toString('base64')}`, `whsec_${'!'.repeat(44)}`]) {
      const res = await api.request('PUT', '/v1/partners/mastercard', { token: api.adminToken, body: { kind: 'card_scheme', webhookUrl: 'https://mc.example.test/hook', secret: bad } });
      expect(res.status, bad).toBe(422);
      expect(res.body.errors).toHaveProperty('secret');
    }
    const badOrg = await api.request('PUT', '/v1/partners/Not%20Valid', { token: api.adminToken, body: { kind: 'card_scheme' } });
    expect(badOrg.status).toBe(422);
    expect(badOrg.body.errors).toHaveProperty('org');
  });
});

describe('partner webhooks where private addresses are refused (production)', () => {
  it('refuses a webhook URL naming a loopback or private host, and one with a user name or password anywhere', async () => {
    const prod = await startApi('api-basics-prod', { refusePrivateWebhooks: true, httpsWebhooksOnly: true });
    try {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const put = (api2: typeof prod, webhookUrl: string) => api2.request('PUT', '/v1/partners/visa', { token: api2.adminToken, body: { kind: 'card_scheme', webhookUrl, secret } });
      for (const url of [
        'https://127.0.0.1/hook',
        'https://10.0.0.5/',
        'https://[::1]/x',
        'https://[::ffff:127.0.0.1]/x',
        'https://[2002:a9fe:a9fe::]/x',
        'https://169.254.169.254/latest',
        'https://localhost/x',
        'https://localhost./x',
        'https://metadata.google.internal/computeMetadata/v1/',
        'https://0x7f000001/x',
        'https://0/x',
      ]) {
        const res = await put(prod, url);
        expect(res.status, url).toBe(422);
        expect(res.body.errors, url).toHaveProperty('webhookUrl');
      }
      expect((await put(prod, 'https://hooks.example.test/visa')).status).toBe(200);
      // Production takes https:// only, and says so; the refused PUT leaves the registered webhook as it was.
      for (const url of ['http://hooks.example.test/visa', 'HTTP://hooks.example.test/visa', 'http://10.0.0.5/']) {
        const res = await put(prod, url);
        expect(res.status, url).toBe(422);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect(res.body.errors.webhookUrl, url).toMatch(/https:\/\//);
      }
      expect((await prod.request('GET', '/v1/partners', { token: prod.adminToken })).body.items).toMatchObject([{ org: 'visa', webhookUrl: 'https://hooks.example.test/visa' }]);
      // Development takes http:// (local simulators).
      const dev = await api.request('PUT', '/v1/partners/sim-http', { token: api.adminToken, body: { kind: 'acquirer', webhookUrl: 'http://hooks.example.test/sim', secret } });
      expect(dev.status, dev.text).toBe(200);
      // A user name or password in the URL is refused in every mode (listings show the URL).
      for (const a of [prod, api]) {
        const res = await put(a, 'https://user:pa55word@hooks.example.test/visa');
        expect(res.status).toBe(422);
        expect(res.body.errors).toHaveProperty('webhookUrl');
      }
    } finally {
      await prod.stop();
    }
  });
});

describe('errors', () => {
  it('answers 400 for a body that is not JSON', async () => {
    const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: '{"name": ', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('answers 400 for a request that must carry a JSON body and carries none or an empty one, after its role and method checks', async () => {
    const before = (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length;
    const lead = await api.principal('ceop', ['case_lead']);
    const asAdmin = { token: api.adminToken };
    for (const [method, path, token] of [
      ['POST', '/v1/principals', api.adminToken],
      ['PUT', '/v1/partners/visa', api.adminToken],
      ['POST', '/v1/cases', lead.token],
    ] as const) {
      for (const headers of [{ 'Content-Length': '0' }, { 'Content-Length': '0', 'Content-Type': 'application/json' }, {}] as Record<string, string>[]) {
        const res = await api.request(method, path, { token, headers });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}: ${res.text}`).toBe(400);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect(res.body.detail).toBe('the body is empty: send a JSON object');
      }
    }
    expect((await api.request('GET', '/v1/principals', asAdmin)).body.items.length).toBe(before + 1);
    // A role that may not make the request is told so first; a path without POST answers 405; a DELETE needs no body.
    expect((await api.request('POST', '/v1/principals', { token: lead.token, headers: { 'Content-Length': '0' } })).status).toBe(403);
    expect((await api.request('POST', '/v1/me', { token: lead.token, headers: { 'Content-Length': '0' } })).status).toBe(405);
    expect((await api.request('DELETE', `/v1/principals/${lead.id}`, { ...asAdmin, headers: { 'Content-Length': '0' } })).status).toBe(204);
  });

  it('answers 400 for a body that is only a byte order mark, as for an empty one (it was parsed as {} and answered 422), and creates nothing', async () => {
    const before = (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length;
    const lead = await api.principal('ceop', ['case_lead']);
    const marks: [number[], string][] = [
      [[0xef, 0xbb, 0xbf], 'application/json'],
      [[0xef, 0xbb, 0xbf], 'text/plain; charset=utf-8'],
      [[0xff, 0xfe], 'application/json; charset=utf-16'],
      [[0xfe, 0xff], 'application/json; charset=utf-16'],
      [[0xfe, 0xff], 'application/json; charset=utf-16be'],
      [[0xff, 0xfe, 0x00, 0x00], 'application/json; charset=utf-32le'],
      [[0x00, 0x00, 0xfe, 0xff], 'application/json; charset=utf-32'],
    ];
    for (const [bytes, type] of marks) {
      for (const [path, token] of [['/v1/principals', api.adminToken], ['/v1/cases', lead.token]] as const) {
        const res = await api.request('POST', path, { token, raw: Buffer.from(bytes), headers: { 'Content-Type': type } });
        expect(res.status, `${path} ${Buffer.from(bytes).toString('hex')} ${type}: ${res.text}`).toBe(400);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect(res.body.detail).toBe('the body is empty: send a JSON object');
      }
    }
    // A byte order mark before JSON is still read as the JSON after it.
    const marked = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: `\ufeff${JSON.stringify({ name: 'marked', org: 'ceop', roles: ['analyst'] })}`, headers: { 'Content-Type': 'application/json' } });
    expect(marked.status, marked.text).toBe(201);
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length).toBe(before + 2);
  });

  it('answers 400 for a body that is not JSON whatever its content type, and reads JSON sent under another type', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: 'name=x', headers: type ? { 'Content-Type': type } : {} });
      expect(res.status, String(type)).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
    const before = (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length;
    const plain = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: JSON.stringify({ name: 'plain', org: 'ceop', roles: ['analyst'] }), headers: { 'Content-Type': 'text/plain' } });
    expect(plain.status, plain.text).toBe(201);
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length).toBe(before + 1);
  });

  it('answers 400, never 415, for a body declared in a charset JSON does not use or compressed in an unknown encoding, and creates nothing', async () => {
    const before = (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length;
    const raw = JSON.stringify({ name: 'latin', org: 'ceop', roles: ['analyst'] });
    const variants: Record<string, string>[] = [{ 'Content-Type': 'application/json; charset=iso-8859-1' }, { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' }];
    for (const headers of variants) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw, headers });
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
      expect(res.body.detail).toMatch(/UTF-8|Content-Encoding/);
    }
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length).toBe(before);
  });

  it('answers 413 for a body over 1 MiB and stays up', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10), org: 'ceop', roles: ['analyst'] });
    const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: big, headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ status: 413 });
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).status).toBe(200);
  });

  it('answers 422 for nesting deeper than any schema, without touching the stack limit', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: deep, headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ body: 'nests deeper than 32 levels' });
    expect((await api.request('GET', '/v1/principals', { token: api.adminToken })).status).toBe(200);
  });

  it('refuses strings PostgreSQL cannot store (NUL, unpaired surrogates) with 422, in bodies and queries', async () => {
    for (const name of ['a\u0000b', 'x\ud800y', '\udc00']) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name, org: 'ceop', roles: ['analyst'] } });
      expect(res.status, JSON.stringify(name)).toBe(422);
      expect(res.body.errors).toHaveProperty('name');
    }
    const q = await api.request('GET', '/v1/cases?reference=%00', { token: api.adminToken });
    expect(q.status).toBe(422);
  });

  it('lists a field named like an Object property (constructor, toString) in errors like any other', async () => {
    const lead = await api.principal('ceop', ['case_lead']);
    const query = await api.request('GET', '/v1/cases?constructor=1', { token: lead.token });
    expect(query.status).toBe(422);
    expect(Object.keys(query.body.errors ?? {})).toEqual(['constructor']);
    const body = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name: 'x', org: 'ceop', roles: ['analyst'], toString: 1 } });
    expect(body.status).toBe(422);
    expect(Object.keys(body.body.errors ?? {})).toEqual(['toString']);
  });

  it('answers 404 problem+json for unknown routes and 405 with Allow for known paths', async () => {
    const unknown = await api.request('GET', '/v1/nothing-here', { token: api.adminToken });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/problem\+json/);
    expect((await api.request('GET', '/no-such-page')).status).toBe(404);
    const wrong = await api.request('PATCH', '/v1/principals', { token: api.adminToken });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    const options = await api.request('OPTIONS', '/v1/principals', { token: api.adminToken });
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    expect((await api.request('HEAD', '/v1/principals', { token: api.adminToken })).status).toBe(200);
  });

  it('echoes a sane X-Request-Id and mints one otherwise', async () => {
    const given = await api.request('GET', '/healthz', { headers: { 'X-Request-Id': 'req-abc.123' } });
    expect(given.headers['x-request-id']).toBe('req-abc.123');
    const minted = await api.request('GET', '/healthz', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(minted.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers every /v1 request with Cache-Control: no-store, errors included', async () => {
    const lead = await api.principal('ceop', ['case_lead']);
    const answers = [
      await api.request('GET', '/v1/me', { token: lead.token }),
      await api.request('GET', '/v1/cases', { token: lead.token }),
      await api.request('HEAD', '/v1/principals', { token: api.adminToken }),
      await api.request('GET', '/v1/principals', { token: null }),
      await api.request('GET', '/v1/principals', { token: lead.token }),
      await api.request('GET', '/v1/nothing-here', { token: api.adminToken }),
      await api.request('GET', '/v1/cases/case_unknown', { token: lead.token }),
      await api.request('PATCH', '/v1/principals', { token: api.adminToken }),
      await api.request('POST', '/v1/principals', { token: api.adminToken, raw: '{"name": ' }),
      await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name: 'a\u0000' } }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 401, 403, 404, 404, 405, 400, 422]);
    for (const r of answers) expect(r.headers['cache-control'], `${r.status} ${r.text}`).toBe('no-store');
  });

  it('logs reads of case data at info with who read them, inbox reads only at debug, and never a token', async () => {
    const lines: { level: number; msg: string; req?: { url: string }; res?: { statusCode: number }; actor?: { id: string; org: string } }[] = [];
    const logged = await startApi('basics-readlog', { logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) });
    try {
      const lead = await logged.principal('ceop', ['case_lead']);
      expect((await logged.request('GET', '/v1/cases?limit=5', { token: lead.token })).status).toBe(200);
      expect((await logged.request('GET', '/v1/tasks', { token: lead.token })).status).toBe(200);
      expect((await logged.request('GET', '/v1/cases/case_nosuchcaseatall00000000', { token: lead.token })).status).toBe(404);
      // Routes match whatever the letters' case: such a read is logged all the same.
      expect((await logged.request('GET', '/V1/Cases?limit=5', { token: lead.token })).status).toBe(200);
      const access = lines.filter((l) => l.msg === 'request completed');
      expect(access.map((l) => [l.level, l.req?.url, l.res?.statusCode, l.actor])).toEqual([
        [30, '/v1/cases?limit=5', 200, { id: lead.id, org: 'ceop' }],
        [30, '/v1/cases/case_nosuchcaseatall00000000', 404, { id: lead.id, org: 'ceop' }],
        [30, '/V1/Cases?limit=5', 200, { id: lead.id, org: 'ceop' }],
      ]);
      expect(JSON.stringify(lines)).not.toContain(lead.token);
    } finally {
      await logged.stop();
    }
  });

  it('sets security headers', async () => {
    const res = await api.request('GET', '/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
    // The console's CSP keeps scripts to this origin, but does not rewrite them to https:// (over plain HTTP that
    // would leave the page blank), whatever serves the TLS.
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toMatch(/style-src 'self'(;|$)/);
    expect(csp).toMatch(/font-src 'self'(;|$)/);
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
  });
});

describe('principals', () => {
  it('creates one principal per Idempotency-Key: a repeat is told which principal its key made (409), another body is a 422', async () => {
    const name = `Keyed ${randomBytes(4).toString('hex')}`;
    const body = { name, org: 'ceop', roles: ['analyst'] };
    const send = (key: string, b: object = body) => api.request('POST', '/v1/principals', { token: api.adminToken, body: b, headers: { 'Idempotency-Key': key } });
    const key = `create-${randomBytes(6).toString('hex')}`;
    const first = await send(key);
    expect(first.status, first.text).toBe(201);
    expect(first.body.token).toEqual(expect.any(String));
    const again = await send(key);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: 409, principalId: first.body.id });
    expect(again.body.detail).toContain(first.body.id);
    expect(JSON.stringify(again.body)).not.toContain(first.body.token);
    const other = await send(key, { ...body, roles: ['auditor'] });
    expect(other.status).toBe(422);
    expect(other.body.errors).toHaveProperty('Idempotency-Key');
    // Concurrent repeats of a new key take turns: one principal, the others told which.
    const raced = `race-${randomBytes(6).toString('hex')}`;
    const racedBody = { ...body, name: `${name} raced` };
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(raced, racedBody)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const made = answers.find((a) => a.status === 201)!.body.id;
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.principalId === made)).toBe(true);
    const items = (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items as { name: string }[];
    expect(items.filter((p) => p.name === name)).toHaveLength(1);
    expect(items.filter((p) => p.name === `${name} raced`)).toHaveLength(1);
    // Without a key, each request is a principal of its own, as before; a malformed key is a 422.
    expect((await api.request('POST', '/v1/principals', { token: api.adminToken, body, headers: { 'Idempotency-Key': 'k'.repeat(300) } })).status).toBe(422);
  });
});

describe('input validation', () => {
  const principalCount = async () => (await api.request('GET', '/v1/principals', { token: api.adminToken })).body.items.length as number;

  it('answers 400 for a body that is not valid UTF-8, stores nothing, and still reads UTF-16 and UTF-32 bodies', async () => {
    const before = await principalCount();
    const bad = Buffer.concat([Buffer.from('{"name":"bad'), Buffer.from([0xff, 0xfe]), Buffer.from('","org":"ceop","roles":["analyst"]}')]);
    for (const type of ['application/json', 'application/json; charset=utf-8', 'text/plain']) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: bad, headers: { 'Content-Type': type } });
      expect(res.status, type).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ title: 'Bad request', detail: 'the body is not valid UTF-8' });
    }
    const truncated = Buffer.concat([Buffer.from('{"name":"x'), Buffer.from([0xe2, 0x82]), Buffer.from('","org":"ceop","roles":["analyst"]}')]);
    expect((await api.request('POST', '/v1/principals', { token: api.adminToken, raw: truncated, headers: { 'Content-Type': 'application/json' } })).status).toBe(400);
    expect(await principalCount()).toBe(before);

    const json = JSON.stringify({ name: 'wide é😀', org: 'ceop', roles: ['analyst'] });
    const cps = [...json].map((c) => c.codePointAt(0)!);
    const utf32be = Buffer.alloc(cps.length * 4);
    cps.forEach((c, i) => utf32be.writeUInt32BE(c, i * 4));
    for (const [charset, raw] of [
      ['utf-16le', Buffer.from(json, 'utf16le')],
      ['utf-16', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')])],
      ['utf-32be', utf32be],
    ] as const) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw, headers: { 'Content-Type': `application/json; charset=${charset}` } });
      expect(res.status, `${charset}: ${res.text}`).toBe(201);
      expect(res.body.name).toBe('wide é😀');
    }
    // Not rewritten either: a code point past U+10FFFF or a lone surrogate half (the decoders would store U+FFFD).
    const beforeBad = await principalCount();
    const past = Buffer.from(utf32be);
    past.writeUInt32BE(0x110000, [...json].indexOf('w') * 4);
    const lone = Buffer.from(JSON.stringify({ name: 'x', org: 'ceop', roles: ['analyst'] }).replace('"x"', '"\ud800"'), 'utf16le');
    for (const [charset, raw, detail] of [
      ['utf-32be', past, 'the body is not valid UTF-32BE'],
      ['utf-32', past, 'the body is not valid UTF-32'],
      ['utf-16le', lone, 'the body is not valid UTF-16LE'],
    ] as const) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw, headers: { 'Content-Type': `application/json; charset=${charset}` } });
      expect(res.status, `${charset}: ${res.text}`).toBe(400);
      expect(res.body).toMatchObject({ title: 'Bad request', detail });
    }
    expect(await principalCount()).toBe(beforeBad);
  });

  it('answers 422 for a URL or short text with line breaks, bidi controls or only invisible characters, and stores nothing', async () => {
    const before = await principalCount();
    const partners = async () => JSON.stringify((await api.request('GET', '/v1/partners', { token: api.adminToken })).body.items);
    const partnersBefore = await partners();
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook = await api.request('PUT', '/v1/partners/crlf-test', { token: api.adminToken, body: { kind: 'acquirer', webhookUrl: 'http://x.test/\r\nX-Evil: 1', secret } });
    expect(hook.status).toBe(422);
    expect(hook.headers['content-type']).toMatch(/problem\+json/);
    expect(hook.body.errors.webhookUrl).toMatch(/line breaks/);
    const named = await api.request('PUT', '/v1/partners/crlf-test', { token: api.adminToken, body: { kind: 'acquirer', name: '\u200b\u202e' } });
    expect(named.status).toBe(422);
    expect(named.body.errors.name).toMatch(/bidirectional/);
    expect(await partners()).toBe(partnersBefore);
    for (const name of ['\u200b', 'desk\nX: y']) {
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, body: { name, org: 'ceop', roles: ['analyst'] } });
      expect(res.status, JSON.stringify(name)).toBe(422);
      expect(res.body.errors).toHaveProperty('name');
    }
    expect(await principalCount()).toBe(before);
  });

  it('answers 422 naming the field for a number too large to represent (1e400), and stores nothing', async () => {
    const before = await principalCount();
    const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: '{"name":"big","org":"ceop","roles":["analyst"],"weight":1e400}', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toHaveProperty('weight');
    const nested = await api.request('PUT', '/v1/partners/visa', { token: api.adminToken, raw: '{"kind":"card_scheme","name":"v","x":[1,-1e999]}', headers: { 'Content-Type': 'application/json' } });
    expect(nested.status).toBe(422);
    expect(nested.body.errors).toHaveProperty(['x.1']);
    expect(await principalCount()).toBe(before);
  });

  it('refuses dates that do not exist in case bodies, naming the field', async () => {
    const lead = await api.principal('ceop', ['case_lead']);
    const body = caseBody();
    const opened = await api.request('POST', '/v1/cases', { token: lead.token, body: { ...body, merchant: { ...body.merchant, dateOpened: '2026-02-31' } } });
    expect(opened.status, opened.text).toBe(422);
    expect(Object.keys(opened.body.errors)).toEqual(['merchant.dateOpened']);
    const collected = await api.request('POST', '/v1/cases', { token: lead.token, body: { ...body, evidence: [{ ...body.evidence[0], collectedAt: '2026-02-30T10:00:00+01:00' }] } });
    expect(collected.status, collected.text).toBe(422);
    expect(Object.keys(collected.body.errors)).toEqual(['evidence.0.collectedAt']);
    const { rows } = await api.db.pool.query('SELECT count(*)::int AS n FROM cases WHERE reference = $1', [body.reference]);
    expect(rows[0].n).toBe(0);
  });

  it('exports by when entries were written with ?since=, handing the next since in Audit-Recorded-Before', async () => {
    const auditor = await api.principal('oversight', ['auditor']);
    const lead = await api.principal('ceop', ['case_lead']);
    const caseId = `case_since${randomBytes(4).toString('hex')}`;
    await appendAudit(api.db.pool, caseId, [{ key: 'k1', action: 'case.created', actor: null, data: {}, at: '2021-06-01T00:00:00.000Z' }]);
    // The horizon keeps 2 s behind the present (the margin for a write in flight).
    await new Promise((r) => setTimeout(r, 2_200));
    const first = await api.request('GET', '/v1/audit/export?since=beginning', { token: auditor.token });
    expect(first.status, first.text).toBe(200);
    expect(first.headers['content-type']).toMatch(/application\/x-ndjson/);
    const before = String(first.headers['audit-recorded-before']);
    expect(before).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const lines = first.text.split('\n').filter(Boolean).map((l: string) => JSON.parse(l));
    expect(lines.find((e: { caseId: string }) => e.caseId === caseId)).toMatchObject({ seq: 1, action: 'case.created', at: '2021-06-01T00:00:00.000Z', recordedAt: expect.any(String) });
    for (const e of lines) expect(e.recordedAt < before, e.recordedAt).toBe(true);
    // The header is the next call's since; it never goes back, and neither goes with from or to.
    const next = await api.request('GET', `/v1/audit/export?since=${encodeURIComponent(before)}`, { token: auditor.token });
    expect(next.status).toBe(200);
    expect(String(next.headers['audit-recorded-before']) >= before).toBe(true);
    for (const q of ['since=beginning&from=2026-01-01T00:00:00Z', `since=${encodeURIComponent(before)}&to=2030-01-01T00:00:00Z`, 'since=yesterday', 'since=2026-02-30T00:00:00Z']) {
      const res = await api.request('GET', `/v1/audit/export?${q}`, { token: auditor.token });
      expect(res.status, q).toBe(422);
      expect(res.body.errors, q).toHaveProperty('since');
    }
    expect((await api.request('GET', '/v1/audit/export?since=beginning', { token: lead.token })).status).toBe(403);
  });

  it('answers HEAD /v1/audit/export with the status and headers of GET, reading the first batch only (it paged through the whole export)', async () => {
    const auditor = await api.principal('oversight', ['auditor']);
    // More entries than one batch of the export (1,000), in a range of their own.
    const caseId = `case_head${randomBytes(4).toString('hex')}`;
    const entries = Array.from({ length: 1001 }, (_, i) => ({ key: `h${i}`, action: 'case.created', actor: null, data: {}, at: new Date(Date.UTC(2019, 0, 1) + i * 1000).toISOString() }));
    await appendAudit(api.db.pool, caseId, entries);
    const range = 'from=2019-01-01T00:00:00Z&to=2019-01-02T00:00:00Z';
    const query = vi.spyOn(api.db.pool, 'query');
    const exportReads = () => query.mock.calls.filter(([text]) => typeof text === 'string' && /FROM audit_entries/.test(text)).length;
    try {
      const get = await api.request('GET', `/v1/audit/export?${range}`, { token: auditor.token });
      expect(get.status).toBe(200);
      expect(get.text.split('\n').filter(Boolean)).toHaveLength(1001);
      expect(exportReads()).toBe(2);
      query.mockClear();
      const head = await api.request('HEAD', `/v1/audit/export?${range}`, { token: auditor.token });
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(head.headers['cache-control']).toBe('no-store');
      expect(head.text).toBe('');
      expect(exportReads(), 'audit_entries reads for HEAD').toBe(1);
      // The incremental export's header too; its problems as for GET.
      const since = await api.request('HEAD', '/v1/audit/export?since=beginning', { token: auditor.token });
      expect(since.status).toBe(200);
      expect(String(since.headers['audit-recorded-before'])).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect((await api.request('HEAD', '/v1/audit/export?since=yesterday', { token: auditor.token })).status).toBe(422);
    } finally {
      query.mockRestore();
    }
  });

  it('refuses audit export bounds and cursors whose dates do not exist, naming the parameter', async () => {
    const auditor = await api.principal('oversight', ['auditor']);
    for (const q of ['from=2026-02-31T00:00:00Z', 'to=2026-04-31T00:00:00%2B02:00', 'from=0000-01-01T00:00:00Z', 'to=2026-01-01T24:00:00Z']) {
      const res = await api.request('GET', `/v1/audit/export?${q}`, { token: auditor.token });
      expect(res.status, q).toBe(422);
      expect(res.body.errors, q).toHaveProperty(q.slice(0, q.indexOf('=')));
    }
    expect((await api.request('GET', '/v1/audit/export?from=2026-02-28T00:00:00Z', { token: auditor.token })).status).toBe(200);
    // A range that is empty by construction (to not after from, offsets counted) is named, not answered with nothing.
    for (const q of ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'from=2026-03-01T00:00:00Z&to=2026-03-01T01:00:00%2B02:00']) {
      const res = await api.request('GET', `/v1/audit/export?${q}`, { token: auditor.token });
      expect(res.status, q).toBe(422);
      expect(res.body.errors, q).toHaveProperty('to');
    }
    expect((await api.request('GET', '/v1/audit/export?from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00.001Z', { token: auditor.token })).status).toBe(200);

    const cursor = (at: string) => Buffer.from(JSON.stringify([at, 'case_x'])).toString('base64url');
    for (const at of ['2026-02-31T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '2026-01-01T23:60:00.000Z']) {
      for (const path of ['/v1/cases', '/v1/tasks']) {
        const res = await api.request('GET', `${path}?cursor=${cursor(at)}`, { token: auditor.token });
        expect(res.status, `${path} ${at}`).toBe(422);
        expect(res.body.errors, `${path} ${at}`).toHaveProperty('cursor');
      }
    }
  });

  it('takes page limits in decimal digits only', async () => {
    const auditor = await api.principal('oversight', ['auditor']);
    for (const limit of ['0x10', '%20%205', '2e0', '1.0', '%2B5', '5%20']) {
      for (const path of ['/v1/cases', '/v1/tasks']) {
        const res = await api.request('GET', `${path}?limit=${limit}`, { token: auditor.token });
        expect(res.status, `${path} ${limit}`).toBe(422);
        expect(res.body.errors, `${path} ${limit}`).toHaveProperty('limit');
      }
    }
    expect((await api.request('GET', '/v1/cases?limit=16', { token: auditor.token })).status).toBe(200);
    expect((await api.request('GET', '/v1/tasks?limit=016', { token: auditor.token })).status).toBe(200);
  });

  it('refuses a blank freeze amount and an actionDate years ahead, and the task stays open', async () => {
    await api.db.pool.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, context) VALUES
         ('tsk_iv_freeze', 'case_iv', 'ceop', 'confirm_freeze', 'open', 'acq-iv', 'partner', '{partner}', now(), now() + interval '1 day', '{}'),
         ('tsk_iv_signoff', 'case_iv', 'ceop', 'le_signoff', 'open', 'ceop', 'le_officer', '{le_officer}', now(), now() + interval '1 day', '{}')`,
    );
    const partner = await api.principal('acq-iv', ['partner']);
    for (const amount of [' ', '', 'abc', '1e3', '-5']) {
      const res = await api.request('POST', '/v1/tasks/tsk_iv_freeze/complete', { token: partner.token, body: { outcome: 'frozen', data: { amount, currency: 'EUR' } } });
      expect(res.status, JSON.stringify(amount)).toBe(422);
      expect(Object.keys(res.body.errors), JSON.stringify(amount)).toEqual(['data.amount']);
    }
    const officer = await api.principal('ceop', ['le_officer']);
    const far = await api.request('POST', '/v1/tasks/tsk_iv_signoff/complete', { token: officer.token, body: { outcome: 'approved', data: { actionDate: '9999-12-31T23:59:59Z' } } });
    expect(far.status).toBe(422);
    expect(Object.keys(far.body.errors)).toEqual(['data.actionDate']);
    const impossible = await api.request('POST', '/v1/tasks/tsk_iv_signoff/complete', { token: officer.token, body: { outcome: 'approved', data: { actionDate: '2026-02-31T09:00:00Z' } } });
    expect(impossible.status).toBe(422);
    expect(Object.keys(impossible.body.errors)).toEqual(['data.actionDate']);
    const { rows } = await api.db.pool.query("SELECT id, status FROM tasks WHERE id LIKE 'tsk_iv_%' ORDER BY id");
    expect(rows).toEqual([
      { id: 'tsk_iv_freeze', status: 'open' },
      { id: 'tsk_iv_signoff', status: 'open' },
    ]);
  });

  it('says which part of a bad request is wrong: the path encoding, or the JSON; nesting past the cap is a 422 at any depth', async () => {
    for (const path of ['/v1/cases/%ff', '/v1/tasks/%E0%A4%A', '/v1/principals/%c3%28']) {
      const res = await api.request('GET', path, { token: api.adminToken });
      expect(res.status, path).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body, path).toMatchObject({ title: 'Bad request', detail: 'the path is not valid percent-encoding' });
    }
    // Valid JSON nested past the cap: 40 levels parse, 10,000 overflow the parser's stack; both answer the same 422.
    for (const depth of [40, 10_000]) {
      const deep = `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const res = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: deep, headers: { 'Content-Type': 'application/json' } });
      expect(res.status, String(depth)).toBe(422);
      expect(res.body, String(depth)).toMatchObject({ detail: 'body nests deeper than 32 levels', errors: { body: 'nests deeper than 32 levels' } });
    }
    const broken = await api.request('POST', '/v1/principals', { token: api.adminToken, raw: '{"name": ', headers: { 'Content-Type': 'application/json' } });
    expect(broken.body).toMatchObject({ title: 'Bad request', detail: 'the body is not valid JSON' });
  });
});

describe('operations', () => {
  it('reports health of PostgreSQL and Temporal', async () => {
    const res = await api.request('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', db: 'ok', temporal: 'ok' });
  });

  it('takes the admin token being replaced beside the new one during a rotation, and nothing else', async () => {
    const old = `old-admin-${'o'.repeat(32)}`;
    const rotating = await startApi('basics-rotation', { previousAdminToken: old });
    try {
      for (const token of [rotating.adminToken, old]) expect((await rotating.request('GET', '/v1/principals', { token })).status).toBe(200);
      expect((await rotating.request('GET', '/v1/principals', { token: `${old}x` })).status).toBe(401);
      // Without it (the rotation done), the old token is refused.
      expect((await api.request('GET', '/v1/principals', { token: old })).status).toBe(401);
    } finally {
      await rotating.stop();
    }
  });

  it('answers every /healthz that comes while a probe runs from that probe: a flood of it takes one connection, not the pool', async () => {
    const pool = api.db.pool;
    const query = pool.query.bind(pool);
    let probes = 0;
    // Each probe of PostgreSQL takes 300 ms here, so the requests below all come while the first runs.
    pool.query = ((config: unknown, ...rest: unknown[]) => {
      const text = typeof config === 'string' ? config : (config as { text?: string } | null)?.text;
      if (text !== 'SELECT 1') return (query as (...a: unknown[]) => unknown)(config, ...rest);
      probes += 1;
      return new Promise((resolve) => setTimeout(resolve, 300)).then(() => (query as (...a: unknown[]) => unknown)(config, ...rest));
    }) as typeof pool.query;
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => api.request('GET', '/healthz')));
      expect(answers.map((a) => a.status)).toEqual(new Array(30).fill(200));
      expect(answers.every((a) => a.body.db === 'ok' && a.body.temporal === 'ok')).toBe(true);
      expect(probes).toBe(1);
      // Once it has answered, the next request probes again: no stale answer is kept.
      expect((await api.request('GET', '/healthz')).status).toBe(200);
      expect(probes).toBe(2);
    } finally {
      pool.query = query;
    }
  });

  it('drops a compressed body outside /v1 as sent, never inflating it: the path answers as for any body (a 4 KB gzip bomb was inflated and answered 413)', async () => {
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(8 * 1024);
    const gzip = { 'Content-Encoding': 'gzip', 'Content-Type': 'application/octet-stream' };
    for (const raw of [bomb, Buffer.from('not gzip at all')]) {
      const unknown = await api.request('POST', '/no-such-page', { raw, headers: gzip });
      expect(unknown.status, unknown.text).toBe(404);
      expect(unknown.headers['content-type']).toMatch(/problem\+json/);
      const health = await api.request('GET', '/healthz', { raw, headers: gzip });
      expect(health.status, health.text).toBe(200);
      expect((await api.request('GET', '/livez', { raw, headers: { 'Content-Encoding': 'deflate' } })).status).toBe(200);
    }
    // Past 1 MiB sent, compressed or not, it is the 413 every route gives.
    for (const headers of [gzip, {}]) {
      const big = await api.request('POST', '/no-such-page', { raw: randomBytes(1024 * 1024 + 1), headers });
      expect(big.status, JSON.stringify(headers)).toBe(413);
      expect(big.headers['content-type']).toMatch(/problem\+json/);
    }
  });

  it('serves an OpenAPI 3.1 document covering every endpoint with bearer security', async () => {
    const res = await api.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const expected: Array<[string, string]> = [
      ['/v1/principals', 'post'],
      ['/v1/principals', 'get'],
      ['/v1/principals/{id}', 'delete'],
      ['/v1/partners/{org}', 'put'],
      ['/v1/partners', 'get'],
      ['/v1/partner-directory', 'get'],
      ['/v1/admin/events', 'get'],
      ['/v1/cases', 'post'],
      ['/v1/cases', 'get'],
      ['/v1/cases/{id}', 'get'],
      ['/v1/cases/{id}/withdraw', 'post'],
      ['/v1/cases/{id}/evidence', 'post'],
      ['/v1/tasks', 'get'],
      ['/v1/tasks/{id}', 'get'],
      ['/v1/tasks/{id}/complete', 'post'],
      ['/v1/cases/{id}/audit', 'get'],
      ['/v1/cases/{id}/audit/verify', 'get'],
      ['/v1/cases/{id}/history', 'get'],
      ['/v1/audit/export', 'get'],
      ['/v1/audit/heads', 'get'],
      ['/v1/audit/heads/check', 'post'],
      ['/healthz', 'get'],
      ['/livez', 'get'],
      ['/openapi.json', 'get'],
      ['/metrics', 'get'],
      ['/v1/me', 'get'],
      ['/v1/cases/{id}/tasks', 'get'],
      ['/v1/principals/{id}', 'get'],
      ['/v1/cases/{id}/documents', 'get'],
      ['/v1/cases/{id}/documents/{documentId}', 'get'],
      ['/v1/tasks/{id}/document', 'get'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    // Nothing more: an operation documented here and not in the list above has no route this test knows of.
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(expected.map(([path, method]) => `${method} ${path}`).sort());
    // Every answer in these tests is also checked against this document (test/support/openapi-check.ts).
    expect(doc.paths['/v1/tasks'].get.responses['503'].headers['Retry-After']).toBeDefined();
    expect(doc.components.schemas.CaseInput.properties.merchant).toBeDefined();
    expect(doc.paths['/v1/principals'].get.responses['401'].headers['WWW-Authenticate']).toBeDefined();
    expect(doc.paths['/v1/cases'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CaseInput' });
  });

  it('serves Prometheus metrics to admins with the coalition metrics and PostgreSQL gauges', async () => {
    await api.db.pool.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, due_at, context)
       VALUES ('tsk_metrics_1', 'case_metrics', 'ceop', 'confirm_freeze', 'open', 'acq-northbank', 'partner', '{partner}', now(), now() - interval '1 hour', '{}')`,
    );
    // A case closed two hours ago whose history was never archived.
    await api.db.pool.query(
      `INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, closed_at, merchant_ids, wallet_ids, hosts, view)
       VALUES ('case_noarchive', 'R-NOARCHIVE', 'ceop', 'completed', now() - interval '3 hours', 'prn_x', now(), now() - interval '2 hours', '{}', '{}', '{}', '{}')`,
    );
    // Notices of one partner: one still being retried, one delivered (no longer in flight).
    await api.db.pool.query(
      `INSERT INTO notices (id, case_id, org, type, state, attempts) VALUES
         ('ntc_metrics_1', 'case_metrics', 'acq-inflight', 'freeze_request', 'retrying', 3),
         ('ntc_metrics_2', 'case_metrics', 'acq-inflight', 'termination_request', 'delivered', 1)`,
    );
    expect((await api.request('GET', '/metrics')).status).toBe(401);
    // Requests by route pattern (never the path), and those no route answered as `other`.
    expect((await api.request('GET', '/v1/tasks/tsk_nosuchtask', { token: api.adminToken })).status).toBe(404);
    expect((await api.request('GET', '/no/such/path')).status).toBe(404);
    const res = await api.request('GET', '/metrics', { token: api.adminToken });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-store');
    for (const name of [
      'takedown_time_to_termination_seconds',
      'takedown_time_to_freeze_seconds',
      'takedown_time_to_removal_seconds',
      'takedown_notice_attempts_total',
      'process_cpu_user_seconds_total',
    ]) {
      expect(res.text).toContain(name);
    }
    expect(res.text).toContain('takedown_open_tasks{type="confirm_freeze",org="acq-northbank"} 1');
    expect(res.text).toContain('takedown_overdue_tasks{type="confirm_freeze",org="acq-northbank"} 1');
    expect(res.text).toMatch(/takedown_http_request_duration_seconds_count\{method="GET",route="\/v1\/tasks\/:id",status="404"\} [1-9]/);
    expect(res.text).toMatch(/takedown_http_request_duration_seconds_count\{method="GET",route="other",status="404"\} [1-9]/);
    expect(res.text).not.toContain('tsk_nosuchtask');
    expect(res.text).toMatch(/takedown_db_pool_connections\{state="total"\} [1-9]/);
    expect(res.text).toMatch(/takedown_closed_cases_without_archive [1-9]/);
    expect(res.text).toContain('takedown_notices_in_flight{org="acq-inflight",state="retrying"} 1');
    expect(res.text).not.toContain('takedown_notices_in_flight{org="acq-inflight",state="delivered"}');
  });

  it('serves /metrics without a token where configured so (the development default), and /v1 still asks for one', async () => {
    const open = await startApi('basics-metrics', { metricsPublic: true });
    try {
      const res = await open.request('GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toContain('takedown_notice_attempts_total');
      expect((await open.request('GET', '/v1/cases')).status).toBe(401);
    } finally {
      await open.stop();
    }
  });
});
