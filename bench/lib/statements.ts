// Which SQL statements the time went to (pg_stat_statements of the bench PostgreSQL, this database only).
import type pg from 'pg';

export interface StatementStat {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
}

/** Resets the counters of every database (the benchmarks run one after another). */
export async function resetStatements(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT pg_stat_statements_reset()');
}

export async function topStatements(pool: pg.Pool, limit = 10): Promise<StatementStat[]> {
  const { rows } = await pool.query<{ query: string; calls: string; total: number; mean: number; rows: string }>(
    `SELECT s.query, s.calls, s.total_exec_time AS total, s.mean_exec_time AS mean, s.rows
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = current_database() AND s.query !~* 'pg_stat_statements'
      ORDER BY s.total_exec_time DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ query: r.query, calls: Number(r.calls), totalMs: r.total, meanMs: r.mean, rows: Number(r.rows) }));
}

/** One line of SQL, shortened for a table cell. */
export function shortSql(q: string, max = 110): string {
  const one = q.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** All statements executed in this database since the last reset (BEGIN and COMMIT included: track_utility is on). */
export async function totalStatements(pool: pg.Pool): Promise<{ calls: number; totalMs: number }> {
  const { rows } = await pool.query<{ calls: string; total: number }>(
    `SELECT coalesce(sum(s.calls), 0) AS calls, coalesce(sum(s.total_exec_time), 0) AS total
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = current_database() AND s.query !~* 'pg_stat_statements'`,
  );
  return { calls: Number(rows[0].calls), totalMs: Number(rows[0].total) };
}
