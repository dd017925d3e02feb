import pg, { type Pool } from 'pg';
import type { DataSource } from 'typeorm';

/** Connections of the prepared-statement pool (see preparedPool). */
const PREPARED_POOL_SIZE = 8;

const pools = new WeakMap<DataSource, Pool>();

/**
 * The pool prepared statements run on: the data source's connection settings, with
 * `plan_cache_mode=force_generic_plan`. By default PostgreSQL plans a named statement afresh for
 * its first five runs and then keeps a generic plan only if that looks no dearer than the custom
 * ones. With that default, the outbound worker's cohort start statement cost 30 to 35 ms of
 * server CPU a call under load; with generic plans forced, 1.4 ms (docs/benchmarks.md, session
 * 8; whether planning or the custom plans themselves took the time was not separated). Their
 * generic plans are index lookups by id array by design. The setting is per session, so these
 * statements get connections of their own: TypeORM's statements keep custom plans.
 */
function preparedPool(db: DataSource): Pool {
  let pool = pools.get(db);
  if (!pool) {
    const base = (db.driver as unknown as { master: Pool }).master.options;
    pool = new pg.Pool({
      ...base,
      max: PREPARED_POOL_SIZE,
      allowExitOnIdle: true,
      application_name: `${base.application_name ?? 'switchboard'}-prepared`,
      options: [base.options, '-c plan_cache_mode=force_generic_plan'].filter(Boolean).join(' '),
    });
    // An idle connection that breaks is dropped by the pool; the next statement opens another.
    pool.on('error', () => undefined);
    pools.set(db, pool);
  }
  return pool;
}

/** Closes the prepared-statement pool of `db` (before the data source itself). */
export async function closePrepared(db: DataSource): Promise<void> {
  const pool = pools.get(db);
  pools.delete(db);
  await pool?.end();
}

/**
 * Runs a fixed statement as a named prepared statement, so PostgreSQL parses and plans it once
 * per connection rather than on every call. For the outbound worker's CTE statements, run a few
 * hundred times a second, planning cost about as much as executing. `name` must always go with
 * the same `text`.
 *
 * It goes around TypeORM's query runner, so it reports to the data source's logger itself: the
 * statement counter, slow statements and failures are the same as for every other statement.
 */
export async function prepared<T = Record<string, unknown>>(db: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = preparedPool(db);
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
