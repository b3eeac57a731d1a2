// The API's HTTP server stops by draining: keep-alive clients, even busy ones, never hold a shutdown up.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { serveHttp, serverUrl, type HttpServing } from '../../scripts/lib/http-server';
import { getOver, type Answer } from '../support/keep-alive';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP server shutdown', () => {
  let serving: HttpServing | undefined;
  let agent: http.Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await serving?.stop(0);
  });

  it('answers the requests in flight with Connection: close, then stops without waiting for idle keep-alive connections', async () => {
    let arrived = 0;
    serving = await serveHttp((_req, res) => {
      arrived += 1;
      setTimeout(() => res.end('ok'), 300);
    }, '127.0.0.1', 0);
    agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const warm = await Promise.all([1, 2, 3, 4].map(() => getOver(agent!, serving!.url)));
    expect(warm.every((a) => a.status === 200 && a.connection === 'keep-alive')).toBe(true);

    const inFlight = Promise.all([1, 2].map(() => getOver(agent!, serving!.url)));
    // Both requests are being answered before the drain begins.
    while (arrived < 6) await sleep(5);
    const started = Date.now();
    await serving.stop();
    const elapsed = Date.now() - started;
    const answers = await inFlight;
    expect(answers.map(({ status, connection }) => ({ status, connection }))).toEqual([
      { status: 200, connection: 'close' },
      { status: 200, connection: 'close' },
    ]);
    // Well under the 65 s keep-alive timeout: the idle connections were closed, not waited out.
    expect(elapsed).toBeLessThan(5_000);
    await expect(getOver(new http.Agent(), serving.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('is not held up by a client that polls back to back on a keep-alive connection', async () => {
    let answering = false;
    serving = await serveHttp((_req, res) => {
      answering = true;
      setTimeout(() => {
        answering = false;
        res.end('ok');
      }, 5);
    }, '127.0.0.1', 0);
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const seen: Answer[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          seen.push(await getOver(agent!, serving!.url));
        } catch {
          // Refused once the server is gone: a real client would go to another instance.
        }
      }
    })();
    await sleep(200);
    // The drain begins while a poll is being answered (between two polls the idle connection is simply closed).
    while (!answering) await sleep(1);
    const started = Date.now();
    await serving.stop();
    const elapsed = Date.now() - started;
    polling = false;
    await poller;
    expect(elapsed).toBeLessThan(5_000);
    expect(seen.length).toBeGreaterThan(3);
    // The answer given while draining told the client to close its connection.
    expect(seen.some((a) => a.connection === 'close')).toBe(true);
  });

  it('cuts a request that outlives the grace period', async () => {
    let arrived = false;
    // Takes the request and never answers it.
    serving = await serveHttp(() => {
      arrived = true;
    }, '127.0.0.1', 0);
    agent = new http.Agent({ keepAlive: true });
    const hanging = getOver(agent, serving.url);
    while (!arrived) await sleep(5);
    const started = Date.now();
    await serving.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await expect(hanging).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
  it('names an IPv6 listening address in a URL clients can use (HOST=::1), as npm start prints and records it', async () => {
    serving = await serveHttp((_req, res) => res.end('ok'), '::1', 0);
    // http://::1:port is no URL: the demo and the partner simulator read it from <data dir>/api-url and fetch() refuses it.
    expect(() => new URL(serving!.url), serving.url).not.toThrow();
    expect(new URL(serving.url).hostname).toBe('[::1]');
    expect((await fetch(`${serving.url}/`)).status).toBe(200);
  });
  it('names the IPv6 wildcard by its loopback, and hostnames and IPv4 addresses as given', async () => {
    serving = await serveHttp((_req, res) => res.end('ok'), '::', 0);
    expect(serving.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect((await fetch(`${serving.url}/`)).status).toBe(200);
    expect(serverUrl('0:0:0:0:0:0:0:0', 3000)).toBe('http://[::1]:3000');
    expect(serverUrl('fe80::1%eth0', 3000)).toBe('http://[fe80::1%25eth0]:3000');
    expect(serverUrl('0.0.0.0', 3000)).toBe('http://0.0.0.0:3000');
    expect(serverUrl('127.0.0.1', 3000)).toBe('http://127.0.0.1:3000');
    expect(serverUrl('api.internal', 3000)).toBe('http://api.internal:3000');
  });
});
