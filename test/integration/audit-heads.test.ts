// Chain heads as an anchor outside the database: GET /v1/audit/heads pages every chain's newest entry, and
// POST /v1/audit/heads/check (or npm run audit:verify -- --heads FILE) later proves each chain still runs through them,
// catching a rewrite that verify cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { appendAudit, chainHeads, GENESIS_HASH, hashEntry, listAudit, verifyChain } from '../../db/queries/audit';
import type { AuditInput } from '../../domain/types';
import { startApi, type ApiHarness } from '../support/api-harness';
import { freshDatabase, type TestDb } from '../support/db';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

let api: ApiHarness;
let auditor: { token: string };

const entries = (n: number, prefix: string): AuditInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, action: i === 0 ? 'case.created' : 'task.created', actor: null, data: { i } }));

/** Alters entry 2's data and recomputes every hash from there: a valid chain, only not the one it was. */
async function rewriteWhole(db: TestDb, caseId: string): Promise<void> {
  const chain = await listAudit(db.pool, caseId);
  await db.tamper(async (q) => {
    let prevHash = chain[0].hash;
    for (const e of chain.slice(1)) {
      const { hash: _old, ...rest } = { ...e, data: { ...e.data, forged: true }, prevHash };
      const hash = hashEntry(rest);
      await q('UPDATE audit_entries SET data = $3::jsonb, prev_hash = $4, hash = $5 WHERE case_id = $1 AND seq = $2', [caseId, e.seq, JSON.stringify(rest.data), prevHash, hash]);
      prevHash = hash;
    }
  });
  expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
}

beforeAll(async () => {
  api = await startApi('heads');
  auditor = await api.principal('oversight', ['auditor']);
  // Case ids sort in this order; each chain has a different length.
  for (const [i, id] of ['case_heads_a', 'case_heads_b', 'case_heads_c', 'case_heads_d', 'case_heads_e'].entries()) {
    await appendAudit(api.db.pool, id, entries(i + 2, id));
  }
});
afterAll(async () => {
  await api?.stop();
});

const heads = async (query = '') => {
  const res = await api.request('GET', `/v1/audit/heads${query}`, { token: auditor.token });
  expect(res.status, res.text).toBe(200);
  return res.body as { at: string; heads: { caseId: string; seq: number; hash: string }[]; next: string | null };
};
const check = (body: unknown) => api.request('POST', '/v1/audit/heads/check', { token: auditor.token, body });

describe('GET /v1/audit/heads', () => {
  it("lists every chain's newest entry by case id, in pages", async () => {
    const all = await heads();
    expect(all.next).toBeNull();
    expect(Date.parse(all.at)).not.toBeNaN();
    expect(all.heads.map((h) => h.caseId)).toEqual(['case_heads_a', 'case_heads_b', 'case_heads_c', 'case_heads_d', 'case_heads_e']);
    for (const h of all.heads) {
      const chain = await listAudit(api.db.pool, h.caseId);
      expect(h).toEqual({ caseId: h.caseId, seq: chain.length, hash: chain[chain.length - 1].hash });
    }
    const first = await heads('?limit=2');
    expect(first.heads.map((h) => h.caseId)).toEqual(['case_heads_a', 'case_heads_b']);
    expect(first.next).toBe('case_heads_b');
    const second = await heads(`?limit=2&after=${first.next}`);
    expect(second.heads.map((h) => h.caseId)).toEqual(['case_heads_c', 'case_heads_d']);
    const last = await heads(`?limit=2&after=${second.next}`);
    expect(last).toMatchObject({ heads: [{ caseId: 'case_heads_e' }], next: null });
    expect((await heads('?after=case_heads_e')).heads).toEqual([]);
  });

  it('refuses a bad page size or an unknown parameter with 422', async () => {
    for (const q of ['?limit=0', '?limit=1001', '?limit=1e3', '?cursor=x']) {
      const res = await api.request('GET', `/v1/audit/heads${q}`, { token: auditor.token });
      expect(res.status, q).toBe(422);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });
});

describe('POST /v1/audit/heads/check', () => {
  it('passes heads the chains still run through, also after the chains have grown', async () => {
    const kept = (await heads()).heads;
    await appendAudit(api.db.pool, 'case_heads_a', entries(3, 'case_heads_a-more'));
    const res = await check({ heads: kept });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ intact: true, checked: kept.length, problems: [] });
    // A saved page ({at, heads, next}) or console file ({takenAt, heads}) is taken as it is.
    const page = await heads('?limit=2');
    expect(page.next).toEqual(expect.any(String));
    expect((await check(page)).body).toEqual({ intact: true, checked: 2, problems: [] });
    expect((await check({ takenAt: page.at, heads: page.heads })).body).toEqual({ intact: true, checked: 2, problems: [] });
  });

  it('catches a chain rewritten whole with every hash recomputed, which verify alone passes', async () => {
    const [kept] = (await heads('?after=case_heads_a&limit=1')).heads;
    expect(kept.caseId).toBe('case_heads_b');
    await rewriteWhole(api.db, kept.caseId);
    const res = await check({ heads: [kept] });
    expect(res.body.intact).toBe(false);
    const stored = (await listAudit(api.db.pool, kept.caseId))[kept.seq - 1].hash;
    expect(res.body.problems).toEqual([
      { ...kept, storedHash: stored, detail: `entry ${kept.seq} of ${kept.caseId} holds hash ${stored}, not the saved ${kept.hash}: the chain was rewritten since the heads were saved (or the file was altered)` },
    ]);
  });

  it('catches a cut chain and an entry edited before the head without recomputing', async () => {
    const kept = (await heads('?after=case_heads_b&limit=2')).heads;
    expect(kept.map((h) => h.caseId)).toEqual(['case_heads_c', 'case_heads_d']);
    await api.db.tamper(async (q) => {
      await q('DELETE FROM audit_entries WHERE case_id = $1 AND seq = $2', ['case_heads_c', kept[0].seq]);
      await q(`UPDATE audit_entries SET data = '{"i":99}' WHERE case_id = $1 AND seq = 2`, ['case_heads_d']);
    });
    const res = await check({ heads: kept });
    expect(res.body).toMatchObject({ intact: false, checked: 2 });
    expect(res.body.problems).toEqual([
      { ...kept[0], storedHash: null, detail: `the chain of case_heads_c holds no entry ${kept[0].seq} now (it has ${kept[0].seq - 1} entries): entries were removed` },
      { ...kept[1], storedHash: kept[1].hash, detail: 'the saved head is stored, but the chain departs from a valid one at seq 2, at or before it' },
    ]);
  });

  it('names a chain broken only after the head, and a chain gone whole', async () => {
    const [kept] = (await heads('?after=case_heads_d&limit=1')).heads;
    expect(kept.caseId).toBe('case_heads_e');
    await appendAudit(api.db.pool, kept.caseId, entries(2, 'case_heads_e-more'));
    await api.db.tamper((q) => q(`UPDATE audit_entries SET data = '{"i":99}' WHERE case_id = $1 AND seq = $2`, [kept.caseId, kept.seq + 2]));
    const after = await check({ heads: [kept] });
    expect(after.body.problems).toEqual([{ ...kept, storedHash: kept.hash, detail: `the saved head holds, but the entries after it do not: the chain departs from a valid one at seq ${kept.seq + 2}` }]);
    await api.db.tamper((q) => q('DELETE FROM audit_entries WHERE case_id = $1', [kept.caseId]));
    const gone = await check({ heads: [kept] });
    expect(gone.body.problems).toEqual([{ ...kept, storedHash: null, detail: 'there is no chain for case_heads_e: every entry of it is gone, or it never existed' }]);
  });

  it('lists and checks chains under any key the table holds: an empty one, a long one', async () => {
    const long = `case_${'x'.repeat(300)}`;
    for (const id of ['', long]) {
      await api.db.tamper((q) =>
        q(`INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ($1, 1, now(), 'case.created', '{}', $2, $3, 'k')`, [id, GENESIS_HASH, 'c'.repeat(64)]),
      );
    }
    const all: { caseId: string }[] = [];
    for (let after: string | null = null, page = 0; page < 20; page++) {
      const p = await heads(`?limit=2${after === null ? '' : `&after=${encodeURIComponent(after)}`}`);
      all.push(...p.heads);
      if (p.next === null) break;
      after = p.next;
    }
    expect(all.map((h) => h.caseId)).toEqual([...new Set(all.map((h) => h.caseId))]);
    expect(all.map((h) => h.caseId)).toEqual(expect.arrayContaining(['', long]));
    expect((await heads()).heads[0].caseId).toBe('');
    const res = await check({ heads: [{ caseId: long, seq: 1, hash: 'c'.repeat(64) }, { caseId: '', seq: 1, hash: 'c'.repeat(64) }] });
    expect(res.status, res.text).toBe(200);
    // Both stored as given, neither hashing as a chain's first entry must.
    expect(res.body.problems.map((p: { caseId: string; detail: string }) => [p.caseId, p.detail])).toEqual([
      [long, 'the saved head is stored, but the chain departs from a valid one at seq 1, at or before it'],
      ['', 'the saved head is stored, but the chain departs from a valid one at seq 1, at or before it'],
    ]);
    await api.db.tamper((q) => q(`DELETE FROM audit_entries WHERE case_id IN ('', $1)`, [long]));
  });

  it('reports a head of a chain that does not exist, and refuses malformed heads with 422, changing nothing', async () => {
    const res = await check({ heads: [{ caseId: 'case_never', seq: 1, hash: GENESIS_HASH }] });
    expect(res.body).toMatchObject({ intact: false, problems: [{ caseId: 'case_never', storedHash: null }] });
    const before = (await heads()).heads;
    const bad: [unknown, string][] = [
      [{}, 'heads'],
      [{ heads: [] }, 'heads'],
      [{ heads: [{ caseId: 'case_heads_e', seq: 0, hash: GENESIS_HASH }] }, 'heads.0.seq'],
      [{ heads: [{ caseId: 'case_heads_e', seq: 1, hash: 'ABC' }] }, 'heads.0.hash'],
      [{ heads: [{ caseId: 'case_heads_e', seq: 1, hash: GENESIS_HASH, extra: 1 }] }, 'heads.0.extra'],
      [{ heads: [{ caseId: 'case_heads_e', seq: 1, hash: GENESIS_HASH }], after: 'x' }, 'after'],
      [{ heads: Array.from({ length: 1001 }, () => ({ caseId: 'case_heads_e', seq: 1, hash: GENESIS_HASH })) }, 'heads'],
    ];
    for (const [body, field] of bad) {
      const r = await check(body);
      expect(r.status, field).toBe(422);
      expect(Object.keys(r.body.errors), field).toContain(field);
    }
    expect((await heads()).heads).toEqual(before);
  });
});

describe('npm run audit:verify -- --heads FILE', () => {
  it('exits 0 while the saved heads hold, 1 naming a chain rewritten since, 2 on a file that is not one', async () => {
    const db = await freshDatabase('heads_cli');
    try {
      for (const id of ['case_cli_a', 'case_cli_b']) await appendAudit(db.pool, id, entries(4, id));
      const dir = mkdtempSync(path.join(tmpdir(), 'takedown-heads-'));
      const file = path.join(dir, 'heads.json');
      writeFileSync(file, JSON.stringify({ takenAt: new Date().toISOString(), heads: await chainHeads(db.pool, { limit: 1000 }) }));
      const cli = (args: string[]) =>
        run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url } }).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      const held = await cli(['--heads', file]);
      expect(held.code, held.stderr).toBe(0);
      expect(held.stdout).toContain('2 chain(s), 8 entries: all intact; 2 saved head(s): all held');
      // Pages as the API gives them, in an array, and several files at once.
      const pages = path.join(dir, 'pages.json');
      const [a, b] = await chainHeads(db.pool, { limit: 1000 });
      writeFileSync(pages, JSON.stringify([{ at: 'x', heads: [a], next: a.caseId }, { at: 'y', heads: [b], next: null }]));
      const both = await cli(['--heads', file, '--heads', pages]);
      expect(both.stdout).toContain('4 saved head(s): all held');

      await rewriteWhole(db, 'case_cli_b');
      const rewritten = await cli(['--heads', file]);
      expect(rewritten.code).toBe(1);
      expect(rewritten.stdout).toMatch(/HEAD NOT HELD case=case_cli_b seq=4: entry 4 of case_cli_b holds hash [0-9a-f]{64}, not the saved [0-9a-f]{64}: the chain was rewritten/);
      expect(rewritten.stdout).not.toContain('BROKEN');
      expect(rewritten.stderr).toContain('2 chain(s), 8 entries: all intact; 2 saved head(s): 1 not held');

      const wrong = path.join(dir, 'wrong.json');
      writeFileSync(wrong, JSON.stringify({ heads: [{ caseId: 'case_cli_a', seq: 'x', hash: GENESIS_HASH }] }));
      const refused = await cli(['--heads', wrong]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/wrong\.json is not a saved heads file: heads\.0\.seq/);
    } finally {
      await db.drop();
    }
  });
});

describe('npm run audit:verify-export -- EXPORT.ndjson --heads FILE', () => {
  it('verifies an export from the API with no database, checks saved heads against it, and names a changed line', async () => {
    const from = new Date(Date.now() - 1).toISOString();
    for (const [id, n] of [['case_exp_x', 4], ['case_exp_y', 3]] as const) await appendAudit(api.db.pool, id, entries(n, id));
    const exported = await api.request('GET', `/v1/audit/export?from=${encodeURIComponent(from)}`, { token: auditor.token });
    expect(exported.status).toBe(200);
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-export-'));
    const file = path.join(dir, 'export.ndjson');
    writeFileSync(file, exported.text);
    const kept = (await heads()).heads.filter((h) => h.caseId.startsWith('case_exp_'));
    const headsFile = path.join(dir, 'heads.json');
    writeFileSync(headsFile, JSON.stringify({ heads: kept }));
    // No DATABASE_URL: the check needs nothing but the files.
    const cli = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify-export.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const ok = await cli([file, '--heads', headsFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('7 line(s), 2 chain(s), 7 entries: all intact; 2 saved head(s): all held');
    // The dependency-free verifier (docs/audit-verification.md), run by Node alone from outside the repository, agrees.
    const standalone = (args: string[]) =>
      run(process.execPath, [path.join(root, 'scripts', 'standalone', 'verify-export.mjs'), ...args], { cwd: dir, env: { PATH: process.env.PATH } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const alone = await standalone([file, '--heads', headsFile]);
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stdout).toBe('2 chain(s), 7 entries, 2 saved head(s): all hold\n');

    const changed = exported.text
      .split('\n')
      .map((l) => (l.includes('"case_exp_y"') && l.includes('"seq":2') ? l.replace('"i":1', '"i":7') : l))
      .join('\n');
    writeFileSync(file, changed);
    const broken = await cli([file, '--heads', headsFile]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('BROKEN case=case_exp_y seq=2: entry 2 does not hash to its hash: its content was changed');
    const aloneBroken = await standalone([file, '--heads', headsFile]);
    expect(aloneBroken.code).toBe(1);
    expect(aloneBroken.stdout).toBe('BROKEN case=case_exp_y seq=2: does not hash to its hash: its content was changed\n');
    // Two entries of one chain changed: the second is named too, past the chain's first break.
    const twice = exported.text
      .split('\n')
      .map((l) => (l.includes('"case_exp_x"') && l.includes('"seq":2') ? l.replace('"i":1', '"i":7') : l.includes('"case_exp_x"') && l.includes('"seq":4') ? l.replace('"i":3', '"i":9') : l))
      .join('\n');
    writeFileSync(file, twice);
    const both = await cli([file]);
    expect(both.code).toBe(1);
    expect(both.stdout).toContain('BROKEN case=case_exp_x seq=2: entry 2 does not hash to its hash: its content was changed');
    expect(both.stdout).toContain('BAD ENTRY case=case_exp_x seq=4: entry 4 does not hash to its hash: its content was changed');
    expect((await cli([])).code).toBe(2);
  });
});

