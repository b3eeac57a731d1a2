// `npm run audit:verify-export -- FILE.ndjson [...] [--heads HEADS.json ...] [--complete]`: verifies the audit chains in
// NDJSON exports (GET /v1/audit/export, by time or `since`; several files are read as one, overlaps allowed; `-` is
// standard input) with no access to Takedown or its database, and checks saved chain heads against them. With
// --complete (a `since` mirror kept up to when the heads were saved), a head the files do not reach does not hold, and
// a chain the files hold only from after entry 1 is broken.
// Exits 1 when a chain or a head does not hold, 2 on misuse.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { readHeads } from './lib/heads-file';
import { ExportChecker } from './lib/export-check';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { heads: { type: 'string', multiple: true }, complete: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length === 0) {
    console.error('usage: npm run audit:verify-export -- EXPORT.ndjson [...] [--heads HEADS.json ...] [--complete]   (- reads standard input)');
    return 2;
  }
  const heads = (values.heads ?? []).flatMap(readHeads);
  const checker = new ExportChecker();
  for (const file of positionals) {
    const input = file === '-' ? process.stdin : createReadStream(file, 'utf8');
    let n = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) checker.add(line, `${file === '-' ? 'stdin' : file}:${++n}`);
  }
  const r = checker.finish(heads, { complete: values.complete });
  for (const l of r.badLines) console.log(`BAD LINE ${l}`);
  // Every bad entry: a chain's first is its BROKEN line, each later one (changed after an older break) a BAD ENTRY line.
  const firsts = new Set(r.broken.map((b) => `${b.caseId}\u0000${b.seq}`));
  for (const b of r.broken) console.log(`BROKEN case=${b.caseId} seq=${b.seq}: ${b.detail}`);
  for (const b of r.badEntries) if (!firsts.has(`${b.caseId}\u0000${b.seq}`)) console.log(`BAD ENTRY case=${b.caseId} seq=${b.seq}: ${b.detail}`);
  for (const h of r.heads.problems) console.log(`HEAD NOT HELD case=${h.caseId} seq=${h.seq}: ${h.detail}`);
  const ok = r.badLines.length === 0 && r.broken.length === 0 && r.heads.problems.length === 0;
  const summary = [
    `${r.lines} line(s)${r.repeated ? ` (${r.repeated} repeating an entry)` : ''}, ${r.chains} chain(s), ${r.entries} entries: ${r.broken.length === 0 && r.badLines.length === 0 ? 'all intact' : `${r.broken.length} broken chain(s), ${r.badLines.length} bad line(s)`}`,
    // Under --complete such a chain is broken (its BROKEN line above), not taken as given.
    ...(r.partial.length && !values.complete ? [`${r.partial.length} chain(s) start after entry 1 in this export (a time range), their first link taken as given`] : []),
    ...(heads.length
      ? [`${r.heads.checked} saved head(s): ${r.heads.problems.length === 0 ? 'all held' : `${r.heads.problems.length} not held`}${r.heads.notInExport ? `, ${r.heads.notInExport} beyond the export` : ''}`]
      : []),
  ].join('; ');
  (ok ? console.log : console.error)(summary);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`audit:verify-export failed: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = 2;
  },
);
