import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The canonical model, integrations and API keys. */
export class CanonicalModel1763760000000 implements MigrationInterface {
  name = 'CanonicalModel1763760000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE customer (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
        email text,
        phone text,
        tax_id text,
        currency char(3),
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX customer_email_ci_uq ON customer (lower(email)) WHERE email IS NOT NULL`);
    await q.query(`CREATE INDEX customer_updated_at_idx ON customer (updated_at, id)`);
    await q.query(`CREATE INDEX customer_name_lower_idx ON customer (lower(name) text_pattern_ops)`);

    await q.query(`
      CREATE TABLE contract (
        id uuid PRIMARY KEY,
        customer_id uuid NOT NULL REFERENCES customer(id) ON DELETE RESTRICT,
        title text NOT NULL,
        status text NOT NULL DEFAULT 'DRAFT'
          CHECK (status IN ('DRAFT','ACTIVE','SUSPENDED','TERMINATED','EXPIRED')),
        start_date timestamptz,
        end_date timestamptz,
        value_minor bigint,
        value_currency char(3),
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((value_minor IS NULL) = (value_currency IS NULL)),
        CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
      )`);
    await q.query(`CREATE INDEX contract_customer_idx ON contract (customer_id, id)`);
    await q.query(`CREATE INDEX contract_status_idx ON contract (status, id)`);

    await q.query(`CREATE SEQUENCE invoice_number_seq`);
    await q.query(`
      CREATE TABLE invoice (
        id uuid PRIMARY KEY,
        number text UNIQUE,
        customer_id uuid NOT NULL REFERENCES customer(id) ON DELETE RESTRICT,
        contract_id uuid REFERENCES contract(id) ON DELETE RESTRICT,
        status text NOT NULL DEFAULT 'DRAFT'
          CHECK (status IN ('DRAFT','OPEN','PAID','VOID','UNCOLLECTIBLE')),
        currency char(3) NOT NULL,
        subtotal_minor bigint NOT NULL DEFAULT 0,
        tax_minor bigint NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
        amount_paid_minor bigint NOT NULL DEFAULT 0 CHECK (amount_paid_minor >= 0),
        issued_at timestamptz,
        due_at timestamptz,
        paid_at timestamptz,
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX invoice_customer_idx ON invoice (customer_id, id)`);
    await q.query(`CREATE INDEX invoice_status_idx ON invoice (status, id)`);
    await q.query(`CREATE INDEX invoice_due_at_idx ON invoice (due_at)`);

    await q.query(`
      CREATE TABLE invoice_line_item (
        id uuid PRIMARY KEY,
        invoice_id uuid NOT NULL REFERENCES invoice(id) ON DELETE CASCADE,
        position int NOT NULL,
        description text NOT NULL,
        quantity int NOT NULL CHECK (quantity > 0),
        unit_amount_minor bigint NOT NULL CHECK (unit_amount_minor >= 0),
        amount_minor bigint NOT NULL,
        UNIQUE (invoice_id, position)
      )`);

    await q.query(`
      CREATE TABLE integration (
        id uuid PRIMARY KEY,
        provider text NOT NULL CHECK (provider IN ('STRIPE','HUBSPOT','SENDGRID','GENERIC')),
        name text NOT NULL,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','PAUSED','DISABLED')),
        base_url text NOT NULL,
        credentials_encrypted text,
        webhook_secret_encrypted text,
        previous_webhook_secret_encrypted text,
        previous_secret_expires_at timestamptz,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        circuit text NOT NULL DEFAULT 'CLOSED' CHECK (circuit IN ('CLOSED','OPEN','HALF_OPEN')),
        version int NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE external_ref (
        id uuid PRIMARY KEY,
        entity_type text NOT NULL CHECK (entity_type IN ('Customer','Contract','Invoice')),
        entity_id uuid NOT NULL,
        integration_id uuid NOT NULL REFERENCES integration(id) ON DELETE CASCADE,
        provider text NOT NULL,
        external_id text NOT NULL,
        remote_data jsonb,
        last_synced_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (integration_id, entity_type, external_id)
      )`);
    await q.query(`CREATE INDEX external_ref_entity_idx ON external_ref (entity_type, entity_id)`);

    await q.query(`
      CREATE TABLE api_key (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('ADMIN','OPERATOR','APP','PARTNER')),
        prefix text NOT NULL,
        hash bytea NOT NULL UNIQUE,
        scopes text[] NOT NULL DEFAULT '{}',
        customer_ids uuid[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_key_prefix_idx ON api_key (prefix)`);

    // One row: a check value derived from ENCRYPTION_KEY, so a process started with another key
    // refuses to run instead of writing credentials no other process can read.
    await q.query(`
      CREATE TABLE gateway_setting (
        key text PRIMARY KEY,
        value text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['gateway_setting', 'api_key', 'external_ref', 'integration', 'invoice_line_item', 'invoice', 'contract', 'customer']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP SEQUENCE IF EXISTS invoice_number_seq`);
  }
}
