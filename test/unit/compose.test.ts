// The production-like path without a Docker engine: docker-compose.yml wiring, the Dockerfile, and what the image must hold.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DRAIN_GRACE_MS } from '../../scripts/lib/http-server';
import { RUNTIME_NODE_FLAGS } from '../../scripts/lib/node-flags';
import { loadConfig } from '../../scripts/config';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');

type Env = Record<string, string | undefined>;
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  volumes?: string[];
  ports?: string[];
  restart?: string;
  container_name?: string;
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const pkg = JSON.parse(read('package.json')) as { scripts?: Record<string, string>; dependencies?: Record<string, string> };

/** Compose's variable substitution (${X}, ${X:-d}, ${X-d}, ${X:?msg}, ${X?msg}, $$), enough for this file. */
function interpolate(value: string, env: Env): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (all, name: string | undefined, colon: string, op: string, arg: string) => {
    if (all === '$$') return '$';
    const v = env[name!];
    const unset = v === undefined || (colon === ':' && v === '');
    if (!op) return v ?? '';
    if (op === '-') return unset ? arg : v!;
    if (unset) throw new Error(`required variable ${name} is missing: ${arg}`);
    return v!;
  });
}

function envOf(name: string, env: Env): Record<string, string> {
  const raw = services[name]?.environment ?? {};
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v ?? ''), env)]));
}

const TOKEN = 'test-admin-token-0123456789abcdef';
const hostEnv: Env = { TAKEDOWN_ADMIN_TOKEN: TOKEN };
const APP = ['api', 'worker'];

function dependsOn(name: string): Record<string, { condition?: string }> {
  const d = services[name]?.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((s) => [s, {}]));
  return d;
}

function hostPort(address: string): { host: string; port: number } {
  const m = /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`not host:port: ${address}`);
  return { host: m[1], port: Number(m[2]) };
}

const asText = (v: string[] | string | undefined) => (Array.isArray(v) ? v.join(' ') : (v ?? ''));

describe('docker-compose.yml', () => {
  it('has every service the app needs, on pinned or official images', () => {
    for (const s of ['postgres', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui', 'api', 'worker']) expect(services, s).toHaveProperty(s);
    expect(services.postgres.image).toBe('postgres:17');
    expect(services.temporal.image).toMatch(/^temporalio\/(server|auto-setup):/);
    expect(services['temporal-setup'].image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
    // The server and its admin tools come from one release.
    expect(services['temporal-setup'].image!.split(':')[1]).toBe(services.temporal.image!.split(':')[1]);
    expect(services['temporal-schema'].image).toBe(services['temporal-setup'].image);
  });

  it('keeps PostgreSQL data on a named volume', () => {
    const dataMount = services.postgres.volumes!.find((v) => v.split(':')[1] === '/var/lib/postgresql/data');
    expect(dataMount).toBeDefined();
    expect(compose.volumes).toHaveProperty(dataMount!.split(':')[0]);
  });

  it('builds api and worker from the Dockerfile and runs the entry points of their npm scripts with node itself', () => {
    for (const name of APP) {
      const b = services[name].build;
      const ctx = typeof b === 'string' ? b : b?.context;
      const file = typeof b === 'string' ? 'Dockerfile' : (b?.dockerfile ?? 'Dockerfile');
      expect(ctx, name).toBe('.');
      expect(existsSync(path.join(root, file)), `${name} builds from ${file}`).toBe(true);
      expect(pkg.scripts?.[name], `package.json has an "${name}" script`).toBeTruthy();
      // Not `npm run`: npm's `sh -c` (dash) passes no SIGTERM on, and the app would never drain before SIGKILL.
      expect(services[name].command).toEqual(['node', ...RUNTIME_NODE_FLAGS, '--import', 'tsx', entryOf(name)]);
      expect(services[name].restart).toMatch(/^(always|unless-stopped|on-failure)/);
    }
  });

  it("runs npm start, npm run api and npm run worker with node itself and the product's Node flags, as the containers do", () => {
    for (const name of ['start', 'api', 'worker']) {
      expect(pkg.scripts?.[name], name).toBe(['node', ...RUNTIME_NODE_FLAGS, '--import', 'tsx', entryOf(name)].join(' '));
    }
    // The benchmarks' system under test runs with them too.
    expect(read('bench/lib/env.ts')).toMatch(/execArgv: \[\.\.\.process\.execArgv, \.\.\.RUNTIME_NODE_FLAGS,/);
  });

  it('gives the api and the workers time to drain before Docker kills them', () => {
    const seconds = (v: string | undefined) => (v === undefined ? 10 : Number(/^(\d+)s$/.exec(v)?.[1] ?? NaN));
    // Docker's default is 10 s; the API's HTTP drain alone may take DRAIN_GRACE_MS, then its connections close.
    expect(seconds(services.api.stop_grace_period) * 1000).toBeGreaterThan(DRAIN_GRACE_MS + 5_000);
    expect(seconds(services.worker.stop_grace_period)).toBeGreaterThanOrEqual(30);
  });

  it('lets the worker scale: replicas, no fixed container name, no host port', () => {
    const w = services.worker;
    expect(w.deploy?.replicas).toBeGreaterThanOrEqual(1);
    expect(w.container_name).toBeUndefined();
    expect(w.ports ?? []).toEqual([]);
  });

  it('requires the admin token from the environment instead of shipping one', () => {
    for (const name of APP) {
      expect(String(services[name].environment!.TAKEDOWN_ADMIN_TOKEN)).toMatch(/^\$\{TAKEDOWN_ADMIN_TOKEN:\?.+\}$/);
      expect(() => envOf(name, {})).toThrow(/TAKEDOWN_ADMIN_TOKEN/);
    }
  });

  it('gives api and worker the same wiring, and each worker an operations port that its health check probes', () => {
    const { TAKEDOWN_WORKER_PORT: port, TAKEDOWN_SDK_METRICS_ADDRESS: sdkMetrics, ...worker } = envOf('worker', hostEnv);
    expect(worker).toEqual(envOf('api', hostEnv));
    expect(port).toMatch(/^\d+$/);
    // The SDK's metrics on a port of their own (it serves them itself), not the operations port.
    expect(sdkMetrics).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(sdkMetrics).not.toBe(`0.0.0.0:${port}`);
    expect(asText(services.worker.healthcheck?.test)).toContain(`127.0.0.1:${port}/healthz`);
  });

  it('sets every variable scripts/config.ts reads, or leaves it to a default on purpose', () => {
    const text = read('scripts/config.ts');
    const body = text.slice(text.indexOf('z.object({'), text.indexOf('});', text.indexOf('z.object({')));
    const keys = [...body.matchAll(/^\s+([A-Z][A-Z0-9_]*):\s*(.*)$/gm)].map((m) => ({ key: m[1], def: m[2] }));
    expect(keys.length).toBeGreaterThan(10);
    // Optional without a default, and deliberately unset in the stack: say why here when adding one.
    const unsetOnPurpose: Record<string, string> = {
      TEMPORAL_CLI_PATH: 'TEMPORAL_ADDRESS points at the temporal service, so no CLI is looked for',
      TAKEDOWN_TOOLS_DIR: "the repository's .tools when unset; no CLI is looked for (TEMPORAL_ADDRESS is set)",
      TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: 'production refuses private webhook addresses unless this is set',
      TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS: 'production refuses URL checks on private addresses unless this is set',
      TAKEDOWN_WORKFLOW_BUNDLE: 'the worker bundles the workflows at start; a pre-built bundle is for tests and benchmarks',
      MIGRATION_DATABASE_URL: 'only the migrate job holds the owner; the api and workers check the schema instead (TAKEDOWN_MIGRATE_AT_START=false)',
      ...Object.fromEntries(
        ['TEMPORAL_API_KEY', 'TEMPORAL_TLS', 'TEMPORAL_TLS_CERT_PATH', 'TEMPORAL_TLS_KEY_PATH', 'TEMPORAL_TLS_CA_PATH', 'TEMPORAL_TLS_SERVER_NAME'].map((k) => [
          k,
          "the stack's own Temporal speaks plain gRPC inside the compose network; these are for Temporal Cloud or a TLS cluster",
        ]),
      ),
    };
    const env = { ...envOf('api', hostEnv), ...envOf('worker', hostEnv) };
    for (const { key, def } of keys) {
      const covered = key in env || /\.default\(/.test(def) || key in unsetOnPurpose;
      expect(covered, `${key} is neither set in docker-compose.yml nor defaulted`).toBe(true);
    }
    // And nothing is set that the app does not read (a typo would silently fall back to a default).
    const known = new Set(keys.map((k) => k.key));
    for (const k of Object.keys(env)) expect(known.has(k), `${k} is set but scripts/config.ts does not read it`).toBe(true);
  });

  it('produces a configuration the app accepts, in production mode', () => {
    const cfg = loadConfig(envOf('api', hostEnv));
    expect(cfg.production).toBe(true);
    expect(cfg.host).toBe('0.0.0.0');
    expect(cfg.port).toBe(3000);
    expect(cfg.adminToken).toBe(TOKEN);
    expect(cfg.allowPrivateWebhooks).toBe(false);
    expect(cfg.allowPrivateUrlChecks).toBe(false);
    expect(cfg.databaseUrl).toBeTruthy();
    expect(cfg.temporalAddress).toBeTruthy();
  });

  it('points DATABASE_URL and MIGRATION_DATABASE_URL at the postgres service, as roles its init script creates', () => {
    const custom = { ...hostEnv, TAKEDOWN_DB_PASSWORD: 'owner-secret', TAKEDOWN_APP_DB_PASSWORD: 'app-secret', TEMPORAL_DB_PASSWORD: 'tmp-secret' };
    // Only the migrate job holds the owner's URL; the api and the workers serve as the app's role and do not migrate.
    for (const name of APP) {
      expect(envOf(name, hostEnv).MIGRATION_DATABASE_URL, name).toBeUndefined();
      expect(envOf(name, hostEnv).TAKEDOWN_MIGRATE_AT_START, name).toBe('false');
      expect(dependsOn(name).migrate?.condition, name).toBe('service_completed_successfully');
    }
    expect(asText(services.migrate.command)).toContain('scripts/migrate.ts');
    for (const env of [hostEnv, custom]) {
      const pgEnv = envOf('postgres', env);
      const roles = [
        ['api', 'DATABASE_URL', 'takedown_app', pgEnv.TAKEDOWN_APP_DB_PASSWORD],
        ['migrate', 'DATABASE_URL', 'takedown_app', pgEnv.TAKEDOWN_APP_DB_PASSWORD],
        ['migrate', 'MIGRATION_DATABASE_URL', 'takedown', pgEnv.TAKEDOWN_DB_PASSWORD],
      ] as const;
      for (const [service, key, role, password] of roles) {
        const url = new URL(envOf(service, env)[key]!);
        expect(url.protocol).toMatch(/^postgres(ql)?:$/);
        expect(url.hostname).toBe('postgres');
        expect(Number(url.port || 5432)).toBe(5432);
        expect(pgEnv.PGPORT ?? '5432').toBe('5432');
        expect(url.username).toBe(role);
        expect(decodeURIComponent(url.password)).toBe(password);
        expect(url.pathname).toBe('/takedown');
      }
    }
    const init = services.postgres.volumes!.find((v) => v.includes('/docker-entrypoint-initdb.d/'));
    expect(init).toBeDefined();
    const script = readFileSync(path.join(root, init!.split(':')[0]), 'utf8');
    expect(script).toMatch(/CREATE ROLE takedown LOGIN/);
    expect(script).toMatch(/CREATE ROLE takedown_app LOGIN PASSWORD :'takedown_app_password'/);
    expect(script).toMatch(/-v takedown_app_password="\$TAKEDOWN_APP_DB_PASSWORD"/);
    expect(script).toMatch(/GRANT CONNECT ON DATABASE takedown TO takedown_app/);
    expect(script).toMatch(/CREATE DATABASE takedown OWNER takedown/);
    expect(script).toMatch(/CREATE ROLE temporal LOGIN/);
    expect(script).toMatch(/CREATE DATABASE temporal OWNER temporal/);
    expect(script).toMatch(/CREATE DATABASE temporal_visibility OWNER temporal/);
  });

  it('wires Temporal to the same PostgreSQL with the role the init script creates', () => {
    for (const env of [hostEnv, { ...hostEnv, TEMPORAL_DB_PASSWORD: 'tmp-secret' }]) {
      const pgEnv = envOf('postgres', env);
      for (const name of ['temporal', 'temporal-schema']) {
        const t = envOf(name, env);
        expect(t.DB, name).toBe('postgres12');
        expect(t.POSTGRES_SEEDS, name).toBe('postgres');
        expect(t.DB_PORT, name).toBe('5432');
        expect(t.POSTGRES_USER, name).toBe('temporal');
        expect(t.POSTGRES_PWD, name).toBe(pgEnv.TEMPORAL_DB_PASSWORD);
        expect(t.SQL_PASSWORD, name).toBe(pgEnv.TEMPORAL_DB_PASSWORD);
      }
    }
    const dyn = envOf('temporal', hostEnv).DYNAMIC_CONFIG_FILE_PATH;
    const mount = services.temporal.volumes!.find((v) => v.split(':')[1] === '/etc/temporal/config/dynamicconfig');
    expect(mount).toBeDefined();
    const file = path.join(root, mount!.split(':')[0], path.relative('config/dynamicconfig', dyn));
    expect(existsSync(file), `dynamic config ${file}`).toBe(true);
    expect(parse(readFileSync(file, 'utf8'))).toHaveProperty(['limit.maxIDLength']);
  });

  it('points the app, the setup job and the UI at the temporal service frontend, in one namespace', () => {
    const app = envOf('api', hostEnv);
    const { host, port } = hostPort(app.TEMPORAL_ADDRESS);
    expect(host).toBe('temporal');
    expect(port).toBe(7233);
    expect(services.temporal.ports!.some((p) => p.endsWith(`:${port}`))).toBe(true);
    expect(asText(services.temporal.healthcheck!.test)).toContain(String(port));
    expect(envOf('temporal-ui', hostEnv).TEMPORAL_ADDRESS).toBe(app.TEMPORAL_ADDRESS);
    expect(envOf('temporal-setup', hostEnv).TEMPORAL_ADDRESS).toBe(app.TEMPORAL_ADDRESS);
    for (const env of [hostEnv, { ...hostEnv, TEMPORAL_NAMESPACE: 'takedown-prod' }]) {
      const ns = envOf('api', env).TEMPORAL_NAMESPACE;
      expect(envOf('temporal-setup', env).TEMPORAL_NAMESPACE).toBe(ns);
      expect(envOf('temporal-ui', env).TEMPORAL_DEFAULT_NAMESPACE).toBe(ns);
    }
  });

  it('keeps the Temporal UI read-only, sizes history shards and connections, and keeps Temporal\'s fixed address out of the dynamic range', () => {
    expect(envOf('temporal-ui', hostEnv).TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('true');
    expect(Number(envOf('temporal', hostEnv).NUM_HISTORY_SHARDS)).toBeGreaterThanOrEqual(128);
    const maxConnections = Number(/max_connections=(\d+)/.exec(interpolate(asText(services.postgres.command!), hostEnv))?.[1]);
    // The api and four workers at their pool size, and Temporal's own pools, fit.
    const pool = Number(envOf('api', hostEnv).TAKEDOWN_DB_POOL_SIZE);
    expect(maxConnections).toBeGreaterThanOrEqual(5 * pool + 100);
    const ipam = (compose as unknown as { networks: { default: { ipam: { config: { subnet: string; ip_range: string }[] } } } }).networks.default.ipam.config[0];
    const [rangeBase, rangeBits] = interpolate(ipam.ip_range, hostEnv).split('/');
    const last = (ip: string) => Number(ip.split('.')[3]);
    const temporalIp = interpolate(String(envOf('temporal', hostEnv).TEMPORAL_BROADCAST_ADDRESS), hostEnv);
    const size = 2 ** (32 - Number(rangeBits));
    expect(last(temporalIp) < last(rangeBase) || last(temporalIp) >= last(rangeBase) + size).toBe(true);
  });

  it('registers exactly the search attributes of workflows/search-attributes.ts', () => {
    const declared = envOf('temporal-setup', hostEnv).SEARCH_ATTRIBUTES.trim().split(/\s+/);
    const registered = Object.fromEntries(declared.map((p) => p.split('=') as [string, string]));
    expect(registered).toEqual({ ...SEARCH_ATTRIBUTES });
    const script = read('deploy/temporal/setup.sh');
    expect(script).toMatch(/temporal operator search-attribute create/);
    expect(script).toMatch(/temporal operator cluster health/);
    expect(script).toMatch(/for pair in \$SEARCH_ATTRIBUTES/);
  });

  it('runs one-shot jobs from scripts that exist in their mounts', () => {
    for (const name of ['temporal-schema', 'temporal-setup']) {
      const s = services[name];
      expect(s.restart ?? 'no', name).toMatch(/^(no|on-failure)/);
      const target = (Array.isArray(s.entrypoint) ? s.entrypoint : [s.entrypoint ?? '']).find((a) => a.startsWith('/deploy/'));
      expect(target, `${name} runs a mounted script`).toBeDefined();
      const mount = s.volumes!.find((v) => v.split(':')[1] === target);
      expect(mount, `${name} mounts ${target}`).toBeDefined();
    }
  });

  it('mounts only files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0];
        if (src.startsWith('.')) expect(existsSync(path.join(root, src)), `${name} mounts ${src}`).toBe(true);
      }
    }
  });

  it('health-checks postgres, temporal and the api (/healthz)', () => {
    expect(asText(services.postgres.healthcheck!.test)).toContain('pg_isready');
    expect(asText(services.temporal.healthcheck!.test)).toMatch(/7233/);
    const api = asText(services.api.healthcheck!.test);
    expect(api).toContain('/healthz');
    expect(api).toContain(`:${envOf('api', hostEnv).PORT}/`);
    expect(services.api.ports!.some((p) => p.endsWith(':3000'))).toBe(true);
  });

  it('orders start-up with conditions, and waits only on health checks that exist', () => {
    const want: Record<string, Record<string, string>> = {
      'temporal-schema': { postgres: 'service_healthy' },
      temporal: { postgres: 'service_healthy', 'temporal-schema': 'service_completed_successfully' },
      'temporal-setup': { temporal: 'service_healthy' },
      'temporal-ui': { temporal: 'service_healthy' },
      api: { postgres: 'service_healthy', temporal: 'service_healthy', 'temporal-setup': 'service_completed_successfully' },
      worker: { postgres: 'service_healthy', temporal: 'service_healthy', 'temporal-setup': 'service_completed_successfully' },
    };
    for (const [name, deps] of Object.entries(want)) {
      const got = dependsOn(name);
      for (const [dep, condition] of Object.entries(deps)) expect(got[dep]?.condition, `${name} → ${dep}`).toBe(condition);
    }
    for (const name of Object.keys(services)) {
      for (const [dep, { condition }] of Object.entries(dependsOn(name))) {
        expect(services, `${name} depends on ${dep}`).toHaveProperty(dep);
        expect(condition, `${name} → ${dep} has a condition`).toBeTruthy();
        if (condition === 'service_healthy') {
          const hc = services[dep].healthcheck;
          expect(hc && !hc.disable && hc.test, `${dep} has a health check`).toBeTruthy();
        }
      }
    }
  });
});

/** Dockerfile instructions (continuations joined, comments dropped) of its last stage, plus all FROMs. */
function dockerfile() {
  const lines = read('Dockerfile').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ins = lines.map((l) => ({ op: l.split(/\s+/)[0].toUpperCase(), arg: l.slice(l.split(/\s+/)[0].length).trim() }));
  const lastFrom = ins.map((i) => i.op).lastIndexOf('FROM');
  return { all: ins, final: ins.slice(lastFrom) };
}

/** Docker's .dockerignore semantics, enough for this repo: globs, `**`, `!` exceptions, and a match on any parent dir. */
function dockerIgnored(rel: string): boolean {
  const rules = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const toRe = (glob: string) =>
    new RegExp(
      `^${glob
        .replace(/^\/+|\/+$/g, '')
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => (part === '**/' || part === '**' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('')}$`,
    );
  const parts = rel.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const re = toRe(negate ? rule.slice(1) : rule);
    if (candidates.some((c) => re.test(c))) ignored = !negate;
  }
  return ignored;
}

/** Files reachable from an entry point through runtime imports, and the packages they import. */
function runtimeGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const resolveLocal = (from: string, spec: string): string => {
    const base = path.resolve(path.dirname(from), spec);
    for (const c of [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')]) {
      if (existsSync(c) && statSync(c).isFile()) return c;
    }
    throw new Error(`${path.relative(root, from)} imports ${spec}, which does not resolve`);
  };
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const specs: string[] = [];
    const walk = (node: ts.Node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        const c = node.importClause;
        const typeOnly =
          !!c && (c.isTypeOnly || (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
        if (!typeOnly) specs.push(node.moduleSpecifier.text);
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
        specs.push(node.moduleSpecifier.text);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const a = node.arguments[0];
        if (a && ts.isStringLiteral(a) && a.text.startsWith('.')) specs.push(a.text); // dynamic packages are optional paths
      }
      ts.forEachChild(node, walk);
    };
    walk(sf);
    for (const spec of specs) {
      if (spec.startsWith('.')) visit(resolveLocal(file, spec));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(path.join(root, entry));
  return { files: [...files].map((f) => path.relative(root, f)), packages };
}

function entryOf(script: string): string {
  const cmd = pkg.scripts?.[script] ?? '';
  const m = /\btsx\s+(?:--\S+\s+)*(\S+\.ts)\b/.exec(cmd);
  if (!m) throw new Error(`package.json script "${script}" does not run a .ts file with tsx: ${JSON.stringify(cmd)}`);
  return m[1];
}

describe('Dockerfile', () => {
  it('builds on node:20-bookworm-slim with production dependencies only', () => {
    const { all } = dockerfile();
    const froms = all.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.arg).toMatch(/^node:20-bookworm-slim\b/);
    expect(all.some((i) => i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.arg))).toBe(true);
    expect(pkg.dependencies).toHaveProperty('tsx');
  });

  it('runs as a non-root user, exposes 3000, checks /healthz and starts the api by default', () => {
    const { final } = dockerfile();
    const user = final.filter((i) => i.op === 'USER').pop();
    expect(user?.arg).toBeTruthy();
    expect(user!.arg).not.toMatch(/^(root|0)(:|$)/);
    expect(final.find((i) => i.op === 'EXPOSE')?.arg.split(/\s+/)).toContain('3000');
    expect(final.find((i) => i.op === 'HEALTHCHECK')?.arg).toContain('/healthz');
    expect(JSON.parse(final.filter((i) => i.op === 'CMD').pop()!.arg)).toEqual(['node', ...RUNTIME_NODE_FLAGS, '--import', 'tsx', entryOf('api')]);
  });

  it('copies only sources that exist and are not ignored', () => {
    const { all } = dockerfile();
    const copies = all.filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !/--from=/.test(i.arg));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const args = c.arg.split(/\s+/).filter((a) => !a.startsWith('--'));
      for (const src of args.slice(0, -1)) {
        expect(existsSync(path.join(root, src)), `COPY ${src}`).toBe(true);
        if (src !== '.') expect(dockerIgnored(src), `COPY ${src} is excluded by .dockerignore`).toBe(false);
      }
    }
    expect(dockerIgnored('node_modules')).toBe(true);
    expect(dockerIgnored('.data/postgres/PG_VERSION')).toBe(true);
    expect(dockerIgnored('.tools/bin/temporal')).toBe(true);
  });

  it.each(['api', 'worker'])('holds every file the %s entry point imports, and its packages are production dependencies', (script) => {
    const { files, packages } = runtimeGraph(entryOf(script));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(dockerIgnored(f), `${f} is imported at run time but .dockerignore excludes it`).toBe(false);
    // The migrations are read from disk, not imported.
    expect(dockerIgnored('db/migrations/meta/_journal.json')).toBe(false);
    for (const p of packages) expect(pkg.dependencies, `${p} is imported at run time, so it must be a dependency (npm ci --omit=dev)`).toHaveProperty(p);
  });
});
