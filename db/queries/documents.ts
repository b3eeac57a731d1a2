// Partner documents as stored when their notice was prepared: the hash every copy is known by, and an auditor's reads.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type pg from 'pg';

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
