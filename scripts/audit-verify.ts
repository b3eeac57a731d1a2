// `npm run audit:verify [-- --heads FILE ...]`: recomputes every case's audit chain in DATABASE_URL (with its closing
// entries and archived histories) and, given files of chain heads saved earlier (the console's "Save chain heads", a
// page of GET /v1/audit/heads, or a JSON array of such pages), checks that every chain still holds them. Exits 1 when
// anything is broken, 2 on misuse.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectDb } from '../db/client';
import { checkHeads, verifyAllChains } from '../db/queries/audit';
import { ChainHeadSchema, MAX_CHAIN_HEADS, z } from '../domain/schemas';
import type { ChainHead } from '../domain/types';
import { loadConfig } from './config';

/** A saved file: `{ takenAt?, heads: [...] }` as the console writes it, `{ at, heads, next }` as the API pages, or an array of pages. */
const HeadsPageSchema = z.object({ heads: z.array(ChainHeadSchema) });
const HeadsFileSchema = z.union([HeadsPageSchema, z.array(HeadsPageSchema).min(1)]);

function readHeads(file: string): ChainHead[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const parsed = HeadsFileSchema.safeParse(json);
  if (!parsed.success) {
    // A union's issue carries the issues of each way it tried; the object form's says most about a file meant as one.
    const first = parsed.error.issues[0];
    const inner = first.code === 'invalid_union' ? (first.errors[0]?.[0] ?? first) : first;
    throw new Error(`${file} is not a saved heads file: ${inner.path.join('.') || 'the file'} ${inner.message}`);
  }
  const heads = (Array.isArray(parsed.data) ? parsed.data : [parsed.data]).flatMap((p) => p.heads);
  if (heads.length === 0) throw new Error(`${file} holds no heads`);
  return heads;
}

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
