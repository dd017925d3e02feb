import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum LogStatus {
  SUCCESS = 'SUCCESS',
  FAILED = 'FAILED',
  PENDING = 'PENDING',
}

export enum Direction {
  INBOUND = 'INBOUND',
  OUTBOUND = 'OUTBOUND',
}

/** `IntegrationJob.logs` shows a job's latest attempts, this many at most; `integrationLogs(filter: { jobId })` pages through all. */
export const JOB_LOGS_SHOWN = 100;

/** One call in or out. Bodies are stored masked (see masking.ts); never a credential. */
@Entity({ name: 'integration_log' })
export class IntegrationLog {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  service: string;

  @Column('text', { name: 'event_type' })
  eventType: string;

  @Column('text')
  direction: Direction;

  @Column('text')
  status: LogStatus;

  @Column('timestamptz')
  timestamp: Date;

  @Column('text', { name: 'error_msg', nullable: true })
  errorMsg: string | null;

  @Column('text', { name: 'correlation_id', nullable: true })
  correlationId: string | null;

  @Column('uuid', { name: 'integration_id', nullable: true })
  integrationId: string | null;

  @Column('uuid', { name: 'job_id', nullable: true })
  jobId: string | null;

  @Column('uuid', { name: 'webhook_event_id', nullable: true })
  webhookEventId: string | null;

  @Column('int', { name: 'http_status', nullable: true })
  httpStatus: number | null;

  @Column('int', { name: 'duration_ms', nullable: true })
  durationMs: number | null;

  @Column('int', { nullable: true })
  attempt: number | null;

  @Column('jsonb', { nullable: true })
  request: unknown;

  @Column('jsonb', { nullable: true })
  response: unknown;

  /** A failed outbound attempt's failure kind as the engine classified it (timeout, network, server, rate_limited, client, auth, gateway). */
  @Column('text', { name: 'error_kind', nullable: true })
  errorKind?: string | null;
}
