// BENCHMARKS.md: a header about the machine and run, then one section per benchmark, replaced in place when that benchmark runs again.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OUT_DIR, ROOT } from './env';

export interface RunInfo {
  date: string;
  profile: 'quick' | 'full';
  node: string;
  temporalCli: string;
  cpus: string;
  cores: number;
  memory: string;
  loadBefore: string;
  os: string;
}

export function runInfo(profile: 'quick' | 'full', temporalCli: string): RunInfo {
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

export const REPORT_PATH = path.join(ROOT, 'BENCHMARKS.md');
export const SVG_DIR = path.join(ROOT, 'docs', 'bench');

export const BENCH_ORDER = ['overhead', 'inbox', 'open-cases', 'audit'] as const;

const begin = (name: string) => `<!-- bench:${name}:begin -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

function header(r: RunInfo): string {
  return `# Benchmarks

Numbers printed by \`npm run bench\` (all four) or \`npm run bench -- <name>\` (one of ${BENCH_ORDER.map((b) => `\`${b}\``).join(', ')}); add
\`--quick\` (or \`BENCH_PROFILE=quick\`) for small N. Each run starts its own embedded PostgreSQL and Temporal dev server
under \`.bench-data/\`, runs the worker and the API in a child process as \`npm start\` does, and rewrites its own section
below (the others keep the date and machine they were measured on). Raw samples go to \`bench/out/\` (not committed);
charts to \`docs/bench/\`.

Last run: ${machineLine(r)}.

Everything (load generator, API, worker, PostgreSQL, Temporal) shares the same ${r.cores} cores, so absolute numbers are a floor
for what one small machine does, and ratios between variants are more telling than absolutes.
`;
}

/** Writes one section into BENCHMARKS.md, keeping the other sections as they are. */
export function writeSection(name: string, body: string, r: RunInfo): void {
  const existing = existsSync(REPORT_PATH) ? readFileSync(REPORT_PATH, 'utf8') : '';
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
  writeFileSync(REPORT_PATH, `${parts.join('\n\n')}\n`);
}

export function writeSvg(file: string, svg: string): string {
  mkdirSync(SVG_DIR, { recursive: true });
  writeFileSync(path.join(SVG_DIR, file), svg);
  return `docs/bench/${file}`;
}

export function writeRaw(name: string, data: unknown): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const p = path.join(OUT_DIR, `${name}.json`);
  writeFileSync(p, JSON.stringify(data, null, 1));
  return p;
}
