import type { FieldOrigins } from '../shared/field-origins.js';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum ContractStatus {
  DRAFT = 'DRAFT',
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
  TERMINATED = 'TERMINATED',
  EXPIRED = 'EXPIRED',
}

@Entity({ name: 'contract' })
export class Contract {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'customer_id' })
  customerId: string;

  @Column('text')
  title: string;

  @Column('text', { default: ContractStatus.DRAFT })
  status: ContractStatus;

  @Column('timestamptz', { name: 'start_date', nullable: true })
  startDate: Date | null;

  @Column('timestamptz', { name: 'end_date', nullable: true })
  endDate: Date | null;

  /** Minor units of valueCurrency (bigint arrives from pg as a string). */
  @Column('bigint', { name: 'value_minor', nullable: true })
  valueMinor: string | null;

  @Column('char', { name: 'value_currency', length: 3, nullable: true })
  valueCurrency: string | null;

  @Column('int', { default: 1 })
  version: number;

  /** Per field, where its current value came from (API, WEBHOOK, POLL, IMPORT; which integration; when). */
  @Column('jsonb', { name: 'field_origins', default: () => "'{}'::jsonb" })
  fieldOrigins: FieldOrigins;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
