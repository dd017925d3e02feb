import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19: changes reach every provider, with no echoes.
 *
 * - `external_ref.synced_hashes`: per canonical field, a hash of the value the provider holds as
 *   far as the gateway knows (what it last wrote there, or last read from there). A webhook
 *   reporting back such a value is an echo; a job whose mapped fields all match is not sent.
 * - `integration_job.source`, `source_integration_id`: the change that caused the job (API,
 *   WEBHOOK, POLL, IMPORT, and the integration it came from).
 * - `integration_job.synced_hashes`: the hashes of the mapped fields the job sends, written to
 *   its link when the provider acknowledges them.
 */
export class CrossProviderSync1763760000012 implements MigrationInterface {
  name = 'CrossProviderSync1763760000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE external_ref ADD COLUMN IF NOT EXISTS synced_hashes jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await q.query(`ALTER TABLE integration_job ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'API'`);
    await q.query(`ALTER TABLE integration_job ADD COLUMN IF NOT EXISTS source_integration_id uuid`);
    await q.query(`ALTER TABLE integration_job ADD COLUMN IF NOT EXISTS synced_hashes jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE integration_job DROP COLUMN IF EXISTS synced_hashes`);
    await q.query(`ALTER TABLE integration_job DROP COLUMN IF EXISTS source_integration_id`);
    await q.query(`ALTER TABLE integration_job DROP COLUMN IF EXISTS source`);
    await q.query(`ALTER TABLE external_ref DROP COLUMN IF EXISTS synced_hashes`);
  }
}
