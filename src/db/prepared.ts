import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs a fixed statement as a named prepared statement on the data source's own pool, so
 * PostgreSQL parses and plans it once per connection rather than on every call. For the outbound
 * worker's CTE statements, run a few hundred times a second, planning cost about as much as
 * executing. `name` must always go with the same `text`.
 *
 * It goes around TypeORM's query runner, so it reports to the data source's logger itself: the
 * statement counter, slow statements and failures are the same as for every other statement.
 */
export async function prepared<T = Record<string, unknown>>(db: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = (db.driver as unknown as { master: Pool }).master;
  db.logger.logQuery(text);
  // Timed from when a connection is in hand, as TypeORM times its own statements.
  const client = await pool.connect();
  const started = performance.now();
  let failure: Error | undefined;
  try {
    const { rows } = await client.query({ name, text, values });
    const ms = Math.round(performance.now() - started);
    const slowMs = db.options.maxQueryExecutionTime;
    if (slowMs && ms > slowMs) db.logger.logQuerySlow(ms, text);
    return rows as T[];
  } catch (err) {
    failure = err as Error;
    db.logger.logQueryError(failure, text);
    throw err;
  } finally {
    // As pg's own pool.query(): a connection whose statement failed is closed, not reused.
    client.release(failure);
  }
}
