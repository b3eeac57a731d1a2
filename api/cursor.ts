// Opaque keyset cursors over (created_at, id), or over (due time, id) for an inbox sorted by deadline: stable under
// inserts, cheap on the matching indexes.
import { ProblemError } from '../domain/errors';
import { isStorableRfc3339 } from '../domain/rules/tasks';

export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(createdAt: Date | string, id: string): string {
  const at = createdAt instanceof Date ? createdAt.toISOString() : createdAt;
  return Buffer.from(JSON.stringify([at, id]), 'utf8').toString('base64url');
}

/** A cursor's JSON array, or `bad` thrown: base64url of JSON, as the encoders write it. */
function unpack(raw: string, bad: () => ProblemError): unknown[] {
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw bad();
  return parsed;
}

// The time goes to PostgreSQL as timestamptz: a day that does not exist (2026-02-31) or year 0000 must be refused here,
// with `cursor` named, rather than as a data exception from the query.
const isCursorTime = (at: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(at) && isStorableRfc3339(at);
const isCursorId = (id: string) => /^[A-Za-z0-9_.:-]{1,128}$/.test(id);

export function decodeCursor(raw: string | undefined): Cursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  const bad = () => new ProblemError('validation', 'the cursor is not one this API issued', { cursor: 'is not a valid cursor' });
  const parts = unpack(raw, bad) as string[];
  if (parts.length !== 2) throw bad();
  const [at, id] = parts;
  if (!isCursorTime(at) || !isCursorId(id)) throw bad();
  return { createdAt: at, id };
}

/** A position in an inbox sorted by deadline: the due time ('infinity' for a task without one) and the id. */
export interface DueCursor {
  dueAt: string;
  id: string;
}

/** Marked with 'due', so a cursor of one order is refused by the other instead of starting at the wrong place. */
export function encodeDueCursor(dueAt: string | null, id: string): string {
  return Buffer.from(JSON.stringify(['due', dueAt ?? 'infinity', id]), 'utf8').toString('base64url');
}

export function decodeDueCursor(raw: string | undefined): DueCursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  const bad = () => new ProblemError('validation', 'the cursor is not one this API issued for sort=due', { cursor: 'is not a valid cursor for this sort order' });
  const parts = unpack(raw, bad) as string[];
  if (parts.length !== 3 || parts[0] !== 'due') throw bad();
  const [, at, id] = parts;
  if (!(at === 'infinity' || isCursorTime(at)) || !isCursorId(id)) throw bad();
  return { dueAt: at, id };
}
