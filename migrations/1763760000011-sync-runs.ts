import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 18: backfill and scheduled polling.
 *
 * - `sync_run`: one run of one resource of one integration (FULL or INCREMENTAL), its progress
 *   and the page cursor it resumes from; at most one QUEUED or RUNNING run per integration and
 *   resource (partial unique index).
 * - `sync_checkpoint`: where the next INCREMENTAL run of a resource starts.
 * - `external_ref.last_seen_run`: the FULL run that last saw the provider record, so the run can
 *   end the links of records the provider no longer has.
 * - `field_origins` on customers, contracts and invoices: where each field's value came from.
 */
export class SyncRuns1763760000011 implements MigrationInterface {
  name = 'SyncRuns1763760000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS sync_run (
        id uuid PRIMARY KEY,
        integration_id uuid NOT NULL REFERENCES integration (id) ON DELETE CASCADE,
        resource text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('INCREMENTAL', 'FULL')),
        status text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
        requested_by text NOT NULL DEFAULT 'api',
        correlation_id text NOT NULL,
        queued_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        pages integer NOT NULL DEFAULT 0,
        records_seen integer NOT NULL DEFAULT 0,
        records_changed integer NOT NULL DEFAULT 0,
        records_deleted integer NOT NULL DEFAULT 0,
        cursor jsonb,
        checkpoint jsonb,
        note text,
        error text
      )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS sync_run_active_uq ON sync_run (integration_id, resource) WHERE status IN ('QUEUED', 'RUNNING')`);
    await q.query(`CREATE INDEX IF NOT EXISTS sync_run_integration_idx ON sync_run (integration_id, resource, id)`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS sync_checkpoint (
        integration_id uuid NOT NULL REFERENCES integration (id) ON DELETE CASCADE,
        resource text NOT NULL,
        checkpoint jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (integration_id, resource)
      )`);
    await q.query(`ALTER TABLE external_ref ADD COLUMN IF NOT EXISTS last_seen_run uuid`);
    for (const table of ['customer', 'contract', 'invoice']) {
      await q.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS field_origins jsonb NOT NULL DEFAULT '{}'::jsonb`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['customer', 'contract', 'invoice']) await q.query(`ALTER TABLE ${table} DROP COLUMN IF EXISTS field_origins`);
    await q.query(`ALTER TABLE external_ref DROP COLUMN IF EXISTS last_seen_run`);
    await q.query(`DROP TABLE IF EXISTS sync_checkpoint`);
    await q.query(`DROP TABLE IF EXISTS sync_run`);
  }
}
