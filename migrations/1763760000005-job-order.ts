import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-entity order kept by the engine instead of the queue (docs/adr/0005): `seq` orders the
 * jobs of one entity at one integration, and a job may start only when no job of the same
 * entity with a lower `seq` is unfinished. The partial index holds only unfinished jobs, so the
 * check is an index probe however many jobs have finished. It leads with entity_id, the column
 * that picks out a handful of rows, so no plan prefers integration_job_integration_idx
 * (integration_id, status), which holds every waiting job of the integration. Existing jobs are
 * numbered in the order they were created.
 */
export class JobOrder1763760000005 implements MigrationInterface {
  name = 'JobOrder1763760000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE integration_job ADD COLUMN seq bigint`);
    await q.query(`UPDATE integration_job j SET seq = o.n FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM integration_job) o WHERE o.id = j.id`);
    await q.query(`CREATE SEQUENCE integration_job_seq OWNED BY integration_job.seq`);
    await q.query(`SELECT setval('integration_job_seq', COALESCE((SELECT max(seq) FROM integration_job), 0) + 1, false)`);
    await q.query(`ALTER TABLE integration_job ALTER COLUMN seq SET DEFAULT nextval('integration_job_seq'), ALTER COLUMN seq SET NOT NULL`);
    await q.query(
      `CREATE INDEX integration_job_open_entity_idx ON integration_job (entity_id, integration_id, entity_type, seq)
       WHERE entity_id IS NOT NULL AND status IN ('PENDING', 'RETRYING', 'PROCESSING')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS integration_job_open_entity_idx`);
    await q.query(`ALTER TABLE integration_job DROP COLUMN IF EXISTS seq`);
  }
}
