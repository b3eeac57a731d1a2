// Outbound HTTP to addresses others control: the SSRF-guarded request (shared with notices) and the liveness check of notified URLs.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { UrlCheckResult } from './types';

export interface UrlCheckDeps {
  timeoutMs: number;
  /** Allow loopback and private targets (tests, the local simulator); production refuses them. */
  allowPrivate: boolean;
  /** Waits before asking a URL again after an answer that proves nothing (timeout, 5xx); default RETRY_DELAYS_MS. */
  retryDelaysMs?: readonly number[];
  /** How long one check may take in all; default CHECK_DEADLINE_MS. */
  deadlineMs?: number;
}

export type OutboundErrorKind = 'timeout' | 'refused' | 'dns' | 'forbidden_address' | 'invalid_url' | 'network' | 'cancelled';

export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

const FORBIDDEN = new net.BlockList();
for (const [net4, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  FORBIDDEN.addSubnet(net4, prefix, 'ipv4');
}
// A list of its own: a BlockList checks an IPv4 address against its IPv6 rules too (as ::ffff:a.b.c.d), and ::/8 would
// then refuse every IPv4 address.
const FORBIDDEN6 = new net.BlockList();
for (const [net6, prefix] of [
  // ::/8 is reserved: the unspecified address, loopback and the IPv4-compatible, -mapped and -translated forms live
  // there. Those with an IPv4 address inside are judged by it first (see embeddedIpv4); the rest is refused.
  ['::', 8],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['2001:2::', 48],
  ['100::', 64],
  // Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the prefix length the site chose, so only its
  // /96 form is read (embeddedIpv4); anything else in it is refused.
  ['64:ff9b:1::', 48],
] as const) {
  FORBIDDEN6.addSubnet(net6, prefix, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address (`::` and a trailing dotted IPv4 part allowed), or null. */
function ipv6Groups(ip6: string): number[] | null {
  if (net.isIP(ip6) !== 6) return null;
  let text = ip6.toLowerCase();
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const part = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = part(head);
  if (tail === undefined) return front.length === 8 ? front : null;
  const back = part(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

const v4Of = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 addresses an IPv6 address carries, where a packet to it would reach (or be translated to) that IPv4 host:
 * IPv4-compatible ::a.b.c.d, IPv4-mapped ::ffff:a.b.c.d, IPv4-translated (SIIT) ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96
 * and 64:ff9b:1::/96, 6to4 2002:aabb:ccdd::/48, and Teredo 2001::/32 (its server and, bits inverted, its client).
 * An empty list: none.
 */
function embeddedIpv4(g: number[]): string[] {
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && (g[5] === 0 || g[5] === 0xffff)) return [v4Of(g[6], g[7])];
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return [v4Of(g[6], g[7])];
  if (g[0] === 0x64 && g[1] === 0xff9b && (g[2] === 0 || g[2] === 1) && zero(3, 6)) return [v4Of(g[6], g[7])];
  if (g[0] === 0x2002) return [v4Of(g[1], g[2])];
  if (g[0] === 0x2001 && g[1] === 0) return [v4Of(g[2], g[3]), v4Of(g[6] ^ 0xffff, g[7] ^ 0xffff)];
  return [];
}

/**
 * True for loopback, private, link-local, shared, documentation, multicast and reserved addresses (and for non-addresses).
 * An IPv6 address that carries an IPv4 address (see embeddedIpv4) is judged by the IPv4 address, as plain IPv4 is.
 */
export function isForbiddenAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = net.isIP(bare);
  if (family === 4) return FORBIDDEN.check(bare, 'ipv4');
  if (family === 6) {
    const groups = ipv6Groups(bare);
    if (!groups) return true;
    const v4 = embeddedIpv4(groups);
    if (v4.length > 0) return v4.some((a) => FORBIDDEN.check(a, 'ipv4'));
    return FORBIDDEN6.check(bare, 'ipv6');
  }
  return true;
}

/**
 * Names that never lead to a public host, told from the name alone: localhost and *.localhost (RFC 6761), *.local (mDNS,
 * RFC 6762), *.internal (reserved for private use by ICANN, 2024: metadata.google.internal...), home.arpa (RFC 8375),
 * the private names RFC 6762 appendix G lists (intranet, private, corp, home, lan), and a single label such as
 * `metadata` or `intranet` (no public host has one; a resolver may complete it with a local search domain). A
 * trailing dot changes nothing (`localhost.` is localhost).
 */
const PRIVATE_SUFFIXES = ['localhost', 'local', 'internal', 'home.arpa', 'intranet', 'private', 'corp', 'home', 'lan'];

/** Whether a URL's host (IP literal or name) is a loopback or private one outright, as far as the name tells. */
export function isPrivateHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (net.isIP(host) !== 0) return isForbiddenAddress(host);
  const name = host.replace(/\.+$/, '');
  if (name === '' || !name.includes('.')) return true;
  return PRIVATE_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`));
}

/**
 * Whether a webhook URL names a loopback or private host outright (an IP literal in a forbidden range, or a name such
 * as localhost or metadata.google.internal, see isPrivateHostname): where private webhooks are not allowed, every notice
 * to it would be refused at delivery, so the API refuses it at PUT. A name that resolves to such an address is still
 * caught at delivery, which checks every address it connects to.
 */
export function namesPrivateHost(url: string): boolean {
  return isPrivateHostname(new URL(url).hostname);
}

/** A resolver that refuses to hand the socket a forbidden address, so the check covers the address actually connected to. */
const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => isForbiddenAddress(a.address));
    if (bad) return callback(Object.assign(new Error(`${hostname} resolves to forbidden address ${bad.address}`), { code: 'EFORBIDDENADDR' }), '', 4);
    if (list.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
    if (options.all) return callback(null, list);
    callback(null, list[0].address, list[0].family);
  });
};

export interface GuardedRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Read and keep up to this many bytes of the answer (default 0: the body is discarded unread). */
  keepBodyBytes?: number;
  /**
   * Keep the connection open for the next request to the same origin (partners' webhooks: no new TCP and TLS handshake
   * per notice). Off for URL checks, whose hosts are the merchants'.
   */
  reuseConnection?: boolean;
  /**
   * Ends the exchange at once when aborted (the activity's cancellation, which reaches these activities when their
   * worker is stopping: they do not heartbeat), failing with kind `cancelled` unless the status line has come.
   */
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  location: string | null;
  body: string;
}

function classify(err: unknown, timedOut: boolean, cancelled: AbortSignal | undefined): OutboundError {
  if (err instanceof OutboundError) return err;
  const code = (err as { code?: string })?.code;
  const message = (err as Error)?.message ?? String(err);
  if (timedOut) return new OutboundError('timeout', 'timed out');
  if (cancelled?.aborted) return new OutboundError('cancelled', `stopped: ${(cancelled.reason as Error)?.message ?? String(cancelled.reason)}`);
  if (code === 'EFORBIDDENADDR') return new OutboundError('forbidden_address', message);
  if (code === 'ECONNREFUSED') return new OutboundError('refused', message);
  // The name does not exist, or has no address. EAI_AGAIN is not among them: the resolver could not answer now (a
  // SERVFAIL, its own timeout), which says nothing of the name, so it is transient like a dropped connection.
  if (code === 'ENOTFOUND' || code === 'EAI_NODATA') return new OutboundError('dns', message);
  return new OutboundError('network', `${code ?? 'error'}: ${message}`);
}

/** How long an idle pooled connection is kept: below the 5 s keep-alive of Node servers (and most others). */
const IDLE_CONNECTION_MS = 4_000;

/**
 * Pooled connections, one pool per protocol and guard setting: a socket opened under one setting never serves a request
 * under the other, and every socket of a guarded pool was connected through the guarded lookup.
 */
const pools = new Map<string, http.Agent>();
function pooledAgent(protocol: string, allowPrivate: boolean): http.Agent {
  const key = `${protocol}${allowPrivate ? 'private' : 'guarded'}`;
  let agent = pools.get(key);
  if (!agent) {
    const options = { keepAlive: true, timeout: IDLE_CONNECTION_MS, scheduling: 'lifo' as const };
    agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    pools.set(key, agent);
  }
  return agent;
}

/**
 * How a kept-alive connection fails when the other side closed it while it sat idle. Such a request goes out once more
 * on a new connection; only notices use pooled connections, and their webhook-id lets a partner drop a repeat.
 */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * One HTTP(S) request, never following redirects, with a deadline over the whole exchange. Unless allowPrivate, it
 * refuses literal and resolved loopback/private addresses. Failures before the status line reject with an OutboundError
 * naming their kind; once it has come, the answer is its status and as much of the body as came by the deadline.
 */
export async function guardedRequest(url: string, req: GuardedRequest): Promise<GuardedResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new OutboundError('invalid_url', `not a URL: ${url}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OutboundError('invalid_url', `not http(s): ${url}`);
  if (!req.allowPrivate && isPrivateHostname(target.hostname)) {
    throw new OutboundError('forbidden_address', `${target.hostname} is a loopback or private address or name`);
  }

  if (req.signal?.aborted) throw classify(req.signal.reason, false, req.signal);
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, req.timeoutMs);
  const cancel = () => ac.abort();
  req.signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await exchange(target, req, ac.signal, () => timedOut, req.reuseConnection === true).catch((err: unknown) => {
      // A reused connection that failed before any answer (Node's reusedSocket case): once more, on a new connection.
      if (!(err instanceof StaleConnection)) throw err;
      return exchange(target, req, ac.signal, () => timedOut, false);
    });
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', cancel);
  }
}

class StaleConnection extends Error {}

function exchange(target: URL, req: GuardedRequest, signal: AbortSignal, timedOut: () => boolean, pooled: boolean): Promise<GuardedResponse> {
  const mod = target.protocol === 'https:' ? https : http;
  const keep = req.keepBodyBytes ?? 0;
  return new Promise<GuardedResponse>((resolve, reject) => {
    // Set once the status line has come: from then on the exchange answers with it, whatever becomes of the body.
    let answer: (() => void) | null = null;
    const outgoing = mod.request(
      target,
      {
        method: req.method,
        headers: req.headers,
        signal,
        // Without reuse, no pooling at all: the socket is closed after this one exchange.
        agent: pooled ? pooledAgent(target.protocol, req.allowPrivate) : false,
        ...(req.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = typeof res.headers.location === 'string' ? res.headers.location : null;
        const chunks: Buffer[] = [];
        const answered = () => resolve({ status, location, body: Buffer.concat(chunks).toString('utf8') });
        answer = answered;
        if (keep === 0) {
          res.destroy();
          answered();
          return;
        }
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < keep) chunks.push(chunk.subarray(0, keep - size));
          size += chunk.length;
          if (size >= keep) {
            res.destroy();
            answered();
          }
        });
        // A body cut short (the deadline passed while it trickled, the connection dropped in it) does not unsay the
        // status: a notice's 2xx is delivery, and sending it again would ask the partner twice. What came of it is kept.
        res.on('end', answered);
        res.on('error', answered);
        res.on('close', answered);
      },
    );
    outgoing.on('error', (err) => {
      const code = (err as { code?: string }).code;
      if (answer) answer();
      else if (pooled && outgoing.reusedSocket && !timedOut() && code && STALE_CONNECTION_CODES.has(code)) reject(new StaleConnection(err.message));
      else reject(classify(err, timedOut(), req.signal));
    });
    outgoing.end(req.body);
  });
}

/**
 * As many redirects as a browser follows (the Fetch standard's 20): a shop reachable through a longer chain than the check
 * follows would be called gone while every browser still reaches it. A loop ends here, as a browser's does: down.
 */
export const MAX_REDIRECTS = 20;
const CONCURRENCY = 8;
/**
 * A browser's User-Agent: a shop that hides from checkers could answer a self-named checker with 404 while it serves
 * everyone else, and the check would call its content gone.
 */
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * A URL's state from one check: `unsure` when the answer proves nothing either way (a timeout, a dropped connection, a
 * temporary DNS failure, a 5xx, 408 or 429), which is asked again before the URL counts as down.
 */
type Verdict = 'up' | 'down' | 'unsure' | 'forbidden';

/** A verdict, and where the answer came from when redirects were followed to it. */
interface Checked {
  verdict: Verdict;
  finalUrl?: string;
}

/** Between the attempts at an unsure URL: three attempts in all, about 4 s apart at most. */
export const RETRY_DELAYS_MS: readonly number[] = [1_000, 3_000];
/** No retry starts later than this after the check began, so a long list stays well inside the activity's timeout. */
const RETRY_BUDGET_MS = 45_000;
/**
 * A check answers by this time after it began, whatever the list's length and however slowly its hosts answer (a
 * blackholed host takes the whole request timeout per URL): well inside the activity's 2 minutes (workflows/activities.ts),
 * so a slow host never fails the activity and with it the case. URLs not checked by then count as up.
 */
export const CHECK_DEADLINE_MS = 90_000;

const unsureStatus = (status: number) => status >= 500 || status === 408 || status === 429;
/** A HEAD answer that would count the URL down: a 4xx that is not about the request's pace or time. */
const headSaysDown = (status: number) => status >= 400 && status < 500 && !unsureStatus(status);

async function verdictOf(url: string, deps: UrlCheckDeps, deadline: number, signal: AbortSignal | undefined): Promise<Checked> {
  let current = url;
  try {
    for (let hop = 0; ; hop++) {
      if (Date.now() >= deadline) return { verdict: 'unsure', ...(current !== url ? { finalUrl: current } : {}) };
      const probe = (method: string) =>
        guardedRequest(current, { method, timeoutMs: deps.timeoutMs, allowPrivate: deps.allowPrivate, headers: { 'user-agent': USER_AGENT, accept: '*/*' }, signal });
      let res = await probe('HEAD');
      // Only a GET may call a URL down. Some servers refuse HEAD (405, 501), and a shop that hides from checkers may answer
      // HEAD with 404 while it serves its pages to GET; so any HEAD answer that would count as down is asked again by a
      // GET whose body is dropped unread (only its status and headers are read, never the content).
      if (res.status === 501 || headSaysDown(res.status)) res = await probe('GET');
      if (res.status >= 300 && res.status < 400 && res.location && hop < MAX_REDIRECTS) {
        // Each hop goes through the same guard: a redirect must not smuggle the check to an internal address.
        current = new URL(res.location, current).href;
        continue;
      }
      // A 3xx with no Location is not followed anywhere: a browser shows its body, which may be the shop. Up, to be safe.
      const served = (res.status >= 200 && res.status < 300) || (res.status >= 300 && res.status < 400 && !res.location);
      const verdict = served ? 'up' : unsureStatus(res.status) ? 'unsure' : 'down';
      return { verdict, ...(current !== url ? { finalUrl: current } : {}) };
    }
  } catch (err) {
    // Refused connections, unknown hosts and invalid URLs say the content is not served there; a timeout, a dropped
    // connection or a resolver that could not answer now (EAI_AGAIN) proves nothing. A name that resolves (or a redirect
    // that leads) to an address the check may not contact proves nothing either: the shop's DNS may answer the checker
    // with 127.0.0.1 and everyone else with the shop. It counts as up, named apart, for a person to review.
    const kind = err instanceof OutboundError ? err.kind : undefined;
    const verdict: Verdict = kind === 'timeout' || kind === 'network' || kind === 'cancelled' ? 'unsure' : kind === 'forbidden_address' ? 'forbidden' : 'down';
    return { verdict, ...(current !== url ? { finalUrl: current } : {}) };
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, until: number, signal: AbortSignal | undefined): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && Date.now() < until && !signal?.aborted) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Whether each URL still serves content: 2xx (directly or within 20 redirects, as a browser follows them), or a 3xx
 * with no Location (a browser shows its body), is up. Each URL is asked with HEAD, and
 * a HEAD answer that would count it down is asked again with GET (a shop may hide from HEAD). An answer that proves nothing (a
 * timeout, a dropped connection, a temporary DNS failure, 5xx, 408, 429) is asked again, up to three attempts; any other answer, or no answer
 * after them, is down. A URL answered after redirects is listed in `redirected` with the URL that answered last: a
 * host's "suspended" page reached by a redirect counts as up (erring towards a re-notice that a person reviews, never
 * towards calling content gone), and the case lead sees where the redirect led. When `signal` aborts (the activity's
 * cancellation: its worker is stopping) the check stops its requests and fails at once, to be run again in full.
 */
export async function checkUrls(deps: UrlCheckDeps, urls: string[], signal?: AbortSignal): Promise<UrlCheckResult> {
  const unique = [...new Set(urls)];
  const checked = new Map<string, Checked>();
  const started = Date.now();
  const deadline = started + (deps.deadlineMs ?? CHECK_DEADLINE_MS);
  const retryUntil = Math.min(started + RETRY_BUDGET_MS, deadline);
  let timer: NodeJS.Timeout | undefined;
  const checking = mapLimit(
    unique,
    CONCURRENCY,
    async (url) => {
      let result = await verdictOf(url, deps, deadline, signal);
      for (const delay of deps.retryDelaysMs ?? RETRY_DELAYS_MS) {
        if (result.verdict !== 'unsure' || Date.now() + delay > retryUntil || signal?.aborted) break;
        await new Promise((resolve) => setTimeout(resolve, delay));
        result = await verdictOf(url, deps, deadline, signal);
      }
      // An answer that came after the deadline is not waited for, so it is not taken either: the result is settled.
      if (Date.now() < deadline) checked.set(url, result);
    },
    deadline,
    signal,
  );
  const onAbort = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
  // Requests still out at the deadline end by their own timeouts; the check answers without them.
  await Promise.race([checking, onAbort, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
  clearTimeout(timer);
  // Not an answer: the URLs not yet checked would count as up. The activity fails and its next attempt checks them all.
  if (signal?.aborted) throw new Error(`URL check stopped before its end: ${(signal.reason as Error)?.message ?? String(signal.reason)}`);
  const unchecked = unique.filter((u) => !checked.has(u));
  const redirected = unique.flatMap((url) => {
    const to = checked.get(url)?.finalUrl;
    return to ? [{ url, to }] : [];
  });
  const forbidden = unique.filter((u) => checked.get(u)?.verdict === 'forbidden');
  const up = (u: string) => checked.get(u)?.verdict === 'up' || checked.get(u)?.verdict === 'forbidden' || !checked.has(u);
  return {
    up: unique.filter(up),
    down: unique.filter((u) => !up(u)),
    ...(redirected.length > 0 ? { redirected } : {}),
    ...(unchecked.length > 0 ? { unchecked } : {}),
    ...(forbidden.length > 0 ? { forbidden } : {}),
  };
}
