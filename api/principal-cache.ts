// Principals by token hash, remembered between requests while PostgreSQL tells this process of every change to them (LISTEN/NOTIFY).
import pg from 'pg';
import type { Logger } from 'pino';
import type { Actor } from '../domain/types';

/** The channel db/migrations/0006 notifies on every UPDATE, DELETE or TRUNCATE of `principals`. */
export const PRINCIPALS_CHANNEL = 'takedown_principals';

/** How long ending the listening connection may take before its socket is cut: a hung PostgreSQL never answers. */
const END_GRACE_MS = 2_000;

/**
 * Ends `client` politely, or cuts its socket after `ms`: end() waits for the server to close its side, and a server
 * that stopped answering (a hung host, a partition) never does, which held the API's shutdown up for ever.
 */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      client.connection.stream.destroy();
      resolve();
    }, ms);
  });
  await Promise.race([client.end().catch(() => {}), cut]);
  clearTimeout(timer);
}

interface Entry {
  actor: Actor;
  at: number;
}

export interface PrincipalCacheOptions {
  /** Where the listening connection goes: the API pool's own settings. */
  connection: pg.ClientConfig;
  logger?: Logger;
  /** Entries kept at most (oldest dropped first). */
  maxEntries?: number;
  /** An entry is looked up afresh after this long even without a notification (belt and braces). */
  maxAgeMs?: number;
  /** First delay before listening again after the connection is lost; doubles up to 30 s. */
  retryMs?: number;
  /** How often the listening connection is checked with a query (a silently dead peer sends no error). */
  pingMs?: number;
  /** How long that query may take before the connection counts as lost. */
  pingTimeoutMs?: number;
}

/**
 * A revocation must stop a token at once, so an entry is only trusted while this process listens on
 * PRINCIPALS_CHANNEL: any notification empties the cache, and so does losing the listening connection (until it is back,
 * every request reads PostgreSQL as if there were no cache). A lookup that started before a notification is not
 * remembered (`generation`), so a reply read just before a revocation cannot outlive it.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private listening = false;
  private closed = false;
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;

  /** A cache listening with the same connection settings as `pool`, started (see `start`). */
  static async forPool(pool: pg.Pool, opts: Omit<PrincipalCacheOptions, 'connection'> = {}): Promise<PrincipalCache> {
    const { connectionString, host, port, user, password, database, ssl } = pool.options;
    const cache = new PrincipalCache({ ...opts, connection: { connectionString, host, port, user, password, database, ssl, connectionTimeoutMillis: 5_000 } });
    await cache.start();
    return cache;
  }

  constructor(private readonly opts: PrincipalCacheOptions) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxAgeMs = opts.maxAgeMs ?? 60_000;
    this.retryMs = opts.retryMs ?? 1_000;
  }

  /** Starts listening; resolves once listening or once the first attempt failed (the cache then stays off and retries). */
  async start(): Promise<void> {
    await this.listen();
  }

  /** True while notifications arrive, i.e. while entries may be used. */
  get active(): boolean {
    return this.listening;
  }

  /** The state a lookup starts from; pass it back to `remember`. */
  get stamp(): number {
    return this.generation;
  }

  get(tokenHash: string): Actor | undefined {
    if (!this.listening) return undefined;
    const e = this.entries.get(tokenHash);
    if (!e) return undefined;
    if (Date.now() - e.at > this.maxAgeMs) {
      this.entries.delete(tokenHash);
      return undefined;
    }
    return e.actor;
  }

  /** Keeps what PostgreSQL answered, unless anything about principals changed since `stamp` was taken. */
  remember(tokenHash: string, actor: Actor, stamp: number): void {
    if (!this.listening || stamp !== this.generation) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(tokenHash, { actor, at: Date.now() });
  }

  /** Forgets everything; the process that revokes calls it at once, the others hear of it by notification. */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.off();
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const c = this.client;
    this.client = undefined;
    if (c) await endWithin(c, END_GRACE_MS);
  }

  private off(): void {
    this.listening = false;
    this.clear();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      ...this.opts.connection,
      application_name: 'takedown-principals-listener',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      query_timeout: this.opts.pingTimeoutMs ?? 5_000,
    });
    this.client = client;
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      clearInterval(this.pingTimer);
      this.off();
      void endWithin(client, END_GRACE_MS);
      if (this.closed) return;
      this.opts.logger?.warn({ err }, 'principal cache: listening connection lost; every request reads PostgreSQL until it is back');
      this.retryTimer = setTimeout(() => void this.listen(), this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, 30_000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.clear());
    try {
      await client.connect();
      await client.query(`LISTEN ${PRINCIPALS_CHANNEL}`);
      if (this.client !== client || this.closed) return;
      this.clear();
      this.listening = true;
      this.retryMs = this.opts.retryMs ?? 1_000;
      // A connection that stopped answering counts as lost, as a closed one does.
      this.pingTimer = setInterval(() => client.query('SELECT 1').catch((err: Error) => lost(err)), this.opts.pingMs ?? 10_000);
      this.pingTimer.unref();
    } catch (err) {
      lost(err as Error);
    }
  }
}
