// The per-case audit hash chain: append (serialised, idempotent), list, verify, export.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type pg from 'pg';
import type { AuditEntry, AuditInput } from '../../domain/types';

export const GENESIS_HASH = '0'.repeat(64);

/** Rows per round trip when verifying or exporting: chains and exports never sit whole in memory. */
const BATCH = 1000;

/** Advisory-lock namespace of audit appends (two-int form, so it never collides with single-key locks such as the migrator's). */
const AUDIT_LOCK_CLASS = 0x41_55_44; // "AUD"

export interface ChainVerification {
  intact: boolean;
  entries: number;
  head: string | null;
  /** The first seq position (1-based) where the stored chain departs from a valid one; null when intact. */
  firstBadSeq: number | null;
}

export type ExportedAuditEntry = AuditEntry & { caseId: string };

/** hash = sha256(prevHash + RFC 8785 canonical JSON of { seq, at, actor, action, data, prevHash }), hex. */
export function hashEntry(e: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalize({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, data: e.data, prevHash: e.prevHash });
  if (body === undefined) throw new Error('audit entry cannot be canonicalised');
  return createHash('sha256').update(e.prevHash + body).digest('hex');
}

interface AuditRow {
  case_id: string;
  seq: number;
  at: Date;
  actor_id: string | null;
  actor_org: string | null;
  action: string;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  event_key: string;
  id: string | number;
}

const COLUMNS = 'case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key, id';

function rowToEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.at.toISOString(),
    actor: r.actor_id === null && r.actor_org === null ? null : { id: r.actor_id ?? '', org: r.actor_org ?? '' },
    action: r.action,
    data: r.data,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * What jsonb and timestamp(3) give back is what gets hashed: drop undefined members, truncate `at` to milliseconds,
 * keep only the actor's id and org. Otherwise a chain would stop verifying after its first round trip.
 */
function normaliseInput(e: AuditInput, now: Date): { at: string; actor: AuditEntry['actor']; action: string; data: Record<string, unknown> } {
  const at = e.at === undefined ? now : new Date(e.at);
  if (Number.isNaN(at.getTime())) throw new RangeError(`audit entry ${e.key}: invalid time ${e.at}`);
  const data = JSON.parse(JSON.stringify(e.data ?? {})) as Record<string, unknown>;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new TypeError(`audit entry ${e.key}: data must be an object`);
  return { at: at.toISOString(), actor: e.actor ? { id: e.actor.id, org: e.actor.org } : null, action: e.action, data };
}

/**
 * Appends inside the caller's transaction (after BEGIN, at READ COMMITTED): the advisory lock serialises appenders of
 * one case until the caller commits, and each statement after it sees the previous holder's rows. An input whose key
 * already exists is skipped and the stored entry returned, so a retried activity never appends twice.
 */
export async function appendAuditInTx(client: pg.PoolClient, caseId: string, entries: AuditInput[]): Promise<AuditEntry[]> {
  if (entries.length === 0) return [];
  await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [AUDIT_LOCK_CLASS, caseId]);

  const keys = [...new Set(entries.map((e) => e.key))];
  const existing = await client.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_entries WHERE case_id = $1 AND event_key = ANY($2::text[])`, [
    caseId,
    keys,
  ]);
  const byKey = new Map<string, AuditEntry>(existing.rows.map((r) => [r.event_key, rowToEntry(r)]));

  const head = await client.query<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_entries WHERE case_id = $1 ORDER BY seq DESC LIMIT 1',
    [caseId],
  );
  let seq = head.rows[0]?.seq ?? 0;
  let prevHash = head.rows[0]?.hash ?? GENESIS_HASH;

  const now = new Date();
  const fresh: { entry: AuditEntry; key: string }[] = [];
  const out: AuditEntry[] = [];
  for (const input of entries) {
    const known = byKey.get(input.key);
    if (known) {
      out.push(known);
      continue;
    }
    const n = normaliseInput(input, now);
    seq += 1;
    const partial = { seq, at: n.at, actor: n.actor, action: n.action, data: n.data, prevHash };
    const entry: AuditEntry = { ...partial, hash: hashEntry(partial) };
    prevHash = entry.hash;
    byKey.set(input.key, entry);
    fresh.push({ entry, key: input.key });
    out.push(entry);
  }

  if (fresh.length > 0) {
    const params: unknown[] = [];
    const tuples = fresh.map(({ entry, key }) => {
      const base = params.length;
      params.push(caseId, entry.seq, entry.at, entry.actor?.id ?? null, entry.actor?.org ?? null, entry.action, JSON.stringify(entry.data), entry.prevHash, entry.hash, key);
      return `(${Array.from({ length: 10 }, (_, i) => `$${base + i + 1}${i === 6 ? '::jsonb' : ''}`).join(', ')})`;
    });
    await client.query(
      `INSERT INTO audit_entries (case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
  return out;
}

const RETRYABLE_CODES = new Set(['40001', '40P01', '23505']);

/** appendAuditInTx in its own transaction; one retry covers a race with a writer that bypassed the lock. */
export async function appendAudit(pool: pg.Pool, caseId: string, entries: AuditInput[]): Promise<AuditEntry[]> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await appendAuditInTx(client, caseId, entries);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      const code = (err as { code?: string }).code;
      if (attempt < 2 && code && RETRYABLE_CODES.has(code)) continue;
      throw err;
    } finally {
      client.release();
    }
  }
}

export async function listAudit(pool: pg.Pool, caseId: string): Promise<AuditEntry[]> {
  const res = await pool.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_entries WHERE case_id = $1 ORDER BY seq`, [caseId]);
  return res.rows.map(rowToEntry);
}

/**
 * Recomputes every hash and link. Position i (1-based, in seq order) must hold seq i, link to the previous stored hash
 * and hash to its stored hash; the first position that fails is reported. So an altered row names itself, a deleted
 * row names the missing seq, swapped rows name the first of the pair, an inserted row names where it went in.
 * Deleting the newest entries leaves a valid shorter chain: compare `head` with one recorded elsewhere to catch that.
 */
export async function verifyChain(pool: pg.Pool, caseId: string): Promise<ChainVerification> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let head: string | null = null;
  let firstBadSeq: number | null = null;
  let count = 0;
  let after = -2147483648;
  for (;;) {
    const res = await pool.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_entries WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT ${BATCH}`,
      [caseId, after],
    );
    for (const row of res.rows) {
      const e = rowToEntry(row);
      count += 1;
      if (firstBadSeq === null) {
        const { hash, ...rest } = e;
        if (e.seq !== expectedSeq || e.prevHash !== prevHash || hashEntry(rest) !== hash) firstBadSeq = expectedSeq;
      }
      expectedSeq += 1;
      prevHash = e.hash;
      head = e.hash;
      after = row.seq;
    }
    if (res.rows.length < BATCH) break;
  }
  return { intact: firstBadSeq === null, entries: count, head, firstBadSeq };
}

function isoOrThrow(label: string, value: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`${label} is not a date-time: ${value}`);
  return d.toISOString();
}

/** Every entry with from <= at < to, ordered by (at, id), read in keyset-paged batches. */
export async function* exportAudit(pool: pg.Pool, range: { from?: string; to?: string } = {}): AsyncGenerator<ExportedAuditEntry> {
  const from = range.from === undefined ? null : isoOrThrow('from', range.from);
  const to = range.to === undefined ? null : isoOrThrow('to', range.to);
  let cursor: { at: string; id: string } | null = null;
  for (;;) {
    const params: unknown[] = [from, to];
    let keyset = '';
    if (cursor) {
      params.push(cursor.at, cursor.id);
      keyset = 'AND (at, id) > ($3::timestamptz, $4::bigint)';
    }
    const res: pg.QueryResult<AuditRow> = await pool.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_entries
        WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR at < $2::timestamptz) ${keyset}
        ORDER BY at, id LIMIT ${BATCH}`,
      params,
    );
    for (const row of res.rows) yield { caseId: row.case_id, ...rowToEntry(row) };
    if (res.rows.length < BATCH) return;
    const last = res.rows[res.rows.length - 1];
    cursor = { at: last.at.toISOString(), id: String(last.id) };
  }
}

/** Verifies every case's chain, one case at a time, paging over case ids. */
export async function* verifyAllChains(pool: pg.Pool): AsyncGenerator<{ caseId: string } & ChainVerification> {
  let after: string | null = null;
  for (;;) {
    const res: pg.QueryResult<{ case_id: string }> = await pool.query<{ case_id: string }>(
      `SELECT DISTINCT case_id FROM audit_entries WHERE ($1::text IS NULL OR case_id > $1::text) ORDER BY case_id LIMIT ${BATCH}`,
      [after],
    );
    for (const { case_id } of res.rows) yield { caseId: case_id, ...(await verifyChain(pool, case_id)) };
    if (res.rows.length < BATCH) return;
    after = res.rows[res.rows.length - 1].case_id;
  }
}
