// The PostgreSQL pool and drizzle handle; one per process.
import { createHash } from 'node:crypto';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };

export interface DbHandle {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export interface ConnectOptions {
  max?: number;
  applicationName?: string;
  /**
   * How long a query may wait for its answer (default 30 s); 0: as long as it takes, for the migrations, which wait for
   * another process's advisory lock and may run long statements. Connecting is bounded either way.
   */
  queryTimeoutMs?: number;
}

export function connectDb(url: string, opts: ConnectOptions = {}): DbHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 20,
    application_name: opts.applicationName ?? 'takedown',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A query stuck behind a dead server must fail, not hang a request forever.
    query_timeout: opts.queryTimeoutMs ?? 30_000,
  });
  // An idle client losing its server (PostgreSQL restart) must not crash the process.
  pool.on('error', () => {});
  const db = drizzle(pool, { schema }) as Db;
  return { pool, db, close: () => pool.end() };
}

/** Runs fn inside BEGIN/COMMIT on one pooled client; any error rolls back and is rethrown. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

const statementNames = new Map<string, string>();
/** Hot statements have a handful of texts each; past this many, a text is sent unnamed rather than remembered. */
const MAX_NAMED = 500;

/**
 * A hot query as a named statement: each connection has PostgreSQL parse and plan it once, then only binds and runs
 * it. The name is derived from the text, so two texts never share a name.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (!name && statementNames.size < MAX_NAMED) {
    name = `tdk_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name ? { name, text, values } : { text, values };
}
