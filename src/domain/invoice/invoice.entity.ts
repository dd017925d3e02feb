import type { FieldOrigins } from '../shared/field-origins.js';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum InvoiceStatus {
  DRAFT = 'DRAFT',
  OPEN = 'OPEN',
  PAID = 'PAID',
  VOID = 'VOID',
  UNCOLLECTIBLE = 'UNCOLLECTIBLE',
}

/**
 * Amounts are integer minor units of `currency`. `subtotalMinor` is derived from the line items
 * by the invoice service in the same transaction that writes them; no caller ever types it in.
 */
@Entity({ name: 'invoice' })
export class Invoice {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { nullable: true })
  number: string | null;

  @Column('uuid', { name: 'customer_id' })
  customerId: string;

  @Column('uuid', { name: 'contract_id', nullable: true })
  contractId: string | null;

  @Column('text', { default: InvoiceStatus.DRAFT })
  status: InvoiceStatus;

  @Column('char', { length: 3 })
  currency: string;

  @Column('bigint', { name: 'subtotal_minor', default: 0 })
  subtotalMinor: string;

  @Column('bigint', { name: 'tax_minor', default: 0 })
  taxMinor: string;

  @Column('bigint', { name: 'amount_paid_minor', default: 0 })
  amountPaidMinor: string;

  @Column('timestamptz', { name: 'issued_at', nullable: true })
  issuedAt: Date | null;

  @Column('timestamptz', { name: 'due_at', nullable: true })
  dueAt: Date | null;

  @Column('timestamptz', { name: 'paid_at', nullable: true })
  paidAt: Date | null;

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

@Entity({ name: 'invoice_line_item' })
export class InvoiceLineItem {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'invoice_id' })
  invoiceId: string;

  @Column('int')
  position: number;

  @Column('text')
  description: string;

  @Column('int')
  quantity: number;

  @Column('bigint', { name: 'unit_amount_minor' })
  unitAmountMinor: string;

  /** quantity * unit amount, computed by the service. */
  @Column('bigint', { name: 'amount_minor' })
  amountMinor: string;
}
