// Benchmark 4: the audit chain: appends per second under concurrent writers (appendAudit), verifying a 100,000-entry chain,
// and listing and checking every chain's head (what an auditor keeps outside Takedown).
import { createHash } from 'node:crypto';
import { appendAudit, chainHeads, checkHeads, hashEntry, verifyChain } from '../db/queries/audit';
import { MAX_CHAIN_HEADS } from '../domain/schemas';
import type { ChainHead } from '../domain/types';
import type { AuditInput } from '../domain/types';
import type pg from 'pg';
import { recordCase, recordTask } from '../activities/cases';
import { caseView, openTask, rid, type Bench, type BenchContext, type BenchResult } from './lib/context';
import type { BenchDb } from './lib/env';
import { writeSvg } from './lib/report';
import { int, median, ms, num, summarize, table, type Summary } from './lib/stats';
import { cdfSvg } from './lib/svg';

const PROFILES = {
  smoke: { writers: [1, 4], cases: 100, seconds: 1, hotWriters: 2, chain: 5_000, batch: 500, verifyRuns: 1, isolatedWrites: 50, headChains: 1_000 },
  quick: { writers: [1, 8, 32], cases: 1_000, seconds: 3, hotWriters: 8, chain: 100_000, batch: 1_000, verifyRuns: 2, isolatedWrites: 200, headChains: 10_000 },
  full: { writers: [1, 8, 32, 64], cases: 1_000, seconds: 10, hotWriters: 16, chain: 100_000, batch: 1_000, verifyRuns: 3, isolatedWrites: 1_000, headChains: 10_000 },
};

interface AppendRun {
  label: string;
  writers: number;
  cases: number;
  appends: number;
  errors: number;
  perSecond: number;
  latency: Summary;
  samples: number[];
}

/** A notice.sent entry as the worker writes them: ids, a document hash, an HTTP status. */
function entry(key: string): AuditInput {
  const noticeId = `ntc_tsk_${key}_termination_request_0`;
  return {
    key,
    action: 'notice.sent',
    actor: null,
    data: { noticeId, type: 'termination_request', org: 'visa', documentHash: createHash('sha256').update(key).digest('hex'), status: 200, attempt: 1 },
  };
}

async function appendLoad(ctx: BenchContext, db: BenchDb, label: string, writers: number, caseIds: string[], seconds: number): Promise<AppendRun> {
  const samples: number[] = [];
  let errors = 0;
  let lastError: unknown;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let seq = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < deadline) {
        const caseId = caseIds[(seq * 7919 + w) % caseIds.length];
        const key = `bench:${w}:${seq++}`;
        const s = performance.now();
        try {
          await appendAudit(db.pool, caseId, [entry(key)]);
          samples.push(performance.now() - s);
        } catch (err) {
          errors += 1;
          lastError = err;
        }
        if (samples.length % 500 === 0) ctx.progress.update(`${label}: ${int(samples.length)} appends, ${int(samples.length / ((performance.now() - t0) / 1000))}/s`);
      }
    }),
  );
  if (errors > 0) ctx.progress.log(`    ${errors} append(s) failed in ${label}: ${String((lastError as Error)?.message ?? lastError)}`);
  const wall = (performance.now() - t0) / 1000;
  return { label, writers, cases: caseIds.length, appends: samples.length, errors, perSecond: samples.length / wall, latency: summarize(samples), samples };
}

/** A pool whose every statement is counted (the round trips a write makes). */
function countingPool(pool: pg.Pool): { pool: pg.Pool; statements: () => number } {
  let n = 0;
  // Counts every `query` on the pool and on the clients it hands out; everything else passes through, bound.
  const counting = <T extends object>(target: T, extra: (key: string | symbol) => unknown = () => undefined): T =>
    new Proxy(target, {
      get(t, key) {
        const special = extra(key);
        if (special !== undefined) return special;
        const v = Reflect.get(t, key) as unknown;
        if (typeof v !== 'function') return v;
        const bound = (v as (...a: unknown[]) => unknown).bind(t);
        if (key !== 'query') return bound;
        return (...args: unknown[]) => {
          n += 1;
          return bound(...args);
        };
      },
    });
  const wrapped = counting(pool, (key) => (key === 'connect' ? async () => counting(await pool.connect()) : undefined));
  return { pool: wrapped, statements: () => n };
}

interface WriteCost {
  label: string;
  calls: number;
  statements: number;
  latency: Summary;
}

/** The workflow's projection writes one at a time on an idle process: what each costs when nothing else competes. */
async function projectionWrites(ctx: BenchContext, db: BenchDb, calls: number): Promise<WriteCost[]> {
  const out: WriteCost[] = [];
  const measureWrite = async (label: string, fn: (p: pg.Pool, i: number) => Promise<void>) => {
    const counting = countingPool(db.pool);
    const samples: number[] = [];
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await fn(counting.pool, i);
      samples.push(performance.now() - s);
    }
    out.push({ label, calls, statements: counting.statements() / calls, latency: summarize(samples) });
    ctx.progress.update(`${label}: p50 ${ms(out[out.length - 1].latency.p50)}`);
  };
  const views = Array.from({ length: 50 }, (_, i) => caseView(`case_projbench${i}${rid(3)}`));
  const versions = new Map<string, number>();
  const nextVersion = (id: string) => {
    const v = (versions.get(id) ?? 0) + 1;
    versions.set(id, v);
    return v;
  };
  await measureWrite('recordCase (case view upsert + 1 audit entry)', (p, i) => {
    const view = views[i % views.length];
    return recordCase(p, { view: { ...view, updatedAt: new Date().toISOString() }, version: nextVersion(view.id), audit: [entry(`proj:case:${i}`)] });
  });
  await measureWrite('recordTask with its case view (a new task)', (p, i) => {
    const view = views[i % views.length];
    const task = openTask(view.id, `tsk_projbench_${i}_${rid(3)}`);
    return recordTask(p, { task, caseOrg: view.org, version: 1, audit: [entry(`proj:task:${i}`)], caseView: { view, version: nextVersion(view.id) } });
  });
  await measureWrite('appendAudit (1 entry)', (p, i) => appendAudit(p, views[i % views.length].id, [entry(`proj:audit:${i}`)]).then(() => undefined));
  return out;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const p = PROFILES[ctx.profile];
  const { progress } = ctx;
  const maxWriters = Math.max(...p.writers, p.hotWriters);
  const db = await ctx.env.freshDatabase('audit', maxWriters);
  try {
    const caseIds = Array.from({ length: p.cases }, (_, i) => `case_auditbench${String(i).padStart(5, '0')}`);
    const runs: AppendRun[] = [];
    for (const w of p.writers) {
      progress.phase(`audit: ${w} writer(s) on ${int(p.cases)} cases, ${p.seconds} s`);
      const r = await appendLoad(ctx, db, `${w} writer${w > 1 ? 's' : ''}`, w, caseIds, p.seconds);
      runs.push(r);
      progress.done(`${int(r.perSecond)} appends/s, p50 ${ms(r.latency.p50)}, p99 ${ms(r.latency.p99)}`);
    }
    progress.phase(`audit: ${p.hotWriters} writers on one case`);
    const hot = await appendLoad(ctx, db, `${p.hotWriters} writers, one case`, p.hotWriters, [`case_audithot${rid()}`], p.seconds);
    progress.done(`${int(hot.perSecond)} appends/s, p50 ${ms(hot.latency.p50)}, p99 ${ms(hot.latency.p99)}`);

    progress.phase('audit: projection writes one at a time (idle process)');
    const writes = await projectionWrites(ctx, db, p.isolatedWrites);
    progress.done(writes.map((w) => `${w.label.split(' ')[0]} ${ms(w.latency.p50)}`).join(', '));

    progress.phase(`audit: building a ${int(p.chain)}-entry chain (appendAudit, ${int(p.batch)} entries a call)`);
    const chainCase = `case_auditchain${rid()}`;
    const b0 = performance.now();
    for (let i = 0; i < p.chain; i += p.batch) {
      await appendAudit(
        db.pool,
        chainCase,
        Array.from({ length: Math.min(p.batch, p.chain - i) }, (_, k) => entry(`chain:${i + k}`)),
      );
      if ((i / p.batch) % 10 === 0) progress.update(`${int(i)} entries`);
    }
    const buildMs = performance.now() - b0;
    progress.done(`${ms(buildMs)} (${int(p.chain / (buildMs / 1000))} entries/s in batches)`);

    progress.phase(`audit: verifyChain over ${int(p.chain)} entries`);
    const verifyTimes: number[] = [];
    let verification: Awaited<ReturnType<typeof verifyChain>> | undefined;
    for (let i = 0; i < p.verifyRuns; i++) {
      const s = performance.now();
      verification = await verifyChain(db.pool, chainCase);
      verifyTimes.push(performance.now() - s);
      progress.update(`run ${i + 1}/${p.verifyRuns}: ${ms(verifyTimes[i])}`);
    }
    // The same paged reads without hashing, then the hashing alone: which of the two the verification waits on.
    const r0 = performance.now();
    const rows: { seq: number; at: Date; actor_id: string | null; actor_org: string | null; action: string; data: Record<string, unknown>; prev_hash: string; hash: string }[] = [];
    for (let after = -2147483648; ; ) {
      const res = await db.pool.query(
        `SELECT case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key, id FROM audit_entries WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000`,
        [chainCase, after],
      );
      rows.push(...res.rows);
      if (res.rows.length < 1000) break;
      after = res.rows[res.rows.length - 1].seq;
    }
    const readMs = performance.now() - r0;
    // The same rows with only the columns a verification needs, in pages of 5,000: what leaner reads would cost.
    const l0 = performance.now();
    let leanRows = 0;
    for (let after = -2147483648; ; ) {
      const res = await db.pool.query<{ seq: number }>(
        `SELECT seq, at, actor_id, actor_org, action, data, prev_hash, hash FROM audit_entries WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT 5000`,
        [chainCase, after],
      );
      leanRows += res.rows.length;
      if (res.rows.length < 5000) break;
      after = res.rows[res.rows.length - 1].seq;
    }
    const leanReadMs = performance.now() - l0;
    if (leanRows !== p.chain) throw new Error(`lean read found ${leanRows} rows`);
    const h0 = performance.now();
    let bad = 0;
    for (const r of rows) {
      const e = { seq: r.seq, at: r.at.toISOString(), actor: r.actor_id === null && r.actor_org === null ? null : { id: r.actor_id ?? '', org: r.actor_org ?? '' }, action: r.action, data: r.data, prevHash: r.prev_hash };
      if (hashEntry(e) !== r.hash) bad += 1;
    }
    const hashMs = performance.now() - h0;
    const verifyMs = median(verifyTimes);
    progress.done(`${ms(verifyMs)} (${int(p.chain / (verifyMs / 1000))} entries/s): reads ${ms(readMs)}, hashing ${ms(hashMs)}; intact=${verification?.intact}`);
    if (!verification?.intact || verification.entries !== p.chain || bad > 0) throw new Error(`chain did not verify: ${JSON.stringify(verification)}, ${bad} bad hashes`);
    progress.phase(`audit: chain heads over ${int(p.headChains)} chains`);
    const existing = (await db.pool.query<{ n: string }>('SELECT count(DISTINCT case_id) AS n FROM audit_entries')).rows[0];
    const seedIds = Array.from({ length: Math.max(0, p.headChains - Number(existing.n)) }, (_, i) => `case_auditheads${String(i).padStart(6, '0')}`);
    for (let i = 0; i < seedIds.length; i += maxWriters) {
      await Promise.all(seedIds.slice(i, i + maxWriters).map((id) => appendAudit(db.pool, id, Array.from({ length: 8 }, (_, k) => entry(`${id}:${k}`)))));
      if ((i / maxWriters) % 50 === 0) progress.update(`${int(i)} small chains seeded`);
    }
    const heads: ChainHead[] = [];
    const pageTimes: number[] = [];
    const listStart = performance.now();
    for (let after: string | undefined; ; ) {
      const s = performance.now();
      const page = await chainHeads(db.pool, { after, limit: MAX_CHAIN_HEADS });
      pageTimes.push(performance.now() - s);
      heads.push(...page);
      if (page.length < MAX_CHAIN_HEADS) break;
      after = page[page.length - 1].caseId;
    }
    const listMs = performance.now() - listStart;
    const checkTimes: number[] = [];
    let notHeld = 0;
    for (let i = 0; i < heads.length; i += MAX_CHAIN_HEADS) {
      const s = performance.now();
      notHeld += (await checkHeads(db.pool, heads.slice(i, i + MAX_CHAIN_HEADS))).problems.length;
      checkTimes.push(performance.now() - s);
      progress.update(`checked ${int(Math.min(i + MAX_CHAIN_HEADS, heads.length))}`);
    }
    const checkMs = checkTimes.reduce((a, b) => a + b, 0);
    const headEntries = Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_entries')).rows[0].n);
    progress.done(`listed ${int(heads.length)} heads in ${ms(listMs)}, checked them in ${ms(checkMs)}`);
    if (notHeld > 0 || heads.length < p.headChains) throw new Error(`chain heads: ${notHeld} not held, ${heads.length} listed of ${p.headChains}`);

    const sizes = (
      await db.pool.query<{ total: string; rows: string }>(`SELECT pg_total_relation_size('audit_entries') AS total, (SELECT count(*) FROM audit_entries) AS rows`)
    ).rows[0];

    const svg = writeSvg(
      'audit-append-latency.svg',
      cdfSvg({
        title: 'appendAudit latency (one entry per call, one statement)',
        xLabel: 'latency (ms)',
        logX: true,
        series: [...runs, hot].map((r) => ({ label: `${r.writers} writer(s), ${int(r.cases)} case${r.cases > 1 ? 's' : ''}`, values: r.samples })),
      }),
    );
    const rowsTable = [...runs, hot].map((r) => [r.label, int(r.cases), int(r.appends), int(r.perSecond), ms(r.latency.p50), ms(r.latency.p99), ms(r.latency.max), r.errors]);
    const best = runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const section = `## 4. Audit chain

\`npm run bench -- audit\` · ${ctx.profile} profile, in the benchmark process against the bench PostgreSQL (pool of ${maxWriters}).
Each writer loops for ${p.seconds} s calling \`appendAudit\` (\`db/queries/audit.ts\`: one statement, \`audit_append()\` inside
PostgreSQL, which takes the case's advisory lock, skips keys already stored, reads the chain head, hashes and inserts) with one
\`notice.sent\`-like entry on a case picked round-robin.

${table(['writers', 'cases', 'appends', 'appends/s', 'p50', 'p99', 'max', 'errors'], rowsTable)}

![appendAudit latency CDF](${svg})

Best: ${int(best.perSecond)} appends/s with ${best.writers} writers. Writers on one case serialise on its advisory lock:
${int(hot.perSecond)} appends/s with ${hot.writers} writers on one case.

**The workflow's projection writes, one at a time in an otherwise idle process** (\`activities/cases.ts\`, the same functions
the local activities call; statements counted per call, BEGIN and COMMIT included):

${table(['write', 'calls', 'SQL statements each', 'p50', 'p99'], writes.map((w) => [w.label, int(w.calls), num(w.statements, 1), ms(w.latency.p50), ms(w.latency.p99)]))}

**Verifying a ${int(p.chain)}-entry chain** (\`verifyChain\`, pages of 1,000 rows by \`(case_id, seq)\`, RFC 8785 canonical JSON and
SHA-256 per entry): ${ms(verifyMs)} median of ${p.verifyRuns} runs (${verifyTimes.map(ms).join(', ')}), ${int(p.chain / (verifyMs / 1000))} entries/s.
Split: the same paged reads alone take ${ms(readMs)}, recomputing the hashes alone ${ms(hashMs)} (${num((hashMs / p.chain) * 1000, 1)} µs an entry).
Reading only the eight columns a verification uses, 5,000 rows a page, takes ${ms(leanReadMs)}.
Building the chain through \`appendAudit\` in calls of ${int(p.batch)} entries took ${ms(buildMs)} (${int(p.chain / (buildMs / 1000))} entries/s).
\`audit_entries\`: ${int(Number(sizes.rows))} rows, ${num(Number(sizes.total) / 1024 ** 2, 1)} MiB with indexes (${int(Number(sizes.total) / Number(sizes.rows))} B a row).

**Chain heads** (\`GET /v1/audit/heads\` and \`POST /v1/audit/heads/check\`, measured at their queries \`chainHeads\` and
\`checkHeads\`), over ${int(heads.length)} chains holding ${int(headEntries)} entries (the chains above and small ones of 8 entries):
listing every head in pages of ${int(MAX_CHAIN_HEADS)} took ${ms(listMs)} (a page ${ms(median(pageTimes))} median, ${ms(Math.max(...pageTimes))} at most);
checking them all, ${int(MAX_CHAIN_HEADS)} a call as the API takes them (each head looked up, each chain verified from its first entry),
took ${ms(checkMs)} (a call ${ms(median(checkTimes))} median, ${ms(Math.max(...checkTimes))} at most).
`;
    return {
      section,
      raw: { settings: p, writes, runs: [...runs, hot].map(({ samples, ...r }) => ({ ...r, samples })), chain: { buildMs, verifyTimes, readMs, leanReadMs, hashMs }, heads: { chains: heads.length, entries: headEntries, listMs, pageTimes, checkMs, checkTimes } },
      problems: [],
      headline: [`best ${int(best.perSecond)} appends/s (${best.writers} writers), one hot case ${int(hot.perSecond)}/s; verify ${int(p.chain)} entries in ${ms(verifyMs)} (reads ${ms(readMs)}, hashing ${ms(hashMs)}); ${int(heads.length)} chain heads listed in ${ms(listMs)}, checked in ${ms(checkMs)}`],
    };
  } finally {
    await db.close().catch(() => {});
  }
}

export const auditBench: Bench = { name: 'audit', title: 'audit appends under concurrent writers and chain verification', run };
