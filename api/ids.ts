// Random identifiers the API mints: case ids (CASE_ID_RE) and principal ids.
import { randomBytes } from 'node:crypto';
import { CASE_ID_RE } from '../domain/ids';

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

/** `n` characters of lower-case base32 (5 random bits each). */
export function randomBase32(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[bytes[i] & 31];
  return out;
}

export function newCaseId(): string {
  const id = `case_${randomBase32(26)}`;
  if (!CASE_ID_RE.test(id)) throw new Error(`minted case id ${id} does not match CASE_ID_RE`);
  return id;
}

export function newPrincipalId(): string {
  return `prn_${randomBase32(20)}`;
}

/** Ids in paths: anything else is a 404 without touching the database. */
export const TASK_ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
export const PRINCIPAL_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Document ids (`doc_` and a notice id: activities/notices.ts). */
export const DOCUMENT_ID_RE = /^[A-Za-z0-9_.:-]{1,256}$/;
