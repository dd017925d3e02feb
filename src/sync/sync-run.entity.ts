import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Json, SyncMode } from './poller.js';

export enum SyncRunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** One run of one resource of one integration: what it has done, and where it resumes. */
@Entity({ name: 'sync_run' })
export class SyncRun {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'integration_id' })
  integrationId: string;

  @Column('text')
  resource: string;

  @Column('text')
  mode: SyncMode;

  @Column('text')
  status: SyncRunStatus;

  /** `api` (startSync) or `schedule` (pollIntervalSeconds). */
  @Column('text', { name: 'requested_by' })
  requestedBy: string;

  @Column('text', { name: 'correlation_id' })
  correlationId: string;

  @Column('timestamptz', { name: 'queued_at' })
  queuedAt: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;

  @Column('int')
  pages: number;

  @Column('int', { name: 'records_seen' })
  recordsSeen: number;

  @Column('int', { name: 'records_changed' })
  recordsChanged: number;

  @Column('int', { name: 'records_deleted' })
  recordsDeleted: number;

  /** Where the next page starts (committed with the last page applied). */
  @Column('jsonb', { nullable: true })
  cursor: Json | null;

  /** The incremental checkpoint as of the last page committed. */
  @Column('jsonb', { nullable: true })
  checkpoint: Json | null;

  @Column('text', { nullable: true })
  note: string | null;

  @Column('text', { nullable: true })
  error: string | null;
}
