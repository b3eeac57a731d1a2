// URL liveness checks against a local server: HEAD with GET fallback, capped redirects, retries of answers that prove nothing,
// timeouts, refusals, the private-address guard.
import dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkUrls, guardedRequest, isForbiddenAddress, namesPrivateHost, OutboundError } from '../../activities/url-checks';

let server: http.Server;
let base: string;
const hits: { method: string; path: string }[] = [];
let inFlight = 0;
let maxInFlight = 0;

// Retries come quickly here; production waits RETRY_DELAYS_MS.
const deps = { timeoutMs: 400, allowPrivate: true, retryDelaysMs: [20, 20] };
const asked = (path: string) => hits.filter((h) => h.path === path).length;
const flakyCalls = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.push({ method: req.method ?? '', path: url.pathname + url.search });
    const p = url.pathname;
    const redirect = (to: string, status = 302) => res.writeHead(status, { location: to }).end();
    if (p === '/ok') return res.writeHead(200).end('content');
    // A shop that hides from anything that names itself a checker or a bot.
    if (p === '/cloaked') return res.writeHead(/bot|check|takedown|curl/i.test(req.headers['user-agent'] ?? '') ? 404 : 200).end('content');
    if (p === '/no-content') return res.writeHead(204).end();
    if (p === '/gone') return res.writeHead(404).end();
    if (p === '/removed') return res.writeHead(451).end();
    if (p === '/error') return res.writeHead(500).end();
    if (p === '/throttled') return res.writeHead(429).end();
    // /flaky?n=K answers 503 K times per value of n, then 200.
    if (p === '/flaky') {
      const key = url.search;
      const calls = (flakyCalls.get(key) ?? 0) + 1;
      flakyCalls.set(key, calls);
      return res.writeHead(calls > Number(url.searchParams.get('n')) ? 200 : 503).end();
    }
    if (p === '/head-refused') return res.writeHead(req.method === 'HEAD' ? 405 : 200).end();
    if (p === '/head-refused-gone') return res.writeHead(req.method === 'HEAD' ? 405 : 410).end();
    // A shop hiding from checkers: HEAD says the page is gone, GET serves it.
    if (p === '/head-hidden') return res.writeHead(req.method === 'HEAD' ? 404 : 200).end('content');
    if (p === '/head-forbidden') return res.writeHead(req.method === 'HEAD' ? 403 : 200).end('content');
    if (p === '/to-ok') return redirect('/ok');
    if (p === '/to-ok-absolute') return redirect(`${base}/ok`, 301);
    if (p === '/to-gone') return redirect('/gone', 301);
    if (p === '/loop') return redirect('/loop');
    if (p === '/no-location') return res.writeHead(302).end();
    // /hops/N redirects N times before answering 200.
    const hops = /^\/hops\/(\d+)$/.exec(p);
    if (hops) {
      const left = Number(hops[1]);
      return left === 0 ? res.writeHead(200).end() : redirect(`/hops/${left - 1}`);
    }
    if (p === '/slow') return void setTimeout(() => res.writeHead(200).end(), 2000);
    // The status line and the start of a body whose end never comes.
    if (p === '/slow-body') {
      res.writeHead(200).flushHeaders();
      return void res.write('partial');
    }
    if (p === '/busy') {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return void setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200).end();
      }, 80);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('checkUrls', () => {
  it('counts 2xx as up and anything else as down: one HEAD for a URL that is up, a GET to confirm one that is gone', async () => {
    hits.length = 0;
    const urls = ['/ok', '/no-content', '/gone', '/removed', '/error'].map((p) => base + p);
    expect(await checkUrls(deps, urls)).toEqual({ up: [`${base}/ok`, `${base}/no-content`], down: [`${base}/gone`, `${base}/removed`, `${base}/error`] });
    expect(hits.filter((h) => h.path === '/ok')).toEqual([{ method: 'HEAD', path: '/ok' }]);
    expect(asked('/no-content')).toBe(1);
    for (const p of ['/gone', '/removed']) expect(hits.filter((h) => h.path === p).map((h) => h.method), p).toEqual(['HEAD', 'GET']);
    // A 500 proves nothing: asked three times in all before the URL counts as down.
    expect(asked('/error')).toBe(3);
  });

  it('asks again after answers that prove nothing (5xx, 429, timeouts), three attempts in all', async () => {
    hits.length = 0;
    const urls = [`${base}/flaky?n=2`, `${base}/flaky?n=3`, `${base}/throttled`];
    expect(await checkUrls(deps, urls)).toEqual({ up: [`${base}/flaky?n=2`], down: [`${base}/flaky?n=3`, `${base}/throttled`] });
    expect(asked('/flaky?n=2')).toBe(3);
    expect(asked('/flaky?n=3')).toBe(3);
    expect(asked('/throttled')).toBe(3);
  });

  it('falls back to GET when HEAD is refused', async () => {
    hits.length = 0;
    expect(await checkUrls(deps, [`${base}/head-refused`, `${base}/head-refused-gone`])).toEqual({ up: [`${base}/head-refused`], down: [`${base}/head-refused-gone`] });
    expect(hits.filter((h) => h.path === '/head-refused').map((h) => h.method)).toEqual(['HEAD', 'GET']);
  });

  it('never takes a HEAD answer of gone or forbidden as the last word: a URL that serves its page to GET is up', async () => {
    hits.length = 0;
    expect(await checkUrls(deps, [`${base}/head-hidden`, `${base}/head-forbidden`])).toEqual({ up: [`${base}/head-hidden`, `${base}/head-forbidden`], down: [] });
    for (const p of ['/head-hidden', '/head-forbidden']) expect(hits.filter((h) => h.path === p).map((h) => h.method), p).toEqual(['HEAD', 'GET']);
  });

  it('follows as many redirects as a browser (20), judges the final target and names it', async () => {
    const r = await checkUrls(deps, ['/to-ok', '/to-ok-absolute', '/to-gone', '/loop', '/no-location', '/hops/3', '/hops/20', '/hops/21'].map((p) => base + p));
    // A chain a browser follows to the shop is up, however long; a 3xx with nowhere to go shows its body: up too.
    expect(r.up).toEqual([`${base}/to-ok`, `${base}/to-ok-absolute`, `${base}/no-location`, `${base}/hops/3`, `${base}/hops/20`]);
    expect(r.down).toEqual([`${base}/to-gone`, `${base}/loop`, `${base}/hops/21`]);
    // Where each redirected URL's last answer came from, up or down (a loop back to itself names no other address).
    expect(r.redirected).toEqual([
      { url: `${base}/to-ok`, to: `${base}/ok` },
      { url: `${base}/to-ok-absolute`, to: `${base}/ok` },
      { url: `${base}/to-gone`, to: `${base}/gone` },
      { url: `${base}/hops/3`, to: `${base}/hops/0` },
      { url: `${base}/hops/20`, to: `${base}/hops/0` },
      { url: `${base}/hops/21`, to: `${base}/hops/1` },
    ]);
    hits.length = 0;
    await checkUrls(deps, [`${base}/loop`]);
    expect(hits).toHaveLength(21);
  });

  it('counts timeouts, refused connections, DNS failures and non-HTTP URLs as down', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const urls = [`${base}/slow`, `http://127.0.0.1:${port}/x`, 'http://no-such-host.invalid/', 'ftp://example.test/x', 'not a url'];
    // The resolver says the host does not exist (as any resolver must for .invalid), whatever this machine's DNS does.
    const realLookup = dns.lookup;
    vi.spyOn(dns, 'lookup').mockImplementation(((host: string, opts: unknown, cb: (...a: unknown[]) => void) => {
      if (host !== 'no-such-host.invalid') return (realLookup as (...a: unknown[]) => void)(host, opts, cb);
      return cb(Object.assign(new Error('getaddrinfo ENOTFOUND no-such-host.invalid'), { code: 'ENOTFOUND' }));
    }) as typeof dns.lookup);
    hits.length = 0;
    const started = Date.now();
    expect(await checkUrls(deps, urls)).toEqual({ up: [], down: urls });
    // Three attempts of 400 ms at /slow (a timeout proves nothing); a refusal or an unknown host is clear at once.
    expect(asked('/slow')).toBe(3);
    expect(Date.now() - started).toBeLessThan(1900);
  });

  it('asks again after a temporary DNS failure (EAI_AGAIN) instead of counting the URL as down at once', async () => {
    const realLookup = dns.lookup;
    let calls = 0;
    // The resolver fails once with a temporary error (a SERVFAIL, its own timeout), then answers.
    vi.spyOn(dns, 'lookup').mockImplementation(((host: string, opts: unknown, cb: (...a: unknown[]) => void) => {
      if (host !== 'flaky-dns.example.com') return (realLookup as (...a: unknown[]) => void)(host, opts, cb);
      calls += 1;
      if (calls === 1) return cb(Object.assign(new Error('getaddrinfo EAI_AGAIN flaky-dns.example.com'), { code: 'EAI_AGAIN' }));
      const all = (opts as { all?: boolean } | undefined)?.all;
      return all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
    }) as typeof dns.lookup);
    const url = `http://flaky-dns.example.com:${(server.address() as AddressInfo).port}/ok`;
    expect(await checkUrls(deps, [url])).toEqual({ up: [url], down: [] });
    expect(calls).toBe(2);
  });

  it("asks as a browser would, so a shop that hides from checkers is not called gone", async () => {
    expect(await checkUrls(deps, [`${base}/cloaked`])).toEqual({ up: [`${base}/cloaked`], down: [] });
  });

  it('checks each URL once and runs a bounded number at a time', async () => {
    maxInFlight = 0;
    const urls = Array.from({ length: 24 }, (_, i) => `${base}/busy?i=${i}`);
    const r = await checkUrls(deps, [...urls, ...urls]);
    expect(r.up).toEqual(urls);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(8);
  });

  it('never contacts loopback targets unless private addresses are allowed, and counts them as up (not proven gone), named apart', async () => {
    hits.length = 0;
    const urls = [
      `${base}/ok`,
      `${base.replace('127.0.0.1', 'localhost')}/ok`,
      `${base.replace('127.0.0.1', 'localhost.')}/ok`,
      `http://[::1]:1/ok`,
      `http://[::ffff:127.0.0.1]:1/ok`,
      `http://[::127.0.0.1]:1/ok`,
      `http://[2002:7f00:1::1]:1/ok`,
    ];
    // The shop's DNS may answer the checker alone with 127.0.0.1: that proves nothing about what everyone else is served.
    expect(await checkUrls({ timeoutMs: 400, allowPrivate: false }, urls)).toEqual({ up: urls, down: [], forbidden: urls });
    expect(hits).toHaveLength(0);
  });

  it('answers by its deadline however slow the hosts are: URLs it had no time to finish count as up and are named', async () => {
    const slow = Array.from({ length: 20 }, (_, i) => `${base}/slow?i=${i}`);
    const started = Date.now();
    const r = await checkUrls({ ...deps, deadlineMs: 600 }, [`${base}/gone`, ...slow]);
    // Bounded by the deadline, not by 20 URLs × three attempts × the request timeout (not a speed goal: the contract).
    expect(Date.now() - started).toBeLessThan(600 + 1_000);
    expect(r.down).toEqual([`${base}/gone`]);
    expect(r.up).toEqual(slow);
    expect(r.unchecked).toEqual(slow);
  });

  it('stops at once and fails, rather than answer, when the activity is cancelled (its worker stopping)', async () => {
    const slow = Array.from({ length: 12 }, (_, i) => `${base}/slow?stop=${i}`);
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(new Error('worker shutting down')), 200);
    const started = Date.now();
    // Long timeouts and deadline: only the cancellation can end it this soon.
    const err = await checkUrls({ ...deps, timeoutMs: 30_000, deadlineMs: 60_000 }, [`${base}/gone`, ...slow], stopping.signal).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((err as Error).message).toBe('URL check stopped before its end: worker shutting down');
    // The first eight went out together (CONCURRENCY); none was asked again, and the other five never started.
    expect(asked(`/slow?stop=0`)).toBe(1);
    expect(asked(`/slow?stop=11`)).toBe(0);
  });

  it('returns empty lists for no URLs', async () => {
    expect(await checkUrls(deps, [])).toEqual({ up: [], down: [] });
  });
});

describe('guardedRequest', () => {
  it('answers with the status and the body so far when the body is not finished by the deadline', async () => {
    const started = Date.now();
    const res = await guardedRequest(`${base}/slow-body`, { method: 'GET', timeoutMs: 300, allowPrivate: true, keepBodyBytes: 100 });
    expect(res).toEqual({ status: 200, location: null, body: 'partial' });
    expect(Date.now() - started).toBeLessThan(1_000);
    // Without a body to keep it answers at the status line; so a URL check finds such a URL up at once.
    expect(await guardedRequest(`${base}/slow-body`, { method: 'GET', timeoutMs: 300, allowPrivate: true })).toEqual({ status: 200, location: null, body: '' });
    expect(await checkUrls(deps, [`${base}/slow-body`])).toEqual({ up: [`${base}/slow-body`], down: [] });
  });

  it('fails as cancelled when its signal aborts before the status line, and sends nothing when it had aborted already', async () => {
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(new Error('worker shutting down')), 100);
    const err = await guardedRequest(`${base}/slow?cancel`, { method: 'GET', timeoutMs: 30_000, allowPrivate: true, signal: stopping.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect(err).toMatchObject({ kind: 'cancelled', message: 'stopped: worker shutting down' });
    const again = await guardedRequest(`${base}/slow?cancel-before`, { method: 'GET', timeoutMs: 30_000, allowPrivate: true, signal: stopping.signal }).catch((e: unknown) => e);
    expect(again).toMatchObject({ kind: 'cancelled' });
    expect(asked('/slow?cancel-before')).toBe(0);
  });

  it('still fails as a timeout when no status line came by the deadline', async () => {
    const err = await guardedRequest(`${base}/slow`, { method: 'GET', timeoutMs: 300, allowPrivate: true, keepBodyBytes: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect((err as OutboundError).kind).toBe('timeout');
  });
});

describe('isForbiddenAddress', () => {
  it('refuses loopback, private, link-local, shared, documentation, multicast and mapped forms', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a00:1', '64:ff9b::a00:1', '[::1]', 'localhost', 'nonsense']) {
      expect(isForbiddenAddress(ip), ip).toBe(true);
    }
  });

  it('allows public addresses', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '151.101.1.69', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isForbiddenAddress(ip), ip).toBe(false);
    }
  });

  // Each form that carries an IPv4 address is judged by it, as plain IPv4 is: refused for a private one, taken for a public one.
  it.each([
    ['IPv4-compatible ::a.b.c.d', '::127.0.0.1', '::8.8.8.8'],
    ['IPv4-compatible in hex', '::7f00:1', '::808:808'],
    ['IPv4-mapped', '::ffff:10.0.0.1', '::ffff:808:808'],
    ['IPv4-translated (SIIT) ::ffff:0:a.b.c.d', '::ffff:0:10.0.0.1', '::ffff:0:8.8.8.8'],
    ['NAT64 64:ff9b::/96', '64:ff9b::169.254.169.254', '64:ff9b::8.8.8.8'],
    ['NAT64 in hex', '64:ff9b::a9fe:a9fe', '64:ff9b::808:808'],
    ['local-use NAT64 64:ff9b:1::/96', '64:ff9b:1::192.168.0.1', '64:ff9b:1::8.8.8.8'],
    ['6to4 2002::/16', '2002:c0a8:101::1', '2002:808:808::1'],
    ['6to4 of loopback', '2002:7f00:1::', '2002:101:101::'],
    // RFC 4380's example: client 192.0.2.45 (documentation); and one whose client is 8.8.8.8.
    ['Teredo 2001::/32 (client bits inverted)', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'],
  ])('%s: %s refused, %s taken', (_form, bad, good) => {
    expect(isForbiddenAddress(bad), bad).toBe(true);
    expect(isForbiddenAddress(`[${bad}]`), bad).toBe(true);
    expect(isForbiddenAddress(good), good).toBe(false);
  });

  it('refuses the rest of ::/8, other local-use NAT64 forms and the IPv6 documentation and benchmarking ranges', () => {
    for (const ip of ['::ffff:0:0:1.2.3.4', '::ffff:0:0:808:808', '1::', '::2:0:0:1', '64:ff9b:1:abcd::1', '64:ff9b:1:0:808:800:800::', '3fff::1', '2001:2::1', '2001:db8::1', 'fe80::1%eth0']) {
      expect(isForbiddenAddress(ip), ip).toBe(true);
    }
  });
});

describe('namesPrivateHost', () => {
  it('refuses names that never lead to a public host, with or without a trailing dot, and private IP literals', () => {
    for (const url of [
      'https://localhost/x',
      'https://localhost./x',
      'https://LOCALHOST../x',
      'https://api.localhost/x',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://metadata.google.internal./',
      'https://hooks.corp.internal/x',
      'https://printer.local/x',
      'https://router.home.arpa/x',
      'https://nas.lan/x',
      'https://metadata/x',
      'https://intranet./x',
      'https://127.0.0.1./x',
      'https://[::ffff:0:0:7f00:1]/x',
      'https://[2002:a00:1::]/x',
      'https://[64:ff9b::a9fe:a9fe]/x',
    ]) {
      expect(namesPrivateHost(url), url).toBe(true);
    }
  });

  it('takes public names and addresses (what they resolve to is checked at delivery)', () => {
    for (const url of ['https://hooks.example.com/x', 'https://hooks.example.com./x', 'https://localhost.example.com/x', 'https://internal.example.com/x', 'https://8.8.8.8/x', 'https://[2606:4700:4700::1111]/x', 'https://[64:ff9b::808:808]/x']) {
      expect(namesPrivateHost(url), url).toBe(false);
    }
  });
});
