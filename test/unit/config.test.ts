// Configuration defaults that differ between development and production, and the data dir lock of the embedded servers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig, toolsDirFor } from '../../scripts/config';
import { clientAdminToken, clientApiUrl, lockDataDir, once, recordApiUrl, resolveAdminToken, runUntilWorkerEnds, withErrorsSerialised } from '../../scripts/lib/runtime';
import { ROOT } from '../support/paths';

const TOKEN = { TAKEDOWN_ADMIN_TOKEN: 'a-production-admin-token-0123456789' };

describe('configuration', () => {
  it('installs the Temporal CLI where npm start looks for it: TAKEDOWN_TOOLS_DIR when set, else the repository\'s .tools', () => {
    const repo = path.join(tmpdir(), 'repo');
    expect(toolsDirFor(repo, {})).toBe(path.join(repo, '.tools'));
    expect(toolsDirFor(repo, { TAKEDOWN_TOOLS_DIR: '  ' })).toBe(path.join(repo, '.tools'));
    const dir = path.join(tmpdir(), 'takedown-tools');
    expect(toolsDirFor(repo, { TAKEDOWN_TOOLS_DIR: dir })).toBe(dir);
    expect(toolsDirFor(repo, { TAKEDOWN_TOOLS_DIR: dir })).toBe(loadConfig({ TAKEDOWN_TOOLS_DIR: dir }).toolsDir);
    // Unset, npm start looks in the repository's .tools too, from any working directory. (tsx by its resolved path:
    // from a working directory outside the repository the bare name 'tsx' resolves to no package.)
    const elsewhere = spawnSync(process.execPath, ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, '-e', `import('${path.join(ROOT, 'scripts', 'config.ts')}').then((m) => process.stdout.write(m.loadConfig({}).toolsDir))`], {
      cwd: tmpdir(),
      encoding: 'utf8',
      env: { ...process.env, TAKEDOWN_TOOLS_DIR: '' },
    });
    expect(elsewhere.stdout).toBe(path.join(ROOT, '.tools'));
  });

  it('refuses a NODE_ENV other than production, development or test, which would run with development settings unsaid', () => {
    for (const v of ['prod', 'Production', 'staging']) expect(() => loadConfig({ NODE_ENV: v, ...TOKEN }), v).toThrow(/NODE_ENV.*must be production, development or test/);
    for (const v of ['production', 'development', 'test']) expect(loadConfig({ NODE_ENV: v, ...TOKEN }).production).toBe(v === 'production');
    expect(loadConfig({}).production).toBe(false);
  });

  it('takes an address or a host name for HOST, and refuses one with a port or a scheme at start', () => {
    for (const h of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'api.internal.example']) expect(loadConfig({ HOST: h }).host, h).toBe(h);
    for (const h of ['0.0.0.0:3000', 'http://localhost', 'local host', '[::1]', 'a..b']) expect(() => loadConfig({ HOST: h }), h).toThrow(/HOST.*must be an IP address or a host name/);
  });

  it('limits requests per principal in production by default, not in development, and takes an explicit limit', () => {
    expect(loadConfig({}).rateLimitPerMinute).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).rateLimitPerMinute).toBe(1200);
    expect(loadConfig({ TAKEDOWN_RATE_LIMIT_PER_MINUTE: '300' }).rateLimitPerMinute).toBe(300);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
    expect(() => loadConfig({ TAKEDOWN_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/TAKEDOWN_RATE_LIMIT_PER_MINUTE/);
    // Failed authentications per address: on (60) wherever the per-principal limit is, unless set.
    expect(loadConfig({}).authFailuresPerMinute).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).authFailuresPerMinute).toBe(60);
    expect(loadConfig({ TAKEDOWN_RATE_LIMIT_PER_MINUTE: '300' }).authFailuresPerMinute).toBe(60);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_RATE_LIMIT_PER_MINUTE: '0' }).authFailuresPerMinute).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_AUTH_FAILURES_PER_MINUTE: '10' }).authFailuresPerMinute).toBe(10);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_AUTH_FAILURES_PER_MINUTE: '0' }).authFailuresPerMinute).toBe(0);
    expect(() => loadConfig({ TAKEDOWN_AUTH_FAILURES_PER_MINUTE: 'x' })).toThrow(/TAKEDOWN_AUTH_FAILURES_PER_MINUTE/);
  });

  it('keeps a replaced partner secret signing for a day by default, for the time given, or not at all', () => {
    expect(loadConfig({}).secretOverlapMs).toBe(24 * 3_600_000);
    expect(loadConfig({ TAKEDOWN_SECRET_OVERLAP: '7d' }).secretOverlapMs).toBe(7 * 24 * 3_600_000);
    expect(loadConfig({ TAKEDOWN_SECRET_OVERLAP: '0s' }).secretOverlapMs).toBe(0);
    expect(() => loadConfig({ TAKEDOWN_SECRET_OVERLAP: 'a day' })).toThrow(/TAKEDOWN_SECRET_OVERLAP/);
    // Past what a duration may be (a year): refused, not read as 0s (which would end the overlap at once).
    expect(() => loadConfig({ TAKEDOWN_SECRET_OVERLAP: '400d' })).toThrow(/TAKEDOWN_SECRET_OVERLAP: 400d is longer than a year/);
    expect(() => loadConfig({ TAKEDOWN_SHUTDOWN_DELAY: '999999m' })).toThrow(/TAKEDOWN_SHUTDOWN_DELAY/);
    expect(loadConfig({ TAKEDOWN_SHUTDOWN_DELAY: '0ms' }).shutdownDelayMs).toBe(0);
  });

  it('believes no proxy by default; takes hops, addresses, subnets and named ranges; refuses `true` and anything else', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TAKEDOWN_TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TAKEDOWN_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TAKEDOWN_TRUST_PROXY: ' loopback, 10.0.0.0/8,fd00::/8 , 192.0.2.10' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.10']);
    expect(() => loadConfig({ TAKEDOWN_TRUST_PROXY: 'true' })).toThrow(/TAKEDOWN_TRUST_PROXY: true would believe any client/);
    expect(() => loadConfig({ TAKEDOWN_TRUST_PROXY: '11' })).toThrow(/at most 10/);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'proxy.example', '10.0.0.1/8/1', 'loopback,', '10.0.0.0/x']) {
      expect(() => loadConfig({ TAKEDOWN_TRUST_PROXY: bad }), bad).toThrow(/TAKEDOWN_TRUST_PROXY: not an address/);
    }
  });

  it('refuses private webhook addresses in production unless allowed, and allows them in development', () => {
    expect(loadConfig({}).allowPrivateWebhooks).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).allowPrivateWebhooks).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: 'true' }).allowPrivateWebhooks).toBe(true);
  });

  it('refuses URL checks on private addresses in production unless allowed on their own, private webhooks allowed or not', () => {
    expect(loadConfig({}).allowPrivateUrlChecks).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).allowPrivateUrlChecks).toBe(false);
    // A partner on the internal network does not open it to the URLs of cases.
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: 'true' }).allowPrivateUrlChecks).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS: 'true' })).toMatchObject({ allowPrivateUrlChecks: true, allowPrivateWebhooks: false });
    expect(loadConfig({ TAKEDOWN_ALLOW_PRIVATE_URL_CHECKS: 'false' })).toMatchObject({ allowPrivateUrlChecks: false, allowPrivateWebhooks: true });
  });

  it('takes and sends to https:// webhooks only in production, private ones allowed or not', () => {
    expect(loadConfig({}).httpsWebhooksOnly).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).httpsWebhooksOnly).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_ALLOW_PRIVATE_WEBHOOKS: 'true' }).httpsWebhooksOnly).toBe(true);
  });

  it('serves /metrics without a token only when configured, in development as in production (the contract asks for a token)', () => {
    expect(loadConfig({}).metricsPublic).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN }).metricsPublic).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ...TOKEN, TAKEDOWN_METRICS_PUBLIC: '1' }).metricsPublic).toBe(true);
    expect(loadConfig({ TAKEDOWN_METRICS_PUBLIC: 'true' }).metricsPublic).toBe(true);
    expect(loadConfig({ TAKEDOWN_METRICS_PUBLIC: 'false' }).metricsPublic).toBe(false);
  });

  it('keeps 32 MB of inbox pages by default, none with 0, and refuses a negative or fractional size', () => {
    expect(loadConfig({}).inboxCacheMb).toBe(32);
    expect(loadConfig({ TAKEDOWN_INBOX_CACHE_MB: '0' }).inboxCacheMb).toBe(0);
    expect(loadConfig({ TAKEDOWN_INBOX_CACHE_MB: '256' }).inboxCacheMb).toBe(256);
    expect(() => loadConfig({ TAKEDOWN_INBOX_CACHE_MB: '-1' })).toThrow(/TAKEDOWN_INBOX_CACHE_MB/);
    expect(() => loadConfig({ TAKEDOWN_INBOX_CACHE_MB: '1.5' })).toThrow(/TAKEDOWN_INBOX_CACHE_MB/);
  });

  it('takes the SDK metrics address as an IP address and a port, never a host name the SDK could not bind', () => {
    expect(loadConfig({}).sdkMetricsAddress).toBeUndefined();
    for (const ok of ['0.0.0.0:9465', '127.0.0.1:1', '[::]:9465', '[::1]:9465']) expect(loadConfig({ TAKEDOWN_SDK_METRICS_ADDRESS: ok }).sdkMetricsAddress).toBe(ok);
    for (const bad of ['localhost:9465', 'http://0.0.0.0:9465', '0.0.0.0', ':9465', '0.0.0.0:9465/metrics']) {
      expect(() => loadConfig({ TAKEDOWN_SDK_METRICS_ADDRESS: bad }), bad).toThrow(/TAKEDOWN_SDK_METRICS_ADDRESS: must be an IP address and a port/);
    }
  });

  it('speaks TLS to Temporal when asked, or when any TLS setting or an API key is given, a server name alone included', () => {
    expect(loadConfig({}).temporalTls.tls).toBe(false);
    expect(loadConfig({ TEMPORAL_TLS: 'true' }).temporalTls.tls).toBe(true);
    expect(loadConfig({ TEMPORAL_API_KEY: 'a-key' }).temporalTls.tls).toBe(true);
    expect(loadConfig({ TEMPORAL_TLS_CA_PATH: '/ca.pem' }).temporalTls.tls).toBe(true);
    expect(loadConfig({ TEMPORAL_TLS_CERT_PATH: '/c.pem', TEMPORAL_TLS_KEY_PATH: '/c.key' }).temporalTls.tls).toBe(true);
    // A server name is only ever checked on a TLS connection: given alone, it must not be silently ignored.
    expect(loadConfig({ TEMPORAL_TLS_SERVER_NAME: 'temporal.example' }).temporalTls).toEqual({ tls: true, serverName: 'temporal.example' });
  });

  it('takes a non-empty admin token, warns about a short one, refuses one under 32 characters in production, and counts an empty one as unset', () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const short = loadConfig({ TAKEDOWN_ADMIN_TOKEN: 'admin' });
    expect(resolveAdminToken(short, log)).toEqual({ token: 'admin', generated: false });
    expect(lines.join('')).toMatch(/fewer than 16 characters/);
    // Production: the one secret that administers everything must not be guessable.
    for (const token of ['admin', 'x'.repeat(31)]) {
      expect(() => resolveAdminToken(loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: token }), log)).toThrow(/at least 32 characters when NODE_ENV=production/);
    }
    expect(resolveAdminToken(loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: 'x'.repeat(32) }), log).token).toBe('x'.repeat(32));
    // The one being replaced, during a rotation: held to the same length, and said at start (to be unset once done).
    expect(() => resolveAdminToken(loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: 'x'.repeat(32), TAKEDOWN_ADMIN_TOKEN_PREVIOUS: 'old' }), log)).toThrow(
      /TAKEDOWN_ADMIN_TOKEN_PREVIOUS must have at least 32 characters/,
    );
    lines.length = 0;
    const rotating = loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: 'x'.repeat(32), TAKEDOWN_ADMIN_TOKEN_PREVIOUS: 'y'.repeat(32) });
    expect(rotating.previousAdminToken).toBe('y'.repeat(32));
    expect(resolveAdminToken(rotating, log).token).toBe('x'.repeat(32));
    expect(lines.join('')).toMatch(/TAKEDOWN_ADMIN_TOKEN_PREVIOUS is set/);
    lines.length = 0;

    lines.length = 0;
    expect(resolveAdminToken(loadConfig({ NODE_ENV: 'production', ...TOKEN }), log).token).toBe(TOKEN.TAKEDOWN_ADMIN_TOKEN);
    expect(lines).toEqual([]);

    // Empty is unset: production refuses to start without one.
    const empty = loadConfig({ NODE_ENV: 'production', TAKEDOWN_ADMIN_TOKEN: '' });
    expect(empty.adminToken).toBeUndefined();
    expect(() => resolveAdminToken(empty, log)).toThrow(/TAKEDOWN_ADMIN_TOKEN is required/);
  });

  it('counts an empty setting as unset (or refuses it), never as 0, "" or the working directory', () => {
    // An empty variable (`PORT=` in an env file, compose's `${X:-}`) is unset for TAKEDOWN_ADMIN_TOKEN and TEMPORAL_API_KEY;
    // for the others it must be too, or a clear error at start: never a value nobody chose.
    const unsetOrRefused = (name: string, env: NodeJS.ProcessEnv, read: (c: ReturnType<typeof loadConfig>) => unknown, unset: unknown) => {
      let got: unknown;
      try {
        got = read(loadConfig(env));
      } catch (err) {
        expect.soft((err as Error).message, name).toMatch(new RegExp(name));
        return;
      }
      expect.soft(got, `${name}="" gave ${JSON.stringify(got)}`).toEqual(unset);
    };
    const prod = { NODE_ENV: 'production', ...TOKEN };
    // Production's per-principal and failed-authentication limits silently off.
    unsetOrRefused('TAKEDOWN_RATE_LIMIT_PER_MINUTE', { ...prod, TAKEDOWN_RATE_LIMIT_PER_MINUTE: '' }, (c) => [c.rateLimitPerMinute, c.authFailuresPerMinute], [1200, 60]);
    unsetOrRefused('TAKEDOWN_AUTH_FAILURES_PER_MINUTE', { ...prod, TAKEDOWN_AUTH_FAILURES_PER_MINUTE: '' }, (c) => c.authFailuresPerMinute, 60);
    // The API on a random port instead of 3000 (npm run api takes config.port as it is, in production too).
    unsetOrRefused('PORT', { ...prod, PORT: '' }, (c) => c.port, 3000);
    // "unset: no HTTP" for the worker, not HTTP on a random port.
    unsetOrRefused('TAKEDOWN_WORKER_PORT', { ...prod, TAKEDOWN_WORKER_PORT: '' }, (c) => c.workerPort, undefined);
    // Node binds '' to every interface (::), not loopback.
    unsetOrRefused('HOST', { HOST: '' }, (c) => c.host, '127.0.0.1');
    // path.resolve('') is the working directory: the repository itself would be chmod 0700 and hold postgres/ and temporal/.
    unsetOrRefused('TAKEDOWN_DATA_DIR', { TAKEDOWN_DATA_DIR: '' }, (c) => c.dataDir, path.resolve('.data'));
    unsetOrRefused('TAKEDOWN_PRINCIPAL_CACHE_SECONDS', { TAKEDOWN_PRINCIPAL_CACHE_SECONDS: '' }, (c) => c.principalCacheSeconds, 60);
    unsetOrRefused('TAKEDOWN_INBOX_CACHE_MB', { TAKEDOWN_INBOX_CACHE_MB: '' }, (c) => c.inboxCacheMb, 32);
  });

  it('refuses a notice timeout it would not honour: zero, past a year, or longer than the notice activity may run', () => {
    expect(loadConfig({}).noticeTimeoutMs).toBe(10_000);
    expect(loadConfig({ TAKEDOWN_NOTICE_TIMEOUT: '30s' }).noticeTimeoutMs).toBe(30_000);
    // Read as the 10 s default today, silently; TAKEDOWN_SHUTDOWN_DELAY and TAKEDOWN_SECRET_OVERLAP refuse the like.
    expect.soft(() => loadConfig({ TAKEDOWN_NOTICE_TIMEOUT: '0s' }), '0s').toThrow(/TAKEDOWN_NOTICE_TIMEOUT/);
    expect.soft(() => loadConfig({ TAKEDOWN_NOTICE_TIMEOUT: '999999m' }), '999999m').toThrow(/TAKEDOWN_NOTICE_TIMEOUT/);
    // The notice activity's startToCloseTimeout is 60 s (workflows/activities.ts): past it Temporal, not the request
    // timeout, ends the attempt, records no `timeout` outcome, and retries while the first request is still sending.
    expect.soft(() => loadConfig({ TAKEDOWN_NOTICE_TIMEOUT: '5m' }), '5m').toThrow(/TAKEDOWN_NOTICE_TIMEOUT/);
  });
});

describe('the data dir lock', () => {
  it('refuses a data dir held by a live process, naming it, and takes over one left by a process that is gone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-lock-'));
    const file = path.join(dir, 'takedown.lock');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(file, `${other.pid}\n`);
      expect(() => lockDataDir(dir)).toThrow(new RegExp(`in use by process ${other.pid}`));
      expect(readFileSync(file, 'utf8')).toBe(`${other.pid}\n`);
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    const release = lockDataDir(dir);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(file)).toBe(false);
    // Free again, and a release after someone else took it over leaves their lock alone.
    const again = lockDataDir(dir);
    writeFileSync(file, '999999999\n');
    again();
    expect(readFileSync(file, 'utf8')).toBe('999999999\n');
  });

  it("lets clients find the API a system serving from the data dir recorded, unless told another (the demo, the simulator)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-url-'));
    const saved = process.env.TAKEDOWN_URL;
    delete process.env.TAKEDOWN_URL;
    try {
      expect(clientApiUrl({ dataDir: dir, port: 3000 })).toBe('http://127.0.0.1:3000');
      const forget = recordApiUrl(dir, 'http://127.0.0.1:3412');
      expect(clientApiUrl({ dataDir: dir, port: 3000 })).toBe('http://127.0.0.1:3412');
      expect(clientApiUrl({ dataDir: dir, port: 3000 }, 'http://api.example.test/')).toBe('http://api.example.test');
      process.env.TAKEDOWN_URL = 'http://127.0.0.1:4000';
      expect(clientApiUrl({ dataDir: dir, port: 3000 })).toBe('http://127.0.0.1:4000');
      // Empty is unset, as for the server's settings.
      process.env.TAKEDOWN_URL = '';
      expect(clientApiUrl({ dataDir: dir, port: 3000 })).toBe('http://127.0.0.1:3412');
      delete process.env.TAKEDOWN_URL;
      forget();
      expect(existsSync(path.join(dir, 'api-url'))).toBe(false);
      // A file that holds no URL is ignored; a forget after another system recorded its own leaves it.
      writeFileSync(path.join(dir, 'api-url'), 'garbage\n');
      expect(clientApiUrl({ dataDir: dir, port: 3005 })).toBe('http://127.0.0.1:3005');
      const mine = recordApiUrl(dir, 'http://127.0.0.1:3500');
      writeFileSync(path.join(dir, 'api-url'), 'http://127.0.0.1:3600\n');
      mine();
      expect(readFileSync(path.join(dir, 'api-url'), 'utf8')).toBe('http://127.0.0.1:3600\n');
    } finally {
      if (saved === undefined) delete process.env.TAKEDOWN_URL;
      else process.env.TAKEDOWN_URL = saved;
    }
  });

  it('gives clients the admin token named, else the configured one, else the one a development system wrote', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-token-'));
    expect(clientAdminToken({ dataDir: dir, adminToken: undefined })).toBeUndefined();
    writeFileSync(path.join(dir, 'admin-token'), '\n');
    expect(clientAdminToken({ dataDir: dir, adminToken: undefined })).toBeUndefined();
    writeFileSync(path.join(dir, 'admin-token'), 'tdk_admin_fromfile\n');
    expect(clientAdminToken({ dataDir: dir, adminToken: undefined })).toBe('tdk_admin_fromfile');
    expect(clientAdminToken({ dataDir: dir, adminToken: 'from-env' })).toBe('from-env');
    expect(clientAdminToken({ dataDir: dir, adminToken: 'from-env' }, 'from-flag')).toBe('from-flag');
  });

  it("writes the Temporal SDK's errors with their message and stack, not as {}", () => {
    const meta = withErrorsSerialised({ error: new Error('connect ECONNREFUSED 127.0.0.1:9'), activityType: 'sendNotice' });
    expect(JSON.parse(JSON.stringify(meta))).toMatchObject({ activityType: 'sendNotice', error: { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:9', stack: expect.stringContaining('Error: connect ECONNREFUSED') } });
    expect(withErrorsSerialised(undefined)).toBeUndefined();
  });

  it('migrates with MIGRATION_DATABASE_URL only beside a DATABASE_URL', () => {
    const app = 'postgres://takedown_app:a@db:5432/takedown';
    const owner = 'postgres://takedown:o@db:5432/takedown';
    expect(loadConfig({ DATABASE_URL: app, MIGRATION_DATABASE_URL: owner })).toMatchObject({ databaseUrl: app, migrationDatabaseUrl: owner });
    expect(loadConfig({ DATABASE_URL: app }).migrationDatabaseUrl).toBeUndefined();
    expect(() => loadConfig({ MIGRATION_DATABASE_URL: owner })).toThrow(/MIGRATION_DATABASE_URL needs DATABASE_URL/);
  });

  it('takes a given PORT as the one port to use', () => {
    expect(loadConfig({}).portSet).toBe(false);
    expect(loadConfig({ PORT: '' }).portSet).toBe(false);
    expect(loadConfig({ PORT: '4000' })).toMatchObject({ port: 4000, portSet: true });
  });
});

describe('a worker that fails while it runs', () => {
  const silent = pino({ level: 'silent' });
  const failed = () => Promise.reject(new Error('worker failed: lost its connection for good'));

  it('stops the rest (the API drained, pools and servers closed), then exits 1 for a supervisor to restart it', async () => {
    const order: string[] = [];
    await runUntilWorkerEnds(
      failed(),
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push('stopped');
      },
      silent,
      { stopping: () => false, exit: (code) => order.push(`exit ${code}`) },
    );
    expect(order).toEqual(['stopped', 'exit 1']);
  });

  it('exits 1 after its bound when the rest does not stop, and leaves a shutdown already under way to finish', async () => {
    const exits: number[] = [];
    const started = Date.now();
    await runUntilWorkerEnds(failed(), () => new Promise<void>(() => {}), silent, { stopping: () => false, exit: (code) => exits.push(code), boundMs: 100 });
    expect(exits).toEqual([1]);
    expect(Date.now() - started).toBeLessThan(5_000);

    let stops = 0;
    await runUntilWorkerEnds(failed(), async () => void stops++, silent, { stopping: () => true, exit: (code) => exits.push(code) });
    expect(stops).toBe(0);
    expect(exits).toEqual([1]);
  });

  it('runs a stop once however many ask (a signal during the stop a failing worker began): the parts stop once each, in reverse', async () => {
    const stopped: string[] = [];
    const stop = once(async () => {
      for (const part of ['api', 'worker', 'services']) {
        await new Promise((r) => setTimeout(r, 10));
        stopped.push(part);
      }
    });
    const [a, b] = [stop(), stop()];
    expect(a).toBe(b);
    await Promise.all([a, b, stop()]);
    expect(stopped).toEqual(['api', 'worker', 'services']);
  });

  it('returns quietly when the worker ends after a stop', async () => {
    const exits: number[] = [];
    await runUntilWorkerEnds(Promise.resolve(), async () => {}, silent, { stopping: () => true, exit: (code) => exits.push(code) });
    expect(exits).toEqual([]);
  });
});
