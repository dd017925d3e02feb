import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Inbound provider events, and what reconciling them needs on external_ref. */
export class WebhookIngress1763760000002 implements MigrationInterface {
  name = 'WebhookIngress1763760000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_event (
        id uuid PRIMARY KEY,
        integration_id uuid NOT NULL REFERENCES integration(id) ON DELETE CASCADE,
        provider text NOT NULL,
        external_event_id text NOT NULL,
        event_type text NOT NULL,
        status text NOT NULL DEFAULT 'RECEIVED' CHECK (status IN ('RECEIVED','PROCESSED','FAILED','IGNORED')),
        body text NOT NULL,
        occurred_at timestamptz,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        error text,
        attempts int NOT NULL DEFAULT 0,
        correlation_id text NOT NULL,
        CONSTRAINT webhook_event_dedup UNIQUE (integration_id, external_event_id)
      )`);
    // Listing by status across integrations is for operators looking at FAILED events; a partial
    // index costs the ingress nothing (new events are RECEIVED).
    await q.query(`CREATE INDEX webhook_event_failed_idx ON webhook_event (id) WHERE status = 'FAILED'`);
    await q.query(`CREATE INDEX webhook_event_integration_idx ON webhook_event (integration_id, id)`);
    await q.query(`CREATE INDEX webhook_event_waiting_idx ON webhook_event (integration_id, received_at) WHERE status = 'RECEIVED'`);
    await q.query(`CREATE INDEX integration_log_webhook_event_idx ON integration_log (webhook_event_id) WHERE webhook_event_id IS NOT NULL`);
    // Inbound rows have no job: index only the rows that do (one index write less per webhook).
    await q.query(`DROP INDEX integration_log_job_idx`);
    await q.query(`CREATE INDEX integration_log_job_idx ON integration_log (job_id, id) WHERE job_id IS NOT NULL`);

    // SendGrid events name the send by the key we put in custom_args, or by its X-Message-Id.
    await q.query(`CREATE INDEX integration_job_provider_key_idx ON integration_job (provider_idempotency_key)`);
    await q.query(`CREATE INDEX integration_job_message_id_idx ON integration_job ((result->>'messageId')) WHERE result ? 'messageId'`);

    // Order: per linked record and field, the provider time of the change last applied, so an
    // older event never overwrites newer state. deleted_at: the provider deleted its record.
    await q.query(`ALTER TABLE external_ref
      ADD COLUMN field_clock jsonb NOT NULL DEFAULT '{}'::jsonb,
      ADD COLUMN deleted_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE external_ref DROP COLUMN field_clock, DROP COLUMN deleted_at`);
    await q.query(`DROP INDEX IF EXISTS integration_log_webhook_event_idx`);
    await q.query(`DROP INDEX IF EXISTS integration_log_job_idx`);
    await q.query(`CREATE INDEX integration_log_job_idx ON integration_log (job_id, id)`);
    await q.query(`DROP INDEX IF EXISTS integration_job_provider_key_idx`);
    await q.query(`DROP INDEX IF EXISTS integration_job_message_id_idx`);
    await q.query(`DROP TABLE IF EXISTS webhook_event`);
  }
}
