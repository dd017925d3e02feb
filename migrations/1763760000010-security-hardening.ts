import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15: key lifecycle (expiry, last use, a per-key request rate shared by every API process)
 * and the audit trail.
 *
 * - `api_key_usage`: requests counted per key and minute, in blocks leased by each API process
 *   (ApiKeyRateLimiter); rows older than two minutes are no longer read and are deleted.
 * - `audit_log`: one row per mutation that changed something, written in the change's own
 *   transaction; kept longer than operational logs (AUDIT_RETENTION_DAYS).
 */
export class SecurityHardening1763760000010 implements MigrationInterface {
  name = 'SecurityHardening1763760000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_key ADD COLUMN IF NOT EXISTS expires_at timestamptz`);
    await q.query(`ALTER TABLE api_key ADD COLUMN IF NOT EXISTS last_used_at timestamptz`);
    await q.query(`ALTER TABLE api_key ADD COLUMN IF NOT EXISTS requests_per_minute integer CHECK (requests_per_minute IS NULL OR requests_per_minute > 0)`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS api_key_usage (
        key_id uuid NOT NULL REFERENCES api_key (id) ON DELETE CASCADE,
        minute timestamptz NOT NULL,
        requests integer NOT NULL,
        -- The size of the last lease, so the statement that grants it can say how much it granted.
        leased integer NOT NULL DEFAULT 0,
        PRIMARY KEY (key_id, minute)
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS audit_log (
        id uuid PRIMARY KEY,
        action text NOT NULL,
        actor_key_id uuid,
        actor_name text,
        target_type text,
        target_id uuid,
        changes jsonb,
        correlation_id text,
        "timestamp" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS audit_log_time_idx ON audit_log ("timestamp", id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor_key_id, "timestamp")`);
    await q.query(`CREATE INDEX IF NOT EXISTS audit_log_target_idx ON audit_log (target_id, "timestamp")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS audit_log`);
    await q.query(`DROP TABLE IF EXISTS api_key_usage`);
    await q.query(`ALTER TABLE api_key DROP COLUMN IF EXISTS requests_per_minute`);
    await q.query(`ALTER TABLE api_key DROP COLUMN IF EXISTS last_used_at`);
    await q.query(`ALTER TABLE api_key DROP COLUMN IF EXISTS expires_at`);
  }
}
