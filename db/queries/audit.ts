// The per-case audit hash chain: append (serialised, idempotent), list, verify, export.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type pg from 'pg';
import { exportBoundMillis } from '../../domain/rules/tasks';
import type { AuditEntry, AuditInput, ChainHead } from '../../domain/types';
import { prepared } from '../client';
import { documentHashOrNull } from './documents';

export const GENESIS_HASH = '0'.repeat(64);

/** Rows per round trip when verifying or exporting: chains and exports never sit whole in memory. */
const BATCH = 1000;

export interface ChainVerification {
  intact: boolean;
  entries: number;
  head: string | null;
  /** The first seq position (1-based) where the stored chain departs from a valid one; null when intact. */
  firstBadSeq: number | null;
}

/** One bad entry of a chain: its seq (of a missing entry, the first missing), and what is wrong with it, in words. */
export interface ChainBreak {
  seq: number;
  detail: string;
}

/**
 * verifyChain's answer with every bad entry (an extension, not in the contract's answer: verifyCase gives them in words,
 * in `problems`). Empty when intact; otherwise in seq order, the first at `firstBadSeq` (unless a row holds a seq
 * below 1, which is named at its own).
 */
export interface CheckedChain extends ChainVerification {
  breaks: ChainBreak[];
}

/** The words for a gap in a chain, from entry `first` to entry `last`: verifyChains and the export checker alike. */
export function missingEntries(first: number, last: number): string {
  return first === last ? `entry ${first} is missing` : `entries ${first} to ${last} are missing`;
}

/**
 * The words for an entry dated before the one it follows, which audit_append never writes (it raises such a time to the
 * previous entry's): a chain written, or rewritten, around it. Shared by verifyChains and the export checker.
 */
export function timeGoesBack(seq: number, at: string, prevSeq: number, prevAtMs: number): string {
  return `entry ${seq} is dated ${at}, before entry ${prevSeq} (${new Date(prevAtMs).toISOString()}): the appender raises such a time to the previous entry's`;
}

/**
 * Whether audit_append, writing an entry at `recordedAtMs` (the row's recorded_at: PostgreSQL's clock at the insert),
 * certainly raised a time earlier than the previous entry's (`prevAtMs`) to it, so that an entry dated before it was
 * not written by the appender. Migration 0018 follows a previous time only up to an hour past the database's clock (a
 * far-future time stored before it, or a clock stepped back by more than an hour, is not followed), so only a previous
 * time at most 59 minutes past the row's recorded_at counts (a minute for the time the append itself took). Rows from
 * before migration 0011 have recorded_at -infinity, and rows from before 0010 were never raised: neither is judged.
 */
export function appenderRaisedTo(prevAtMs: number, recordedAtMs: number): boolean {
  return Number.isFinite(recordedAtMs) && prevAtMs <= recordedAtMs + 59 * 60_000;
}

/** How many bad entries of one chain an answer names one by one; the rest are counted. */
export const MAX_NAMED_BREAKS = 100;

export type ExportedAuditEntry = AuditEntry & { caseId: string };

/** hash = sha256(prevHash + RFC 8785 canonical JSON of { seq, at, actor, action, data, prevHash }), hex. */
export function hashEntry(e: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalize({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, data: e.data, prevHash: e.prevHash });
  if (body === undefined) throw new Error('audit entry cannot be canonicalised');
  return createHash('sha256').update(e.prevHash + body).digest('hex');
}

/**
 * hashEntry for verification: null for content no entry can hold, which the appender never writes. A number past what
 * JSON parses to a finite number (1e400 set in jsonb by hand reads as Infinity) cannot be canonicalised: the entry is
 * reported as altered, and the check goes on to the other entries and chains.
 */
export function hashOrNull(e: Omit<AuditEntry, 'hash'>): string | null {
  try {
    return hashEntry(e);
  } catch {
    return null;
  }
}

export interface AuditRow {
  case_id: string;
  seq: number;
  /** node-pg reads 'infinity' and '-infinity' as numbers, not Dates (storedTime). */
  at: Date | number;
  /** When PostgreSQL wrote the row (migration 0011; -infinity, read as a number, for rows from before it). */
  recorded_at: Date | number;
  actor_id: string | null;
  actor_org: string | null;
  action: string;
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  event_key: string;
  id: string | number;
  fence: number | null;
}

const COLUMNS = 'case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key, id, fence, recorded_at';

/**
 * A stored time as the chain hashes it (ISO text, milliseconds), or, for one no entry can validly have ('infinity' and
 * '-infinity', which node-pg reads as numbers; a time past JavaScript's range, an invalid Date), a word for it: readers
 * show and export such an entry, and verification reports it as bad (validTime), instead of throwing on it.
 */
function storedTime(at: Date | number): string {
  if (validTime(at)) return at.toISOString();
  return at === Infinity ? 'infinity' : at === -Infinity ? '-infinity' : 'invalid';
}

/** Whether a stored time is one an entry may have: audit_append() refuses the others since migration 0018. */
function validTime(at: Date | number): at is Date {
  return at instanceof Date && Number.isFinite(at.getTime());
}

function rowToEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: storedTime(r.at),
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

/** One entry as audit_append() takes it (db/migrations/0003): its columns, and its canonical body without the closing brace. */
interface AppendInput {
  key: string;
  at: string;
  actorId: string | null;
  actorOrg: string | null;
  action: string;
  data: Record<string, unknown>;
  body: string;
  /** Stored beside the entry, not hashed (db/migrations/0013). */
  fence: number | null;
}

function appendInput(e: AuditInput, now: Date, fence: number | undefined): AppendInput {
  const n = normaliseInput(e, now);
  // RFC 8785 sorts "prevHash" and "seq" after these four keys, so PostgreSQL completes the body by appending them.
  const canonical = canonicalize({ action: n.action, actor: n.actor, at: n.at, data: n.data });
  if (canonical === undefined) throw new Error(`audit entry ${e.key} cannot be canonicalised`);
  return { key: e.key, at: n.at, actorId: n.actor?.id ?? null, actorOrg: n.actor?.org ?? null, action: n.action, data: n.data, body: canonical.slice(0, -1), fence: fence ?? null };
}

/**
 * The statement that appends `entries` to a case's chain: `SELECT * FROM audit_append(...)` with its parameters, numbered
 * from `first`, so that a caller can put it after other work in one statement. Inside PostgreSQL it takes the case's
 * advisory lock (held to the end of the transaction), skips keys already stored and chains the rest; see
 * db/migrations/0003_audit_append_function.sql. `fence`: the workflow task's, for entries a workflow makes (appendSuperseding).
 */
export function auditAppendStatement(caseId: string, entries: AuditInput[], first = 1, fence?: number): { sql: string; params: unknown[] } {
  return { sql: auditAppendCall(`$${first}`, `$${first + 1}::jsonb`), params: [caseId, appendInputsJson(entries, fence)] };
}

/** `SELECT <an entry's columns> FROM audit_append(...)` for a case id and an entries expression (jsonb) of the caller's. */
export function auditAppendCall(caseIdSql: string, entriesSql: string): string {
  return `SELECT ${COLUMNS} FROM audit_append(${caseIdSql}::text, ${entriesSql})`;
}

/** Entries as audit_append() takes them (its jsonb argument), those without a time stamped `now`. */
export function appendInputsJson(entries: AuditInput[], fence?: number, now = new Date()): string {
  return JSON.stringify(entries.map((e) => appendInput(e, now, fence)));
}

async function appendRows(client: pg.PoolClient | pg.Pool, caseId: string, entries: AuditInput[], fence?: number): Promise<AuditRow[]> {
  if (entries.length === 0) return [];
  const { sql, params } = auditAppendStatement(caseId, entries, 1, fence);
  return (await client.query<AuditRow>(prepared(sql, params))).rows;
}

/**
 * Appends inside the caller's transaction (or alone, as one statement): one round trip. An input whose key already
 * exists is skipped and the stored entry returned, so a retried activity never appends twice.
 */
export async function appendAuditInTx(client: pg.PoolClient | pg.Pool, caseId: string, entries: AuditInput[]): Promise<AuditEntry[]> {
  return (await appendRows(client, caseId, entries)).map(rowToEntry);
}

/** A stored entry as appendSuperseding weighs it: the entry, and the fence it was appended under (null: unknown). */
export interface StoredAudit {
  entry: AuditEntry;
  fence: number | null;
}

export function storedAudit(rows: AuditRow[]): StoredAudit[] {
  return rows.map((r) => ({ entry: rowToEntry(r), fence: r.fence }));
}

/** Whether a stored entry records the event an input asks for: the same action, actor and data (its time aside). */
function sameEvent(asked: AuditInput, stored: AuditEntry): boolean {
  const n = normaliseInput(asked, new Date(0));
  return (
    n.action === stored.action &&
    (n.actor?.id ?? null) === (stored.actor?.id ?? null) &&
    (n.actor?.org ?? null) === (stored.actor?.org ?? null) &&
    canonicalize(n.data) === canonicalize(stored.data)
  );
}

/**
 * A bound that is never reached, as a guard: each round's keys are new (derived from an entry stored before), so the
 * rounds end once no derived key is taken, which the finite chain guarantees long before this.
 */
const SUPERSEDE_ROUNDS = 100;

/**
 * After an append (`stored`: what audit_append returned, one row per input, in order): an input whose key was already
 * taken by an entry recording another event is appended after all, under a key derived from the entry it met, with
 * `supersedes` naming that entry (seq and hash). A workflow's keys name one event of its run (`wf:<n>:<action>`): a write
 * made by a workflow task that never completed (the worker died first) stays in the chain, while the task's next
 * attempt may record another event under the same key (another completion than the lost one, a later deadline). The
 * chain keeps both and says which one stands. A retried input that matches what is stored appends nothing.
 *
 * `fence` orders the attempts (CaseState.fence): the next attempt's is higher. An input from a lower fence than the
 * entry it meets comes from the attempt that entry replaced, finishing late on a worker cut off from Temporal: the
 * stored event stands, and nothing is appended. Unknown fences (entries from before migration 0013, writers outside a
 * workflow) supersede as before.
 */
export async function appendSuperseding(client: pg.PoolClient | pg.Pool, caseId: string, asked: AuditInput[], stored: StoredAudit[], fence?: number): Promise<AuditEntry[]> {
  const appended: AuditEntry[] = [];
  let inputs = asked;
  let rows = stored;
  for (let round = 0; round < SUPERSEDE_ROUNDS; round++) {
    const next = inputs.flatMap((e, i) => {
      const met = rows[i];
      if (!met || sameEvent(e, met.entry)) return [];
      if (fence !== undefined && met.fence !== null && fence < met.fence) return [];
      return [{ ...e, key: `${e.key}:supersedes:${met.entry.seq}`, data: { ...e.data, supersedes: { seq: met.entry.seq, hash: met.entry.hash } } }];
    });
    if (next.length === 0) return appended;
    rows = storedAudit(await appendRows(client, caseId, next, fence));
    appended.push(...rows.map((r) => r.entry));
    inputs = next;
  }
  throw new Error(`audit entries of case ${caseId} met other events under their keys ${SUPERSEDE_ROUNDS} times: ${inputs.map((e) => e.key).join(', ')}`);
}

/** Appends a workflow's entries (one retry, as appendAudit), then appendSuperseding for any key another event already holds. */
export async function appendWorkflowAudit(pool: pg.Pool, caseId: string, entries: AuditInput[], fence?: number): Promise<void> {
  const stored = storedAudit(await retryingRace(() => appendRows(pool, caseId, entries, fence)));
  await appendSuperseding(pool, caseId, entries, stored, fence);
}

const RETRYABLE_CODES = new Set(['40001', '40P01', '23505']);

/** One retry covers a race with a writer that bypassed the lock. */
async function retryingRace<T>(append: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await append();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt < 2 && code && RETRYABLE_CODES.has(code)) continue;
      throw err;
    }
  }
}

/** appendAuditInTx as a statement of its own, retried once (retryingRace). */
export async function appendAudit(pool: pg.Pool, caseId: string, entries: AuditInput[]): Promise<AuditEntry[]> {
  return retryingRace(() => appendAuditInTx(pool, caseId, entries));
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
 * `breaks` names every bad entry, also after the first: see verifyChains.
 */
export async function verifyChain(pool: pg.Pool, caseId: string): Promise<CheckedChain> {
  return (await verifyChains(pool, [caseId])).get(caseId)!;
}

/**
 * verifyChain for many chains in one pass over the primary key (case_id, seq), 1,000 rows a round trip: checking a
 * thousand short chains costs a few round trips, not a thousand. A page that ends inside a chain finishes that chain on
 * its own (by seq) before the next page of whole chains: a row comparison beside `= ANY` would not position the scan.
 *
 * Past the first departure the chain is no longer valid, but its later entries are still each judged on their own
 * terms, so that tampering after an old break is named too: a gap in the seqs names the entries missing there, and
 * each entry must have a valid time, link to the stored hash of the entry before it (unless that one is missing) and
 * hash to its own stored hash. An entry altered in place names itself; one whose hash was recomputed names the entry
 * after it (which no longer links); an entry moved to another seq (an insertion, a swap) names itself, its hash being
 * of its old seq.
 */
export async function verifyChains(pool: pg.Pool, caseIds: string[]): Promise<Map<string, CheckedChain>> {
  const ids = [...new Set(caseIds)];
  const out = new Map<string, CheckedChain>(ids.map((id) => [id, { intact: true, entries: 0, head: null, firstBadSeq: null, breaks: [] }]));
  // The previous row of the chain being read, as the next one must link to it: 0 and the genesis hash before entry 1.
  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  // The previous entry's time: audit_append raises an earlier time to it (migrations 0010, 0018; see appenderRaisedTo).
  let prevAt: number | null = null;
  const take = (rows: AuditRow[]) => {
    for (const row of rows) {
      const v = out.get(row.case_id)!;
      if (v.entries === 0) {
        prevSeq = 0;
        prevHash = GENESIS_HASH;
        prevAt = null;
      }
      const e = rowToEntry(row);
      v.entries += 1;
      const { hash, ...rest } = e;
      const hashes = hashOrNull(rest) === hash;
      const recordedMs = row.recorded_at instanceof Date ? row.recorded_at.getTime() : Number.NaN;
      const backwards = validTime(row.at) && prevAt !== null && row.at.getTime() < prevAt && appenderRaisedTo(prevAt, recordedMs);
      if (v.firstBadSeq === null && (!validTime(row.at) || e.seq !== v.entries || e.prevHash !== prevHash || !hashes || backwards)) v.firstBadSeq = v.entries;
      const broke = (seq: number, detail: string) => v.breaks.push({ seq, detail });
      if (e.seq < 1) {
        // No entry has such a seq: a row put there by hand, and no link of the chain (entry 1 still starts from 64 zeros).
        broke(e.seq, `a row holds seq ${e.seq}, which no entry may have (a chain starts at entry 1)`);
        v.head = e.hash;
        continue;
      }
      const expected = prevSeq + 1;
      if (e.seq > expected) {
        const which = missingEntries(expected, e.seq - 1);
        broke(expected, prevSeq === 0 ? `${which}: the chain starts at entry ${e.seq}` : `${which}: the chain holds entries ${prevSeq} and ${e.seq} but nothing between`);
      }
      if (!validTime(row.at)) broke(e.seq, `entry ${e.seq} has no valid time (at ${e.at})`);
      else if (e.seq === expected && e.prevHash !== prevHash) {
        broke(
          e.seq,
          prevSeq === 0
            ? `entry 1 does not start the chain (prevHash ${e.prevHash}, not 64 zeros)`
            : `entry ${e.seq} does not link to entry ${prevSeq} (prevHash ${e.prevHash}, entry ${prevSeq} is stored with hash ${prevHash})`,
        );
      } else if (!hashes) broke(e.seq, `entry ${e.seq} does not hash to its stored hash: it was changed, or moved to seq ${e.seq}`);
      else if (backwards) broke(e.seq, timeGoesBack(e.seq, e.at, prevSeq, prevAt!));
      prevSeq = e.seq;
      prevHash = e.hash;
      if (validTime(row.at)) prevAt = row.at.getTime();
      v.head = e.hash;
    }
    return rows.length === BATCH ? rows[rows.length - 1] : undefined;
  };
  // Every chain with a case id up to `done` has been read whole (none at first: '' is a case id like any other).
  let done: string | null = null;
  for (;;) {
    const { rows } = await pool.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_entries WHERE case_id = ANY($1::text[]) AND ($2::text IS NULL OR case_id > $2) ORDER BY case_id, seq LIMIT ${BATCH}`,
      [ids, done],
    );
    let last = take(rows);
    if (!last) break;
    done = last.case_id;
    while (last) {
      const more = await pool.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_entries WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT ${BATCH}`, [last.case_id, last.seq]);
      last = take(more.rows);
    }
  }
  for (const v of out.values()) v.intact = v.firstBadSeq === null;
  return out;
}

export interface CaseVerification extends ChainVerification {
  /** What else was found wrong, in words (an extension of the contract's answer): an empty list when intact. */
  problems: string[];
  /**
   * The first seq from which the chain's own entries are not this case's valid, complete chain (a changed or foreign
   * entry, a lost start, entries + 1 for a lost tail), an extension: null when they are, even though an archive or a
   * document they record is not as recorded (then `firstBadSeq` names that entry, which is itself sound).
   */
  entriesBadFrom: number | null;
}

/** The hash the archive of a run is known by: SHA-256 of its stored JSON text (Temporal's historyToJSON, 2-space indented). */
export function historyHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** An archived run checked against the audit chain: its stored text, the hash recomputed from it, and what the chain recorded. */
export interface CheckedArchive {
  runId: string;
  archivedAt: Date;
  history: string;
  sha256: string;
  /** The `history.archived` entry for the run, if the chain holds one: its seq and the hash it recorded. */
  recorded: { seq: number; sha256: string | null } | null;
  intact: boolean;
}

/** A case's archived runs, oldest first, each checked against its `history.archived` entry (one query for all). */
export async function checkedArchives(pool: pg.Pool, caseId: string): Promise<CheckedArchive[]> {
  const { rows } = await pool.query<{ run_id: string; archived_at: Date; hash: string; history: string; seq: number | null; recorded: string | null }>(
    `SELECT h.run_id, h.archived_at, h.hash, h.history, a.seq, a.data->>'sha256' AS recorded
       FROM history_archives h
       LEFT JOIN LATERAL (SELECT seq, data FROM audit_entries
                           WHERE case_id = h.case_id AND action = 'history.archived' AND data->>'runId' = h.run_id ORDER BY seq LIMIT 1) a ON true
      WHERE h.case_id = $1 ORDER BY h.archived_at, h.run_id`,
    [caseId],
  );
  return rows.map((r) => {
    const sha256 = historyHash(r.history);
    const recorded = r.seq === null ? null : { seq: r.seq, sha256: r.recorded };
    return { runId: r.run_id, archivedAt: r.archived_at, history: r.history, sha256, recorded, intact: recorded?.sha256 === sha256 && r.hash === sha256 };
  });
}

/** Something the chain records as kept beside it that is not as recorded: the entry's seq, and what is wrong, in words. */
interface EvidenceProblem {
  seq: number;
  problem: string;
}

/**
 * What the chain's entries record as kept beside it, starting from the entries: a deleted row leaves nothing to start
 * from but the entry that recorded it. Every `history.archived` entry must still have its archive (checkedArchives,
 * starting from the archives, checks their hashes), and every `document.rendered` entry its document, whose RFC 8785
 * hash (documentHash, as prepareNotice stored it) and stored hash must still be the one the entry recorded.
 */
async function recordedEvidence(pool: pg.Pool, caseId: string): Promise<EvidenceProblem[]> {
  const { rows } = await pool.query<{
    seq: number;
    action: string;
    run_id: string | null;
    document_id: string | null;
    recorded: string | null;
    archived: boolean;
    stored_hash: string | null;
    body: Record<string, unknown> | null;
  }>(
    `SELECT a.seq, a.action, a.data->>'runId' AS run_id, a.data->>'documentId' AS document_id, a.data->>'documentHash' AS recorded,
            h.run_id IS NOT NULL AS archived, d.hash AS stored_hash, d.body
       FROM audit_entries a
       LEFT JOIN history_archives h ON a.action = 'history.archived' AND h.case_id = a.case_id AND h.run_id = a.data->>'runId'
       LEFT JOIN documents d ON a.action = 'document.rendered' AND d.case_id = a.case_id AND d.id = a.data->>'documentId'
      WHERE a.case_id = $1 AND a.action IN ('history.archived', 'document.rendered')
      ORDER BY a.seq`,
    [caseId],
  );
  return rows.flatMap((r): EvidenceProblem[] => {
    if (r.action === 'history.archived') {
      return r.archived ? [] : [{ seq: r.seq, problem: `the chain records the archived history of run ${r.run_id} at seq ${r.seq}, but no archive of it is stored: it was deleted` }];
    }
    if (r.body === null) {
      return [{ seq: r.seq, problem: `the chain records document ${r.document_id} at seq ${r.seq}, but no such document of this case is stored: it was deleted` }];
    }
    const sha256 = documentHashOrNull(r.body);
    if (sha256 === null) return [{ seq: r.seq, problem: `document ${r.document_id} holds a value no document can hold (a number past JSON's range): it was altered, not as recorded at seq ${r.seq}` }];
    if (sha256 !== r.recorded) return [{ seq: r.seq, problem: `document ${r.document_id} hashes to ${sha256}, not to the ${r.recorded} recorded at seq ${r.seq}` }];
    if (r.stored_hash !== r.recorded) return [{ seq: r.seq, problem: `document ${r.document_id} is stored with hash ${r.stored_hash}, not the ${r.recorded} recorded at seq ${r.seq}` }];
    return [];
  });
}

/**
 * The case's documents that no `document.rendered` entry records: prepareNotice stores each with its entry in one
 * statement, so one without is a document put there behind the application's back (or its entry was cut with the
 * chain's tail). Oldest first.
 */
async function unrecordedDocuments(pool: pg.Pool, caseId: string): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT d.id FROM documents d
      WHERE d.case_id = $1
        AND NOT EXISTS (SELECT 1 FROM audit_entries a WHERE a.case_id = d.case_id AND a.action = 'document.rendered' AND a.data->>'documentId' = d.id)
      ORDER BY d.created_at, d.id`,
    [caseId],
  );
  return rows.map((r) => r.id);
}

/**
 * Rows whose outcome the chain must hold but does not: a notice recorded delivered without its `notice.sent` entry, a
 * task completed without its `task.completed` entry. Each row and its entry are written in one statement, so a row
 * without its entry lost it from the chain's tail (an entry deleted in the middle breaks a link instead).
 */
async function unrecordedOutcomes(pool: pg.Pool, caseId: string): Promise<string[]> {
  const { rows } = await pool.query<{ problem: string }>(
    `SELECT problem FROM (
       SELECT 1 AS kind, n.id, 'notice ' || n.id || ' is recorded delivered, but the chain holds no notice.sent entry for it' AS problem
         FROM notices n
        WHERE n.case_id = $1 AND n.state = 'delivered'
          AND NOT EXISTS (SELECT 1 FROM audit_entries a WHERE a.case_id = n.case_id AND a.event_key = 'notice:' || n.id || ':sent')
       UNION ALL
       SELECT 2, t.id, 'task ' || t.id || ' is completed, but the chain holds no task.completed entry for it'
         FROM tasks t
        WHERE t.case_id = $1 AND t.status = 'completed'
          AND NOT EXISTS (SELECT 1 FROM audit_entries a WHERE a.case_id = t.case_id AND a.action = 'task.completed' AND a.data->>'taskId' = t.id)
     ) missing ORDER BY kind, id`,
    [caseId],
  );
  return rows.map((r) => r.problem);
}

/**
 * verifyChain, then what the chain alone cannot show. A known case's chain must start with its `case.created` entry
 * for the case's own reference (a chain moved from another case id verifies on its own). A valid chain may have lost
 * its newest entries: a closed case's chain must hold its `case.closed` entry, and every archived history its
 * `history.archived` entry. An archive must still hash to what that entry recorded, and every such entry must still
 * have its archive; likewise every `document.rendered` entry its document (recordedEvidence), and every document its
 * entry; every delivered notice and completed task its entry (unrecordedOutcomes). `problems` names each bad entry of the chain (verifyChains' breaks) and each of these. A departure makes the
 * case not intact; `firstBadSeq` is then 1 (a missing or foreign start), the first missing position (entries + 1), the
 * foreign `case.created` entry, or the `history.archived` or `document.rendered` entry whose archive or document no
 * longer matches it or is gone; `entriesBadFrom` leaves out the last two kinds.
 */
export async function verifyCase(pool: pg.Pool, caseId: string): Promise<CaseVerification> {
  const { breaks, ...chain } = await verifyChain(pool, caseId);
  const problems: string[] = [];
  let firstBad = chain.firstBadSeq;
  let entriesBadFrom = chain.firstBadSeq;
  const earliest = (known: number | null, seq: number) => (known === null || seq < known ? seq : known);
  // A problem with what a sound entry records beside the chain, and one with the chain's entries themselves.
  const markBeside = (seq: number, problem: string) => {
    problems.push(problem);
    firstBad = earliest(firstBad, seq);
  };
  const mark = (seq: number, problem: string) => {
    markBeside(seq, problem);
    entriesBadFrom = earliest(entriesBadFrom, seq);
  };
  // Every bad entry, each at its seq: one changed after an older break is as much a problem as the break. A chain
  // renumbered from an early entry on has as many as it has entries: past MAX_NAMED_BREAKS they are counted.
  for (const b of breaks.slice(0, MAX_NAMED_BREAKS)) problems.push(b.detail);
  if (breaks.length > MAX_NAMED_BREAKS) problems.push(`and ${breaks.length - MAX_NAMED_BREAKS} more bad entries, up to seq ${breaks[breaks.length - 1].seq}`);
  const [{ rows: cases }, archives, evidence, unrecorded, outcomes] = await Promise.all([
    pool.query<{ closed: boolean; recorded: boolean; reference: string; created_seq: number | null; created_reference: string | null }>(
      `SELECT c.closed_at IS NOT NULL AS closed, EXISTS (SELECT 1 FROM audit_entries a WHERE a.case_id = c.id AND a.action = 'case.closed') AS recorded,
              c.reference, cr.seq AS created_seq, cr.data->>'reference' AS created_reference
         FROM cases c
         LEFT JOIN LATERAL (SELECT seq, data FROM audit_entries a WHERE a.case_id = c.id AND a.action = 'case.created' ORDER BY seq LIMIT 1) cr ON true
        WHERE c.id = $1`,
      [caseId],
    ),
    checkedArchives(pool, caseId),
    recordedEvidence(pool, caseId),
    unrecordedDocuments(pool, caseId),
    unrecordedOutcomes(pool, caseId),
  ]);
  const missingFrom = chain.entries + 1;
  const known = cases[0];
  // A case is opened with its case.created entry in the same statement (activities/cases.ts): a case without it lost
  // its chain's start, or was given another case's chain (the case id is not hashed, its reference is).
  if (known && chain.entries === 0) mark(1, `case ${caseId} exists but its chain holds no entries: every entry of it is gone`);
  else if (known && known.created_seq === null) mark(1, 'the chain holds no case.created entry: its first entries are gone, or it is another case’s chain');
  else if (known && known.created_reference !== null && known.created_reference !== known.reference) {
    mark(known.created_seq!, `the chain's case.created entry (seq ${known.created_seq}) opened reference ${known.created_reference}, but this case is ${known.reference}: the chain belongs to another case`);
  }
  if (known?.closed && !known.recorded) {
    mark(missingFrom, `the case is closed but its chain holds no case.closed entry: entries after seq ${chain.entries} are missing`);
  }
  for (const a of archives) {
    if (!a.recorded) mark(missingFrom, `the history of run ${a.runId} is archived but the chain holds no history.archived entry for it`);
    else if (!a.intact) {
      markBeside(a.recorded.seq, `the archived history of run ${a.runId} hashes to ${a.sha256}, not to the ${a.recorded.sha256} recorded at seq ${a.recorded.seq}`);
    }
  }
  for (const e of evidence) markBeside(e.seq, e.problem);
  for (const id of unrecorded) mark(missingFrom, `document ${id} is stored for this case but the chain holds no document.rendered entry for it`);
  for (const problem of outcomes) mark(missingFrom, `${problem}: entries after seq ${chain.entries} are missing`);
  const intact = problems.length === 0;
  return { ...chain, intact, firstBadSeq: intact ? null : firstBad, entriesBadFrom: intact ? null : entriesBadFrom, problems };
}

/** A bound as the export reads it (exportBoundMillis: raised to a whole millisecond), as ISO text for PostgreSQL. */
function isoOrThrow(label: string, value: string): string {
  const ms = exportBoundMillis(value);
  if (ms === null) throw new RangeError(`${label} is not a date-time: ${value}`);
  const d = new Date(ms);
  // Raised past the last millisecond of 9999 (9999-12-31T23:59:59.9999Z), no entry is at or after it: toISOString would
  // write year +010000, which PostgreSQL refuses, and 'infinity' bounds the same entries.
  return d.getUTCFullYear() > 9999 ? 'infinity' : d.toISOString();
}

/** A time as RFC 3339 text in UTC with microseconds, as PostgreSQL keeps it (a JavaScript Date keeps milliseconds). */
const microsText = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
/**
 * A time as microsText, or a non-finite one as PostgreSQL writes it: '-infinity' (recorded_at of rows from before
 * migration 0011; a horizon not yet moved), 'infinity' (an `at` stored before migration 0018 refused it).
 */
const timeText = (column: string) => `CASE WHEN isfinite(${column}) THEN ${microsText(column)} ELSE ${column}::text END`;

/**
 * Rows of audit_entries matching `where` (over `params`), in (`column`, id) order, read in keyset-paged batches of
 * BATCH: each page starts after the last row of the one before, named by `key` (its `column` as timestamptz text).
 */
async function* pagedBy<R extends AuditRow>(
  pool: pg.Pool,
  query: { select: string; where: string; params: unknown[]; column: 'at' | 'recorded_at'; key: (row: R) => string },
): AsyncGenerator<R> {
  const { select, where, params, column, key } = query;
  let cursor: [string, string] | null = null;
  for (;;) {
    const keyset = cursor ? `AND (${column}, id) > ($${params.length + 1}::timestamptz, $${params.length + 2}::bigint)` : '';
    const res: pg.QueryResult<R> = await pool.query<R>(
      `SELECT ${select} FROM audit_entries WHERE ${where} ${keyset} ORDER BY ${column}, id LIMIT ${BATCH}`,
      cursor ? [...params, ...cursor] : params,
    );
    yield* res.rows;
    if (res.rows.length < BATCH) return;
    const last = res.rows[res.rows.length - 1];
    cursor = [key(last), String(last.id)];
  }
}

/** Every entry with from <= at < to, ordered by (at, id), read in keyset-paged batches. */
export async function* exportAudit(pool: pg.Pool, range: { from?: string; to?: string } = {}): AsyncGenerator<ExportedAuditEntry> {
  const from = range.from === undefined ? null : isoOrThrow('from', range.from);
  const to = range.to === undefined ? null : isoOrThrow('to', range.to);
  const rows = pagedBy<AuditRow & { at_text: string }>(pool, {
    // The key as PostgreSQL's text: it takes 'infinity' back as a bound, where a JavaScript Date has none.
    select: `${COLUMNS}, ${timeText('at')} AS at_text`,
    where: '($1::timestamptz IS NULL OR at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR at < $2::timestamptz)',
    params: [from, to],
    column: 'at',
    key: (row) => row.at_text,
  });
  for await (const row of rows) yield { caseId: row.case_id, ...rowToEntry(row) };
}

/** The class of the cases' audit advisory locks (0x415544, "AUD"), which audit_append() takes per case. */
const AUDIT_LOCK_CLASS = 4281668;

/** The call that takes a case's audit lock as audit_append() does (held to the end of the transaction), for a case id expression. */
export function auditLockCall(caseIdSql: string): string {
  return `pg_advisory_xact_lock(${AUDIT_LOCK_CLASS}, hashtext(${caseIdSql}::text))`;
}

/**
 * Takes the case's audit lock inside the caller's transaction: for a writer that locks rows before it appends, so it
 * takes its locks in the order every append does.
 */
export async function lockCaseAudit(client: pg.PoolClient, caseId: string): Promise<void> {
  await client.query(prepared(`SELECT ${auditLockCall('$1')}`, [caseId]));
}

/**
 * How far the `since` export reaches: every audit entry written before it has committed (or is gone), so a later
 * export from here never finds an older one. Every writer takes its case's advisory lock (class 0x415544, "AUD") in
 * audit_append() before it stamps a row, and holds it to its commit. So the horizon is the clock read first, or else
 * the start of the oldest transaction now holding such a lock, less 2 s for a clock that steps. A holder whose start
 * this role may not see (another role's session) holds the horizon where it was: nothing is given out past it.
 */
export async function recordedHorizon(pool: pg.Pool, since: string): Promise<string> {
  // The clock first, the lock holders after: a writer that takes its lock after this read stamps its rows later.
  const { rows: clock } = await pool.query<{ now: string }>(`SELECT ${microsText('clock_timestamp()')} AS now`);
  // Never before `since`: a horizon that went back would hand out again what the last call gave.
  const { rows } = await pool.query<{ before: string }>(
    `SELECT ${timeText('h')} AS before FROM (
       SELECT greatest($1::timestamptz,
                       least($2::timestamptz,
                             (SELECT min(coalesce(s.xact_start, '-infinity'::timestamptz))
                                FROM pg_locks l LEFT JOIN pg_stat_activity s ON s.pid = l.pid
                               WHERE l.locktype = 'advisory' AND l.classid = ${AUDIT_LOCK_CLASS} AND l.objsubid = 2 AND l.granted
                                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
                       - interval '2 seconds') AS h) x`,
    [since, clock[0].now],
  );
  return rows[0].before;
}

/**
 * Every entry written at or after `since` and before `before` (recordedHorizon), in the order written, read in
 * keyset-paged batches; each with `recordedAt` (null for entries written before migration 0011). Passing `before` as
 * the next `since` continues without a gap or a repeat, however late an entry with an older `at` was written.
 */
export async function* exportRecorded(
  pool: pg.Pool,
  since: string,
  before: string,
): AsyncGenerator<ExportedAuditEntry & { recordedAt: string | null }> {
  const rows = pagedBy<AuditRow & { recorded: string }>(pool, {
    select: `${COLUMNS}, ${timeText('recorded_at')} AS recorded`,
    where: 'recorded_at >= $1::timestamptz AND recorded_at < $2::timestamptz',
    params: [since, before],
    column: 'recorded_at',
    key: (row) => row.recorded,
  });
  for await (const row of rows) yield { caseId: row.case_id, ...rowToEntry(row), recordedAt: row.recorded === '-infinity' ? null : row.recorded };
}

/**
 * Verifies every case (its chain, its closing entries, its archives: verifyCase), one case at a time, paging over case
 * ids. The ids are those of `cases` and of `audit_entries` together: a case whose whole chain was deleted has no entry
 * left to be found by, and a chain whose case row is gone is still checked. Each page is the first BATCH ids of either
 * source after the cursor, merged, so no id of either is skipped.
 */
export async function* verifyAllChains(pool: pg.Pool): AsyncGenerator<{ caseId: string } & CaseVerification> {
  let after: string | null = null;
  for (;;) {
    const res: pg.QueryResult<{ case_id: string }> = await pool.query<{ case_id: string }>(
      `SELECT case_id FROM (
         (SELECT id AS case_id FROM cases WHERE $1::text IS NULL OR id > $1::text ORDER BY id LIMIT ${BATCH})
         UNION
         (SELECT DISTINCT case_id FROM audit_entries WHERE $1::text IS NULL OR case_id > $1::text ORDER BY case_id LIMIT ${BATCH})
       ) ids ORDER BY case_id LIMIT ${BATCH}`,
      [after],
    );
    for (const { case_id } of res.rows) yield { caseId: case_id, ...(await verifyCase(pool, case_id)) };
    if (res.rows.length < BATCH) return;
    after = res.rows[res.rows.length - 1].case_id;
  }
}

/**
 * The newest entry of every chain with a case id after `after`, by case id: an auditor keeps these outside Takedown, and
 * checkHeads later proves every chain still runs through them. A skip scan over the primary key (case_id, seq): one
 * index probe per chain for the next case id and one for its newest entry, so a page costs the same on any table size.
 */
export async function chainHeads(pool: pg.Pool, page: { after?: string; limit: number }): Promise<ChainHead[]> {
  const { rows } = await pool.query<{ case_id: string; seq: number; hash: string }>(
    `WITH RECURSIVE ids(case_id) AS (
       (SELECT case_id FROM audit_entries WHERE $1::text IS NULL OR case_id > $1::text ORDER BY case_id LIMIT 1)
       UNION ALL
       SELECT (SELECT a.case_id FROM audit_entries a WHERE a.case_id > ids.case_id ORDER BY a.case_id LIMIT 1)
         FROM ids WHERE ids.case_id IS NOT NULL)
     SELECT ids.case_id, h.seq, h.hash
       FROM ids CROSS JOIN LATERAL (SELECT seq, hash FROM audit_entries a WHERE a.case_id = ids.case_id ORDER BY seq DESC LIMIT 1) h
      WHERE ids.case_id IS NOT NULL
      LIMIT $2`,
    [page.after ?? null, page.limit],
  );
  return rows.map((r) => ({ caseId: r.case_id, seq: r.seq, hash: r.hash }));
}

export interface HeadProblem extends ChainHead {
  /** The hash stored at that seq now; null when the chain no longer has the entry. */
  storedHash: string | null;
  detail: string;
}

/**
 * Checks heads recorded earlier: each chain must still hold the entry with that seq and hash, and verify (verifyChain)
 * from its first entry to its newest. A chain rewritten whole, with every hash recomputed, verifies on its own; it
 * cannot keep a head recorded before the rewrite, which is what an anchor outside the database is for. Each head that
 * fails is named with what was found: no chain, a chain that now ends earlier, another hash at that entry, or a chain
 * that no longer verifies (before or after the head, with the seq of every bad entry when there is more than one).
 * Closing entries and archives are verifyCase's (audit/verify).
 */
export async function checkHeads(pool: pg.Pool, heads: ChainHead[]): Promise<{ intact: boolean; checked: number; problems: HeadProblem[] }> {
  const [{ rows }, chains] = await Promise.all([
    pool.query<{ hash: string | null }>(
      `SELECT a.hash FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS h(case_id, seq, i)
         LEFT JOIN audit_entries a ON a.case_id = h.case_id AND a.seq = h.seq ORDER BY h.i`,
      [heads.map((h) => h.caseId), heads.map((h) => h.seq)],
    ),
    verifyChains(pool, heads.map((h) => h.caseId)),
  ]);
  const problems: HeadProblem[] = [];
  heads.forEach((head, i) => {
    const stored = rows[i].hash;
    const chain = chains.get(head.caseId)!;
    const departs = chain.intact ? '' : `the chain departs from a valid one at seq ${chain.firstBadSeq}`;
    // Past the first departure each entry is still judged on its own (verifyChains): where there are more bad entries
    // than the first, say which, on either side of the head, so that one changed later (the head's own, one after it)
    // is named, not hidden behind an older break.
    const seqs = (side: ChainBreak[]) =>
      side.length > MAX_NAMED_BREAKS
        ? `${side.slice(0, MAX_NAMED_BREAKS).map((b) => b.seq).join(', ')} and ${side.length - MAX_NAMED_BREAKS} more`
        : side.map((b) => b.seq).join(', ');
    const before = chain.breaks.filter((b) => b.seq <= head.seq);
    const after = chain.breaks.filter((b) => b.seq > head.seq);
    const sides = [...(before.length ? [`at or before it: ${seqs(before)}`] : []), ...(after.length ? [`after it: ${seqs(after)}`] : [])];
    const more = chain.breaks.length > 1 ? ` (bad entries ${sides.join('; ')})` : '';
    const detail =
      chain.entries === 0
        ? `there is no chain for ${head.caseId}: every entry of it is gone, or it never existed`
        : stored === null
          ? `the chain of ${head.caseId} holds no entry ${head.seq} now (it has ${chain.entries} entries): entries were removed`
          : stored !== head.hash
            ? `entry ${head.seq} of ${head.caseId} holds hash ${stored}, not the saved ${head.hash}: the chain was rewritten since the heads were saved (or the file was altered)${departs ? `, and ${departs}${more}` : ''}`
            : !chain.intact && chain.firstBadSeq! <= head.seq
              ? `the saved head is stored, but ${departs}, at or before it${more}`
              : !chain.intact
                ? `the saved head holds, but the entries after it do not: ${departs}${more}`
                : null;
    if (detail !== null) problems.push({ ...head, storedHash: stored, detail });
  });
  return { intact: problems.length === 0, checked: heads.length, problems };
}

