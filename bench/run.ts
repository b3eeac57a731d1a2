// `npm run bench [-- --quick|--smoke] [names...]`: starts the bench servers, runs the benchmarks, rewrites their sections of BENCHMARKS.md.
import os from 'node:os';
import { auditBench } from './audit';
import { inboxBench } from './inbox';
import { openCasesBench } from './open-cases';
import { overheadBench } from './overhead';
import { PROFILES, type Bench, type Profile } from './lib/context';
import { startBenchEnv, type BenchEnv } from './lib/env';
import { Progress } from './lib/progress';
import { BENCH_ORDER, reportPath, runInfo, useOutputFor, writeRaw, writeSection } from './lib/report';

const BENCHES: Record<(typeof BENCH_ORDER)[number], Bench> = {
  overhead: overheadBench,
  inbox: inboxBench,
  'open-cases': openCasesBench,
  audit: auditBench,
};

function usage(): string {
  return `usage: npm run bench [-- [--quick|--smoke|--full] [--keep] [${BENCH_ORDER.join('|')} ...]]
  --quick      small N (also BENCH_PROFILE=quick); the whole quick profile takes a few minutes
  --smoke      tiny N, to check that every benchmark runs end to end (CI); fails on any failed case or unexpected
               answer, and writes under bench/out/smoke/ instead of BENCHMARKS.md and docs/bench/
  --keep       keep .bench-data/<pid> (the servers' files and the SUT logs) after the run
environment:
  BENCH_SUT_NODE_FLAGS   extra Node flags for the system under test, e.g. "--trace-gc" (its output goes to the SUT log)
  BENCH_SPLIT=1          overhead: the API in a process of its own
  BENCH_WARMUP=N         overhead: N warm-up cases per side instead of the profile's
  TEMPORAL_CLI_PATH      the Temporal CLI whose dev server the benchmarks start (as for npm start and the tests)`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage());
    return 0;
  }
  // bench/ is outside scripts/config.ts's remit (it configures the product); the profile switch is the benchmarks' own.
  let profile: Profile = PROFILES.find((p) => p === process.env.BENCH_PROFILE) ?? 'full';
  for (const p of PROFILES) if (args.includes(`--${p}`)) profile = p;
  useOutputFor(profile);
  const keep = args.includes('--keep');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}\n${usage()}`);
    return 2;
  }
  const selected = (names.length > 0 ? BENCH_ORDER.filter((b) => names.includes(b)) : [...BENCH_ORDER]).map((b) => BENCHES[b]);

  const progress = new Progress();
  const load = os.loadavg()[0];
  if (load > os.cpus().length * 0.5) {
    progress.log(`note: load average is ${load.toFixed(2)} on ${os.cpus().length} cores; numbers will be noisy (other work is running).`);
  }
  progress.phase('starting PostgreSQL and the Temporal dev server, bundling workflows');
  let env: BenchEnv | undefined;
  const started = Date.now();
  const headlines: string[] = [];
  const problems: string[] = [];
  let failed = false;
  const stop = async () => {
    await env?.stop();
    if (env && !keep) {
      const { rmSync } = await import('node:fs');
      rmSync(env.dataDir, { recursive: true, force: true });
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress.log(`${signal}: stopping the bench servers`);
      void stop().finally(() => process.exit(130));
    });
  }
  try {
    env = await startBenchEnv({ log: (m) => progress.log(m) });
    progress.done(`PostgreSQL :${env.pg.port}, Temporal ${env.temporal.address} (${env.cliVersion})`);
    for (const bench of selected) {
      progress.log(`\n▶ ${bench.name}: ${bench.title} (${profile})`);
      const t0 = Date.now();
      // Stamped when the benchmark starts: the load average then says whether the machine was quiet.
      const stamp = runInfo(profile, env.cliVersion);
      try {
        const result = await bench.run({ env, profile, progress, run: stamp });
        writeSection(bench.name, result.section, stamp);
        writeRaw(bench.name, { profile, run: stamp, ...((result.raw as object) ?? {}) });
        headlines.push(...result.headline.map((h) => `${bench.name}: ${h}`));
        problems.push(...result.problems.map((p) => `${bench.name}: ${p}`));
        progress.log(`  ${bench.name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      } catch (err) {
        failed = true;
        progress.log(`  ${bench.name} FAILED: ${String((err as Error)?.stack ?? err)}`);
      }
    }
  } finally {
    await stop();
  }
  progress.log(`\n${headlines.join('\n')}`);
  if (problems.length > 0) progress.log(`\nproblems (${profile === 'smoke' ? 'the smoke run fails on them' : 'numbers are reported as measured'}):\n${problems.join('\n')}`);
  progress.log(`\nwrote ${reportPath()} in ${((Date.now() - started) / 1000).toFixed(0)} s total`);
  return failed || (profile === 'smoke' && problems.length > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
