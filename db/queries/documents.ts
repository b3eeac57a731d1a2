// Partner documents as stored when their notice was prepared: the hash every copy is known by, and an auditor's reads.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type pg from 'pg';
import { documentIdOf } from '../../domain/ids';
import { REQUEST_NOTICE_TYPES } from '../../domain/types';

/** SHA-256 of the document's RFC 8785 canonical JSON: what the audit chain records and a partner can recompute. */
export function documentHash(document: Record<string, unknown>): string {
  const canonical = canonicalize(document);
  if (canonical === undefined) throw new TypeError('document cannot be canonicalised');
  return createHash('sha256').update(canonical).digest('hex');
}

/** documentHash, or null for a body no document can hold (a number past JSON's range, set in jsonb by hand): altered. */
export function documentHashOrNull(document: Record<string, unknown>): string | null {
  try {
    return documentHash(document);
  } catch {
    return null;
  }
}

export interface DocumentSummary {
  id: string;
  taskId: string | null;
  type: string;
  version: string;
  sha256: string;
  createdAt: string;
}

interface DocumentRow {
  id: string;
  task_id: string | null;
  type: string;
  version: string;
  hash: string;
  created_at: Date;
}

const summary = (r: DocumentRow): DocumentSummary => ({ id: r.id, taskId: r.task_id, type: r.type, version: r.version, sha256: r.hash, createdAt: r.created_at.toISOString() });

/** A case's documents, oldest first (the stored hash; read one to have it recomputed). */
export async function listDocuments(pool: pg.Pool, caseId: string): Promise<DocumentSummary[]> {
  const { rows } = await pool.query<DocumentRow>(`SELECT id, task_id, type, version, hash, created_at FROM documents WHERE case_id = $1 ORDER BY created_at, id`, [caseId]);
  return rows.map(summary);
}

/**
 * One document with its hash recomputed from the stored body, the hash the audit chain's `document.rendered` entry
 * recorded for it, and whether all three agree.
 */
export async function readDocument(pool: pg.Pool, caseId: string, documentId: string) {
  const { rows } = await pool.query<DocumentRow & { body: Record<string, unknown>; recorded: string | null }>(
    `SELECT d.id, d.task_id, d.type, d.version, d.hash, d.created_at, d.body,
            (SELECT a.data->>'documentHash' FROM audit_entries a
              WHERE a.case_id = d.case_id AND a.action = 'document.rendered' AND a.data->>'documentId' = d.id ORDER BY a.seq LIMIT 1) AS recorded
       FROM documents d WHERE d.case_id = $1 AND d.id = $2`,
    [caseId, documentId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const sha256 = documentHashOrNull(row.body);
  return { ...summary(row), caseId, sha256, recordedSha256: row.recorded, intact: sha256 !== null && sha256 === row.hash && sha256 === row.recorded, document: row.body };
}

export interface TaskRequestDocument {
  noticeId: string;
  documentId: string;
  caseId: string;
  taskId: string;
  type: (typeof REQUEST_NOTICE_TYPES)[number];
  version: string;
  documentHash: string;
  /** Whether the document hashes, now, to what its document.rendered entry recorded and what its row stores. */
  intact: boolean;
  renderedAt: string;
  document: Record<string, unknown>;
}

/**
 * The latest request notice's document on a task (a retry or a re-notice replaces the one before), as its partner org
 * was or would have been sent it: notices to an org without a webhook are prepared and stored all the same, so this is
 * how such an org reads what it is asked. `documentHash` is the hash the audit chain's `document.rendered` entry
 * recorded, which the document's own row holds too (both written in one statement, both append-only); the stored one
 * stands in only should the entry be missing, which a sound chain never is, and `intact` then says false, as it does
 * when the document no longer hashes to what the entry recorded. Found through the case's notices (indexed by
 * case), each with its document as documentIdOf (domain/ids.ts) names it, and its entry by the key a
 * prepare appends it under (`notice:<id>:rendered`, unique per case), so a long chain is not scanned.
 */
export async function requestDocumentOfTask(pool: pg.Pool, caseId: string, taskId: string): Promise<TaskRequestDocument | undefined> {
  const { rows } = await pool.query<DocumentRow & { notice_id: string; body: Record<string, unknown>; recorded: string | null }>(
    `SELECT n.id AS notice_id, d.id, d.task_id, d.type, d.version, d.hash, d.created_at, d.body,
            (SELECT a.data->>'documentHash' FROM audit_entries a
              WHERE a.case_id = n.case_id AND a.event_key = 'notice:' || n.id || ':rendered' AND a.action = 'document.rendered') AS recorded
       FROM notices n JOIN documents d ON d.id = $4 || n.id
      WHERE n.case_id = $1 AND n.task_id = $2 AND n.type = ANY($3::text[])
      ORDER BY d.created_at DESC, d.id DESC LIMIT 1`,
    // documentIdOf's prefix, as every notice's document id is built.
    [caseId, taskId, REQUEST_NOTICE_TYPES, documentIdOf('')],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    noticeId: row.notice_id,
    documentId: row.id,
    caseId,
    taskId,
    type: row.type as TaskRequestDocument['type'],
    version: row.version,
    documentHash: row.recorded ?? row.hash,
    intact: row.recorded !== null && documentHashOrNull(row.body) === row.recorded && row.hash === row.recorded,
    renderedAt: row.created_at.toISOString(),
    document: row.body,
  };
}
