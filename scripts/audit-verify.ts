// `npm run audit:verify`: recomputes every case's audit chain in DATABASE_URL (with its closing entries and archived histories) and exits 1 when any is broken.
import { connectDb } from '../db/client';
import { verifyAllChains } from '../db/queries/audit';
import { loadConfig } from './config';

async function main(): Promise<number> {
  const config = loadConfig();
  if (!config.databaseUrl) {
    console.error('audit:verify needs DATABASE_URL (postgres://user:password@host:port/database) of the database to check.');
    return 2;
  }
  const db = connectDb(config.databaseUrl, { max: 2, applicationName: 'takedown-audit-verify' });
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
    const summary = `${chains} chain(s), ${entries} entries: ${broken === 0 ? 'all intact' : `${broken} broken`}`;
    (broken === 0 ? console.log : console.error)(summary);
    return broken === 0 ? 0 : 1;
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
