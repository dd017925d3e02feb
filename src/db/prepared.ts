import pg, { type Pool } from 'pg';
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { GuardedPool, type Guard } from './guarded-client.js';

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
    const base = (db.driver as unknown as { master: Pool }).master.options as pg.PoolConfig & { guard?: Guard };
    pool = new GuardedPool({
      ...base,
      // The worker's statements, whatever the process's role (a request's deadline still applies).
      ...(base.guard ? { guard: { ...base.guard, pool: 'prepared', role: 'worker' } } : {}),
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
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    return await timed<T>(db, text, undefined, () => client.query({ name, text, values }));
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    // As pg's own pool.query(): a connection whose statement failed is closed, not reused.
    client.release(failure);
  }
}

/**
 * Runs a statement already logged, timed from when a connection is in hand (as TypeORM times its
 * own statements): a slow one and a failed one are reported to the data source's logger.
 */
async function timed<T>(db: DataSource, text: string, runner: QueryRunner | undefined, run: () => Promise<pg.QueryResult>): Promise<T[]> {
  const started = performance.now();
  try {
    const { rows } = await run();
    const ms = Math.round(performance.now() - started);
    const slowMs = db.options.maxQueryExecutionTime;
    if (slowMs && ms > slowMs) db.logger.logQuerySlow(ms, text, undefined, runner);
    return rows as T[];
  } catch (err) {
    db.logger.logQueryError(err as Error, text, undefined, runner);
    throw err;
  }
}

/**
 * prepared() inside a TypeORM transaction: the named statement runs on the transaction's own
 * connection (TypeORM's pool keeps its connections, and node-postgres remembers per connection
 * which names it has parsed). These connections keep PostgreSQL's default plan cache mode. For a
 * single-row enqueue (pushCustomer), parsing and planning the job insert and pg-boss's insert
 * cost more server CPU than running them (pg_stat_statements, docs/benchmarks.md, session 10).
 * `name` must always go with the same `text`. Logged like every other statement.
 */
export async function preparedIn<T = Record<string, unknown>>(tx: EntityManager, name: string, text: string, values: unknown[]): Promise<T[]> {
  const runner = tx.queryRunner;
  if (!runner || runner.isReleased || !runner.isTransactionActive) throw new Error('preparedIn needs a transaction in progress');
  const client = (await runner.connect()) as pg.PoolClient;
  const db = tx.connection;
  db.logger.logQuery(text, undefined, runner);
  try {
    const generation = replanned.get(client);
    return await timed<T>(db, text, runner, () => client.query({ name: generation ? `${name}_${generation}` : name, text, values }));
  } catch (err) {
    // "cached plan must not change result type": a column was added to or dropped from a table
    // the statement returns rows of (a newer version's migration, while this process runs). The
    // statement stays prepared on the connection and would fail every time; from now on this
    // connection prepares its statements afresh under new names (this transaction is aborted).
    if ((err as { code?: unknown }).code === '0A000') replanned.set(client, (replanned.get(client) ?? 0) + 1);
    throw err;
  }
}

/** Connections whose named statements were prepared again (preparedIn), by how many times. */
const replanned = new WeakMap<pg.PoolClient, number>();

/** Statement texts of other libraries (pg-boss) given a name, at most MAX_NAMED_TEXTS. */
const namedTexts = new Map<string, string>();
const MAX_NAMED_TEXTS = 64;

/**
 * A name for a statement text another library builds (pg-boss), for preparedIn: the text's hash.
 * A library that put values into its text would make a new name each time; past
 * MAX_NAMED_TEXTS texts, null (run it unnamed), so the statements kept on each connection stay few.
 */
export function nameForText(text: string): string | null {
  let name = namedTexts.get(text);
  if (name === undefined) {
    if (namedTexts.size >= MAX_NAMED_TEXTS) return null;
    name = `switchboard_lib_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    namedTexts.set(text, name);
  }
  return name;
}
