// BENCHMARKS.md: a header about the machine and run, then one section per benchmark, replaced in place when that benchmark runs again.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Profile } from './context';
import { OUT_DIR, ROOT } from './env';

export interface RunInfo {
  date: string;
  profile: Profile;
  node: string;
  temporalCli: string;
  cpus: string;
  cores: number;
  memory: string;
  loadBefore: string;
  os: string;
}

export function runInfo(profile: Profile, temporalCli: string): RunInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    profile,
    node: process.version,
    temporalCli,
    cpus: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    loadBefore: os.loadavg().map((l) => l.toFixed(2)).join(', '),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function machineLine(r: RunInfo): string {
  return `${r.cores} × ${r.cpus}, ${r.memory} RAM, ${r.os}; Node ${r.node}; ${r.temporalCli}; profile \`${r.profile}\`; run ${r.date} (load average before: ${r.loadBefore})`;
}

/**
 * Where a run writes: BENCHMARKS.md and docs/bench/ at the top of the checkout; a smoke run (CI's check that every
 * benchmark still runs end to end) writes the same files under bench/out/smoke/ instead, leaving the measured ones be.
 */
const OUTPUT = { report: path.join(ROOT, 'BENCHMARKS.md'), svgDir: path.join(ROOT, 'docs', 'bench'), rawDir: OUT_DIR };

export function useOutputFor(profile: Profile): void {
  if (profile !== 'smoke') return;
  const dir = path.join(OUT_DIR, 'smoke');
  Object.assign(OUTPUT, { report: path.join(dir, 'BENCHMARKS.md'), svgDir: path.join(dir, 'docs', 'bench'), rawDir: dir });
}

export const reportPath = () => OUTPUT.report;

export const BENCH_ORDER = ['overhead', 'inbox', 'open-cases', 'audit'] as const;

const begin = (name: string) => `<!-- bench:${name}:begin -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

function header(r: RunInfo): string {
  return `# Benchmarks

Numbers printed by \`npm run bench\` (all four) or \`npm run bench -- <name>\` (one of ${BENCH_ORDER.map((b) => `\`${b}\``).join(', ')}); add
\`--quick\` (or \`BENCH_PROFILE=quick\`) for small N. Each run starts its own embedded PostgreSQL and Temporal dev server
under \`.bench-data/\`, runs the worker and the API in a child process as \`npm start\` does, and rewrites its own section
below (the others keep the date and machine they were measured on). Raw samples go to \`bench/out/\` (not committed);
charts to \`docs/bench/\`. CI runs all four with \`--smoke\` (tiny N, written under \`bench/out/smoke/\`) to check that they
still run end to end. Changes tried against these numbers, kept or not, are logged by hand in
[\`docs/performance-experiments.md\`](docs/performance-experiments.md).

Last run: ${machineLine(r)}.

Everything (load generator, API, worker, PostgreSQL, Temporal) shares the same ${r.cores} cores, so absolute numbers are a floor
for what one small machine does, and ratios between variants are more telling than absolutes.
`;
}

/** Writes one section into BENCHMARKS.md, keeping the other sections as they are. */
export function writeSection(name: string, body: string, r: RunInfo): void {
  const existing = existsSync(OUTPUT.report) ? readFileSync(OUTPUT.report, 'utf8') : '';
  const sections = new Map<string, string>();
  for (const b of BENCH_ORDER) {
    const i = existing.indexOf(begin(b));
    const j = existing.indexOf(end(b));
    if (i >= 0 && j > i) sections.set(b, existing.slice(i + begin(b).length, j).trim());
  }
  // Each section keeps the stamp of its own run: the others may have been measured at another time or on another machine.
  const [heading, ...rest] = body.trim().split('\n');
  sections.set(name, [heading, '', `<sub>Measured on ${machineLine(r)}.</sub>`, ...rest].join('\n'));
  const parts = [header(r)];
  for (const b of BENCH_ORDER) {
    const s = sections.get(b);
    if (s) parts.push(`${begin(b)}\n${s}\n${end(b)}`);
  }
  mkdirSync(path.dirname(OUTPUT.report), { recursive: true });
  writeFileSync(OUTPUT.report, `${parts.join('\n\n')}\n`);
}

export function writeSvg(file: string, svg: string): string {
  mkdirSync(OUTPUT.svgDir, { recursive: true });
  writeFileSync(path.join(OUTPUT.svgDir, file), svg);
  return `docs/bench/${file}`;
}

export function writeRaw(name: string, data: unknown): string {
  mkdirSync(OUTPUT.rawDir, { recursive: true });
  const p = path.join(OUTPUT.rawDir, `${name}.json`);
  writeFileSync(p, JSON.stringify(data, null, 1));
  return p;
}
