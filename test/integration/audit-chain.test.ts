// The audit chain on a real PostgreSQL: append, idempotency, the append-only trigger, tamper detection, concurrency, export, the CLI.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../domain/types';
import {
  appendAudit,
  appendAuditInTx,
  auditAppendStatement,
  checkHeads,
  exportAudit,
  exportRecorded,
  GENESIS_HASH,
  hashEntry,
  historyHash,
  listAudit,
  MAX_NAMED_BREAKS,
  recordedHorizon,
  verifyAllChains,
  verifyCase,
  verifyChain,
  verifyChains,
} from '../../db/queries/audit';
import { documentHash, readDocument } from '../../db/queries/documents';
import { freshDatabase, type TestDb } from '../support/db';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

let db: TestDb;
let counter = 0;
const newCase = () => `case_audit${Date.now().toString(36)}${(counter++).toString(36)}`;

const inputs = (n: number, prefix = 'e'): AuditInput[] =>
  Array.from({ length: n }, (_, i) => ({
    key: `${prefix}-${i + 1}`,
    action: i === 0 ? 'case.created' : 'task.created',
    actor: i % 2 === 0 ? { id: 'p_lead', org: 'ceop' } : null,
    data: { i: i + 1, note: `entry ${i + 1}`, nested: { ok: true } },
  }));

/** Runs statements as a superuser with user triggers off: tampering behind the application's back. */
const tamper = (sql: string[]) =>
  db.tamper(async (q) => {
    for (const s of sql) await q(s);
  });

/** A case row as the workflow's projection stores it, its chain opened with case.created (as activities/cases.ts does) and, when closed, ended with case.closed. */
async function seedCase(opts: { closed?: boolean } = {}): Promise<{ id: string; reference: string }> {
  const id = newCase();
  const reference = `EFC-AUDIT-${id.slice(-6)}`;
  const now = new Date().toISOString();
  const owner = await db.admin();
  try {
    await owner.query(
      `INSERT INTO cases (id, reference, org, status, created_at, created_by, updated_at, closed_at, merchant_ids, wallet_ids, hosts, view)
       VALUES ($1, $2, 'ceop', $3, $4, 'p_lead', $4, $5, '{}', '{}', '{}', $6::jsonb)`,
      [id, reference, opts.closed ? 'completed' : 'verifying', now, opts.closed ? now : null, JSON.stringify({ id, reference, org: 'ceop' })],
    );
  } finally {
    await owner.end();
  }
  await appendAudit(db.pool, id, [{ key: 'wf:1:case.created', action: 'case.created', actor: { id: 'p_lead', org: 'ceop' }, data: { reference } }]);
  if (opts.closed) await appendAudit(db.pool, id, [{ key: 'wf:2:case.closed', action: 'case.closed', actor: null, data: { status: 'completed' } }]);
  return { id, reference };
}

/** A document as prepareNotice stores it, with its document.rendered entry (activities/notices.ts). */
async function seedDocument(caseId: string): Promise<{ id: string; hash: string; seq: number }> {
  const id = `doc_${caseId.slice(-12)}`;
  const body = { type: 'hosting_notice', urls: ['https://shop.example.test/'] };
  const hash = documentHash(body);
  await db.pool.query(`INSERT INTO documents (id, case_id, task_id, type, version, hash, body) VALUES ($1, $2, NULL, 'hosting_notice', '1', $3, $4::jsonb)`, [id, caseId, hash, JSON.stringify(body)]);
  const [rendered] = await appendAudit(db.pool, caseId, [
    { key: `notice:n_${id}:rendered`, action: 'document.rendered', actor: null, data: { noticeId: `n_${id}`, documentId: id, type: 'hosting_notice', org: 'host-example', documentHash: hash, version: '1' } },
  ]);
  return { id, hash, seq: rendered.seq };
}

beforeAll(async () => {
  db = await freshDatabase('audit', { max: 30 });
});
afterAll(async () => {
  await db?.drop();
});

describe('appendAudit', () => {
  it('builds a hash chain from 64 zeros and lists it in order', async () => {
    const caseId = newCase();
    const appended = await appendAudit(db.pool, caseId, inputs(5));
    expect(appended.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(appended[0].prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < appended.length; i++) expect(appended[i].prevHash).toBe(appended[i - 1].hash);

    const listed = await listAudit(db.pool, caseId);
    expect(listed).toEqual(appended);
    for (const e of listed) {
      const { hash, ...rest } = e;
      expect(hashEntry(rest)).toBe(hash);
      expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(listed[0].actor).toEqual({ id: 'p_lead', org: 'ceop' });
    expect(listed[1].actor).toBeNull();
    expect(await verifyChain(db.pool, caseId)).toEqual({ intact: true, entries: 5, head: appended[4].hash, firstBadSeq: null, breaks: [] });
  });

  it('never lets times run backwards along a chain: a time before the previous entry is raised to it, hashed as stored', async () => {
    const caseId = newCase();
    await appendAudit(db.pool, caseId, [{ key: 't1', action: 'note', actor: null, data: {}, at: '2026-03-01T10:00:00.500Z' }]);
    // A writer that took its time earlier but got the case's lock later; its data even holds the same text.
    const late = await appendAudit(db.pool, caseId, [
      { key: 't2', action: 'note', actor: null, data: { at: '2026-03-01T10:00:00.400Z', note: '"at":"2026-03-01T10:00:00.400Z"' }, at: '2026-03-01T10:00:00.400Z' },
      { key: 't3', action: 'note', actor: null, data: {}, at: '2026-03-01T10:00:00.700Z' },
    ]);
    expect(late.map((e) => e.at)).toEqual(['2026-03-01T10:00:00.500Z', '2026-03-01T10:00:00.700Z']);
    expect(late[0].data).toEqual({ at: '2026-03-01T10:00:00.400Z', note: '"at":"2026-03-01T10:00:00.400Z"' });
    for (const e of await listAudit(db.pool, caseId)) {
      const { hash, ...rest } = e;
      expect(hashEntry(rest), `seq ${e.seq}`).toBe(hash);
    }
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: true, entries: 3 });
  });

  it('hashes in PostgreSQL exactly as hashEntry does, for data that canonical JSON treats specially', async () => {
    const caseId = newCase();
    const tricky: AuditInput[] = [
      // First, so that no earlier entry's time raises it.
      { key: 'u3', action: 'note', actor: null, data: {}, at: '2026-01-02T03:04:05.678Z' },
      { key: 'u1', action: 'note', actor: { id: 'p_ø', org: 'çeop' }, data: { text: 'zoë — “quotes” \\ \n\t 日本語 🙂', zeroWidth: '\u200b' } },
      { key: 'u2', action: 'note', actor: null, data: { numbers: [0, -1, 1.5, 1e21, 1e-7, 123456789012], b: false, n: null, order: { z: 1, a: 2, é: 3, A: 4 } } },
      { key: 'u4', action: 'note', actor: null, data: { dropped: undefined, kept: 'x', deep: [[{ k: 'v' }]] } },
    ];
    const appended = await appendAudit(db.pool, caseId, tricky);
    for (const e of appended) {
      const { hash, ...rest } = e;
      expect(hashEntry(rest)).toBe(hash);
    }
    expect(appended[0].at).toBe('2026-01-02T03:04:05.678Z');
    expect(appended[3].data).toEqual({ kept: 'x', deep: [[{ k: 'v' }]] });
    expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
  });

  it('continues an existing chain and keeps the hashes valid after the jsonb/timestamp round trip', async () => {
    const caseId = newCase();
    await appendAudit(db.pool, caseId, inputs(2, 'a'));
    // Half an hour ahead: a time before the previous entry's would be raised to it, one over an hour ahead is refused.
    const ahead = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000 + 123);
    const more = await appendAudit(db.pool, caseId, [
      {
        key: 'b-1',
        action: 'notice.sent',
        // Microseconds, an offset, undefined members, extra actor fields and key order that jsonb will change.
        at: new Date(ahead.getTime() + 2 * 3_600_000).toISOString().replace('Z', '456+02:00'),
        actor: { id: 'p_x', org: 'visa', roles: ['partner'] } as unknown as AuditInput['actor'],
        data: { zz: 1, aa: { y: undefined, x: [1.5, 'é', '<tag>'] }, big: 12345678901234, neg: -0 },
      },
    ]);
    expect(more[0].seq).toBe(3);
    expect(more[0].at).toBe(ahead.toISOString());
    expect(more[0].actor).toEqual({ id: 'p_x', org: 'visa' });
    const listed = await listAudit(db.pool, caseId);
    expect(listed[2]).toEqual(more[0]);
    expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
  });

  it('is idempotent on keys, across calls and within one batch', async () => {
    const caseId = newCase();
    const first = await appendAudit(db.pool, caseId, inputs(3));
    const again = await appendAudit(db.pool, caseId, [...inputs(3), { key: 'e-4', action: 'case.closed', actor: null, data: {} }, { key: 'e-4', action: 'case.closed', actor: null, data: { dup: true } }]);
    expect(again.slice(0, 3)).toEqual(first);
    expect(again[3].seq).toBe(4);
    expect(again[4]).toEqual(again[3]);
    expect(await listAudit(db.pool, caseId)).toHaveLength(4);
  });

  it('appends inside a caller transaction and rolls back with it', async () => {
    const caseId = newCase();
    const client: pg.PoolClient = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await appendAuditInTx(client, caseId, inputs(2));
      await client.query('ROLLBACK');
      expect(await listAudit(db.pool, caseId)).toHaveLength(0);
      await client.query('BEGIN');
      const out = await appendAuditInTx(client, caseId, inputs(2));
      await client.query('COMMIT');
      expect(out.map((e) => e.seq)).toEqual([1, 2]);
    } finally {
      client.release();
    }
    expect((await verifyChain(db.pool, caseId)).entries).toBe(2);
  });

  it('gives 20 concurrent appenders on one case one unbroken chain, and re-appending their keys adds nothing', async () => {
    const caseId = newCase();
    const writers = Array.from({ length: 20 }, (_, w) =>
      Array.from({ length: 3 }, (_, i) => ({ key: `w${w}-${i}`, action: 'task.created', actor: null, data: { w, i } })),
    );
    await Promise.all(writers.map((batch) => appendAudit(db.pool, caseId, batch)));
    const listed = await listAudit(db.pool, caseId);
    expect(listed.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(new Set(listed.map((e) => e.prevHash)).size).toBe(60);
    const v = await verifyChain(db.pool, caseId);
    expect(v).toMatchObject({ intact: true, entries: 60, firstBadSeq: null });

    await Promise.all(writers.map((batch) => appendAudit(db.pool, caseId, batch)));
    const after = await listAudit(db.pool, caseId);
    expect(after).toEqual(listed);
  });
});

describe('audit_append() and the times it is given (migration 0018)', () => {
  /** Calls audit_append() as the application role (which may: db/roles.ts) with an entry at `at`, body built as appendInput does. */
  const plant = (caseId: string, key: string, at: string) =>
    db.pool
      .query(`SELECT * FROM audit_append($1::text, $2::jsonb)`, [
        caseId,
        JSON.stringify([{ key, at, actorId: null, actorOrg: null, action: 'task.created', data: {}, body: `{"action":"task.created","actor":null,"at":"${at}","data":{}`, fence: null }]),
      ])
      .then(
        () => 'stored',
        (err: Error) => err.message,
      );
  const refused = (caseId: string, key: string, at: string) =>
    `audit entry ${key} of case ${caseId}: time ${at} is not finite or lies more than an hour past the database clock`;

  it("refuses 'infinity', and a time far ahead, which would have stopped the case's chain or dragged its later entries there", async () => {
    const caseId = newCase();
    await appendAudit(db.pool, caseId, inputs(1));
    expect(await plant(caseId, 'p-inf', 'infinity')).toBe(refused(caseId, 'p-inf', 'infinity'));
    expect(await plant(caseId, 'p-neg', '-infinity')).toBe(refused(caseId, 'p-neg', '-infinity'));
    expect(await plant(caseId, 'p-9999', '9999-12-31T23:59:59.999Z')).toBe(refused(caseId, 'p-9999', '9999-12-31T23:59:59.999Z'));
    const twoHours = new Date(Date.now() + 2 * 3_600_000).toISOString();
    expect(await plant(caseId, 'p-2h', twoHours)).toBe(refused(caseId, 'p-2h', twoHours));

    // The case's next entry is stamped now: neither stopped nor dragged into the future by what was refused.
    const [later] = await appendAudit(db.pool, caseId, [{ key: 'e-later', action: 'task.created', actor: null, data: {} }]);
    expect(later.seq).toBe(2);
    expect(Math.abs(Date.parse(later.at) - Date.now()), `entry 2 stamped ${later.at}`).toBeLessThan(60_000);
    // Within the hour a clock running ahead (the Temporal server's, for a workflow's entries) may be.
    expect(await plant(caseId, 'p-50min', new Date(Date.now() + 50 * 60_000).toISOString())).toBe('stored');
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: true, entries: 3 });
  });

  it("reads, verifies and exports a chain holding a time no entry may have (stored before 0018), reporting the entry as bad, and appends after it at the entry's own time", async () => {
    const caseId = newCase();
    const [first] = await appendAudit(db.pool, caseId, inputs(1));
    // Stored as audit_append() took it before migration 0018: its hash is of the text "infinity", so only its time is wrong.
    const planted = { seq: 2, at: 'infinity', actor: null, action: 'task.created', data: {}, prevHash: first.hash };
    const hash = hashEntry(planted);
    await tamper([
      `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ('${caseId}', 2, 'infinity', 'task.created', '{}', '${first.hash}', '${hash}', 'planted')`,
    ]);
    expect((await listAudit(db.pool, caseId))[1]).toEqual({ ...planted, hash });

    // Not raised to 'infinity' (its time text would be NULL, and so its hash): the chain goes on.
    const [next] = await appendAudit(db.pool, caseId, [{ key: 'e-next', action: 'task.created', actor: null, data: {} }]);
    expect(Math.abs(Date.parse(next.at) - Date.now())).toBeLessThan(60_000);
    expect(next.prevHash).toBe(hash);

    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 3, firstBadSeq: 2 });
    let walked: { intact: boolean; firstBadSeq: number | null } | undefined;
    for await (const r of verifyAllChains(db.pool)) if (r.caseId === caseId) walked = r;
    expect(walked).toMatchObject({ intact: false, firstBadSeq: 2 });
    const exported: string[] = [];
    for await (const e of exportAudit(db.pool, { from: '2000-01-01T00:00:00Z' })) if (e.caseId === caseId) exported.push(e.at);
    expect(exported).toEqual([first.at, next.at, 'infinity']);
    const recorded: number[] = [];
    for await (const e of exportRecorded(db.pool, '-infinity', 'infinity')) if (e.caseId === caseId) recorded.push(e.seq);
    expect(recorded).toEqual([1, 2, 3]);
  });

  it('reports an entry dated before the one it follows, though its hash and link hold: one planted behind the appender', async () => {
    const caseId = newCase();
    const [first] = await appendAudit(db.pool, caseId, inputs(1));
    // Hashed and linked as the appender would, but a year before entry 1: only a hand-made row can be dated so.
    const planted = { seq: 2, at: new Date(Date.parse(first.at) - 365 * 86_400_000).toISOString(), actor: null, action: 'task.created', data: {}, prevHash: first.hash };
    await tamper([
      `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ('${caseId}', 2, '${planted.at}', 'task.created', '{}', '${first.hash}', '${hashEntry(planted)}', 'planted')`,
    ]);
    const checked = (await verifyChains(db.pool, [caseId])).get(caseId)!;
    expect(checked).toMatchObject({ intact: false, entries: 2, firstBadSeq: 2 });
    expect(checked.breaks).toEqual([{ seq: 2, detail: expect.stringMatching(/^entry 2 is dated .*, before entry 1 \(.*\): the appender raises such a time to the previous entry's$/) }]);
    // Entries the appender writes after it are in order again, and sound.
    await appendAudit(db.pool, caseId, [{ key: 'e-after', action: 'task.created', actor: null, data: {} }]);
    expect((await verifyChains(db.pool, [caseId])).get(caseId)!.breaks.map((b) => b.seq)).toEqual([2]);
  });

  describe('past such an entry, which breaks its chain for good, every later entry is still checked', () => {
    /**
     * A chain of 8 broken at entry 2 by a time stored before 0018, and the hash of its entry 6 (saved as a head, after
     * the break); then entry 5 is changed and entry 7 deleted.
     */
    const brokenEarly = async () => {
      const caseId = newCase();
      const [first] = await appendAudit(db.pool, caseId, inputs(1));
      const planted = { seq: 2, at: 'infinity', actor: null, action: 'task.created', data: {}, prevHash: first.hash };
      await tamper([
        `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key) VALUES ('${caseId}', 2, 'infinity', 'task.created', '{}', '${first.hash}', '${hashEntry(planted)}', 'planted')`,
      ]);
      const later = await appendAudit(db.pool, caseId, Array.from({ length: 6 }, (_, i) => ({ key: `later-${i + 3}`, action: 'task.created', actor: null, data: { seq: i + 3 } })));
      expect(later.map((e) => e.seq)).toEqual([3, 4, 5, 6, 7, 8]);
      const head = { caseId, seq: 6, hash: later[3].hash };
      expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 8, firstBadSeq: 2 });
      await tamper([
        `UPDATE audit_entries SET data = '{"seq":5,"forged":true}' WHERE case_id = '${caseId}' AND seq = 5`,
        `DELETE FROM audit_entries WHERE case_id = '${caseId}' AND seq = 7`,
      ]);
      return { caseId, head };
    };

    it('verify names the changed entry and the deleted one at their seq, the first departure kept as it was', async () => {
      const { caseId } = await brokenEarly();
      const found = [
        { seq: 2, detail: 'entry 2 has no valid time (at infinity)' },
        { seq: 5, detail: 'entry 5 does not hash to its stored hash: it was changed, or moved to seq 5' },
        { seq: 7, detail: 'entry 7 is missing: the chain holds entries 6 and 8 but nothing between' },
      ];
      // No case row: the answer's problems are the chain's alone.
      const v = await verifyCase(db.pool, caseId);
      expect(v.problems).toEqual(found.map((b) => b.detail));
      expect(v).toMatchObject({ intact: false, entries: 7, firstBadSeq: 2, entriesBadFrom: 2 });
      expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 7, firstBadSeq: 2, breaks: found });
    });

    it(`names the first ${MAX_NAMED_BREAKS} bad entries one by one and counts the rest (every entry of a long chain changed)`, async () => {
      const caseId = newCase();
      await appendAudit(db.pool, caseId, inputs(MAX_NAMED_BREAKS + 5));
      await tamper([`UPDATE audit_entries SET data = '{"forged":true}' WHERE case_id = '${caseId}'`]);
      expect((await verifyChain(db.pool, caseId)).breaks).toHaveLength(MAX_NAMED_BREAKS + 5);
      const v = await verifyCase(db.pool, caseId);
      expect(v.problems).toHaveLength(MAX_NAMED_BREAKS + 1);
      expect(v.problems[0]).toBe('entry 1 does not hash to its stored hash: it was changed, or moved to seq 1');
      expect(v.problems.at(-1)).toBe(`and 5 more bad entries, up to seq ${MAX_NAMED_BREAKS + 5}`);
    });

    it('a head saved after the break names the bad entries on either side of it, not the break alone', async () => {
      const { head } = await brokenEarly();
      expect(await checkHeads(db.pool, [head])).toEqual({
        intact: false,
        checked: 1,
        problems: [
          { ...head, storedHash: head.hash, detail: 'the saved head is stored, but the chain departs from a valid one at seq 2, at or before it (bad entries at or before it: 2, 5; after it: 7)' },
        ],
      });
    });
  });
});

describe('the append-only tables', () => {
  it('refuses UPDATE, DELETE and TRUNCATE even to its owner', async () => {
    const caseId = newCase();
    await appendAudit(db.pool, caseId, inputs(2));
    const owner = await db.admin();
    try {
      await expect(owner.query(`UPDATE audit_entries SET action = 'x' WHERE case_id = $1`, [caseId])).rejects.toThrow(/append-only/);
      await expect(owner.query(`DELETE FROM audit_entries WHERE case_id = $1`, [caseId])).rejects.toThrow(/append-only/);
      await expect(owner.query('TRUNCATE audit_entries')).rejects.toThrow(/append-only/);
    } finally {
      await owner.end();
    }
    expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
  });

  it('keeps the documents partners were sent as the chain and the archived histories are kept (migration 0017)', async () => {
    const c = await seedCase();
    await seedDocument(c.id);
    const owner = await db.admin();
    const refusal = (p: Promise<unknown>) => p.then(() => 'done', (err: Error) => err.message);
    try {
      expect(await refusal(owner.query(`UPDATE documents SET body = '{"forged":true}' WHERE case_id = $1`, [c.id]))).toBe('documents is append-only (UPDATE refused)');
      expect(await refusal(owner.query(`DELETE FROM documents WHERE case_id = $1`, [c.id]))).toBe('documents is append-only (DELETE refused)');
      expect(await refusal(owner.query('TRUNCATE documents'))).toBe('documents is append-only (TRUNCATE refused)');
    } finally {
      await owner.end();
    }
    expect(await verifyCase(db.pool, c.id)).toMatchObject({ intact: true, problems: [] });
  });
});

describe('verifyChain names the first bad entry', () => {
  const seeded = async (n = 6) => {
    const caseId = newCase();
    const entries = await appendAudit(db.pool, caseId, inputs(n));
    expect((await verifyChain(db.pool, caseId)).intact).toBe(true);
    return { caseId, entries };
  };

  it('reports an empty chain as intact with no head', async () => {
    expect(await verifyChain(db.pool, newCase())).toEqual({ intact: true, entries: 0, head: null, firstBadSeq: null, breaks: [] });
  });

  it('finds an altered entry', async () => {
    const { caseId } = await seeded();
    await tamper([`UPDATE audit_entries SET data = jsonb_set(data, '{note}', '"forged"') WHERE case_id = '${caseId}' AND seq = 3`]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 6, firstBadSeq: 3 });
  });

  it('finds an altered actor or time', async () => {
    const a = await seeded();
    await tamper([`UPDATE audit_entries SET actor_org = 'other' WHERE case_id = '${a.caseId}' AND seq = 5`]);
    expect((await verifyChain(db.pool, a.caseId)).firstBadSeq).toBe(5);
    const b = await seeded();
    await tamper([`UPDATE audit_entries SET at = at + interval '1 ms' WHERE case_id = '${b.caseId}' AND seq = 1`]);
    expect((await verifyChain(db.pool, b.caseId)).firstBadSeq).toBe(1);
  });

  it('finds an altered entry whose own hash was recomputed, at the link it broke', async () => {
    const { caseId, entries } = await seeded();
    const forged = { ...entries[2], data: { forged: true } };
    const { hash: _old, ...rest } = forged;
    const newHash = hashEntry(rest);
    await tamper([`UPDATE audit_entries SET data = '{"forged":true}', hash = '${newHash}' WHERE case_id = '${caseId}' AND seq = 3`]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, firstBadSeq: 4 });
  });

  it('finds a deleted entry', async () => {
    const { caseId } = await seeded();
    await tamper([`DELETE FROM audit_entries WHERE case_id = '${caseId}' AND seq = 4`]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 5, firstBadSeq: 4 });
  });

  it('finds a deleted first entry', async () => {
    const { caseId } = await seeded();
    await tamper([`DELETE FROM audit_entries WHERE case_id = '${caseId}' AND seq = 1`]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, firstBadSeq: 1 });
  });

  it('finds two swapped entries', async () => {
    const { caseId } = await seeded();
    await tamper([
      `UPDATE audit_entries SET seq = -2 WHERE case_id = '${caseId}' AND seq = 2`,
      `UPDATE audit_entries SET seq = 2 WHERE case_id = '${caseId}' AND seq = 3`,
      `UPDATE audit_entries SET seq = 3 WHERE case_id = '${caseId}' AND seq = -2`,
    ]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 6, firstBadSeq: 2 });
  });

  it('finds swapped contents (seq kept in place)', async () => {
    const { caseId } = await seeded();
    await tamper([
      `UPDATE audit_entries a SET data = b.data, action = b.action, actor_id = b.actor_id, actor_org = b.actor_org
         FROM audit_entries b WHERE a.case_id = '${caseId}' AND b.case_id = a.case_id AND a.seq IN (4, 5) AND b.seq = 9 - a.seq`,
    ]);
    expect((await verifyChain(db.pool, caseId)).firstBadSeq).toBe(4);
  });

  it('finds an entry inserted in the middle', async () => {
    const { caseId, entries } = await seeded();
    // Shift seq 3.. up by one and slip a row in at 3 that even links to entry 2 correctly.
    const partial = { seq: 3, at: entries[1].at, actor: null, action: 'task.completed', data: { injected: true }, prevHash: entries[1].hash };
    const h = hashEntry(partial);
    await tamper([
      `UPDATE audit_entries SET seq = seq + 100 WHERE case_id = '${caseId}' AND seq >= 3`,
      `UPDATE audit_entries SET seq = seq - 99 WHERE case_id = '${caseId}' AND seq >= 100`,
      `INSERT INTO audit_entries (case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key)
         VALUES ('${caseId}', 3, '${partial.at}', NULL, NULL, 'task.completed', '{"injected":true}', '${entries[1].hash}', '${h}', 'injected')`,
    ]);
    const v = await verifyChain(db.pool, caseId);
    expect(v.entries).toBe(7);
    // The forged row is a valid extension of entries 1-2; the chain breaks where the original entry 3 no longer links.
    expect(v).toMatchObject({ intact: false, firstBadSeq: 4 });
  });

  it('finds a naive insertion with a made-up hash, and an appended forgery at the end', async () => {
    const a = await seeded();
    await tamper([
      `UPDATE audit_entries SET seq = seq + 100 WHERE case_id = '${a.caseId}' AND seq >= 2`,
      `UPDATE audit_entries SET seq = seq - 99 WHERE case_id = '${a.caseId}' AND seq >= 100`,
      `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key)
         VALUES ('${a.caseId}', 2, now(), 'x', '{}', '${'1'.repeat(64)}', '${'2'.repeat(64)}', 'naive')`,
    ]);
    expect((await verifyChain(db.pool, a.caseId)).firstBadSeq).toBe(2);

    const b = await seeded();
    // As the owner: the application's role may not INSERT into audit_entries, only call audit_append().
    await tamper([
      `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key)
         VALUES ('${b.caseId}', 7, now(), 'case.closed', '{}', '${b.entries[5].hash}', '${'3'.repeat(64)}', 'forged-end')`,
    ]);
    expect(await verifyChain(db.pool, b.caseId)).toMatchObject({ intact: false, entries: 7, firstBadSeq: 7 });
  });

  it('pages through long chains', async () => {
    const caseId = newCase();
    await appendAudit(db.pool, caseId, inputs(2300, 'long'));
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: true, entries: 2300 });
    await tamper([`UPDATE audit_entries SET action = 'changed' WHERE case_id = '${caseId}' AND seq = 2100`]);
    expect(await verifyChain(db.pool, caseId)).toMatchObject({ intact: false, entries: 2300, firstBadSeq: 2100 });
  });
});

describe('exportAudit', () => {
  it('streams every entry in range in (at, id) order across batches', async () => {
    const c1 = newCase();
    const c2 = newCase();
    const at = '2021-05-05T05:05:05.005Z';
    // All at the same instant: the id breaks ties, so keyset paging must neither skip nor repeat. Years back, and bounded
    // by `end`: no other test's entry falls in these ranges.
    const end = '2021-05-07T00:00:00Z';
    await appendAudit(db.pool, c1, Array.from({ length: 1500 }, (_, i) => ({ key: `x${i}`, action: 'a', actor: null, data: { i }, at })));
    await appendAudit(db.pool, c2, [
      { key: 'early', action: 'b', actor: null, data: {}, at: '2021-05-05T05:05:05.004Z' },
      { key: 'late', action: 'b', actor: null, data: {}, at: '2021-05-05T05:05:05.006Z' },
      { key: 'out', action: 'b', actor: null, data: {}, at: '2021-05-06T00:00:00.000Z' },
    ]);
    const got = [];
    for await (const e of exportAudit(db.pool, { from: '2021-05-05T00:00:00Z', to: '2021-05-06T00:00:00Z' })) got.push(e);
    expect(got).toHaveLength(1502);
    expect(got[0]).toMatchObject({ caseId: c2, seq: 1 });
    expect(got[1501]).toMatchObject({ caseId: c2, seq: 2 });
    const middle = got.slice(1, 1501);
    expect(middle.every((e) => e.caseId === c1)).toBe(true);
    expect(middle.map((e) => e.seq)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(typeof got[0].hash).toBe('string');

    const from = [];
    for await (const e of exportAudit(db.pool, { from: '2021-05-05T05:05:05.006Z', to: end })) from.push(e.caseId + ':' + e.seq);
    expect(from).toEqual([`${c2}:2`, `${c2}:3`]);
    // Bounds between two milliseconds are exact: from .0055 leaves out .005 and takes .006; to .0045 still takes .004.
    const between = [];
    for await (const e of exportAudit(db.pool, { from: '2021-05-05T05:05:05.0055Z', to: end })) between.push(e.caseId + ':' + e.seq);
    expect(between).toEqual([`${c2}:2`, `${c2}:3`]);
    const before = [];
    for await (const e of exportAudit(db.pool, { from: '2021-05-05T05:05:05Z', to: '2021-05-05T05:05:05.0045Z' })) before.push(e.caseId + ':' + e.seq);
    expect(before).toEqual([`${c2}:1`]);
    const upTo = [];
    for await (const e of exportAudit(db.pool, { from: '2021-05-05T05:05:05Z', to: '2021-05-05T05:05:05.004000Z' })) upTo.push(e.caseId + ':' + e.seq);
    expect(upTo).toEqual([]);
  });

  it('rejects a range that is not a date-time', async () => {
    await expect(exportAudit(db.pool, { from: 'yesterday' }).next()).rejects.toThrow(/from/);
  });
});

describe('exportRecorded (the export by when entries were written)', () => {
  const settle = () => new Promise((r) => setTimeout(r, 2_200));
  const collect = async (since: string, before: string) => {
    const got: { caseId: string; seq: number; at: string; recordedAt: string | null }[] = [];
    for await (const e of exportRecorded(db.pool, since, before)) got.push(e);
    return got;
  };

  it('stops before a transaction still writing, then hands over its late entry with an old time, without gap or repeat', async () => {
    const early = newCase();
    const late = newCase();
    await appendAudit(db.pool, early, inputs(2, 'early'));
    await settle();
    // A writer whose entry carries a time long past (a workflow's time, written after an outage) and has not committed.
    const writer = await db.pool.connect();
    try {
      await writer.query('BEGIN');
      await appendAuditInTx(writer, late, [{ key: 'late-1', action: 'task.created', actor: null, data: {}, at: '2020-01-01T00:00:00.000Z' }]);
      const { rows } = await writer.query<{ started: Date }>('SELECT now() AS started');
      await settle();
      const first = await recordedHorizon(db.pool, '-infinity');
      expect(first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      // Held behind the open transaction, by the margin: nothing it may still commit lies before the horizon.
      expect(Date.parse(first)).toBeLessThanOrEqual(rows[0].started.getTime() - 2_000 + 1);
      const got = await collect('-infinity', first);
      expect(got.filter((e) => e.caseId === early).map((e) => e.seq)).toEqual([1, 2]);
      expect(got.some((e) => e.caseId === late)).toBe(false);
      expect(got.every((e) => e.recordedAt === null || e.recordedAt < first)).toBe(true);
      // A time-range export taken now, over the late entry's time, has nothing yet: it would never look there again.
      const window: string[] = [];
      for await (const e of exportAudit(db.pool, { from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' })) window.push(e.caseId);
      expect(window).not.toContain(late);

      await writer.query('COMMIT');
      await settle();
      const second = await recordedHorizon(db.pool, first);
      const next = await collect(first, second);
      expect(next.filter((e) => e.caseId === late)).toEqual([expect.objectContaining({ seq: 1, at: '2020-01-01T00:00:00.000Z' })]);
      expect(next.some((e) => e.caseId === early)).toBe(false);

      // A writer of another role, whose session this role may not see (here the owner): the horizon stays put until
      // it commits, and its entry then comes once.
      const other = newCase();
      const owner = await db.admin();
      try {
        await owner.query('BEGIN');
        const append = auditAppendStatement(other, [{ key: 'other-1', action: 'task.created', actor: null, data: {}, at: '2020-01-01T00:00:00.000Z' }]);
        await owner.query(append.sql, append.params);
        await settle();
        expect(await recordedHorizon(db.pool, second)).toBe(second);
        await owner.query('COMMIT');
      } finally {
        await owner.query('ROLLBACK').catch(() => {});
        await owner.end();
      }
      await settle();
      const third = await recordedHorizon(db.pool, second);
      expect(third > second).toBe(true);
      expect((await collect(second, third)).filter((e) => e.caseId === other)).toEqual([expect.objectContaining({ seq: 1 })]);
    } finally {
      await writer.query('ROLLBACK').catch(() => {});
      writer.release();
    }
  });

  it('starts with the entries written before migration 0011 (recorded at -infinity), and never goes back before since', async () => {
    const old = newCase();
    const owner = await db.admin();
    try {
      await owner.query(
        `INSERT INTO audit_entries (case_id, seq, at, action, data, prev_hash, hash, event_key, recorded_at)
         VALUES ($1, 1, '2025-01-01T00:00:00Z', 'case.created', '{}', $2, $3, 'legacy-1', '-infinity')`,
        [old, '0'.repeat(64), 'a'.repeat(64)],
      );
    } finally {
      await owner.end();
    }
    const before = await recordedHorizon(db.pool, '-infinity');
    const got = await collect('-infinity', before);
    expect(got[0]).toMatchObject({ caseId: old, seq: 1, recordedAt: null });
    const future = '2999-01-01T00:00:00.000000Z';
    expect(await recordedHorizon(db.pool, future)).toBe(future);
    expect(await collect(future, future)).toEqual([]);
  });
});

describe('verifyCase and what the chain records beside it', () => {
  it('notices a history.archived entry whose archive is gone', async () => {
    const c = await seedCase({ closed: true });
    const history = JSON.stringify({ events: [{ eventId: '1', eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' }] }, null, 2);
    const sha256 = historyHash(history);
    const runId = '0190a4b2-0000-7000-8000-000000000001';
    await db.pool.query(`INSERT INTO history_archives (case_id, run_id, workflow_id, hash, history) VALUES ($1, $2, $3, $4, $5)`, [c.id, runId, `takedown-${c.id}`, sha256, history]);
    const [archived] = await appendAudit(db.pool, c.id, [{ key: `history.archived:${runId}`, action: 'history.archived', actor: null, data: { workflowId: `takedown-${c.id}`, runId, events: 1, sha256 } }]);
    expect(await verifyCase(db.pool, c.id)).toMatchObject({ intact: true, problems: [] });

    // The archive is what GET /v1/cases/:id/history serves once Temporal has dropped the run; it goes.
    await tamper([`DELETE FROM history_archives WHERE case_id = '${c.id}'`]);
    const v = await verifyCase(db.pool, c.id);
    // The entry is sound; what it records is gone: no entry of the chain is marked bad.
    expect(v).toMatchObject({ intact: false, firstBadSeq: archived.seq, entriesBadFrom: null });
    expect(v.problems).toEqual([`the chain records the archived history of run ${runId} at seq ${archived.seq}, but no archive of it is stored: it was deleted`]);
  });

  it('notices a document.rendered entry whose document was altered, or is gone', async () => {
    const c = await seedCase();
    const doc = await seedDocument(c.id);
    expect(await verifyCase(db.pool, c.id)).toMatchObject({ intact: true, problems: [] });

    await tamper([`UPDATE documents SET body = jsonb_set(body, '{urls,0}', '"https://elsewhere.example.test/"') WHERE id = '${doc.id}'`]);
    const altered = await verifyCase(db.pool, c.id);
    expect(altered).toMatchObject({ intact: false, firstBadSeq: doc.seq, entriesBadFrom: null });
    expect(altered.problems).toEqual([expect.stringMatching(new RegExp(`^document ${doc.id} hashes to [0-9a-f]{64}, not to the ${doc.hash} recorded at seq ${doc.seq}$`))]);

    await tamper([`DELETE FROM documents WHERE id = '${doc.id}'`]);
    const gone = await verifyCase(db.pool, c.id);
    expect(gone).toMatchObject({ intact: false, firstBadSeq: doc.seq });
    expect(gone.problems).toEqual([`the chain records document ${doc.id} at seq ${doc.seq}, but no such document of this case is stored: it was deleted`]);
  });
});

describe('what the chain must hold for the rows beside it', () => {
  it("names a delivered notice and a completed task whose entries were cut from the chain's tail", async () => {
    const c = await seedCase();
    const noticeId = `ntc_${c.id.slice(-10)}`;
    const taskId = `tsk_${c.id.slice(-10)}`;
    // As sendNotice and a completion write them: each row with its entry, in one statement.
    await db.pool.query(`INSERT INTO notices (id, case_id, task_id, org, type, state) VALUES ($1, $2, NULL, 'visa', 'termination_request', 'delivered')`, [noticeId, c.id]);
    await db.pool.query(
      `INSERT INTO tasks (id, case_id, case_org, type, status, assignee_org, assignee_role, roles, created_at, context)
       VALUES ($1, $2, 'ceop', 'verify_evidence', 'completed', 'ceop', 'analyst', '{analyst}', now(), '{}'::jsonb)`,
      [taskId, c.id],
    );
    await appendAudit(db.pool, c.id, [
      { key: `notice:${noticeId}:sent`, action: 'notice.sent', actor: null, data: { noticeId, status: 200, attempt: 1 } },
      { key: 'wf:2:task.completed', action: 'task.completed', actor: { id: 'p_analyst', org: 'ceop' }, data: { taskId, outcome: 'verified' } },
    ]);
    expect(await verifyCase(db.pool, c.id)).toMatchObject({ intact: true, problems: [] });

    // The chain's two newest entries deleted: what is left is a valid, shorter chain.
    await tamper([`DELETE FROM audit_entries WHERE case_id = '${c.id}' AND seq > 1`]);
    expect(await verifyChain(db.pool, c.id)).toMatchObject({ intact: true, entries: 1 });
    const v = await verifyCase(db.pool, c.id);
    expect(v).toMatchObject({ intact: false, firstBadSeq: 2, entriesBadFrom: 2 });
    expect(v.problems).toEqual([
      `notice ${noticeId} is recorded delivered, but the chain holds no notice.sent entry for it: entries after seq 1 are missing`,
      `task ${taskId} is completed, but the chain holds no task.completed entry for it: entries after seq 1 are missing`,
    ]);
  });
});

describe('tamperings that verification must name, not crash on or miss', () => {
  it('names an entry or a document given a number past JSON\'s range (1e400, which reads as Infinity), and checks on', async () => {
    const c = await seedCase();
    const doc = await seedDocument(c.id);
    const other = await seedCase();
    await tamper([
      `UPDATE audit_entries SET data = data || '{"amount": 1e400}' WHERE case_id = '${c.id}' AND seq = 1`,
      `UPDATE documents SET body = body || '{"amount": 1e400}' WHERE id = '${doc.id}'`,
    ]);
    expect(await verifyChain(db.pool, c.id)).toMatchObject({ intact: false, firstBadSeq: 1 });
    const v = await verifyCase(db.pool, c.id);
    expect(v).toMatchObject({ intact: false, firstBadSeq: 1, entriesBadFrom: 1 });
    expect(v.problems).toContain(`document ${doc.id} holds a value no document can hold (a number past JSON's range): it was altered, not as recorded at seq ${doc.seq}`);
    expect(await readDocument(db.pool, c.id, doc.id)).toMatchObject({ sha256: null, intact: false });
    // The walk goes on past it to the other chains.
    const results = new Map<string, { intact: boolean }>();
    for await (const r of verifyAllChains(db.pool)) results.set(r.caseId, r);
    expect(results.get(c.id)).toMatchObject({ intact: false });
    expect(results.get(other.id)).toMatchObject({ intact: true });
  });

  it('names a document that no entry records: one put there behind the application\'s back', async () => {
    const c = await seedCase();
    await seedDocument(c.id);
    expect(await verifyCase(db.pool, c.id)).toMatchObject({ intact: true });
    const body = { type: 'hosting_notice', urls: ['https://forged.example.test/'] };
    const forged = `doc_forged_${c.id.slice(-8)}`;
    await db.pool.query(`INSERT INTO documents (id, case_id, task_id, type, version, hash, body) VALUES ($1, $2, NULL, 'hosting_notice', '1', $3, $4::jsonb)`, [forged, c.id, documentHash(body), JSON.stringify(body)]);
    const v = await verifyCase(db.pool, c.id);
    expect(v).toMatchObject({ intact: false, firstBadSeq: v.entries + 1 });
    expect(v.problems).toEqual([`document ${forged} is stored for this case but the chain holds no document.rendered entry for it`]);
  });
});

describe('verifyAllChains and npm run audit:verify', () => {
  it('reports every chain and exits 1 naming the broken one', async () => {
    const good = newCase();
    const bad = newCase();
    await appendAudit(db.pool, good, inputs(3));
    await appendAudit(db.pool, bad, inputs(3));
    await tamper([`UPDATE audit_entries SET data = '{}' WHERE case_id = '${bad}' AND seq = 2`]);

    const results = new Map<string, { intact: boolean; firstBadSeq: number | null }>();
    for await (const r of verifyAllChains(db.pool)) results.set(r.caseId, r);
    expect(results.get(good)).toMatchObject({ intact: true });
    expect(results.get(bad)).toMatchObject({ intact: false, firstBadSeq: 2, entriesBadFrom: 2 });

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url };
    const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts'], { cwd: root, env }).then(
      () => null,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed).not.toBeNull();
    expect(failed!.code).toBe(1);
    expect(failed!.stdout).toContain(`BROKEN case=${bad} firstBadSeq=2`);
    expect(failed!.stdout).not.toContain(`case=${good} `);
    expect(failed!.stderr).toMatch(/broken/);
  });

  it('reports a case whose whole chain was deleted, as verifyCase does', async () => {
    const kept = await seedCase();
    const gone = await seedCase();
    await tamper([`DELETE FROM audit_entries WHERE case_id = '${gone.id}'`]);
    expect(await verifyCase(db.pool, gone.id)).toMatchObject({ intact: false, entries: 0, firstBadSeq: 1 });

    // No entry of it is left to find it by: the walk takes the case ids of `cases` too.
    const results = new Map<string, { intact: boolean }>();
    for await (const r of verifyAllChains(db.pool)) results.set(r.caseId, r);
    expect(results.get(kept.id)).toMatchObject({ intact: true });
    expect(results.get(gone.id), 'a case with no chain left is reported').toMatchObject({ intact: false, firstBadSeq: 1, entriesBadFrom: 1 });

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url };
    const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts'], { cwd: root, env }).then(
      (ok) => ({ code: 0, stdout: ok.stdout }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed.stdout).toContain(`BROKEN case=${gone.id}`);
    expect(failed.code).toBe(1);
  });

  it('explains a missing DATABASE_URL', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const failed = await run(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts'], { cwd: root, env }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain('DATABASE_URL');
  });
});
