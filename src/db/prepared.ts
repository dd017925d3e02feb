import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs a fixed statement as a named prepared statement on the data source's own pool, so
 * PostgreSQL parses and plans it once per connection rather than on every call. For the outbound
 * worker's CTE statements, run a few hundred times a second, planning cost about as much as
 * executing. `name` must always go with the same `text`.
 */
export async function prepared<T = Record<string, unknown>>(db: DataSource, name: string, text: string, values: unknown[]): Promise<T[]> {
  const pool = (db.driver as unknown as { master: Pool }).master;
  return (await pool.query({ name, text, values })).rows as T[];
}
