import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 19: SALESFORCE joins the providers, and GENERIC integrations become targets.
 *
 * - `integration.provider` accepts SALESFORCE (the check from the first migration, widened).
 * - `integration.mappings`: per operation (`customer.upsert`, `contract.upsert`), the method,
 *   path template and JSONata expressions a GENERIC integration calls its API with; validated
 *   when saved (src/providers/generic/mappings.ts). Null for every other provider.
 */
export class SalesforceAndMappings1763760000030 implements MigrationInterface {
  name = 'SalesforceAndMappings1763760000030';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE integration DROP CONSTRAINT IF EXISTS integration_provider_check`);
    await q.query(`ALTER TABLE integration ADD CONSTRAINT integration_provider_check CHECK (provider IN ('STRIPE','HUBSPOT','SENDGRID','GENERIC','SALESFORCE'))`);
    await q.query(`ALTER TABLE integration ADD COLUMN IF NOT EXISTS mappings jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE integration DROP COLUMN IF EXISTS mappings`);
    await q.query(`ALTER TABLE integration DROP CONSTRAINT IF EXISTS integration_provider_check`);
    await q.query(`ALTER TABLE integration ADD CONSTRAINT integration_provider_check CHECK (provider IN ('STRIPE','HUBSPOT','SENDGRID','GENERIC'))`);
  }
}
