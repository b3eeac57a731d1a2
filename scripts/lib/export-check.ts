// Verifies audit chains from an NDJSON export alone, without the database: what an auditor or a court's expert runs on
// the file they were given (npm run audit:verify-export). The same hash rule as db/queries/audit.ts (hashEntry), and
// every link checked; entries may come in any order (a time-range export lists by time, a `since` export by writing).
import { GENESIS_HASH, hashOrNull } from '../../db/queries/audit';
import { z } from '../../domain/schemas';
import type { AuditEntry, ChainHead } from '../../domain/types';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
/** One exported line: an audit entry with its caseId (other members, such as recordedAt, are not hashed and are ignored). */
const ExportedEntrySchema = z.object({
  caseId: z.string(),
  seq: z.number().int().min(1),
  at: z.string(),
  actor: z.object({ id: z.string(), org: z.string() }).nullable(),
  action: z.string(),
  data: z.record(z.string(), z.unknown()),
  prevHash: hex64,
  hash: hex64,
});

interface Chain {
  /** Entries not yet linked (ahead of the next expected seq), each with the hash its content gives. */
  pending: Map<number, AuditEntry & { computed: string }>;
  next: number;
  prevHash: string;
  linked: number;
  head: AuditEntry | null;
  /** The highest seq the export holds for this chain, linked or not. */
  highest: number;
  /** Where the export's part of this chain starts, when it does not hold entry 1 (a time range): that link is not checked. */
  startsAt: number | null;
  problem: { seq: number; detail: string } | null;
}

export interface ExportReport {
  lines: number;
  /** Lines that repeated an entry already read (overlapping exports; a mirror should have none). */
  repeated: number;
  chains: number;
  entries: number;
  /** Line-level problems: not an entry, or two different entries for one seq. */
  badLines: string[];
  broken: { caseId: string; seq: number; detail: string }[];
  /** Chains whose part in the export starts after entry 1, by where it starts. */
  partial: { caseId: string; startsAt: number }[];
  heads: { checked: number; notInExport: number; problems: { caseId: string; seq: number; detail: string }[] };
}

export class ExportChecker {
  private readonly chains = new Map<string, Chain>();
  /** Per case id and seq: the entry's stored hash and the hash of its content, `stored:computed`. */
  private readonly seen = new Map<string, string>();
  private lines = 0;
  private repeated = 0;
  private readonly badLines: string[] = [];

  /** One line of an export (`where` names it in messages, e.g. "export.ndjson:12"). */
  add(line: string, where: string): void {
    if (line.trim() === '') return;
    this.lines += 1;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.badLines.push(`${where}: not JSON`);
      return;
    }
    const parsed = ExportedEntrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.badLines.push(`${where}: not an audit entry (${issue.path.join('.') || 'the line'} ${issue.message})`);
      return;
    }
    const { caseId, ...entry } = parsed.data;
    // Overlapping exports repeat lines: the same entry twice is one entry; two different ones for a seq are a forgery.
    // Entries are the same when their stored hash and the hash of their content both agree.
    const { hash } = entry;
    // The hash is of what the line holds, not of what the schema kept: a member added to `actor`, or a `__proto__` key
    // in `data` (JSON.parse keeps it as a key of its own, the schema's parse would not), is content that changes it.
    // A number past JSON's range (1e400 parses to Infinity) cannot be hashed: the entry counts as changed.
    const r = raw as Record<string, unknown>;
    const computed = hashOrNull({ seq: entry.seq, at: entry.at, actor: r.actor as AuditEntry['actor'], action: entry.action, data: r.data as AuditEntry['data'], prevHash: entry.prevHash }) ?? 'unhashable';
    const fingerprint = `${hash}:${computed}`;
    const key = `${caseId}\u0000${entry.seq}`;
    const twin = this.seen.get(key);
    if (twin !== undefined) {
      if (twin !== fingerprint) this.badLines.push(`${where}: a second, different entry ${entry.seq} of ${caseId}`);
      else this.repeated += 1;
      return;
    }
    this.seen.set(key, fingerprint);
    let chain = this.chains.get(caseId);
    if (!chain) {
      chain = { pending: new Map(), next: 1, prevHash: GENESIS_HASH, linked: 0, head: null, highest: 0, startsAt: null, problem: null };
      this.chains.set(caseId, chain);
    }
    chain.pending.set(entry.seq, { ...entry, computed });
    chain.highest = Math.max(chain.highest, entry.seq);
    this.advance(chain);
  }

  /** Links every pending entry that is next in its chain. */
  private advance(chain: Chain): void {
    for (let e = chain.pending.get(chain.next); e; e = chain.pending.get(chain.next)) {
      chain.pending.delete(chain.next);
      if (chain.problem === null) {
        // As verifyChain: a time no entry may have ('infinity', stored before migration 0018 refused it) is a bad entry,
        // even where the hash was taken over that text.
        if (!Number.isFinite(Date.parse(e.at))) chain.problem = { seq: e.seq, detail: `entry ${e.seq} has no valid time (at ${JSON.stringify(e.at)})` };
        else if (e.prevHash !== chain.prevHash) chain.problem = { seq: e.seq, detail: `entry ${e.seq} does not link to entry ${e.seq - 1} (prevHash ${e.prevHash}, entry ${e.seq - 1} hashes to ${chain.prevHash})` };
        else if (e.computed !== e.hash) chain.problem = { seq: e.seq, detail: `entry ${e.seq} does not hash to its hash: its content was changed` };
      }
      chain.prevHash = e.hash;
      chain.head = e;
      chain.linked += 1;
      chain.next += 1;
    }
  }

  /**
   * After the last line: chains that start after entry 1, gaps, and the heads given. With `complete` (the files claim
   * to hold every entry up to when the heads were saved, as a `since` mirror does, which holds every chain from its
   * entry 1), a chain that starts after entry 1 is broken there, and a head the export does not reach is a problem,
   * not just counted.
   */
  finish(heads: ChainHead[] = [], opts: { complete?: boolean } = {}): ExportReport {
    const broken: ExportReport['broken'] = [];
    const partial: ExportReport['partial'] = [];
    let entries = 0;
    for (const [caseId, chain] of this.chains) {
      if (chain.linked === 0 && chain.pending.size > 0) {
        // No entry 1 here: the part starts at its lowest seq, trusted as given (its prevHash links to what is not here).
        const first = Math.min(...chain.pending.keys());
        chain.startsAt = first;
        chain.next = first;
        chain.prevHash = chain.pending.get(first)!.prevHash;
        partial.push({ caseId, startsAt: first });
        this.advance(chain);
        // A lost start is the chain's first departure: it comes before any found in the part the export holds.
        if (opts.complete) chain.problem = { seq: 1, detail: `entries 1 to ${first - 1} are missing: the export holds the chain only from entry ${first}` };
      }
      if (chain.pending.size > 0 && chain.problem === null) {
        const after = Math.min(...chain.pending.keys());
        chain.problem = { seq: chain.next, detail: `entry ${chain.next} is missing: the export holds entries ${chain.next - 1} and ${after} but nothing between` };
      }
      entries += chain.linked + chain.pending.size;
      if (chain.problem) broken.push({ caseId, ...chain.problem });
    }
    const headProblems: ExportReport['heads']['problems'] = [];
    let notInExport = 0;
    for (const h of heads) {
      const chain = this.chains.get(h.caseId);
      const stored = this.seen.get(`${h.caseId}\u0000${h.seq}`)?.split(':')[0];
      const from = chain?.startsAt ?? 1;
      if (stored === h.hash) continue;
      if (stored !== undefined) headProblems.push({ ...h, detail: `entry ${h.seq} of ${h.caseId} has hash ${stored} in the export, not the saved ${h.hash}` });
      else if (chain && h.seq < from && opts.complete) headProblems.push({ ...h, detail: `entry ${h.seq} of ${h.caseId} is missing from the export, which holds the chain only from entry ${from}` });
      else if (chain && h.seq >= from && h.seq < chain.highest) headProblems.push({ ...h, detail: `entry ${h.seq} of ${h.caseId} is missing from the export, which holds the chain from ${from} to ${chain.highest}` });
      else if (opts.complete) {
        headProblems.push({ ...h, detail: chain ? `the export holds ${h.caseId} only up to entry ${chain.highest}, short of the saved head` : `the export holds no entry of ${h.caseId}` });
      } else notInExport += 1;
    }
    return {
      lines: this.lines,
      repeated: this.repeated,
      chains: this.chains.size,
      entries,
      badLines: this.badLines,
      broken,
      partial,
      heads: { checked: heads.length, notInExport, problems: headProblems },
    };
  }
}
