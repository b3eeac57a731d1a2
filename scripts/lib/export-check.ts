// Verifies audit chains from an NDJSON export alone, without the database: what an auditor or a court's expert runs on
// the file they were given (npm run audit:verify-export). The same hash rule as db/queries/audit.ts (hashEntry), and
// every link checked; entries may come in any order (a time-range export lists by time, a `since` export by writing).
import { appenderRaisedTo, GENESIS_HASH, hashOrNull, missingEntries, timeGoesBack, type ChainBreak } from '../../db/queries/audit';
import { z } from '../../domain/schemas';
import type { AuditEntry, ChainHead } from '../../domain/types';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
/**
 * One exported line: an audit entry with its caseId, and nothing else but the `since` export's recordedAt (not hashed).
 * A member the export does not write would sit in the line unhashed, read as part of the entry by whoever reads it.
 */
const ExportedEntrySchema = z.strictObject({
  caseId: z.string(),
  seq: z.number().int().min(1),
  at: z.string(),
  actor: z.object({ id: z.string(), org: z.string() }).nullable(),
  action: z.string(),
  data: z.record(z.string(), z.unknown()),
  prevHash: hex64,
  hash: hex64,
  recordedAt: z.string().nullable().optional(),
});

/**
 * A line as the export writes it (api/routes/audit.ts): JSON.stringify of the entry, its members in exportAudit's
 * order, then exportRecorded's recordedAt.
 */
function written(line: Record<string, unknown>): string {
  const { caseId, seq, at, actor, action, data, prevHash, hash } = line;
  return JSON.stringify({ caseId, seq, at, actor, action, data, prevHash, hash, ...('recordedAt' in line ? { recordedAt: line.recordedAt } : {}) });
}

interface Chain {
  /**
   * Entries not yet linked (ahead of the next expected seq), each with the hash its content gives (null: content no
   * entry can hold, which cannot be canonicalised) and when it was recorded (a `since` export's recordedAt; NaN without).
   */
  pending: Map<number, AuditEntry & { computed: string | null; recordedMs: number }>;
  next: number;
  prevHash: string;
  linked: number;
  head: AuditEntry | null;
  /** The highest seq the export holds for this chain, linked or not. */
  highest: number;
  /** Where the export's part of this chain starts, when it does not hold entry 1 (a time range): that link is not checked. */
  startsAt: number | null;
  /** Every bad entry found, in seq order (a lost start first). */
  problems: ChainBreak[];
  /** The last linked entry's time (ms), when valid: the next may not be dated before it. */
  prevAt: number | null;
}

export interface ExportReport {
  lines: number;
  /** Lines that repeated an entry already read (overlapping exports; a mirror should have none). */
  repeated: number;
  chains: number;
  entries: number;
  /** Line-level problems: not an entry, or two different entries for one seq. */
  badLines: string[];
  /** One per broken chain: where it first departs from a valid one. */
  broken: { caseId: string; seq: number; detail: string }[];
  /**
   * Every bad entry, chain by chain in seq order, each chain's first being its `broken` one: past the first, each entry
   * is still checked on its own, so that one changed after an older break is named too.
   */
  badEntries: ({ caseId: string } & ChainBreak)[];
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
    // What is checked must be what the line says. JSON.parse keeps the last of a key given twice, where a reader of the
    // file (or another parser) may take the first: a forged "action" or "data" before the genuine one would be read,
    // the genuine one hashed. Written again, such a line holds each key once (at any depth), and differs; so does one
    // with a number the export cannot write (1e400 parses to Infinity, which JSON.stringify writes as null).
    const r = raw as Record<string, unknown>;
    const expected = written(r);
    if (line !== expected) {
      let at = 0;
      while (line[at] === expected[at]) at += 1;
      this.badLines.push(`${where}: not as the export writes it, from character ${at + 1} (a key given twice, or the line edited)`);
      return;
    }
    const { caseId, recordedAt, ...entry } = parsed.data;
    // Overlapping exports repeat lines: the same entry twice is one entry; two different ones for a seq are a forgery.
    // Entries are the same when their stored hash and the hash of their content both agree.
    const { hash } = entry;
    // The hash is of what the line holds, not of what the schema kept: a member added to `actor`, or a `__proto__` key
    // in `data` (JSON.parse keeps it as a key of its own, the schema's parse would not), is content that changes it.
    // Content no entry can hold (a lone surrogate, a number past JSON's range) cannot be hashed: a bad entry, not a stop.
    const computed = hashOrNull({ seq: entry.seq, at: entry.at, actor: r.actor as AuditEntry['actor'], action: entry.action, data: r.data as AuditEntry['data'], prevHash: entry.prevHash });
    const fingerprint = `${hash}:${computed ?? 'none'}`;
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
      chain = { pending: new Map(), next: 1, prevHash: GENESIS_HASH, linked: 0, head: null, highest: 0, startsAt: null, problems: [], prevAt: null };
      this.chains.set(caseId, chain);
    }
    chain.pending.set(entry.seq, { ...entry, computed, recordedMs: Date.parse(recordedAt ?? '') });
    chain.highest = Math.max(chain.highest, entry.seq);
    this.advance(chain);
  }

  /**
   * Links every pending entry that is next in its chain. Each is checked on its own terms, also past the chain's first
   * bad entry (as verifyChains does): one changed after an older break must be named too.
   */
  private advance(chain: Chain): void {
    for (let e = chain.pending.get(chain.next); e; e = chain.pending.get(chain.next)) {
      chain.pending.delete(chain.next);
      // As verifyChain: a time no entry may have ('infinity', stored before migration 0018 refused it) is a bad entry,
      // even where the hash was taken over that text.
      const at = Date.parse(e.at);
      const detail = !Number.isFinite(at)
        ? `entry ${e.seq} has no valid time (at ${JSON.stringify(e.at)})`
        : e.prevHash !== chain.prevHash
          ? `entry ${e.seq} does not link to entry ${e.seq - 1} (prevHash ${e.prevHash}, entry ${e.seq - 1} hashes to ${chain.prevHash})`
          : e.computed === null
            ? `entry ${e.seq} holds a value no entry can hold (it cannot be canonicalised): its content was changed`
            : e.computed !== e.hash
              ? `entry ${e.seq} does not hash to its hash: its content was changed`
              : chain.prevAt !== null && at < chain.prevAt && appenderRaisedTo(chain.prevAt, e.recordedMs)
                ? timeGoesBack(e.seq, e.at, e.seq - 1, chain.prevAt)
                : null;
      if (detail !== null) chain.problems.push({ seq: e.seq, detail });
      if (Number.isFinite(at)) chain.prevAt = at;
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
    const badEntries: ExportReport['badEntries'] = [];
    let entries = 0;
    for (const [caseId, chain] of this.chains) {
      // What is still pending comes after a gap (or, with no entry 1 here, is all there is): linked stretch by stretch, in
      // seq order, each stretch from its lowest seq, whose prevHash links to what is not here and is taken as given.
      // Sorted once: Math.min over a spread of a few hundred thousand keys overflows the stack, and a search for the
      // lowest per gap would take quadratic time on a chain with many.
      for (const seq of [...chain.pending.keys()].sort((x, y) => x - y)) {
        if (!chain.pending.has(seq)) continue; // linked in the stretch of a lower one
        if (chain.linked === 0) {
          chain.startsAt = seq;
          partial.push({ caseId, startsAt: seq });
          // A lost start is the chain's first departure: it comes before any found in the part the export holds.
          if (opts.complete) chain.problems.unshift({ seq: 1, detail: `entries 1 to ${seq - 1} are missing: the export holds the chain only from entry ${seq}` });
        } else {
          chain.problems.push({ seq: chain.next, detail: `${missingEntries(chain.next, seq - 1)}: the export holds entries ${chain.next - 1} and ${seq} but nothing between` });
        }
        chain.next = seq;
        chain.prevHash = chain.pending.get(seq)!.prevHash;
        this.advance(chain);
      }
      entries += chain.linked;
      if (chain.problems.length > 0) broken.push({ caseId, ...chain.problems[0] });
      for (const p of chain.problems) badEntries.push({ caseId, ...p });
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
      badEntries,
      partial,
      heads: { checked: heads.length, notInExport, problems: headProblems },
    };
  }
}
