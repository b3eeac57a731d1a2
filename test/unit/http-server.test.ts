// The API's HTTP server: it stops by draining (keep-alive clients, even busy ones, never hold a shutdown up), and builds an Express app's requests on Express's prototypes.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import { TEMPORAL_DEADLINE_MS } from '../../api/temporal';
import { DRAIN_GRACE_MS, expressServerOptions, serveHttp, serverUrl, type HttpServing } from '../../scripts/lib/http-server';
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

  it("lets a request in flight wait out its Temporal deadline (and the 1 s backstop) before the drain cuts it", () => {
    expect(DRAIN_GRACE_MS).toBeGreaterThanOrEqual(TEMPORAL_DEADLINE_MS + 1_000 + 3_000);
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

describe("HTTP server for an Express app: requests and responses born with Express's prototypes", () => {
  let serving: HttpServing | undefined;
  afterEach(async () => {
    await serving?.stop(0);
    serving = undefined;
  });

  it('builds each request and response on the listener’s own request and response prototypes, initialised as Node’s', async () => {
    const request = Object.create(http.IncomingMessage.prototype) as object;
    const response = Object.create(http.ServerResponse.prototype) as object;
    const seen: { req: boolean; res: boolean; incoming: boolean; outgoing: boolean; method?: string; host?: string }[] = [];
    const listener = Object.assign(
      (req: http.IncomingMessage, res: http.ServerResponse) => {
        seen.push({
          req: Object.getPrototypeOf(req) === request,
          res: Object.getPrototypeOf(res) === response,
          incoming: req instanceof http.IncomingMessage,
          outgoing: res instanceof http.ServerResponse,
          method: req.method,
          host: req.headers.host,
        });
        res.setHeader('Content-Type', 'text/plain');
        res.end('built');
      },
      { request, response },
    );
    serving = await serveHttp(listener, '127.0.0.1', 0);
    const answer = await fetch(`${serving.url}/x`);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('built');
    expect(seen).toEqual([{ req: true, res: true, incoming: true, outgoing: true, method: 'GET', host: new URL(serving.url).host }]);
  });

  it('leaves any other listener’s requests as Node makes them', async () => {
    let protos: unknown[] = [];
    serving = await serveHttp((req, res) => {
      protos = [Object.getPrototypeOf(req), Object.getPrototypeOf(res)];
      res.end('ok');
    }, '127.0.0.1', 0);
    expect((await fetch(`${serving.url}/`)).status).toBe(200);
    expect(protos).toEqual([http.IncomingMessage.prototype, http.ServerResponse.prototype]);
    // Objects that are not request or response prototypes are not taken for them.
    expect(expressServerOptions({ request: {}, response: {} })).toEqual({});
    expect(expressServerOptions(undefined)).toEqual({});
  });

  it('serves an Express app as before: routing, query, headers, JSON bodies and answers, errors', async () => {
    const app = express();
    app.use(express.json());
    app.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id, q: req.query.q, accept: req.get('accept'), proto: Object.getPrototypeOf(req) === app.request });
    });
    app.post('/echo', (req, res) => {
      res.status(201).json({ body: req.body as unknown, json: req.is('application/json') });
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: err.message });
    });
    serving = await serveHttp(app, '127.0.0.1', 0);
    const got = await fetch(`${serving.url}/items/42?q=visa`, { headers: { accept: 'application/json' } });
    expect(await got.json()).toEqual({ id: '42', q: 'visa', accept: 'application/json', proto: true });
    const posted = await fetch(`${serving.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: [1, 2] }) });
    expect(posted.status).toBe(201);
    expect(await posted.json()).toEqual({ body: { a: [1, 2] }, json: 'application/json' });
    const failed = await fetch(`${serving.url}/boom`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: 'boom' });
    expect((await fetch(`${serving.url}/nowhere`)).status).toBe(404);
  });
});
