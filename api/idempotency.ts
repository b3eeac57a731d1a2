// Idempotency-Key for case creation (IETF draft): one row per (principal, key) claimed atomically, so concurrent retries start one case.
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import type pg from 'pg';
import { ProblemError } from '../domain/errors';

/** A claim outlives the Temporal deadline, so a live first attempt is never taken over; a dead one is after this long. */
export const IDEMPOTENCY_LOCK_MS = 15_000;

const KEY_RE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

function malformedKey(): ProblemError {
  return new ProblemError('validation', 'Idempotency-Key must be 1 to 255 printable ASCII characters', { 'Idempotency-Key': 'must be 1 to 255 printable ASCII characters' });
}

/**
 * The header as the draft writes it (a structured-field string, `"abc"`) or bare; undefined when absent. Callers pass
 * `req.headersDistinct`: Node joins repeated lines with ", " in `req.headers`, so `a` and `b` would become the key
 * "a, b". The draft's header is a single string, and one sent more than once is refused like a malformed one.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) && header.length !== 1) throw malformedKey();
  const raw = Array.isArray(header) ? header[0] : header;
  const key = /^"(.*)"$/.test(raw) ? raw.slice(1, -1) : raw;
  if (!KEY_RE.test(key) || key.trimEnd() !== key) throw malformedKey();
  return key;
}

/** The key of a valid header; undefined when it is absent or malformed, for a route that must refuse other things first. */
export function validIdempotencyKey(header: string | string[] | undefined): string | undefined {
  try {
    return idempotencyKeyOf(header);
  } catch {
    return undefined;
  }
}

/** The 422 for a key that an earlier request with another body (or, for updates, another result) already used. */
export function keyReusedWithAnotherBody(): ProblemError {
  return new ProblemError('validation', 'this Idempotency-Key was used with a different body', { 'Idempotency-Key': 'was used with a different body' });
}

/**
 * The id of the workflow update a request sends: the caller's Idempotency-Key, scoped to the caller and the resource, so
 * Temporal answers a retry with the first result and another principal's key never reaches it; a fresh id without a key.
 */
export function updateIdFor(what: string, resourceId: string, actor: { id: string }, key: string | undefined): string {
  return key === undefined ? `${what}-${resourceId}-${randomUUID()}` : `${what}-${resourceId}-${actor.id}-${key}`;
}

export function bodyHash(body: unknown): string {
  let canonical: string | undefined;
  try {
    canonical = canonicalize(body ?? null);
  } catch {
    throw new ProblemError('validation', 'the body cannot be canonicalised for Idempotency-Key', { body: 'cannot be canonicalised' });
  }
  return createHash('sha256').update(canonical ?? 'null', 'utf8').digest('hex');
}

export type Claim =
  /** This request owns the key and must create (or finish creating) `caseId`; `replay` when it took over a dead attempt. */
  | { kind: 'owner'; caseId: string; replay: boolean }
  /** An earlier request with this key and body finished: answer with its case. */
  | { kind: 'done'; caseId: string };

export async function claimKey(pool: pg.Pool, principalId: string, key: string, hash: string, freshCaseId: string): Promise<Claim> {
  const inserted = await pool.query<{ case_id: string }>(
    `INSERT INTO idempotency_keys (principal_id, key, body_hash, case_id, state, locked_until)
     VALUES ($1, $2, $3, $4, 'in_flight', now() + $5 * interval '1 millisecond')
     ON CONFLICT (principal_id, key) DO NOTHING RETURNING case_id`,
    [principalId, key, hash, freshCaseId, IDEMPOTENCY_LOCK_MS],
  );
  if (inserted.rowCount) return { kind: 'owner', caseId: inserted.rows[0].case_id, replay: false };
  // The first attempt died (or released its lock on failure): exactly one retry takes it over, with the same case id.
  const taken = await pool.query<{ case_id: string }>(
    `UPDATE idempotency_keys SET locked_until = now() + $4 * interval '1 millisecond'
     WHERE principal_id = $1 AND key = $2 AND body_hash = $3 AND state = 'in_flight' AND locked_until <= now()
     RETURNING case_id`,
    [principalId, key, hash, IDEMPOTENCY_LOCK_MS],
  );
  if (taken.rowCount) return { kind: 'owner', caseId: taken.rows[0].case_id, replay: true };
  const { rows } = await pool.query<{ body_hash: string; case_id: string; state: string }>(
    'SELECT body_hash, case_id, state FROM idempotency_keys WHERE principal_id = $1 AND key = $2',
    [principalId, key],
  );
  const row = rows[0];
  if (!row) throw new ProblemError('conflict', 'a request with this Idempotency-Key is being processed; retry shortly');
  if (row.body_hash !== hash) throw keyReusedWithAnotherBody();
  if (row.state === 'done') return { kind: 'done', caseId: row.case_id };
  throw new ProblemError('conflict', 'a request with this Idempotency-Key is still being processed; retry shortly');
}

export async function finishKey(pool: pg.Pool, principalId: string, key: string): Promise<void> {
  await pool.query(`UPDATE idempotency_keys SET state = 'done' WHERE principal_id = $1 AND key = $2`, [principalId, key]);
}

/** After a failed attempt the lock is dropped so the client's retry takes over at once instead of waiting for the lock to lapse. */
export async function releaseKey(pool: pg.Pool, principalId: string, key: string): Promise<void> {
  await pool.query(`UPDATE idempotency_keys SET locked_until = now() WHERE principal_id = $1 AND key = $2 AND state = 'in_flight'`, [principalId, key]);
}
