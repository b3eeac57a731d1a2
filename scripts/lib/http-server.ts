// The HTTP server of the API and of the worker's operations endpoints: timeouts, keep-alive, and a shutdown that drains.
import http from 'node:http';
import { isIP, type Socket } from 'node:net';

export interface HttpServing {
  url: string;
  /**
   * Stops accepting connections and drains the open ones: requests in flight are answered with `Connection: close`,
   * idle keep-alive connections are closed as soon as they are idle, and whatever is still open after `graceMs` is cut.
   * A client that keeps polling on a keep-alive connection therefore cannot hold the shutdown up.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * How long stop() lets requests in flight finish before it closes their connections: longer than a request waits for
 * Temporal (api/temporal.ts, 10 s and a 1 s backstop) with its PostgreSQL work around it, so a case created or a task
 * completed just before the signal is answered, not cut with its outcome unknown to the caller.
 */
export const DRAIN_GRACE_MS = 15_000;

/**
 * The URL clients on this machine reach a server listening on host:port by (npm start prints it and records it for the
 * demo and the simulator): an IPv6 address goes in brackets (`http://::1:3000` is no URL), and the IPv6 wildcard (`::`)
 * is named by its loopback, which a client can connect to everywhere. Hostnames and IPv4 addresses, 0.0.0.0 included,
 * are named as given.
 */
export function serverUrl(host: string, port: number): string {
  if (isIP(host) !== 6) return `http://${host}:${port}`;
  const address = /^[0:]+$/.test(host) ? '::1' : host.replace('%', '%25');
  return `http://[${address}]:${port}`;
}

/**
 * Server options under which an Express app's requests and responses are born with the prototypes Express gives them
 * (`app.request`, `app.response`), or none for any other listener.
 *
 * Express's `app.handle` calls `Object.setPrototypeOf` on every request and response Node's server made. Once a property
 * is added to such an object (Express and the middleware add several), V8 gives it a hidden class (map) of its own, not
 * shared with the previous request's (checked with `%HaveSameMap`): the inline caches of every function touching requests
 * (Node's http code, Express, the middleware) see a new map each time and lose their fast paths, and the new maps, made
 * in the old generation, fill it until a full collection. With objects built on those prototypes in the first place,
 * Express's call changes nothing (the prototype is already the one asked for) and every request shares the same maps.
 * The objects are what they would be after that call: Node's constructors initialise them, `instanceof` holds as
 * before. Measured on the inbox's answer bytes sent through the API's middleware (bench/inbox.ts, "The reads against
 * their floor"): see docs/performance-experiments.md.
 */
export function expressServerOptions(app: unknown): Pick<http.ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  const { request, response } = (app ?? {}) as { request?: unknown; response?: unknown };
  if (!isPrototypeOf(request, http.IncomingMessage) || !isPrototypeOf(response, http.ServerResponse)) return {};
  // Node's http constructors are plain functions, so a subtype's constructor may call them on `this`; were they ever
  // classes (which throw when called so), the server keeps Node's own and Express sets the prototypes as before.
  if ([http.IncomingMessage, http.ServerResponse].some((f) => Function.prototype.toString.call(f).startsWith('class'))) return {};
  const IncomingMessage = function AppRequest(this: http.IncomingMessage, socket: Socket) {
    Reflect.apply(http.IncomingMessage, this, [socket]);
  } as unknown as typeof http.IncomingMessage;
  IncomingMessage.prototype = request;
  const ServerResponse = function AppResponse(this: http.ServerResponse, req: http.IncomingMessage, options?: unknown) {
    Reflect.apply(http.ServerResponse, this, [req, options]);
  } as unknown as typeof http.ServerResponse;
  ServerResponse.prototype = response;
  return { IncomingMessage, ServerResponse };
}

/** `proto` is an object whose chain holds `base.prototype` (as Express's request and response prototypes do). */
function isPrototypeOf<T>(proto: unknown, base: { prototype: T }): proto is T {
  return typeof proto === 'object' && proto !== null && Object.prototype.isPrototypeOf.call(base.prototype, proto);
}

/** Serves a request listener (an Express app) on host:port (0: any free port) until stop(). */
export async function serveHttp(app: http.RequestListener, host: string, port: number): Promise<HttpServing> {
  let draining = false;
  // Answers not yet started, so that a drain can still mark them.
  const pending = new Set<http.ServerResponse>();
  const server = http.createServer(expressServerOptions(app), (req, res) => {
    // Once draining, every answer closes its connection, so keep-alive clients reconnect elsewhere.
    if (draining) res.setHeader('Connection', 'close');
    else {
      pending.add(res);
      res.once('close', () => pending.delete(res));
    }
    app(req, res);
  });
  // Slow or stalled clients must not hold sockets forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  // Longer than the idle timeout of common load balancers (60 s), so the balancer closes idle connections, not Node: a
  // request sent on a connection Node is closing at that moment would fail at the balancer (502).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  let stopping: Promise<void> | undefined;
  return {
    url: serverUrl(host, bound),
    stop(graceMs = DRAIN_GRACE_MS) {
      stopping ??= new Promise<void>((resolve) => {
        draining = true;
        for (const res of pending) if (!res.headersSent) res.setHeader('Connection', 'close');
        pending.clear();
        // A connection that was answering when the drain began goes idle afterwards: the sweep closes it then.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return stopping;
    },
  };
}
