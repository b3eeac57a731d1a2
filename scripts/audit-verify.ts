// `npm run audit:verify [-- --heads FILE ...]`: recomputes every case's audit chain in DATABASE_URL (with its closing
// entries and archived histories) and, given files of chain heads saved earlier (the console's "Save chain heads", a
// page of GET /v1/audit/heads, or a JSON array of such pages), checks that every chain still holds them. Exits 1 when
// anything is broken, 2 on misuse.
import { parseArgs } from 'node:util';
import { connectDb } from '../db/client';
import { checkHeads, verifyAllChains } from '../db/queries/audit';
import { MAX_CHAIN_HEADS } from '../domain/schemas';
import { loadConfig } from './config';
import { readHeads } from './lib/heads-file';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { heads: { type: 'string', multiple: true } } });
  const config = loadConfig();
  if (!config.databaseUrl) {
    console.error('audit:verify needs DATABASE_URL (postgres://user:password@host:port/database) of the database to check.');
    return 2;
  }
  const heads = (values.heads ?? []).flatMap(readHeads);
  const db = connectDb(config.databaseUrl, { max: 5, applicationName: 'takedown-audit-verify' });
  try {
    let chains = 0;
    let entries = 0;
    let broken = 0;
    for await (const r of verifyAllChains(db.pool)) {
      chains += 1;
      entries += r.entries;
      if (!r.intact) {
        broken += 1;
        console.log(`BROKEN case=${r.caseId} firstBadSeq=${r.firstBadSeq} entries=${r.entries} head=${r.head ?? '-'}: ${r.problems.join('; ')}`);
      }
    }
    let moved = 0;
    for (let i = 0; i < heads.length; i += MAX_CHAIN_HEADS) {
      for (const p of (await checkHeads(db.pool, heads.slice(i, i + MAX_CHAIN_HEADS))).problems) {
        moved += 1;
        console.log(`HEAD NOT HELD case=${p.caseId} seq=${p.seq}: ${p.detail}`);
      }
    }
    const summary = [
      `${chains} chain(s), ${entries} entries: ${broken === 0 ? 'all intact' : `${broken} broken`}`,
      ...(values.heads === undefined ? [] : [`${heads.length} saved head(s): ${moved === 0 ? 'all held' : `${moved} not held`}`]),
    ].join('; ');
    const ok = broken === 0 && moved === 0;
    (ok ? console.log : console.error)(summary);
    return ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`audit:verify failed: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = 2;
  },
);
