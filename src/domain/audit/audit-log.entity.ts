import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One mutation that changed something: who, what, on which record, and the change (masked). */
@Entity({ name: 'audit_log' })
export class AuditLog {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  action: string;

  @Column('uuid', { name: 'actor_key_id', nullable: true })
  actorKeyId: string | null;

  @Column('text', { name: 'actor_name', nullable: true })
  actorName: string | null;

  @Column('text', { name: 'target_type', nullable: true })
  targetType: string | null;

  @Column('uuid', { name: 'target_id', nullable: true })
  targetId: string | null;

  @Column('jsonb', { nullable: true })
  changes: Record<string, unknown> | null;

  @Column('text', { name: 'correlation_id', nullable: true })
  correlationId: string | null;

  @Column('timestamptz')
  timestamp: Date;
}
