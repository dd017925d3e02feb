import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 20: alerts and integration health.
 *
 * - `alert_rule`: what is watched, its thresholds (firing and resolving, for hysteresis) and
 *   where the email goes; the evaluator's per-rule state (clear streak, last value).
 * - `alert`: one episode per rule; at most one FIRING per rule (partial unique index), so two
 *   evaluations racing cannot fire twice.
 * - `alert_evaluator`: one row, locked FOR UPDATE SKIP LOCKED by the worker that evaluates; it
 *   records when rules were last evaluated so workers take turns instead of all evaluating.
 * - `integration_log.error_kind`: the engine's failure kind of an outbound attempt (timeout,
 *   network, server, rate_limited, client, auth, gateway), for errors by kind.
 * - Indexes for the health and throughput reads: outbound attempts by integration and time,
 *   finished jobs by time, webhook events by time, failed webhook events by time, sync runs by
 *   end time and an integration's latest run.
 */
export class Alerts1763760000020 implements MigrationInterface {
  name = 'Alerts1763760000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS alert_rule (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('FAILURE_RATE', 'QUEUE_LAG', 'CIRCUIT_OPEN', 'WEBHOOK_FAILURES', 'SYNC_FAILED')),
        integration_id uuid REFERENCES integration (id) ON DELETE CASCADE,
        threshold float8 NOT NULL,
        resolve_threshold float8 NOT NULL,
        resolve_after integer NOT NULL DEFAULT 3 CHECK (resolve_after >= 1),
        min_attempts integer NOT NULL DEFAULT 10 CHECK (min_attempts >= 1),
        window_seconds integer NOT NULL CHECK (window_seconds > 0),
        enabled boolean NOT NULL DEFAULT true,
        notify_integration_id uuid REFERENCES integration (id) ON DELETE SET NULL,
        notify_email text,
        clear_streak integer NOT NULL DEFAULT 0,
        last_value float8,
        last_evaluated_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS alert (
        id uuid PRIMARY KEY,
        rule_id uuid NOT NULL REFERENCES alert_rule (id) ON DELETE CASCADE,
        integration_id uuid,
        status text NOT NULL CHECK (status IN ('FIRING', 'RESOLVED')),
        value float8 NOT NULL,
        message text NOT NULL,
        fired_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        resolved_value float8
      )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS alert_one_firing_uq ON alert (rule_id) WHERE status = 'FIRING'`);
    await q.query(`CREATE INDEX IF NOT EXISTS alert_rule_idx ON alert (rule_id, id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS alert_integration_idx ON alert (integration_id, id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS alert_status_idx ON alert (status, id)`);
    await q.query(`CREATE TABLE IF NOT EXISTS alert_evaluator (id integer PRIMARY KEY CHECK (id = 1), last_run_at timestamptz)`);
    await q.query(`INSERT INTO alert_evaluator (id, last_run_at) VALUES (1, NULL) ON CONFLICT DO NOTHING`);

    await q.query(`ALTER TABLE integration_log ADD COLUMN IF NOT EXISTS error_kind text`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS integration_log_outbound_time_idx ON integration_log (integration_id, "timestamp")
         INCLUDE (status, duration_ms, error_kind) WHERE direction = 'OUTBOUND' AND job_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX IF NOT EXISTS integration_log_rejected_idx ON integration_log (integration_id, "timestamp") WHERE event_type = 'webhook.rejected'`);
    await q.query(`CREATE INDEX IF NOT EXISTS integration_job_finished_idx ON integration_job (completed_at) INCLUDE (status, integration_id) WHERE completed_at IS NOT NULL`);
    await q.query(`CREATE INDEX IF NOT EXISTS integration_job_waiting_idx ON integration_job (integration_id, created_at) WHERE status IN ('PENDING', 'RETRYING')`);
    await q.query(`CREATE INDEX IF NOT EXISTS webhook_event_received_idx ON webhook_event (received_at) INCLUDE (integration_id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS webhook_event_failed_at_idx ON webhook_event (processed_at) INCLUDE (integration_id) WHERE status = 'FAILED'`);
    await q.query(`CREATE INDEX IF NOT EXISTS sync_run_failed_at_idx ON sync_run (finished_at) INCLUDE (integration_id) WHERE status = 'FAILED'`);
    await q.query(`CREATE INDEX IF NOT EXISTS sync_run_latest_idx ON sync_run (integration_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'sync_run_latest_idx', 'sync_run_failed_at_idx', 'webhook_event_failed_at_idx', 'webhook_event_received_idx', 'integration_job_waiting_idx',
      'integration_job_finished_idx', 'integration_log_rejected_idx', 'integration_log_outbound_time_idx',
    ]) await q.query(`DROP INDEX IF EXISTS ${index}`);
    await q.query(`ALTER TABLE integration_log DROP COLUMN IF EXISTS error_kind`);
    await q.query(`DROP TABLE IF EXISTS alert_evaluator`);
    await q.query(`DROP TABLE IF EXISTS alert`);
    await q.query(`DROP TABLE IF EXISTS alert_rule`);
  }
}
