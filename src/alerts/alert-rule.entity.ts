import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum AlertKind {
  /** Share of failed outbound attempts over windowSeconds (0..1), once minAttempts were made. */
  FAILURE_RATE = 'FAILURE_RATE',
  /** Age in seconds of the oldest job waiting (PENDING or RETRYING). */
  QUEUE_LAG = 'QUEUE_LAG',
  /** 1 while a circuit is OPEN, else 0. */
  CIRCUIT_OPEN = 'CIRCUIT_OPEN',
  /** Webhook requests rejected (signature, body) plus events whose processing FAILED, in the window. */
  WEBHOOK_FAILURES = 'WEBHOOK_FAILURES',
  /** Sync runs that ended FAILED in the window. */
  SYNC_FAILED = 'SYNC_FAILED',
}

/** What an operator watches: one measurement, its threshold and where to send the news. */
@Entity({ name: 'alert_rule' })
export class AlertRule {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  kind: AlertKind;

  /** The integration watched; null: all of them. */
  @Column('uuid', { name: 'integration_id', nullable: true })
  integrationId: string | null;

  /** Fires when the value reaches it. */
  @Column('float8')
  threshold: number;

  /** Resolves only once the value is below this (hysteresis) for resolveAfterEvaluations evaluations in a row. */
  @Column('float8', { name: 'resolve_threshold' })
  resolveThreshold: number;

  @Column('int', { name: 'resolve_after' })
  resolveAfterEvaluations: number;

  /** FAILURE_RATE: fewer attempts in the window than this measure nothing. */
  @Column('int', { name: 'min_attempts' })
  minAttempts: number;

  @Column('int', { name: 'window_seconds' })
  windowSeconds: number;

  @Column('boolean')
  enabled: boolean;

  @Column('uuid', { name: 'notify_integration_id', nullable: true })
  notifyIntegrationId: string | null;

  @Column('text', { name: 'notify_email', nullable: true })
  notifyEmail: string | null;

  /** Evaluations in a row that found the condition clear (below resolveThreshold) while FIRING. */
  @Column('int', { name: 'clear_streak' })
  clearStreak: number;

  @Column('float8', { name: 'last_value', nullable: true })
  lastValue: number | null;

  @Column('timestamptz', { name: 'last_evaluated_at', nullable: true })
  lastEvaluatedAt: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
