// Case reads by id (GET /v1/cases/:id and its tasks), batched: the reads that arrive together go to PostgreSQL as one
// statement per kind of reader instead of one statement each.
import DataLoader from 'dataloader';
import type pg from 'pg';
import { prepared } from '../db/client';
import type { HeldTask } from './views';

/** A case's id, org and view as PostgreSQL stores it (JSON text, sent on as it is to readers in full). */
export interface StoredCase {
  id: string;
  org: string;
  view: string;
}

/** The case row with, for a partner, its open tasks on the case (id, type, status, due time in epoch ms) as a JSON array. */
export interface StoredCaseHeld extends StoredCase {
  held: { id: string; type: HeldTask['type']; status: HeldTask['status']; dueAt: number | null }[];
}

/** One read: a case by id, and for a partner the org and roles whose open tasks on the case come with it. */
export interface CaseRead {
  caseId: string;
  partner?: { org: string; roles: readonly string[] };
}

export const CASE_ROWS_SQL = 'SELECT id, org, view::text AS view FROM cases WHERE id = ANY($1::text[])';
// A partner's reads in one statement: the cases and, on each, the open tasks its org may act on (ordered as its inbox).
const CASE_ROWS_HELD_SQL = `SELECT c.id, c.org, c.view::text AS view,
    (SELECT coalesce(json_agg(json_build_object('id', t.id, 'type', t.type, 'status', t.status,
                                                'dueAt', floor(extract(epoch FROM t.due_at) * 1000)) ORDER BY t.created_at, t.id), '[]')
       FROM tasks t WHERE t.case_id = c.id AND t.assignee_org = $2 AND t.status = 'open' AND t.roles && $3::text[]) AS held
  FROM cases c WHERE c.id = ANY($1::text[])`;

/** At most this many reads share a statement. */
const MAX_BATCH = 100;

/** Reads of the same kind (in full, or a partner org with the same roles) share a statement. */
const kindOf = (r: CaseRead) => (r.partner ? `${r.partner.org}\u0000${r.partner.roles.join('\u0000')}` : '');

/**
 * Case reads by id. Under load many reads are in flight at once, and every statement costs the API's one event loop a
 * round trip (pool, protocol, parsing) whatever its size; reads asked for in the same turn of the event loop are sent
 * together, one statement per kind of reader, so that cost is shared. Each statement is sent after every read in it was
 * asked for, so a read sees every write committed before its request was answered, as one statement of its own would.
 * Nothing is kept between batches. A failed statement fails the reads of its batch, each with the statement's error.
 */
export class CaseReads {
  private readonly loader: DataLoader<CaseRead, StoredCase | StoredCaseHeld | undefined, CaseRead>;

  constructor(pool: pg.Pool) {
    // Sent once the event loop has run the callbacks of every socket that was ready (setImmediate), not at the end of the
    // current callback (DataLoader's default): Node runs each socket's callback apart, so that would batch nothing.
    this.loader = new DataLoader(async (reads) => this.readAll(pool, reads), { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (send) => setImmediate(send) });
  }

  /** The case's row (with the partner's open tasks on it when `read.partner` is given), or undefined when there is none. */
  read(read: CaseRead): Promise<StoredCase | StoredCaseHeld | undefined> {
    return this.loader.load(read);
  }

  private async readAll(pool: pg.Pool, reads: readonly CaseRead[]): Promise<(StoredCase | StoredCaseHeld | undefined)[]> {
    const kinds = new Map<string, { partner?: CaseRead['partner']; ids: Set<string> }>();
    for (const r of reads) {
      const kind = kindOf(r);
      const group = kinds.get(kind) ?? { partner: r.partner, ids: new Set<string>() };
      group.ids.add(r.caseId);
      kinds.set(kind, group);
    }
    const found = new Map<string, StoredCase | StoredCaseHeld>();
    await Promise.all(
      [...kinds].map(async ([kind, { partner, ids }]) => {
        const statement = partner ? prepared(CASE_ROWS_HELD_SQL, [[...ids], partner.org, partner.roles]) : prepared(CASE_ROWS_SQL, [[...ids]]);
        for (const row of (await pool.query<StoredCase | StoredCaseHeld>(statement)).rows) found.set(`${kind}\u0001${row.id}`, row);
      }),
    );
    return reads.map((r) => found.get(`${kindOf(r)}\u0001${r.caseId}`));
  }
}
