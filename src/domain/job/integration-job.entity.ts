import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ChangeSource } from '../shared/field-origins.js';

export enum JobStatus {
  PENDING = 'PENDING',
  PROCESSING = 'PROCESSING',
  RETRYING = 'RETRYING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/**
 * One outbound provider call as the gateway sees it: its state machine, attempts and result.
 * The pg-boss job (queue_job_id) only carries this row's id; this row is the record of truth.
 */
@Entity({ name: 'integration_job' })
export class IntegrationJob {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'integration_id' })
  integrationId: string;

  @Column('text')
  operation: string;

  @Column('text', { name: 'entity_type', nullable: true })
  entityType: string | null;

  @Column('uuid', { name: 'entity_id', nullable: true })
  entityId: string | null;

  @Column('text')
  status: JobStatus;

  @Column('int')
  attempts: number;

  @Column('int', { name: 'max_attempts' })
  maxAttempts: number;

  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Column('text', { name: 'correlation_id' })
  correlationId: string;

  @Column('text', { name: 'idempotency_key', nullable: true })
  idempotencyKey: string | null;

  /** Sent to the provider on every attempt, so a retry after a timeout never creates a second object. */
  @Column('text', { name: 'provider_idempotency_key' })
  providerIdempotencyKey: string;

  /** The job's place in its entity's order at its integration (set by the database; see the worker's START_SQL). */
  @Column({ type: 'bigint', select: false, insert: false, update: false })
  seq: string;

  @Column('uuid', { name: 'queue_job_id', nullable: true })
  queueJobId: string | null;

  @Column('jsonb')
  payload: Record<string, unknown>;

  @Column('jsonb', { nullable: true })
  result: Record<string, unknown> | null;

  @Column('timestamptz', { name: 'next_attempt_at', nullable: true })
  nextAttemptAt: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;

  @Column('timestamptz', { name: 'completed_at', nullable: true })
  completedAt: Date | null;

  /** The change that caused the job: API, WEBHOOK, POLL or IMPORT. */
  @Column('text', { default: 'API' })
  source: ChangeSource;

  /** The integration the change came from (WEBHOOK, POLL); it gets no job for its own change. */
  @Column('uuid', { name: 'source_integration_id', nullable: true })
  sourceIntegrationId: string | null;

  /** Hashes of the mapped fields the job sends (auto-sync), kept on its link once acknowledged. */
  @Column('jsonb', { name: 'synced_hashes', nullable: true })
  syncedHashes: Record<string, string> | null;
}
