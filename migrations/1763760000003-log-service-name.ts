import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * IntegrationLog.service is the provider's name in lower case ('stripe'), as outbound rows always
 * had it; inbound rows were written with the enum's upper case ('STRIPE').
 */
export class LogServiceName1763760000003 implements MigrationInterface {
  name = 'LogServiceName1763760000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE integration_log SET service = lower(service) WHERE direction = 'INBOUND' AND service <> lower(service)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE integration_log SET service = upper(service) WHERE direction = 'INBOUND'`);
  }
}
