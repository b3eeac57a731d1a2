#!/usr/bin/env node
// A verifier of Takedown's audit exports that needs nothing of Takedown: plain JavaScript for Node 18 or later, no
// packages, short enough to read whole before running it. It follows docs/audit-verification.md, which states the rules
// it checks so that anyone may write their own (in any language) and compare. An auditor or an opposing expert runs it
// on the NDJSON export they were given, with the chain heads they saved earlier:
//
//   node verify-export.mjs EXPORT.ndjson [MORE.ndjson ...] [--heads HEADS.json ...] [--complete]
//
// Prints one line per problem and a summary; exits 0 when every chain and head holds, 1 when one does not, 2 on misuse.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export const GENESIS = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * RFC 8785 (JCS) canonical JSON of a value read by JSON.parse. For such values JCS is JSON.stringify with every object's
 * keys sorted by UTF-16 code units (the default sort): JCS takes its number form and its string escaping from ECMAScript.
 */
export function canonical(v) {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('a number outside JSON (read as Infinity)');
  if (typeof v === 'string') return text(v);
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${text(k)}:${canonical(v[k])}`)
    .join(',')}}`;
}

/** A string as JCS writes it; one holding half of a UTF-16 surrogate pair is not Unicode text, and JCS refuses it. */
function text(s) {
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) throw new Error('a string that is not Unicode text (a lone surrogate)');
  return JSON.stringify(s);
}

/** An entry's hash: SHA-256, as hex, of its prevHash followed by the canonical JSON of the entry without hash and caseId. */
export function entryHash(e) {
  const { seq, at, actor, action, data, prevHash } = e;
  return createHash('sha256').update(prevHash + canonical({ seq, at, actor, action, data, prevHash }), 'utf8').digest('hex');
}

/** A line exactly as the export writes it: these members in this order, recordedAt only in a `since` export. */
function asWritten(o) {
  const { caseId, seq, at, actor, action, data, prevHash, hash } = o;
  return JSON.stringify({ caseId, seq, at, actor, action, data, prevHash, hash, ...('recordedAt' in o ? { recordedAt: o.recordedAt } : {}) });
}

function entryProblem(o) {
  const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (typeof o.caseId !== 'string') return 'no caseId';
  if (!Number.isInteger(o.seq) || o.seq < 1) return 'seq is not a whole number from 1';
  if (typeof o.at !== 'string' || !Number.isFinite(Date.parse(o.at))) return 'at is not a time';
  if (o.actor !== null && !(isObject(o.actor) && typeof o.actor.id === 'string' && typeof o.actor.org === 'string')) return 'actor is neither null nor { id, org }';
  if (typeof o.action !== 'string' || !isObject(o.data)) return 'action or data missing';
  if (!HEX64.test(o.prevHash) || !HEX64.test(o.hash)) return 'prevHash or hash is not 64 hex digits';
  if ('recordedAt' in o && o.recordedAt !== null && typeof o.recordedAt !== 'string') return 'recordedAt is neither null nor text';
  return null;
}

/** An entry's hash, or null for content JCS refuses (a lone surrogate, a number outside JSON): no entry holds that. */
function hashOrNull(e) {
  try {
    return entryHash(e);
  } catch {
    return null;
  }
}

/**
 * Whether the database's appender certainly raised a time earlier than the previous entry's (`prevAt`) to it, for an
 * entry it wrote at `recordedAt` (its clock, in a `since` export only): it follows a previous time up to an hour past
 * its clock (a minute is left for the append itself). Without recordedAt (a time-range export, rows older than the
 * column) nothing is judged.
 */
function appenderRaisedTo(prevAt, recordedAt) {
  const recorded = Date.parse(recordedAt ?? '');
  return Number.isFinite(recorded) && prevAt <= recorded + 59 * 60_000;
}

/**
 * Checks export lines (in any order; the same entry twice counts once) and saved heads. With `complete` (a mirror that
 * holds every entry written up to when the heads were saved), a chain without its entry 1, or short of a saved head,
 * does not hold; without it, a chain that starts later (a time-range export) is checked from where it starts.
 */
export function verify(lines, heads = [], { complete = false } = {}) {
  const problems = [];
  const chains = new Map();
  let entries = 0;
  for (const { text, where } of lines) {
    if (text.trim() === '') continue;
    let o;
    try {
      o = JSON.parse(text);
    } catch {
      problems.push(`BAD LINE ${where}: not JSON`);
      continue;
    }
    const bad = o !== null && typeof o === 'object' ? entryProblem(o) : 'not an object';
    if (bad) problems.push(`BAD LINE ${where}: ${bad}`);
    else if (asWritten(o) !== text) problems.push(`BAD LINE ${where}: not as the export writes it (a key given twice, a member added, or the line edited)`);
    else {
      const chain = chains.get(o.caseId) ?? new Map();
      chains.set(o.caseId, chain);
      // The same entry twice (overlapping exports, one with recordedAt) is one entry: its hash and its content's agree.
      const fingerprint = `${o.hash}:${hashOrNull(o)}`;
      const twin = chain.get(o.seq);
      if (twin && twin.fingerprint !== fingerprint) problems.push(`BAD LINE ${where}: a second, different entry ${o.seq} of ${o.caseId}`);
      if (!twin) chain.set(o.seq, { entry: o, fingerprint });
    }
  }
  for (const [caseId, chain] of chains) {
    const seqs = [...chain.keys()].sort((a, b) => a - b);
    entries += seqs.length;
    let prev = null;
    for (const seq of seqs) {
      const e = chain.get(seq).entry;
      const say = (what, at = seq) => problems.push(`BROKEN case=${caseId} seq=${at}: ${what}`);
      // Missing entries are named at the first of them.
      if (prev === null && seq !== 1 && complete) say(`entries 1 to ${seq - 1} are missing`, 1);
      if (prev !== null && seq !== prev.seq + 1) say(`entries ${prev.seq + 1} to ${seq - 1} are missing`, prev.seq + 1);
      if (seq === 1 && e.prevHash !== GENESIS) say('entry 1 does not start from 64 zeros');
      if (prev !== null && seq === prev.seq + 1 && e.prevHash !== prev.hash) say(`does not link to entry ${prev.seq}`);
      const computed = hashOrNull(e);
      if (computed === null) say('holds a value no entry can hold (it cannot be canonicalised): its content was changed');
      else if (computed !== e.hash) say('does not hash to its hash: its content was changed');
      const before = prev !== null && Date.parse(e.at) < Date.parse(prev.at);
      if (before && appenderRaisedTo(Date.parse(prev.at), e.recordedAt)) say(`dated ${e.at}, before entry ${prev.seq} (${prev.at}): the appender raises such a time to the previous entry's`);
      prev = e;
    }
  }
  for (const h of heads) {
    const chain = chains.get(h.caseId);
    const held = chain?.get(h.seq)?.entry.hash;
    if (held === h.hash) continue;
    // The stretch of the chain the export holds (a time-range export may start after entry 1 and end before the head).
    const seqs = chain ? [...chain.keys()] : [];
    const from = seqs.reduce((a, b) => Math.min(a, b), Infinity);
    const top = seqs.reduce((a, b) => Math.max(a, b), 0);
    if (held !== undefined) problems.push(`HEAD NOT HELD case=${h.caseId} seq=${h.seq}: the export has hash ${held}, not ${h.hash}`);
    else if (complete || (h.seq > from && h.seq < top)) problems.push(`HEAD NOT HELD case=${h.caseId} seq=${h.seq}: the export lacks that entry`);
  }
  return { chains: chains.size, entries, problems };
}

/** A saved heads file: `{ heads: [{ caseId, seq, hash }] }` (a console file, an API page) or an array of such pages. */
export function readHeads(file) {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const heads = (Array.isArray(json) ? json : [json]).flatMap((p) => p?.heads ?? []);
  // Exactly these three members, as Takedown's checker reads them: a head annotated with more is refused by both.
  const isHead = (h) =>
    h !== null && typeof h === 'object' && Object.keys(h).sort().join() === 'caseId,hash,seq' && typeof h.caseId === 'string' && Number.isInteger(h.seq) && h.seq >= 1 && HEX64.test(h.hash);
  if (heads.length === 0 || !heads.every(isHead)) {
    throw new Error(`${file} is not a heads file ({ "heads": [{ "caseId", "seq", "hash" }] }, seq from 1, nothing else)`);
  }
  return heads;
}

async function main(argv) {
  const files = [];
  const heads = [];
  let complete = false;
  let misused = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--complete') complete = true;
    else if (argv[i] === '--heads' && argv[i + 1]) heads.push(...readHeads(argv[++i]));
    else if (argv[i].startsWith('--')) misused = true;
    else files.push(argv[i]);
  }
  if (files.length === 0 || misused) {
    console.error('usage: node verify-export.mjs EXPORT.ndjson [...] [--heads HEADS.json ...] [--complete]');
    return 2;
  }
  const lines = [];
  for (const file of files) {
    let n = 0;
    for await (const text of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) lines.push({ text, where: `${file}:${++n}` });
  }
  const r = verify(lines, heads, { complete });
  for (const p of r.problems) console.log(p);
  const summary = `${r.chains} chain(s), ${r.entries} entries, ${heads.length} saved head(s): ${r.problems.length === 0 ? 'all hold' : `${r.problems.length} problem(s)`}`;
  (r.problems.length === 0 ? console.log : console.error)(summary);
  return r.problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`verify-export: ${err.message}`);
      process.exitCode = 2;
    },
  );
}
