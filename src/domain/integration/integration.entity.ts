import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum Provider {
  STRIPE = 'STRIPE',
  HUBSPOT = 'HUBSPOT',
  SENDGRID = 'SENDGRID',
  GENERIC = 'GENERIC',
  SALESFORCE = 'SALESFORCE',
}

export enum IntegrationStatus {
  ACTIVE = 'ACTIVE',
  PAUSED = 'PAUSED',
  DISABLED = 'DISABLED',
}

export enum CircuitState {
  CLOSED = 'CLOSED',
  OPEN = 'OPEN',
  HALF_OPEN = 'HALF_OPEN',
}

/**
 * A configured connection to one provider account. Credentials and the webhook secret are stored
 * only as AES-256-GCM ciphertext (see credential-cipher.ts) and no GraphQL field returns them.
 */
@Entity({ name: 'integration' })
export class Integration {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  provider: Provider;

  @Column('text')
  name: string;

  @Column('text', { default: IntegrationStatus.ACTIVE })
  status: IntegrationStatus;

  @Column('text', { name: 'base_url' })
  baseUrl: string;

  @Column('text', { name: 'credentials_encrypted', nullable: true })
  credentialsEncrypted: string | null;

  @Column('text', { name: 'webhook_secret_encrypted', nullable: true })
  webhookSecretEncrypted: string | null;

  /** After rotateIntegrationSecret, the old secret still verifies until previousSecretExpiresAt. */
  @Column('text', { name: 'previous_webhook_secret_encrypted', nullable: true })
  previousWebhookSecretEncrypted: string | null;

  @Column('timestamptz', { name: 'previous_secret_expires_at', nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column('jsonb', { default: () => "'{}'::jsonb" })
  settings: Record<string, unknown>;

  @Column('text', { default: CircuitState.CLOSED })
  circuit: CircuitState;

  @Column('timestamptz', { name: 'circuit_opened_at', nullable: true })
  circuitOpenedAt: Date | null;

  @Column('timestamptz', { name: 'circuit_probe_until', nullable: true })
  circuitProbeUntil: Date | null;

  /** Canonical entities whose create/update mutations enqueue a sync job for this integration. */
  @Column('text', { name: 'auto_sync', array: true, default: () => "'{}'" })
  autoSync: string[];

  /**
   * GENERIC only: per operation, how the integration's API is called (method, path template,
   * JSONata for the body and for the provider id in the answer). Validated when saved.
   */
  @Column('jsonb', { nullable: true })
  mappings: Record<string, unknown> | null;

  @Column('int', { default: 1 })
  version: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
