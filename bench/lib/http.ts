// A lean keep-alive JSON client for load generation: the driver shares two cores with the system it measures.
import http from 'node:http';

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  /** Request start to last byte, in milliseconds. */
  ms: number;
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly text: string,
  ) {
    super(`${method} ${path} → ${status}: ${text.slice(0, 300)}`);
  }
}

export class HttpJson {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets = 64) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * Resolves with any status (the caller decides); rejects on network errors only. `bytesOnly`: the body is read but
   * neither decoded nor parsed, and `body` is its length (load loops: a real client's parsing happens on its own machine).
   * `raw`: `body` is the text as it came, never parsed.
   */
  request<T = unknown>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number; bytesOnly?: boolean; raw?: boolean } = {},
  ): Promise<HttpResult<T>> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (!opts.bytesOnly) chunks.push(c);
        });
        res.on('end', () => {
          if (opts.bytesOnly) {
            resolve({ status: res.statusCode ?? 0, body: bytes as T, ms: performance.now() - t0 });
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (!opts.raw && /json/.test(String(res.headers['content-type'] ?? ''))) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: body as T, ms: performance.now() - t0 });
        });
        res.on('error', reject);
      });
      req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like request, but a status outside 2xx is an error. */
  async ok<T = unknown>(method: string, path: string, opts: Parameters<HttpJson['request']>[2] = {}): Promise<HttpResult<T>> {
    const r = await this.request<T>(method, path, opts);
    if (r.status < 200 || r.status >= 300) throw new HttpError(method, path, r.status, typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
    return r;
  }

  close(): void {
    this.agent.destroy();
  }
}
