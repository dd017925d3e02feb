import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbound worker's start statement reads an entity's provider ids by entity id
 * (`entity_id = ANY(...)`, any entity type) on a generic plan, made once per connection with the
 * statistics of that moment. Made while external_ref was small, that plan used the unique key
 * (integration_id, entity_type, external_id) for `integration_id = $2` and then read every
 * reference of the integration for each job: 3,000 rows a job after 3,000 customers. The
 * lookup now names the integration in a way no index serves, and this index, led by entity_id,
 * is the one that fits; it replaces (integration_id, entity_id) from migration 4, which nothing
 * else needs (lookups by integration and entity also name the type: external_ref_entity_idx or
 * the unique key serve them).
 */
export class ExternalRefEntityFirst1763760000006 implements MigrationInterface {
  name = 'ExternalRefEntityFirst1763760000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS external_ref_entity_integration_idx ON external_ref (entity_id, integration_id)`);
    await q.query(`DROP INDEX IF EXISTS external_ref_integration_entity_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS external_ref_integration_entity_idx ON external_ref (integration_id, entity_id)`);
    await q.query(`DROP INDEX IF EXISTS external_ref_entity_integration_idx`);
  }
}
