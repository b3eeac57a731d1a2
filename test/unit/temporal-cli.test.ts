// Finding the Temporal CLI: a route that cannot reach its host fails fast, and the search ends (its process with it)
// once every route has failed, so `npm test`'s pretest (scripts/install-tools.ts) and `npm start` say what to install.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';

/** The SDK download's timeout in this test (60 s by default). */
const SDK_TIMEOUT_MS = 2_000;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A proxy that takes connections and never answers: a network whose firewall or proxy swallows what is sent. */
async function blackhole(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

describe('locateTemporalCli', () => {
  it('ends, process included, soon after every route failed when the download host never answers', async () => {
    const port = await blackhole();
    const dir = mkdtempSync(path.join(tmpdir(), 'takedown-cli-'));
    const empty = mkdtempSync(path.join(tmpdir(), 'takedown-empty-path-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    });
    const proxy = `http://127.0.0.1:${port}`;
    // What scripts/install-tools.ts does: report the error, set the exit code, and let the process end.
    const code = `const { locateTemporalCli } = await import('./scripts/lib/temporal-cli.ts');
      try { await locateTemporalCli({ toolsDir: ${JSON.stringify(path.join(dir, 'tools'))}, sdkDownloadTimeoutMs: ${SDK_TIMEOUT_MS} }); }
      catch (err) { console.log('FAILED ' + err.message.split('\\n')[0]); process.exitCode = 1; }`;
    // No temporal, python3 or go on PATH (those routes fail at once); the SDK's download goes through the silent proxy.
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, PATH: empty, HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    let failedAt = 0;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!failedAt && out.includes('FAILED')) failedAt = Date.now();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    // The SDK route gives up after its timeout (60 s, here 2 s); the search then fails. The process must end with it, not hang on.
    const status = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), SDK_TIMEOUT_MS + 10_000))]);
    expect(out).toMatch(/FAILED Temporal CLI not found/);
    expect(status, `${Math.round((Date.now() - failedAt) / 1000)} s after the search failed, the process is ${status === 'still running' ? 'still running' : 'gone'}`).toBe(1);
  }, 20_000);
});

describe('endsWithProcess', () => {
  it('ends a download or install child when the process exits before it does (a failed start, process.exit)', async () => {
    // The child stands in for a download waiting on a silent network: it would outlive the process that started it.
    const code = `const { spawn } = await import('node:child_process');
      const { endsWithProcess } = await import('./scripts/lib/temporal-cli.ts');
      const child = endsWithProcess(spawn('sleep', ['60'], { stdio: 'ignore' }));
      console.log('CHILD ' + child.pid);
      setTimeout(() => process.exit(3), 200);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const status = await new Promise<number | null>((resolve) => parent.once('exit', resolve));
    expect(status).toBe(3);
    const pid = Number(/CHILD (\d+)/.exec(out)?.[1]);
    expect(pid).toBeGreaterThan(0);
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        alive = false;
      }
    }
    if (alive) process.kill(pid, 'SIGKILL');
    expect(alive).toBe(false);
  }, 20_000);
});
