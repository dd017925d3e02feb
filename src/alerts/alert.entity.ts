import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum AlertStatus {
  FIRING = 'FIRING',
  RESOLVED = 'RESOLVED',
}

/** One episode of a rule's condition holding: fired once, resolved once. */
@Entity({ name: 'alert' })
export class Alert {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'rule_id' })
  ruleId: string;

  /** The rule's integration when it fired (null: the rule watches all). */
  @Column('uuid', { name: 'integration_id', nullable: true })
  integrationId: string | null;

  @Column('text')
  status: AlertStatus;

  /** The measured value when it fired. */
  @Column('float8')
  value: number;

  @Column('text')
  message: string;

  @Column('timestamptz', { name: 'fired_at' })
  firedAt: Date;

  @Column('timestamptz', { name: 'resolved_at', nullable: true })
  resolvedAt: Date | null;

  /** The measured value when it resolved. */
  @Column('float8', { name: 'resolved_value', nullable: true })
  resolvedValue: number | null;
}
