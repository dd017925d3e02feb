import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source.js';
import { closePrepared, prepared, preparedIn } from '../../src/db/prepared.js';
import { dbStatements } from '../../src/observability/metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTestDatabase } from '../support/gateway.js';

let db: DataSource;
let drop: () => Promise<void>;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const database = await createTestDatabase();
  drop = database.drop;
  db = createDataSource(database.url, createLogger('debug', { write: (line) => void lines.push(JSON.parse(line)) }), 2);
  await db.initialize();
});
afterAll(async () => {
  if (db) await closePrepared(db);
  await db?.destroy();
  await drop?.();
});

const counted = async () => (await dbStatements.get()).values[0]?.value ?? 0;

describe('prepared statements', () => {
  it("run on the data source's connection settings, and report to its logger like every other statement", async () => {
    const before = await counted();
    expect(await prepared<{ n: number }>(db, 'test_add', 'SELECT $1::int + 1 AS n', [41])).toEqual([{ n: 42 }]);
    expect(await prepared<{ n: number }>(db, 'test_add', 'SELECT $1::int + 1 AS n', [1])).toEqual([{ n: 2 }]);
    expect((await counted()) - before).toBe(2);

    await expect(prepared(db, 'test_fail', 'SELECT 1 / $1::int AS n', [0])).rejects.toThrow(/division by zero/);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'query failed', err: { message: 'division by zero' } }));

    // The data source logs statements slower than its maxQueryExecutionTime (1 s).
    await prepared(db, 'test_slow', 'SELECT pg_sleep($1::float8)', [1.05]);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'slow query', query: 'SELECT pg_sleep($1::float8)' }));
  });

  it('run with generic plans, on connections of their own; the data source keeps custom plans', async () => {
    const [mine] = await prepared<{ mode: string; app: string }>(db, 'test_mode', `SELECT current_setting('plan_cache_mode') AS mode, current_setting('application_name') AS app`, []);
    expect(mine).toEqual({ mode: 'force_generic_plan', app: 'switchboard-prepared' });
    const [theirs] = (await db.query(`SELECT current_setting('plan_cache_mode') AS mode`)) as Array<{ mode: string }>;
    expect(theirs.mode).toBe('auto');
  });

  it("inside a transaction: run on the transaction's connection, refused outside one, and prepared afresh once a table's columns changed under them", async () => {
    await db.query('CREATE TABLE prepared_shape (a int)');
    await db.query('INSERT INTO prepared_shape VALUES (1)');
    const read = () => db.transaction((tx) => preparedIn<Record<string, number>>(tx, 'test_shape', 'SELECT * FROM prepared_shape WHERE a = $1', [1]));
    // The pool has two connections: make each of them prepare the statement.
    await Promise.all([read(), read(), read()]);
    // The transaction sees its own uncommitted row: the statement runs on its connection.
    expect(await db.transaction(async (tx) => {
      await tx.query('INSERT INTO prepared_shape VALUES (2)');
      return preparedIn(tx, 'test_shape', 'SELECT * FROM prepared_shape WHERE a = $1', [2]);
    })).toEqual([{ a: 2 }]);
    await db.query('DELETE FROM prepared_shape WHERE a = 2');
    await expect(preparedIn(db.manager, 'test_shape', 'SELECT * FROM prepared_shape WHERE a = $1', [1])).rejects.toThrow(/transaction in progress/);

    // A newer version's migration adds a column: a statement prepared before fails once on each
    // connection ("cached plan must not change result type"), then that connection prepares it again.
    await db.query('ALTER TABLE prepared_shape ADD COLUMN b int');
    const outcomes = await Promise.allSettled([read(), read(), read(), read()]);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as { code?: string }).code).toBe('0A000');
    expect(await read()).toEqual([{ a: 1, b: null }]);
    expect(await read()).toEqual([{ a: 1, b: null }]);
  });
});
