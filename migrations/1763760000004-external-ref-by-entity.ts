import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The provider ids of an entity at one integration, as the outbound worker reads them when an
 * attempt starts (`integration_id = $1 AND entity_id IN (...)`, any entity type). The existing
 * indexes lead with (integration_id, entity_type, external_id) and (entity_type, entity_id), so
 * that lookup scanned every reference of the integration: a start got slower with every customer
 * synced (docs/benchmarks.md, session 4).
 */
export class ExternalRefByEntity1763760000004 implements MigrationInterface {
  name = 'ExternalRefByEntity1763760000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS external_ref_integration_entity_idx ON external_ref (integration_id, entity_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS external_ref_integration_entity_idx`);
  }
}
