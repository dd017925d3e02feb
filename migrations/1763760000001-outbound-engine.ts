import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Outbound jobs, the integration log, and the shared state of circuit breakers and rate limits. */
export class OutboundEngine1763760000001 implements MigrationInterface {
  name = 'OutboundEngine1763760000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE integration_job (
        id uuid PRIMARY KEY,
        integration_id uuid NOT NULL REFERENCES integration(id) ON DELETE CASCADE,
        operation text NOT NULL,
        entity_type text,
        entity_id uuid,
        status text NOT NULL DEFAULT 'PENDING'
          CHECK (status IN ('PENDING','PROCESSING','RETRYING','COMPLETED','FAILED','CANCELLED')),
        attempts int NOT NULL DEFAULT 0,
        max_attempts int NOT NULL,
        last_error text,
        correlation_id text NOT NULL,
        idempotency_key text,
        provider_idempotency_key text NOT NULL,
        queue_job_id uuid,
        payload jsonb NOT NULL DEFAULT '{}'::jsonb,
        result jsonb,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (integration_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX integration_job_integration_idx ON integration_job (integration_id, status, id)`);
    await q.query(`CREATE INDEX integration_job_status_idx ON integration_job (status, id)`);
    await q.query(`CREATE INDEX integration_job_entity_idx ON integration_job (entity_id, id)`);
    await q.query(`CREATE INDEX integration_job_correlation_idx ON integration_job (correlation_id)`);

    await q.query(`
      CREATE TABLE integration_log (
        id uuid PRIMARY KEY,
        service text NOT NULL,
        event_type text NOT NULL,
        direction text NOT NULL CHECK (direction IN ('INBOUND','OUTBOUND')),
        status text NOT NULL CHECK (status IN ('SUCCESS','FAILED','PENDING')),
        timestamp timestamptz NOT NULL DEFAULT now(),
        error_msg text,
        correlation_id text,
        integration_id uuid REFERENCES integration(id) ON DELETE SET NULL,
        job_id uuid REFERENCES integration_job(id) ON DELETE SET NULL,
        webhook_event_id uuid,
        http_status int,
        duration_ms int,
        attempt int,
        request jsonb,
        response jsonb
      )`);
    await q.query(`CREATE INDEX integration_log_job_idx ON integration_log (job_id, id)`);
    await q.query(`CREATE INDEX integration_log_integration_idx ON integration_log (integration_id, id)`);
    await q.query(`CREATE INDEX integration_log_correlation_idx ON integration_log (correlation_id)`);
    await q.query(`CREATE INDEX integration_log_timestamp_idx ON integration_log (timestamp)`);

    // Circuit breaker state is shared by every worker process (the counting that opens it is
    // per process, so the integration row is written only when the circuit changes state).
    await q.query(`ALTER TABLE integration
      ADD COLUMN circuit_opened_at timestamptz,
      ADD COLUMN circuit_probe_until timestamptz,
      ADD COLUMN auto_sync text[] NOT NULL DEFAULT '{}'`);

    // Rate limit (GCRA): the theoretical arrival time of the next call, per integration.
    await q.query(`
      CREATE TABLE integration_throttle (
        integration_id uuid PRIMARY KEY REFERENCES integration(id) ON DELETE CASCADE,
        tat timestamptz NOT NULL
      )`);

    // Concurrency: leases on numbered slots; a crashed worker's lease runs out by itself.
    await q.query(`
      CREATE TABLE integration_slot (
        integration_id uuid NOT NULL REFERENCES integration(id) ON DELETE CASCADE,
        slot int NOT NULL,
        lease_until timestamptz NOT NULL DEFAULT '-infinity',
        holder uuid,
        PRIMARY KEY (integration_id, slot)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS integration_slot`);
    await q.query(`DROP TABLE IF EXISTS integration_throttle`);
    await q.query(`DROP TABLE IF EXISTS integration_log`);
    await q.query(`DROP TABLE IF EXISTS integration_job`);
    await q.query(`ALTER TABLE integration DROP COLUMN circuit_opened_at, DROP COLUMN circuit_probe_until, DROP COLUMN auto_sync`);
  }
}
