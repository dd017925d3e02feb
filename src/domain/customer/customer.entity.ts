import type { FieldOrigins } from '../shared/field-origins.js';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'customer' })
export class Customer {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  /** Unique case-insensitively (index on lower(email)): the first identity rule. */
  @Column('text', { nullable: true })
  email: string | null;

  @Column('text', { nullable: true })
  phone: string | null;

  @Column('text', { name: 'tax_id', nullable: true })
  taxId: string | null;

  @Column('char', { length: 3, nullable: true })
  currency: string | null;

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
